"""Replay: run a strategy against stored measurements instead of a device.

The policy proposes only schedules whose measurement is stored (a `PoolSpace`), and each
proposal is answered from the store. Strategies and models are compared this way cheaply, in
CI and in benchmarks, on real measurements taken once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from search_spaces import GENERATOR_VERSION, Schedule, Target, Workload
from tuner.learner import Learner
from tuner.space import PoolSpace
from tuner.strategies import STRATEGIES, EvolutionConfig


@dataclass(frozen=True)
class ReplayResult:
    strategy: str
    seed: int
    latencies: tuple[float | None, ...]  # in the order measured

    def best_curve(self) -> list[float | None]:
        out, best = [], None
        for lat in self.latencies:
            if lat is not None and (best is None or lat < best):
                best = lat
            out.append(best)
        return out

    def trials_to_reach(self, latency: float) -> int | None:
        for i, b in enumerate(self.best_curve()):
            if b is not None and b <= latency:
                return i + 1
        return None


def stored(db, workload: Workload, device: str) -> dict[str, tuple[Schedule, float | None]]:
    """The measurements of `workload` on `device` by the current generator, by schedule key."""
    out = {}
    for row in db.trials(workload, device):
        if row.generator_version == GENERATOR_VERSION:
            s = Schedule.from_json(json.loads(row.schedule))
            out[s.key] = (s, row.latency_s if row.status == "ok" else None)
    return out


def replay(
    strategy: str,
    workload: Workload,
    target: Target,
    measurements: dict[str, tuple[Schedule, float | None]],
    trials: int,
    seed: int = 0,
    batch: int = 8,
    learner: Learner | None = None,
    evolution: EvolutionConfig | None = None,
    measure: Callable[[Schedule], float | None] | None = None,
) -> ReplayResult:
    """Run `strategy` for up to `trials` proposals, answered from `measurements` (or by
    `measure`, with the live space, when given: a synthetic device for tests)."""
    if measure is None:
        space = PoolSpace(workload.compute, target, [s for s, _ in measurements.values()])

        def answer(s: Schedule) -> float | None:
            return measurements[s.key][1]
    else:
        space, answer = None, measure
    if learner is None and strategy == "evolutionary":
        from costmodel import XGBoostModel

        learner = Learner(XGBoostModel(seed=seed))
    # rounds sized for the budget, as tune() sizes them
    config = (evolution or EvolutionConfig()).for_budget(trials)
    extra = {"config": config} if strategy == "evolutionary" else {}
    policy = STRATEGIES[strategy](
        workload.compute, target, seed, set(), space=space, learner=learner,
        workload_key=workload.key, **extra,
    )  # fmt: skip
    latencies: list[float | None] = []
    while len(latencies) < trials:
        got = policy.propose(min(batch, trials - len(latencies)))
        if not got:
            break
        lats = [answer(s) for s in got]
        policy.update(got, lats)
        latencies += lats
    return ReplayResult(strategy, seed, tuple(latencies))


@dataclass(frozen=True)
class Dataset:
    """Measurements of one workload on one device, exported by
    benchmarks/export_measurements.py."""

    workload: Workload
    device: str
    target: Target
    measurements: dict[str, tuple[Schedule, float | None]]


def load_dataset(path) -> list[Dataset]:
    import gzip

    with gzip.open(path, "rt") as f:
        entries = json.load(f)
    out = []
    for e in entries:
        w = Workload.parse(e["op"], e["shape"])
        if w.layout != e["layout"]:
            w = Workload.create(e["op"], w.shape, e["layout"])
        trials = {}
        for sched, lat in e["trials"]:
            s = Schedule.from_json(sched)
            trials[s.key] = (s, lat)
        out.append(Dataset(w, e["device"], Target.from_json(e["target"]), trials))
    return out
