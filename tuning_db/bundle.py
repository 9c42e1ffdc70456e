"""Bundles: a whole database (or its bests) as one JSON file, and imports and merges that
add what a database does not hold yet (idempotent: trials are matched by uid)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from search_spaces import GENERATOR_VERSION, Schedule, ShapeError, Target, Workload
from tuning_db import schema
from tuning_db.records import DeviceInfo, TrialRecord
from tuning_db.store import TuningDB

FORMAT = "tune-db-bundle"
VERSION = 1
STATUSES = frozenset(
    ["ok", "compile_error", "compile_timeout", "out_of_resources", "runtime_error", "timeout",
     "wrong_result"]
)  # fmt: skip


class BundleError(ValueError):
    """A bundle that cannot be read; nothing of it was stored."""


@dataclass(frozen=True)
class ImportResult:
    devices: int  # devices the source described (registered or refreshed)
    jobs: int
    trials_added: int
    trials_skipped: int  # already here (same uid)


def trial_json(t: TrialRecord) -> dict:
    w = t.workload
    return {
        "uid": t.uid,
        "workload": {"op": w.op, "shape": w.shape, "layout": w.layout, "dtype": w.dtype},
        "device": t.device,
        "schedule": t.schedule.to_json(),
        "status": t.status,
        "generator_version": t.generator_version,
        "latency_s": t.latency_s,
        "samples": list(t.samples),
        "protocol": t.protocol,
        "error": t.error,
        "compile_s": t.compile_s,
        "max_rel_error": t.max_rel_error,
        "job": t.job,
        "details": t.details,
        "confirmed": t.confirmed,
        "created_at": t.created_at.isoformat() if t.created_at else None,
    }


def device_json(d: DeviceInfo) -> dict:
    return {
        "name": d.name, "target": d.target.to_json(), "platform": d.platform,
        "description": d.description, "driver": d.driver, "compiler": d.compiler,
    }  # fmt: skip


def export_bundle(db: TuningDB, out: IO[str], best_only: bool = False) -> int:
    """Write the database as a bundle to `out`, trials streamed one per line; returns how many
    trials were written. `best_only`: only the current bests."""
    head = {
        "format": FORMAT,
        "version": VERSION,
        "schema": schema.head(),
        "generator_version": GENERATOR_VERSION,
        "devices": [device_json(d) for d in db.devices()],
        "jobs": [{"name": j.name, "spec": j.spec, "status": j.status} for j in db.jobs()],
    }
    out.write(json.dumps(head, sort_keys=True)[:-1] + ', "trials": [\n')
    ids = [b.trial_id for b in db.bests()] if best_only else None
    trials = db.iter_trials(ids=ids)
    n = 0
    for t in trials:
        out.write(("" if n == 0 else ",\n") + json.dumps(trial_json(t), sort_keys=True))
        n += 1
    out.write("\n]}\n")
    return n


def read_bundle(source: str | Path | IO[str] | dict) -> dict:
    """A parsed bundle; BundleError when it is not one."""
    if isinstance(source, dict):
        doc = source
    else:
        try:
            if isinstance(source, (str, Path)):
                with open(source) as f:
                    doc = json.load(f)
            else:
                doc = json.load(source)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise BundleError(f"cannot read the bundle: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BundleError(f'not a {FORMAT} file (no "format": "{FORMAT}")')
    if doc.get("version") != VERSION:
        raise BundleError(f"bundle version {doc.get('version')!r} is not {VERSION}")
    for key in ("devices", "jobs", "trials"):
        if not isinstance(doc.get(key, []), list):
            raise BundleError(f"{key!r} must be a list")
    return doc


def parse_device(d: object) -> DeviceInfo:
    if not isinstance(d, dict):
        raise BundleError(f"a device must be an object, got {d!r:.80}")
    try:
        target = Target.from_json(d["target"])
        name = _text(d["name"], "device name", 64)
        texts = [_text(d.get(k, ""), k, 256) for k in ("platform", "description", "driver")]
        return DeviceInfo(name, target, *texts, _text(d.get("compiler", ""), "compiler", 128))
    except (KeyError, TypeError) as e:
        raise BundleError(f"bad device {str(d)[:120]}: {e}") from None


def parse_trial(d: object) -> TrialRecord:
    """A trial from its bundle form, validated as strictly as the tuner's own."""
    if not isinstance(d, dict):
        raise BundleError(f"a trial must be an object, got {d!r:.80}")
    try:
        wd = d["workload"]
        workload = Workload.create(wd["op"], dict(wd["shape"]), wd.get("layout") or None)
        if wd.get("dtype", "float32") != workload.dtype:
            raise BundleError(f"unsupported dtype {wd.get('dtype')!r}")
        uid = _text(d["uid"], "uid", 32)
        if len(uid) != 32 or any(c not in "0123456789abcdef" for c in uid):
            raise BundleError(f"uid {uid!r:.40} is not 32 hex digits")
        status = _text(d["status"], "status", 32)
        if status not in STATUSES:
            raise BundleError(f"unknown status {status!r}")
        latency = _number(d.get("latency_s"), "latency_s", optional=True)
        created = d.get("created_at")
        return TrialRecord(
            workload=workload,
            device=_text(d["device"], "device", 64),
            schedule=Schedule.from_json(d["schedule"]),
            status=status,
            generator_version=int(d["generator_version"]),
            latency_s=latency,
            samples=tuple(_number(x, "sample") for x in d.get("samples", [])),
            protocol=_object(d.get("protocol", {}), "protocol"),
            error=_text(d.get("error", ""), "error", 1 << 20),
            compile_s=_number(d.get("compile_s", 0.0), "compile_s"),
            max_rel_error=_number(d.get("max_rel_error"), "max_rel_error", optional=True),
            job=_text(d.get("job", ""), "job", 128),
            details=_object(d.get("details", {}), "details"),
            uid=uid,
            confirmed=bool(d.get("confirmed", False)),
            created_at=datetime.fromisoformat(created) if created else None,
        )
    except ShapeError as e:
        raise BundleError(f"trial {d.get('uid', '?')!r:.40}: {e}") from None
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        if isinstance(e, BundleError):
            raise
        raise BundleError(f"bad trial {str(d)[:160]}: {e!r}") from None


