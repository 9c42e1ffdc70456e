"""The lookup compilers use at build time: a correct kernel for the asked workload on the asked
device, and how good the match is.

Fallbacks, in order: `exact` (the best trial of this workload on this device); `nearest_shape`
(the same op, layout and dtype on this device: the closest tuned shape whose best schedule is
valid for the asked shape, regenerated for it); `device_family` (this workload's best on a
device of the same architecture family, regenerated for this device); `default` (a schedule
chosen by rule). Schedules are stored, kernels are regenerated (and cached).
"""

from __future__ import annotations

import json
import math
import random
from functools import lru_cache

from search_spaces import (
    GENERATOR_VERSION,
    InvalidSchedule,
    KernelSource,
    Schedule,
    Target,
    Workload,
    check,
    generate,
    naive,
    sample,
)
from tuning_db.records import Best
from tuning_db.store import TuningDB

MATCHES = ("exact", "nearest_shape", "device_family", "default")


class NotTuned(LookupError):
    """No stored kernel answers the lookup (only raised when fallbacks are off)."""


class UnknownDevice(LookupError):
    """The device is neither in the database nor among the targets the caller knows."""


@lru_cache(maxsize=8192)
def kernel_for(workload: Workload, schedule: Schedule, target: Target) -> KernelSource:
    """The generated kernel, cached by (workload, schedule, target): all frozen plain data."""
    return generate(workload, schedule, target)


def lookup(
    db: TuningDB,
    workload: Workload,
    device: str,
    *,
    targets: dict[str, Target] | None = None,
    fallback: bool = True,
) -> dict:
    """The kernel for `workload` on `device` as JSON-ready data, with `match` one of MATCHES.

    `targets` describes devices the database may not hold (e.g. measure's catalog), for the
    `device_family` and `default` fallbacks; a device stored in the database uses its stored
    target. Raises NotTuned when `fallback` is off and there is no exact match, UnknownDevice
    when the device is described nowhere.
    """
    best = db.best(workload, device)
    if best is not None:
        try:
            kernel = kernel_for(workload, best.schedule, best.device.target)
            return _doc("exact", workload, device, best.schedule, kernel, best, best)
        except InvalidSchedule:
            pass  # the generator's limits moved under a stored schedule: fall back
    if not fallback:
        raise NotTuned(
            f"no tuned kernel for {workload.op} {workload.shape_text} on {device} "
            f"(key {workload.key}); run: tune run --op {workload.op} "
            f"--shape {workload.shape_text} --device {device}"
        )
    info = db.device(device)
    target = info.target if info else (targets or {}).get(device)
    if target is None:
        known = sorted({d.name for d in db.devices()} | set(targets or {}))
        raise UnknownDevice(f"unknown device {device!r}; known devices: {', '.join(known)}")
    if info is not None:
        neighbours = db.bests(
            op=workload.op, layout=workload.layout, dtype=workload.dtype, device=device
        )
        neighbours.sort(key=lambda b: (shape_distance(workload, b.workload), b.latency_s))
        found = _first_valid(workload, target, neighbours)
        if found:
            return _doc("nearest_shape", workload, device, *found)
    if target.arch:
        family = db.bests(workload_key=workload.key, arch=target.arch)
        family.sort(key=lambda b: b.latency_s)
        found = _first_valid(workload, target, [b for b in family if b.device.name != device])
        if found:
            return _doc("device_family", workload, device, *found)
    schedule = default_schedule(workload, target)
    return _doc("default", workload, device, schedule, kernel_for(workload, schedule, target))


def lookup_json(
    db: TuningDB,
    workload: Workload,
    device: str,
    *,
    targets: dict[str, Target] | None = None,
    fallback: bool = True,
) -> str:
    """lookup() as JSON text; an exact match's text is cached by its best trial (a new best
    is a new trial, so the cache never serves a stale answer)."""
    best = db.best(workload, device)
    if best is not None:
        try:
            return _exact_json(workload, device, best)
        except InvalidSchedule:
            pass
    return json.dumps(lookup(db, workload, device, targets=targets, fallback=fallback))


@lru_cache(maxsize=8192)
def _exact_json(workload: Workload, device: str, best: Best) -> str:
    kernel = kernel_for(workload, best.schedule, best.device.target)
    return json.dumps(_doc("exact", workload, device, best.schedule, kernel, best, best))


def _first_valid(w: Workload, target: Target, bests: list[Best]):
    for b in bests:
        if check(w.compute, b.schedule, target) is None:
            return b.schedule, kernel_for(w, b.schedule, target), b
    return None


def shape_distance(a: Workload, b: Workload) -> float:
    """How far two shapes of one op are apart: the summed log-ratio of their parameters
    (plus one, as padding and the like may be 0)."""
    other = b.shape
    return sum(
        abs(math.log2((v + 1) / (other[k] + 1))) if k in other else 64.0 for k, v in a.params
    )


@lru_cache(maxsize=4096)
def default_schedule(workload: Workload, target: Target) -> Schedule:
    """The schedule served when nothing was tuned near: the naive one (one work-item per
    output) where it is valid, else a fixed-seed valid sample."""
    s = naive(workload.compute, target)
    if check(workload.compute, s, target) is None:
        return s
    return sample(workload.compute, target, random.Random(int(workload.key[:8], 16)))


def _doc(
    match: str,
    workload: Workload,
    device: str,
    schedule: Schedule,
    kernel: KernelSource,
    source: Best | None = None,
    best: Best | None = None,
) -> dict:
    """The lookup JSON. `latency_us`/`gflops` are measured figures of this very workload on
    this device, so only an exact match has them; `source` says where the schedule came from."""
    return {
        "match": match,
        "workload": _workload_json(workload),
        "device": device,
        "schedule": schedule.to_json(),
        "latency_us": best.latency_s * 1e6 if best else None,
        "gflops": best.gflops if best else None,
        "generator_version": GENERATOR_VERSION,
        "trial_id": best.trial_id if best else None,
        "source": None
        if source is None
        else {
            "workload": _workload_json(source.workload),
            "device": source.device.name,
            "trial_id": source.trial_id,
            "latency_us": source.latency_s * 1e6,
        },
        "kernel": kernel.to_json(),
    }


def _workload_json(w: Workload) -> dict:
    return {"op": w.op, "shape": w.shape, "dtype": w.dtype, "layout": w.layout, "key": w.key}
