"""The jobs' part of the database handle: job rows, their states, their trials' counts."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import func, select

from search_spaces import GENERATOR_VERSION, Workload
from tuning_db.models import DeviceRow, JobRow, TrialRow, WorkloadRow, utcnow
from tuning_db.records import OK, JobInfo


class JobStore:
    """TuningDB's job methods, kept apart (a mixin: they use TuningDB's `session`, `_job_id`
    and `_trials_of`)."""

    def save_job(self, name: str, spec: dict | None = None, status: str | None = None) -> None:
        """Create the job `name`, or update its spec and status where given."""
        with self.session() as s:
            self._job_id(s, name)
            row = s.scalar(select(JobRow).where(JobRow.name == name))
            if spec is not None:
                row.spec = json.dumps(spec, sort_keys=True)
            if status is not None:
                row.status = status
            row.updated_at = utcnow()

    def create_job(self, name: str, spec: dict, priority: int = 0) -> str:
        """A new queued job; its name is `name`, or `name-2`, `name-3`, ... when taken (a
        nightly spec is submitted every night). Returns the name given."""
        from sqlalchemy.exc import IntegrityError

        for attempt in range(5):  # another submitter may take the same name meanwhile
            try:
                with self.session() as s:
                    like = (JobRow.name == name) | JobRow.name.like(f"{name}-%")
                    taken = set(s.scalars(select(JobRow.name).where(like)))
                    given, n = name, 1
                    while given in taken:
                        n += 1
                        given = f"{name}-{n}"
                    now = utcnow()
                    s.add(JobRow(name=given, spec=json.dumps(spec, sort_keys=True),
                                 status="queued", priority=priority, created_at=now,
                                 updated_at=now))  # fmt: skip
                return given
            except IntegrityError:
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")

    def update_job(self, name: str, **fields) -> None:
        """Set a job's state fields (status, driver, error, started_at, finished_at,
        heartbeat_at, priority)."""
        allowed = {"status", "driver", "error", "started_at", "finished_at", "heartbeat_at",
                   "priority"}  # fmt: skip
        if not fields.keys() <= allowed:
            raise ValueError(f"unknown job fields: {sorted(fields.keys() - allowed)}")
        with self.session() as s:
            row = s.scalar(select(JobRow).where(JobRow.name == name))
            if row is None:
                raise KeyError(f"no job named {name!r}")
            for k, v in fields.items():
                setattr(row, k, v)
            row.updated_at = utcnow()

    def job_counts(self, name: str) -> dict[tuple[str, str], dict[str, int]]:
        """Trials of job `name` by (workload key, device name) and status."""
        q = (
            select(WorkloadRow.key, DeviceRow.name, TrialRow.status, func.count(TrialRow.id))
            .join(WorkloadRow, TrialRow.workload_id == WorkloadRow.id)
            .join(DeviceRow, TrialRow.device_id == DeviceRow.id)
            .join(JobRow, TrialRow.job_id == JobRow.id)
            .where(JobRow.name == name)
            .group_by(WorkloadRow.key, DeviceRow.name, TrialRow.status)
        )
        out: dict[tuple[str, str], dict[str, int]] = {}
        with self.session(write=False) as s:
            for key, device, status, n in s.execute(q):
                out.setdefault((key, device), {})[status] = n
        return out

    def best_before(
        self, w: Workload, device: str, before: datetime, exclude_job: str = ""
    ) -> float | None:
        """The fastest OK latency of the current generator among trials stored before `before`
        and not by job `exclude_job` (a report's "previous best")."""
        q = (
            self._trials_of(w, device)
            .outerjoin(JobRow, TrialRow.job_id == JobRow.id)
            .where(
                TrialRow.status == OK,
                TrialRow.latency_s.is_not(None),
                TrialRow.generator_version == GENERATOR_VERSION,
                TrialRow.created_at < before,
                TrialRow.job_id.is_(None) | (JobRow.name != exclude_job),
            )
            .with_only_columns(func.min(TrialRow.latency_s))
        )
        with self.session(write=False) as s:
            return s.scalar(q)

    def job_trial_ids(self, name: str) -> list[int]:
        """Ids of the trials job `name` measured, oldest first (for iter_trials)."""
        q = (
            select(TrialRow.id)
            .join(JobRow, TrialRow.job_id == JobRow.id)
            .where(JobRow.name == name)
            .order_by(TrialRow.id)
        )
        with self.session(write=False) as s:
            return list(s.scalars(q))

    def job(self, name: str) -> JobInfo | None:
        with self.session(write=False) as s:
            row = s.scalar(select(JobRow).where(JobRow.name == name))
            return _job(row) if row else None

    def jobs(self) -> list[JobInfo]:
        with self.session(write=False) as s:
            return [_job(r) for r in s.scalars(select(JobRow).order_by(JobRow.id))]


def _job(row: JobRow) -> JobInfo:
    return JobInfo(
        row.name, json.loads(row.spec), row.status, _aware(row.created_at),
        _aware(row.updated_at), row.priority, row.driver, row.error, _aware(row.started_at),
        _aware(row.finished_at), _aware(row.heartbeat_at),
    )  # fmt: skip


def _aware(t: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return t.replace(tzinfo=UTC) if t is not None and t.tzinfo is None else t
