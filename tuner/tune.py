"""The search driver: propose, generate, measure on a device worker, store, repeat."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from measure import DevicePool, MeasureInput, MeasureOptions, MeasureResult
from search_spaces import GENERATOR_VERSION, Schedule, Workload, generate
from tuner.learner import Learner
from tuner.scheduler import TaskScheduler
from tuner.strategies import DEFAULT_STRATEGY, STRATEGIES, EvolutionConfig
from tuning_db import DeviceInfo, TrialRecord, TuningDB


@dataclass(frozen=True)
class TuneOptions:
    trials: int = 64
    batch: int = 8
    seed: int = 0
    strategy: str = DEFAULT_STRATEGY
    round_trials: int = 64  # trials a task gets each time the scheduler picks it
    evolution: EvolutionConfig = field(default_factory=EvolutionConfig)
    warm_start: bool = True  # start from the cost model saved for the device family
    measure: MeasureOptions = field(default_factory=MeasureOptions)
    job: str = ""
    confirm_top: int = 3  # candidates re-measured at a time before a best is promoted
    confirm_rounds: int = 5
    # a candidate this many times slower than the best so far is timed no further (its checked
    # run is its sample); None: 3 on CPUs, whose slow kernels take seconds a run, 20 on GPUs
    cutoff: float | None = None
    # a candidate whose build takes longer than this many seconds is a compile timeout; None:
    # the measure options' own limit on CPUs, 15 s on GPUs. There every 64-trial best of the
    # H200 runs (GMM, C2D, DEP) builds in under 3 s with NVRTC on a 2-core VM, while 5 of 60
    # random C2D 56x56 candidates, whole nests of thousands of loads unrolled, took 20 to 41 s
    # there, and one build on the H200's host kept a 93 s task waiting 58 s
    build_limit: float | None = None

    def cutoff_for(self, target) -> float:
        if self.cutoff is not None:
            return self.cutoff
        return 3.0 if target.kind == "cpu" else 20.0

    def measure_for(self, target) -> MeasureOptions:
        """The measure options of the search's trials on `target` (before any cutoff)."""
        limit = self.build_limit
        if limit is None:
            limit = self.measure.compile_timeout_s if target.kind == "cpu" else 15.0
        return replace(self.measure, compile_timeout_s=limit)


@dataclass(frozen=True)
class TuneSummary:
    """What one run found for one workload on one device."""

    workload: Workload
    device: str
    measured: int
    statuses: dict[str, int]
    first_ok_s: float | None  # latency of the first correct candidate of this run
    best_s: float | None  # the best of the workload on the device after this run
    best_schedule: dict | None
    search_s: float = 0.0  # host time in the search policy (proposing, learning), not measuring
    # the best was re-measured (see confirm); False: the rounds ran out with a faster trial
    # still unconfirmed, as when every re-measurement runs slower on a busy machine
    confirmed: bool = False

    @property
    def gflops(self) -> float | None:
        return self.workload.compute.flops / self.best_s / 1e9 if self.best_s else None

    @property
    def speedup(self) -> float | None:
        return self.first_ok_s / self.best_s if self.first_ok_s and self.best_s else None


Progress = Callable[[int, int, Workload, float | None], None]


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
        uid=uuid.uuid4().hex,  # from the start: a retried insert cannot store it twice
    )


def details(r: MeasureResult) -> dict:
    return {
        "spread": r.spread,
        "resources": r.resources,
        "worker": r.worker,
        "check_s": r.check_s,
        "time_s": r.time_s,
    }


@dataclass
class Task:
    """One workload's search within a run."""

    workload: Workload
    policy: object
    budget: int
    measured: int = 0
    statuses: Counter = field(default_factory=Counter)
    first_ok: float | None = None
    best: float | None = None
    search_s: float = 0.0


def history(db: TuningDB, workload: Workload, device: str) -> list[tuple[Schedule, float | None]]:
    """Earlier measurements of `workload` on `device` by the current generator."""
    out = []
    for row in db.trials(workload, device):
        if row.generator_version == GENERATOR_VERSION:
            lat = row.latency_s if row.status == "ok" else None
            out.append((Schedule.from_json(json.loads(row.schedule)), lat))
    return out


MODEL_KIND = "xgboost-rank"


def model_name(target) -> str:
    """Models are shared by a device family (its architecture; the device name if unknown)."""
    return f"{MODEL_KIND}:{target.kind}:{target.arch or target.name}"


def make_learner(options: TuneOptions, db: TuningDB, target) -> Learner | None:
    """A learner for model-guided strategies, warm-started from the newest model saved for
    the device family (a model of other features is ignored: the run starts cold)."""
    if options.strategy != "evolutionary":
        return None
    from costmodel import XGBoostModel

    saved = db.cost_model(model_name(target)) if options.warm_start else None
    try:
        model = XGBoostModel(seed=options.seed, base=saved.blob if saved else None)
    except ValueError:
        model = XGBoostModel(seed=options.seed)
    return Learner(model)


def save_model(db: TuningDB, target, learner: Learner | None, workloads) -> None:
    if learner is None or not learner.fits:
        return
    meta = {"samples": len(learner.samples), "workloads": [w.key for w in workloads],
            "features": len(learner.samples[0].features) if learner.samples else 0}  # fmt: skip
    db.save_cost_model(model_name(target), MODEL_KIND, learner.model.to_bytes(), meta)


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
    return tune_many([workload], device, db, pool, options, progress)[0]


