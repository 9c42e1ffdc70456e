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


@dataclass(frozen=True)
class TuneSummary:
    """What one run found for one workload on one device."""

    workload: Workload
    device: str
    measured: int
    statuses: dict[str, int]
    first_ok_s: float | None  # latency of the first correct candidate of this run
    best_s: float | None  # best of this run
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


def tune(
    workload: Workload,
    device: DeviceInfo,
    db: TuningDB,
    pool: DevicePool,
    options: TuneOptions,
    progress: Progress | None = None,
) -> TuneSummary:
    """Measure up to `options.trials` new candidates and store every one of them."""
    target = device.target
    db.register_device(device)
    policy = STRATEGIES[options.strategy](
        workload.compute, target, options.seed, db.measured_keys(workload, device.name)
    )
    statuses: Counter[str] = Counter()
    measured, first_ok, best, best_schedule = 0, None, None, None
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
                TrialRecord(
                    workload=workload,
                    device=device.name,
                    schedule=s,
                    status=r.status.value,
                    generator_version=GENERATOR_VERSION,
                    latency_s=r.latency_s,
                    samples=r.samples,
                    protocol=opts.to_json(),
                    error=r.error,
                    compile_s=r.compile_s,
                    max_rel_error=r.max_rel_error,
                    job=options.job,
                )
                for s, r in zip(schedules, results)
            ]
        )
        policy.update(schedules, [r.latency_s if r.ok else None for r in results])
        for s, r in zip(schedules, results):
            statuses[r.status.value] += 1
            if r.ok and r.latency_s is not None:
                first_ok = first_ok if first_ok is not None else r.latency_s
                if best is None or r.latency_s < best:
                    best, best_schedule = r.latency_s, s.to_json()
        measured += len(schedules)
        if progress:
            progress(measured, options.trials, best)
    return TuneSummary(
        workload, device.name, measured, dict(statuses), first_ok, best, best_schedule
    )
