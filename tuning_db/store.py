"""The database handle: one session context manager for every write, queries for reads."""

from __future__ import annotations

import json
import uuid
from collections import namedtuple
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cached_property, lru_cache

from sqlalchemy import Select, and_, bindparam, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from search_spaces import GENERATOR_VERSION, Schedule, Target, Workload
from tuning_db import schema
from tuning_db.engine import SINGLE, WRITE, database_url, make_engine
from tuning_db.jobstore import JobStore
from tuning_db.models import CostModelRow, DeviceRow, JobRow, TrialRow, WorkloadRow, utcnow
from tuning_db.records import OK, Best, CostModelBlob, DeviceInfo, TrialRecord

CHUNK = 500  # rows per statement in bulk reads and writes


def workload_from_row(row) -> Workload:
    """A Workload from a workloads row (ORM object or result row with op/params/layout/dtype)."""
    return _workload(row.op, row.params, row.layout, row.dtype)


@lru_cache(maxsize=65536)
def _workload(op: str, params: str, layout: str, dtype: str) -> Workload:
    return Workload(op, tuple(json.loads(params).items()), layout, dtype)


@lru_cache(maxsize=1024)
def target_from_json(text: str) -> Target:
    """A Target from its stored JSON (cached: a handful of devices serve every lookup)."""
    return Target.from_json(json.loads(text))


@lru_cache(maxsize=65536)
def schedule_from_json(text: str) -> Schedule:
    return Schedule.from_json(json.loads(text))


def device_from_row(row) -> DeviceInfo:
    return DeviceInfo(
        row.name,
        target_from_json(row.target),
        row.platform,
        row.description,
        row.driver,
        row.compiler,
    )


def _insert_ignoring(s: Session, table, values: dict | list[dict], unique: list[str]) -> None:
    """INSERT that skips rows whose unique columns exist already (a race-free get-or-create)."""
    if s.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    s.execute(dialect_insert(table).on_conflict_do_nothing(index_elements=unique), values)


