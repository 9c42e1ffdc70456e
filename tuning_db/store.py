"""The database handle: one session context manager for every write, queries for reads."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from search_spaces import GENERATOR_VERSION, Schedule, Target, Workload
from tuning_db.models import Base, DeviceRow, TrialRow, WorkloadRow
from tuning_db.records import Best, DeviceInfo, TrialRecord

OK = "ok"


def database_url(db: str) -> str:
    """A SQLAlchemy URL from `--db`: URLs pass through, anything else is a SQLite file path."""
    if "://" in db:
        return db
    return f"sqlite:///{Path(db).expanduser().resolve()}"


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()


def workload_from_row(row: WorkloadRow) -> Workload:
    return Workload(row.op, tuple(json.loads(row.params).items()), row.layout, row.dtype)


def device_from_row(row: DeviceRow) -> DeviceInfo:
    return DeviceInfo(
        row.name,
        Target.from_json(json.loads(row.target)),
        row.platform,
        row.description,
        row.driver,
    )


class TuningDB:
    """Trials, workloads and devices in one SQL database (SQLite file or PostgreSQL)."""

    def __init__(self, url: str):
        self.url = database_url(url)
        self.engine = create_engine(self.url, future=True)
        if self.engine.dialect.name == "sqlite":
            _sqlite_pragmas(self.engine)
        Base.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error."""
        with self._sessions() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    def close(self) -> None:
        self.engine.dispose()

    # --- ids -----------------------------------------------------------------------------------
    def _workload_id(self, s: Session, w: Workload) -> int:
        row = s.scalar(select(WorkloadRow).where(WorkloadRow.key == w.key))
        if row is None:
            row = WorkloadRow(
                key=w.key, op=w.op, layout=w.layout, dtype=w.dtype,
                params=json.dumps(dict(w.params)), text=w.text,
            )  # fmt: skip
            s.add(row)
            s.flush()
        return row.id

    def _device_id(self, s: Session, name: str) -> int:
        row = s.scalar(select(DeviceRow).where(DeviceRow.name == name))
        if row is None:
            raise KeyError(f"device {name!r} is not registered")
        return row.id

    # --- writes --------------------------------------------------------------------------------
    def register_device(self, d: DeviceInfo) -> None:
        """Insert or refresh a device's description."""
        with self.session() as s:
            row = s.scalar(select(DeviceRow).where(DeviceRow.name == d.name))
            if row is None:
                row = DeviceRow(name=d.name)
                s.add(row)
            row.kind, row.dialect = d.target.kind, d.target.dialect
            row.platform, row.description, row.driver = d.platform, d.description, d.driver
            row.target = json.dumps(d.target.to_json(), sort_keys=True)

    def add_trials(self, trials: Sequence[TrialRecord]) -> list[int]:
        """Store trials in one transaction; returns their ids."""
        with self.session() as s:
            rows = []
            for t in trials:
                rows.append(
                    TrialRow(
                        workload_id=self._workload_id(s, t.workload),
                        device_id=self._device_id(s, t.device),
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
                        job=t.job,
                        details=json.dumps(t.details, sort_keys=True),
                    )
                )
            s.add_all(rows)
            s.flush()
            return [r.id for r in rows]

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

    # --- reads ---------------------------------------------------------------------------------
    def device(self, name: str) -> DeviceInfo | None:
        with self.session() as s:
            row = s.scalar(select(DeviceRow).where(DeviceRow.name == name))
            return device_from_row(row) if row else None

    def devices(self) -> list[DeviceInfo]:
        with self.session() as s:
            return [
                device_from_row(r) for r in s.scalars(select(DeviceRow).order_by(DeviceRow.name))
            ]

    def _trials_of(self, w: Workload, device: str):
        return (
            select(TrialRow)
            .join(WorkloadRow, TrialRow.workload_id == WorkloadRow.id)
            .join(DeviceRow, TrialRow.device_id == DeviceRow.id)
            .where(WorkloadRow.key == w.key, DeviceRow.name == device)
        )

    def trials(self, w: Workload, device: str) -> list[TrialRow]:
        """Every stored trial of `w` on `device`, oldest first."""
        with self.session() as s:
            return list(s.scalars(self._trials_of(w, device).order_by(TrialRow.id)))

    def count_trials(self, w: Workload | None = None, device: str | None = None) -> int:
        with self.session() as s:
            if w is None:
                return s.scalar(select(func.count(TrialRow.id))) or 0
            q = self._trials_of(w, device or "").subquery()
            return s.scalar(select(func.count()).select_from(q)) or 0

    def measured_keys(self, w: Workload, device: str) -> set[str]:
        """Schedule keys already measured with the current generator (to skip them)."""
        q = self._trials_of(w, device).where(TrialRow.generator_version == GENERATOR_VERSION)
        with self.session() as s:
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
        with self.session() as s:
            return [
                (r.id, r.latency_s, r.confirmed, Schedule.from_json(json.loads(r.schedule)))
                for r in s.scalars(q)
            ]

    def best(self, w: Workload, device: str) -> Best | None:
        """The fastest OK trial of the current generator version (a query, never a copy)."""
        q = (
            self._trials_of(w, device)
            .where(
                TrialRow.status == OK,
                TrialRow.latency_s.is_not(None),
                TrialRow.generator_version == GENERATOR_VERSION,
            )
            .order_by(TrialRow.latency_s, TrialRow.id)
            .limit(1)
        )
        with self.session() as s:
            row = s.scalar(q)
            if row is None:
                return None
            dev = s.scalar(select(DeviceRow).where(DeviceRow.id == row.device_id))
            return Best(
                workload=w,
                device=device_from_row(dev),
                schedule=Schedule.from_json(json.loads(row.schedule)),
                latency_s=row.latency_s,
                trial_id=row.id,
                created_at=row.created_at,
            )
