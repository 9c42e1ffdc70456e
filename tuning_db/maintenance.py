"""What people ask of a database: a summary per workload and device, statistics, and garbage
collection of trials made by superseded code generators."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, case, delete, func, select

from search_spaces import GENERATOR_VERSION
from tuning_db import schema
from tuning_db.models import CostModelRow, DeviceRow, JobRow, TrialRow, WorkloadRow
from tuning_db.records import OK
from tuning_db.store import TuningDB


@dataclass(frozen=True)
class Summary:
    """Trials of one workload on one device."""

    workload_key: str
    op: str
    layout: str
    params: str  # JSON
    device: str
    trials: int
    ok: int
    best_s: float | None  # of the current generator


def summaries(db: TuningDB, op: str | None = None, device: str | None = None) -> list[Summary]:
    """One line per (workload, device) that has trials."""
    current_ok = and_(TrialRow.status == OK, TrialRow.generator_version == GENERATOR_VERSION)
    q = (
        select(
            WorkloadRow.key,
            WorkloadRow.op,
            WorkloadRow.layout,
            WorkloadRow.params,
            DeviceRow.name,
            func.count(TrialRow.id),
            func.sum(case((TrialRow.status == OK, 1), else_=0)),
            func.min(case((current_ok, TrialRow.latency_s), else_=None)),
        )  # fmt: skip
        .join(WorkloadRow, TrialRow.workload_id == WorkloadRow.id)
        .join(DeviceRow, TrialRow.device_id == DeviceRow.id)
        .group_by(WorkloadRow.id, DeviceRow.id)
        .order_by(WorkloadRow.op, WorkloadRow.key, DeviceRow.name)
    )
    if op is not None:
        q = q.where(WorkloadRow.op == op)
    if device is not None:
        q = q.where(DeviceRow.name == device)
    with db.session(write=False) as s:
        return [Summary(*r[:6], int(r[6] or 0), r[7]) for r in s.execute(q)]


def stats(db: TuningDB) -> dict:
    """Counts by table, status and generator version; the schema revision."""
    with db.session(write=False) as s:
        count = lambda model: s.scalar(select(func.count()).select_from(model)) or 0  # noqa: E731
        by_status = dict(
            s.execute(select(TrialRow.status, func.count()).group_by(TrialRow.status)).all()
        )
        by_version = dict(
            s.execute(
                select(TrialRow.generator_version, func.count()).group_by(
                    TrialRow.generator_version
                )
            ).all()
        )
        out = {
            "backend": db.backend,
            "schema": schema.head(),
            "generator_version": GENERATOR_VERSION,
            "workloads": count(WorkloadRow),
            "devices": count(DeviceRow),
            "jobs": count(JobRow),
            "cost_models": count(CostModelRow),
            "trials": count(TrialRow),
            "trials_by_status": dict(sorted(by_status.items())),
            "trials_by_generator_version": {str(k): v for k, v in sorted(by_version.items())},
        }
    out["bests"] = len(db.bests())
    return out


def gc(db: TuningDB, dry_run: bool = False) -> dict:
    """Delete trials of superseded generator versions (older than the current one), except
    the fastest OK trial of each (workload, device, version): that history is kept. Trials of
    the current or a newer generator are never touched. Returns what was (or would be) done."""
    rank = func.row_number().over(
        partition_by=(TrialRow.workload_id, TrialRow.device_id, TrialRow.generator_version),
        order_by=(TrialRow.latency_s, TrialRow.id),
    )
    old = TrialRow.generator_version < GENERATOR_VERSION
    kept = (
        select(TrialRow.id.label("id"), rank.label("rank"))
        .where(old, TrialRow.status == OK, TrialRow.latency_s.is_not(None))
        .subquery()
    )
    keep_ids = select(kept.c.id).where(kept.c.rank == 1)
    doomed = and_(old, TrialRow.id.not_in(keep_ids))
    with db.session(write=not dry_run) as s:
        n = s.scalar(select(func.count()).select_from(TrialRow).where(doomed)) or 0
        keep = s.scalar(select(func.count()).select_from(keep_ids.subquery())) or 0
        if not dry_run and n:
            s.execute(delete(TrialRow).where(doomed))
    return {"deleted": 0 if dry_run else n, "would_delete": n, "kept_old_bests": keep,
            "dry_run": dry_run}  # fmt: skip