class TuningDB(JobStore):
    """Trials, workloads, devices, jobs and cost models in one SQL database (a SQLite file or
    PostgreSQL). Opening an empty database creates the newest schema; a database of an older
    schema is refused with the command that upgrades it (schema.SchemaError)."""

    def __init__(self, url: str):
        self.url = database_url(url)
        self.engine = make_engine(self.url)
        try:
            schema.ensure(self.engine, url)
        except BaseException:
            self.engine.dispose()
            raise
        self._single = self.engine.execution_options(**{SINGLE: True})
        self._reads = sessionmaker(self.engine, expire_on_commit=False)
        self._writes = sessionmaker(
            self.engine.execution_options(**{WRITE: True}), expire_on_commit=False
        )

    @contextmanager
    def session(self, write: bool = True) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error."""
        with (self._writes if write else self._reads)() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> TuningDB:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    # --- ids -----------------------------------------------------------------------------------
    def _workload_id(self, s: Session, w: Workload) -> int:
        q = select(WorkloadRow.id).where(WorkloadRow.key == w.key)
        found = s.scalar(q)
        if found is None:
            row = dict(key=w.key, op=w.op, layout=w.layout, dtype=w.dtype,
                       params=json.dumps(dict(w.params)), text=w.text)  # fmt: skip
            _insert_ignoring(s, WorkloadRow.__table__, row, ["key"])
            found = s.scalar(q)
        return found

    def _device_id(self, s: Session, name: str) -> int:
        found = s.scalar(select(DeviceRow.id).where(DeviceRow.name == name))
        if found is None:
            raise KeyError(f"device {name!r} is not registered")
        return found

    def _job_id(self, s: Session, name: str) -> int | None:
        if not name:
            return None
        q = select(JobRow.id).where(JobRow.name == name)
        found = s.scalar(q)
        if found is None:
            now = utcnow()
            row = dict(name=name, spec="{}", status="", created_at=now, updated_at=now)
            _insert_ignoring(s, JobRow.__table__, row, ["name"])
            found = s.scalar(q)
        return found

    # --- writes --------------------------------------------------------------------------------
    def register_device(self, d: DeviceInfo) -> None:
        """Insert or refresh a device's description."""
        with self.session() as s:
            _insert_ignoring(
                s, DeviceRow.__table__,
                dict(name=d.name, kind=d.target.kind, dialect=d.target.dialect, platform="",
                     description="", driver="", compiler="", arch=d.target.arch,
                     target=json.dumps(d.target.to_json(), sort_keys=True)),
                ["name"],
            )  # fmt: skip
            row = s.scalar(select(DeviceRow).where(DeviceRow.name == d.name))
            row.kind, row.dialect, row.arch = d.target.kind, d.target.dialect, d.target.arch
            row.platform, row.description, row.driver = d.platform, d.description, d.driver
            row.compiler = d.compiler
            row.target = json.dumps(d.target.to_json(), sort_keys=True)

    def add_trials(self, trials: Sequence[TrialRecord]) -> list[int]:
        """Store trials in one transaction; returns their ids."""
        with self.session() as s:
            rows = [self._trial_row(s, t) for t in trials]
            if not rows:
                return []
            result = s.execute(
                insert(TrialRow).returning(TrialRow.id, sort_by_parameter_order=True), rows
            )
            return list(result.scalars())

    def import_trials(self, trials: Iterable[TrialRecord]) -> int:
        """Store trials whose uid is not here yet (imports and merges); returns how many were
        new. Devices must be registered first."""
        added = 0
        batch: list[TrialRecord] = []
        for t in trials:
            batch.append(t)
            if len(batch) == CHUNK:
                added += self._import_chunk(batch)
                batch = []
        if batch:
            added += self._import_chunk(batch)
        return added

    def _import_chunk(self, trials: list[TrialRecord]) -> int:
        with self.session() as s:
            uids = [t.uid for t in trials]
            have = set(s.scalars(select(TrialRow.uid).where(TrialRow.uid.in_(uids))))
            rows, seen = [], set(have)
            for t in trials:
                if t.uid not in seen:
                    seen.add(t.uid)
                    rows.append(self._trial_row(s, t))
            if rows:
                _insert_ignoring(s, TrialRow.__table__, rows, ["uid"])
            return len(rows)

    def _trial_row(self, s: Session, t: TrialRecord) -> dict:
        row = dict(
            uid=t.uid or uuid.uuid4().hex,
            workload_id=self._workload_id(s, t.workload),
            device_id=self._device_id(s, t.device),
            job_id=self._job_id(s, t.job),
            schedule=t.schedule.canonical,
            schedule_key=t.schedule.key,
            generator_version=t.generator_version,
            status=t.status,
            latency_s=t.latency_s,
            samples=json.dumps(list(t.samples)),
            protocol=json.dumps(t.protocol, sort_keys=True),
            error=t.error,
            compile_s=t.compile_s,
            max_rel_error=t.max_rel_error,
            details=json.dumps(t.details, sort_keys=True),
            confirmed=t.confirmed,
            created_at=t.created_at or utcnow(),
        )
        return row

    def record_confirmation(
        self,
        trial_id: int,
        status: str,
        latency_s: float | None,
        samples: tuple[float, ...],
        protocol: dict,
        error: str,
        details: dict,
    ) -> None:
        """A re-measurement of a trial under a stricter protocol replaces its figures; the
        first measurement stays in its details."""
        with self.session() as s:
            row = s.get(TrialRow, trial_id)
            if row is None:
                raise KeyError(f"no trial {trial_id}")
            first = {
                "status": row.status, "latency_s": row.latency_s,
                "samples": json.loads(row.samples), "protocol": json.loads(row.protocol),
            }  # fmt: skip
            row.status, row.latency_s, row.error = status, latency_s, error
            row.samples = json.dumps(list(samples))
            row.protocol = json.dumps(protocol, sort_keys=True)
            row.details = json.dumps({**details, "first": first}, sort_keys=True)
            row.confirmed = True

    def save_cost_model(self, name: str, kind: str, blob: bytes, meta: dict | None = None) -> int:
        """Store a trained cost model; the newest of a name is the one cost_model() returns."""
        with self.session() as s:
            row = CostModelRow(name=name, kind=kind, blob=blob,
                               meta=json.dumps(meta or {}, sort_keys=True))  # fmt: skip
            s.add(row)
            s.flush()
            return row.id

    # --- reads ---------------------------------------------------------------------------------
    def device(self, name: str) -> DeviceInfo | None:
        with self.session(write=False) as s:
            row = s.scalar(select(DeviceRow).where(DeviceRow.name == name))
            return device_from_row(row) if row else None

    def devices(self) -> list[DeviceInfo]:
        with self.session(write=False) as s:
            rows = s.scalars(select(DeviceRow).order_by(DeviceRow.name))
            return [device_from_row(r) for r in rows]

    def cost_model(self, name: str) -> CostModelBlob | None:
        """The newest cost model saved under `name`."""
        q = (
            select(CostModelRow)
            .where(CostModelRow.name == name)
            .order_by(CostModelRow.id.desc())
            .limit(1)
        )
        with self.session(write=False) as s:
            r = s.scalar(q)
            if r is None:
                return None
            return CostModelBlob(r.name, r.kind, r.blob, json.loads(r.meta), r.created_at)

    def _trials_of(self, w: Workload, device: str) -> Select:
        return (
            select(TrialRow)
            .join(WorkloadRow, TrialRow.workload_id == WorkloadRow.id)
            .join(DeviceRow, TrialRow.device_id == DeviceRow.id)
            .where(WorkloadRow.key == w.key, DeviceRow.name == device)
        )

    def trials(self, w: Workload, device: str) -> list[TrialRow]:
        """Every stored trial of `w` on `device`, oldest first."""
        with self.session(write=False) as s:
            return list(s.scalars(self._trials_of(w, device).order_by(TrialRow.id)))

    def trial(self, trial_id: int) -> TrialRow | None:
        with self.session(write=False) as s:
            return s.get(TrialRow, trial_id)

    def iter_trials(
        self, *, ids: Sequence[int] | None = None, job: str | None = None
    ) -> Iterator[TrialRecord]:
        """Every stored trial (or those of `ids`, or of job `job`) as a record, uid and all, in
        id order, read in chunks."""
        last = 0
        while True:
            q = (
                select(
                    TrialRow,
                    WorkloadRow.op,
                    WorkloadRow.params,
                    WorkloadRow.layout,
                    WorkloadRow.dtype,
                    DeviceRow.name,
                    JobRow.name.label("job_name"),
                )  # fmt: skip
                .join(WorkloadRow, TrialRow.workload_id == WorkloadRow.id)
                .join(DeviceRow, TrialRow.device_id == DeviceRow.id)
                .outerjoin(JobRow, TrialRow.job_id == JobRow.id)
                .where(TrialRow.id > last)
                .order_by(TrialRow.id)
                .limit(CHUNK * 4)
            )
            if ids is not None:
                q = q.where(TrialRow.id.in_(sorted(ids)))
            if job is not None:
                q = q.where(JobRow.name == job)
            with self.session(write=False) as s:
                rows = s.execute(q).all()
            if not rows:
                return
            for r in rows:
                t = r.TrialRow
                yield TrialRecord(
                    workload=workload_from_row(r), device=r.name,
                    schedule=schedule_from_json(t.schedule), status=t.status,
                    generator_version=t.generator_version, latency_s=t.latency_s,
                    samples=tuple(json.loads(t.samples)), protocol=json.loads(t.protocol),
                    error=t.error, compile_s=t.compile_s, max_rel_error=t.max_rel_error,
                    job=r.job_name or "", details=json.loads(t.details), uid=t.uid,
                    confirmed=t.confirmed, created_at=t.created_at,
                )  # fmt: skip
            last = rows[-1].TrialRow.id

    def count_trials(self, w: Workload | None = None, device: str | None = None) -> int:
        with self.session(write=False) as s:
            if w is None:
                return s.scalar(select(func.count(TrialRow.id))) or 0
            q = self._trials_of(w, device or "").subquery()
            return s.scalar(select(func.count()).select_from(q)) or 0

    def measured_keys(self, w: Workload, device: str) -> set[str]:
        """Schedule keys already measured with the current generator (to skip them)."""
        q = self._trials_of(w, device).where(TrialRow.generator_version == GENERATOR_VERSION)
        with self.session(write=False) as s:
            return set(s.scalars(q.with_only_columns(TrialRow.schedule_key)))

    def fastest(
        self, w: Workload, device: str, limit: int
    ) -> list[tuple[int, float, bool, Schedule]]:
        """The fastest OK trials of the current generator: (id, latency, confirmed, schedule)."""
        q = (
            self._trials_of(w, device)
            .where(
                TrialRow.status == OK,
                TrialRow.latency_s.is_not(None),
                TrialRow.generator_version == GENERATOR_VERSION,
            )
            .order_by(TrialRow.latency_s, TrialRow.id)
            .limit(limit)
        )
        with self.session(write=False) as s:
            return [
                (r.id, r.latency_s, r.confirmed, Schedule.from_json(json.loads(r.schedule)))
                for r in s.scalars(q)
            ]

    def best(self, w: Workload, device: str) -> Best | None:
        """The fastest OK trial of the current generator version (a query, never a copy): one
        index seek on ix_trials_best. Run on the DB-API connection: this is the lookup's hot
        path, and SQLAlchemy's statement machinery would be 20x the query's own time."""
        sql, fixed, names = self._best_sql
        params = {**fixed, "key": w.key, "device": device}
        conn = self.engine.raw_connection()
        try:
            cur = conn.cursor()
            cur.execute(sql, tuple(params[n] for n in names) if names is not None else params)
            row = cur.fetchone()
            cur.close()
        finally:
            conn.close()  # back to the pool
        if row is None:
            return None
        trial_id, sched, latency, created, *device_columns = row
        if isinstance(created, str):  # SQLite keeps datetimes as text
            created = datetime.fromisoformat(created)
        return Best(
            workload=w,
            device=device_from_row(_DeviceColumns(*device_columns)),
            schedule=schedule_from_json(sched),
            latency_s=latency,
            trial_id=trial_id,
            created_at=created,
        )

    @cached_property
    def _best_sql(self) -> tuple[str, dict, tuple[str, ...] | None]:
        """_BEST compiled for this database's driver: SQL, bound constants, parameter order
        (None where the driver takes named parameters)."""
        compiled = _BEST.compile(dialect=self.engine.dialect)
        names = compiled.positiontup
        fixed = compiled.construct_params({"key": "", "device": ""})
        return str(compiled), fixed, None if names is None else tuple(names)

    def bests(
        self,
        *,
        op: str | None = None,
        layout: str | None = None,
        dtype: str | None = None,
        device: str | None = None,
        workload_key: str | None = None,
        arch: str | None = None,
    ) -> list[Best]:
        """The best of every (workload, device) pair that matches the filters."""
        rank = func.row_number().over(
            partition_by=(TrialRow.workload_id, TrialRow.device_id),
            order_by=(TrialRow.latency_s, TrialRow.id),
        )
        filters = [
            TrialRow.status == OK,
            TrialRow.latency_s.is_not(None),
            TrialRow.generator_version == GENERATOR_VERSION,
        ]
        for column, value in (
            (WorkloadRow.op, op), (WorkloadRow.layout, layout), (WorkloadRow.dtype, dtype),
            (WorkloadRow.key, workload_key), (DeviceRow.name, device), (DeviceRow.arch, arch),
        ):  # fmt: skip
            if value is not None:
                filters.append(column == value)
        ranked = (
            select(TrialRow.id.label("trial_id"), rank.label("rank"))
            .join(WorkloadRow, TrialRow.workload_id == WorkloadRow.id)
            .join(DeviceRow, TrialRow.device_id == DeviceRow.id)
            .where(and_(*filters))
            .subquery()
        )
        q = (
            select(
                TrialRow.id,
                TrialRow.schedule,
                TrialRow.latency_s,
                TrialRow.created_at,
                WorkloadRow.op,
                WorkloadRow.params,
                WorkloadRow.layout,
                WorkloadRow.dtype,
                *_DEVICE_COLUMNS,
            )  # fmt: skip
            .join(ranked, and_(ranked.c.trial_id == TrialRow.id, ranked.c.rank == 1))
            .join(WorkloadRow, TrialRow.workload_id == WorkloadRow.id)
            .join(DeviceRow, TrialRow.device_id == DeviceRow.id)
            .order_by(DeviceRow.name, WorkloadRow.op, WorkloadRow.key)
        )
        with self.engine.connect() as conn:
            return [
                Best(
                    workload_from_row(r),
                    device_from_row(r),
                    schedule_from_json(r.schedule),
                    r.latency_s,
                    r.id,
                    r.created_at,
                )  # fmt: skip
                for r in conn.execute(q)
            ]


_DeviceColumns = namedtuple(
    "_DeviceColumns", ["name", "target", "platform", "description", "driver", "compiler"]
)
_DEVICE_COLUMNS = (
    DeviceRow.name, DeviceRow.target, DeviceRow.platform, DeviceRow.description,
    DeviceRow.driver, DeviceRow.compiler,
)  # fmt: skip

_BEST = (
    select(
        TrialRow.id, TrialRow.schedule, TrialRow.latency_s, TrialRow.created_at, *_DEVICE_COLUMNS
    )
    .join(WorkloadRow, TrialRow.workload_id == WorkloadRow.id)
    .join(DeviceRow, TrialRow.device_id == DeviceRow.id)
    .where(
        WorkloadRow.key == bindparam("key"),
        DeviceRow.name == bindparam("device"),
        TrialRow.generator_version == GENERATOR_VERSION,
        TrialRow.status == OK,
        TrialRow.latency_s.is_not(None),
    )
    .order_by(TrialRow.latency_s, TrialRow.id)
    .limit(1)
)