def tune_many(
    workloads: list[Workload],
    device: DeviceInfo,
    db: TuningDB,
    pool: DevicePool,
    options: TuneOptions,
    progress: Progress | None = None,
    learner: Learner | None = None,
    budgets: list[int] | None = None,
    keep_going: Callable[[], bool] | None = None,
) -> list[TuneSummary]:
    """Tune several workloads on one device with a budget of `options.trials` each, pooled:
    the task scheduler gives each round to the workload where the expected gain is largest,
    and one cost model learns from all of them.

    With `budgets`, each workload gets exactly its own (jobs: trials per workload and device)
    and the scheduler only orders the rounds. `keep_going` is asked before every round; the run
    stops (and confirms its bests) when it says no."""
    target = device.target
    db.register_device(device)
    own = learner is None
    learner = make_learner(options, db, target) if own else learner
    tasks = []
    capped = budgets is not None
    budgets = list(budgets) if capped else [options.trials] * len(workloads)
    for w, b in zip(workloads, budgets):
        tasks.append(Task(w, None, b))
    total = sum(budgets)
    # a round never exceeds one task's share, so every task gets its warm-up round
    # (Ansor: min(64, trials per task))
    round_n = max(1, min(options.round_trials, max(budgets, default=1)))
    scheduler = TaskScheduler([1.0] * len(tasks), seed=options.seed)
    for i, task in enumerate(tasks):
        if task.budget <= 0:
            scheduler.finish(i)
    spent = 0
    while spent < total and (keep_going is None or keep_going()):
        i = scheduler.pick()
        if i is None:
            break
        task = tasks[i]
        if task.policy is None:  # made on first use: a resumed job skips finished ones
            task.policy = make_policy(task.workload, device, db, options, learner, task.budget)
        left = task.budget - task.measured if capped else total - spent
        n = run_round(task, device, db, pool, options, min(round_n, left))
        spent += n
        if n == 0:
            scheduler.finish(i)
            continue
        if capped and task.measured >= task.budget:
            scheduler.finish(i)
        scheduler.record(i, task.best)
        if progress:
            progress(spent, total, task.workload, task.best)
    if own and learner is not None:
        save_model(db, target, learner, workloads)
        learner.close()
    out = []
    for task in tasks:
        best, best_schedule, confirmed = confirm(task.workload, device, db, pool, options)
        out.append(TuneSummary(task.workload, device.name, task.measured, dict(task.statuses),
                               task.first_ok, best, best_schedule, task.search_s,
                               confirmed))  # fmt: skip
    return out


def make_policy(w: Workload, device: DeviceInfo, db: TuningDB, options, learner, budget: int):
    evolution = {"config": options.evolution.for_budget(budget)}
    return STRATEGIES[options.strategy](
        w.compute, device.target, options.seed, db.measured_keys(w, device.name),
        history=history(db, w, device.name), learner=learner, workload_key=w.key,
        **(evolution if options.strategy == "evolutionary" else {}),
    )  # fmt: skip


def run_round(task: Task, device: DeviceInfo, db: TuningDB, pool, options, n: int) -> int:
    """Up to `n` trials of one task, measured in batches of `options.batch` and stored; the
    number measured (0 when the policy has nothing left)."""
    workload, target, done = task.workload, device.target, 0
    while done < n:
        t0 = time.perf_counter()
        schedules = task.policy.propose(min(options.batch, n - done))
        task.search_s += time.perf_counter() - t0
        if not schedules:
            break
        # stop timing hopeless candidates early (see TuneOptions.cutoff)
        best, factor, opts = task.best, options.cutoff_for(target), options.measure_for(target)
        opts = replace(opts, cutoff_s=factor * best) if best else opts
        inputs = [MeasureInput(workload, generate(workload, s, target), opts) for s in schedules]
        results: list[MeasureResult] = pool.measure(device.name, inputs)
        db.add_trials(
            [trial(workload, device.name, s, r, opts, options.job)
             for s, r in zip(schedules, results)]
        )  # fmt: skip
        t0 = time.perf_counter()
        task.policy.update(schedules, [r.latency_s if r.ok else None for r in results])
        task.search_s += time.perf_counter() - t0
        for r in results:
            task.statuses[r.status.value] += 1
            if r.ok and r.latency_s is not None:
                task.first_ok = task.first_ok if task.first_ok is not None else r.latency_s
                task.best = r.latency_s if task.best is None else min(task.best, r.latency_s)
        done += len(schedules)
        task.measured += len(schedules)
    return done


def confirm(workload, device, db, pool, options) -> tuple[float | None, dict | None, bool]:
    """Promote only a re-measured best: re-measure the fastest unconfirmed OK trials with a
    stricter protocol until the fastest OK trial is a confirmed one, for at most
    `confirm_rounds` rounds. A candidate that fails now (a race, say) gets that status and can
    never be a best. Returns the best's latency and schedule, and whether it is confirmed (not
    when the rounds ran out first: on a machine busier than during the search, every
    re-measurement comes out slower and the next unconfirmed trial takes the lead)."""
    strict = replace(
        options.measure_for(device.target),
        min_repeats=10,
        budget_s=0.2,
        max_budget_s=2.0,
        cutoff_s=float("inf"),
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
        return None, None, False
    return top[0][1], top[0][3].to_json(), top[0][2]
