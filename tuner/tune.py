"""The search driver: propose, generate, measure on a device worker, store, repeat."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from measure import DevicePool, MeasureInput, MeasureOptions, MeasureResult
from search_spaces import GENERATOR_VERSION, Workload, generate
from tuner.strategies import STRATEGIES
from tuning_db import DeviceInfo, TrialRecord, TuningDB


@dataclass(frozen=True)
class TuneOptions:
    trials: int = 64
    batch: int = 8
    seed: int = 0
    strategy: str = "random"
    measure: MeasureOptions = field(default_factory=MeasureOptions)
    job: str = ""
    confirm_top: int = 3  # candidates re-measured at a time before a best is promoted
    confirm_rounds: int = 5


@dataclass(frozen=True)
class TuneSummary:
    """What one run found for one workload on one device."""

    workload: Workload
    device: str
    measured: int
    statuses: dict[str, int]
    first_ok_s: float | None  # latency of the first correct candidate of this run
    best_s: float | None  # the confirmed best of the workload on the device after this run
    best_schedule: dict | None

    @property
    def gflops(self) -> float | None:
        return self.workload.compute.flops / self.best_s / 1e9 if self.best_s else None

    @property
    def speedup(self) -> float | None:
        return self.first_ok_s / self.best_s if self.first_ok_s and self.best_s else None


Progress = Callable[[int, int, float | None], None]


def device_info(pool: DevicePool, name: str) -> DeviceInfo:
    d = pool.info(name)
    return DeviceInfo(d.name, d.target, d.platform, d.description, d.driver)


def trial(workload: Workload, device: str, s, r: MeasureResult, opts, job: str) -> TrialRecord:
    return TrialRecord(
        workload=workload,
        device=device,
        schedule=s,
        status=r.status.value,
        generator_version=GENERATOR_VERSION,
        latency_s=r.latency_s,
        samples=r.samples,
        protocol=opts.to_json(),
        error=r.error,
        compile_s=r.compile_s,
        max_rel_error=r.max_rel_error,
        job=job,
        details=details(r),
    )


def details(r: MeasureResult) -> dict:
    return {
        "spread": r.spread,
        "resources": r.resources,
        "worker": r.worker,
        "check_s": r.check_s,
        "time_s": r.time_s,
    }


def tune(
    workload: Workload,
    device: DeviceInfo,
    db: TuningDB,
    pool: DevicePool,
    options: TuneOptions,
    progress: Progress | None = None,
) -> TuneSummary:
    """Measure up to `options.trials` new candidates and store every one of them; then
    re-measure the fastest few before one of them becomes this run's best."""
    target = device.target
    db.register_device(device)
    policy = STRATEGIES[options.strategy](
        workload.compute, target, options.seed, db.measured_keys(workload, device.name)
    )
    statuses: Counter[str] = Counter()
    measured, first_ok, best = 0, None, None
    while measured < options.trials:
        schedules = policy.propose(min(options.batch, options.trials - measured))
        if not schedules:
            break
        # stop timing hopeless candidates early: 20x slower than the best so far
        opts = replace(options.measure, cutoff_s=20 * best) if best else options.measure
        inputs = [MeasureInput(workload, generate(workload, s, target), opts) for s in schedules]
        results: list[MeasureResult] = pool.measure(device.name, inputs)
        db.add_trials(
            [
                trial(workload, device.name, s, r, opts, options.job)
                for s, r in zip(schedules, results)
            ]
        )
        policy.update(schedules, [r.latency_s if r.ok else None for r in results])
        for r in results:
            statuses[r.status.value] += 1
            if r.ok and r.latency_s is not None:
                first_ok = first_ok if first_ok is not None else r.latency_s
                best = r.latency_s if best is None else min(best, r.latency_s)
        measured += len(schedules)
        if progress:
            progress(measured, options.trials, best)
    best, best_schedule = confirm(workload, device, db, pool, options)
    return TuneSummary(
        workload, device.name, measured, dict(statuses), first_ok, best, best_schedule
    )


def confirm(workload, device, db, pool, options) -> tuple[float | None, dict | None]:
    """Promote only a re-measured best: re-measure the fastest unconfirmed OK trials with a
    stricter protocol until the fastest OK trial is a confirmed one. A candidate that fails
    now (a race, say) gets that status and can never be a best."""
    strict = replace(
        options.measure, min_repeats=10, budget_s=0.2, max_budget_s=2.0, cutoff_s=float("inf")
    )
    for _ in range(options.confirm_rounds):
        top = db.fastest(workload, device.name, options.confirm_top)
        if not top or top[0][2]:
            break
        todo = [(tid, s) for tid, _, confirmed, s in top if not confirmed]
        inputs = [
            MeasureInput(workload, generate(workload, s, device.target), strict) for _, s in todo
        ]
        for (tid, _), r in zip(todo, pool.measure(device.name, inputs)):
            db.record_confirmation(tid, r.status.value, r.latency_s, r.samples, strict.to_json(),
                                   r.error, details(r))  # fmt: skip
    top = db.fastest(workload, device.name, 1)
    if not top:
        return None, None
    return top[0][1], top[0][3].to_json()