def _text(v: object, what: str, limit: int) -> str:
    if not isinstance(v, str):
        raise BundleError(f"{what} must be a string, got {v!r:.60}")
    if len(v) > limit:
        raise BundleError(f"{what} is longer than {limit} characters")
    return v


def _number(v: object, what: str, optional: bool = False) -> float | None:
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise BundleError(f"{what} must be a finite non-negative number, got {v!r:.60}")
    return float(v)


def _object(v: object, what: str) -> dict:
    if not isinstance(v, dict):
        raise BundleError(f"{what} must be an object")
    return v


def import_bundle(db: TuningDB, doc: dict) -> ImportResult:
    """Add a bundle's devices, jobs and new trials. Everything is validated before anything is
    written; trials already here (same uid) are skipped, so importing twice adds nothing."""
    doc = read_bundle(doc)
    devices = [parse_device(d) for d in doc.get("devices", [])]
    jobs = doc.get("jobs", [])
    for j in jobs:
        if not isinstance(j, dict) or not isinstance(j.get("name"), str) or not j["name"]:
            raise BundleError(f"bad job {str(j)[:120]}")
    trials = [parse_trial(t) for t in doc.get("trials", [])]
    known = {d.name for d in devices} | {d.name for d in db.devices()}
    missing = sorted({t.device for t in trials} - known)
    if missing:
        raise BundleError(f"trials name devices the bundle does not describe: {missing}")
    return _store(db, devices, jobs, trials)


def merge_database(db: TuningDB, other: TuningDB) -> ImportResult:
    """Add another database's devices, jobs and the trials this one does not hold yet."""
    jobs = [{"name": j.name, "spec": j.spec, "status": j.status} for j in other.jobs()]
    return _store(db, other.devices(), jobs, other.iter_trials())


def _store(db: TuningDB, devices, jobs, trials) -> ImportResult:
    here = {d.name for d in db.devices()}
    for d in devices:
        if d.name not in here:  # a device already here keeps its own description
            db.register_device(d)
    for j in jobs:
        spec, status = j.get("spec"), j.get("status")
        existing = db.job(j["name"])
        if existing is None:
            db.save_job(j["name"], spec if isinstance(spec, dict) else {}, str(status or ""))
    total = 0

    def counted():
        nonlocal total
        for t in trials:
            total += 1
            yield t

    added = db.import_trials(counted())
    return ImportResult(len(devices), len(jobs), added, total - added)
