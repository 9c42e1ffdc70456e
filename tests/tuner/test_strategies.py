"""Search strategies on a fake device and in replay of real H100 measurements: valid, never
repeated proposals; the model-guided search finds good kernels in fewer trials than random
search; early stopping; the task scheduler's choices."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from costmodel import XGBoostModel
from measure.catalog import CATALOG
from search_spaces import Workload, check
from tests.tuner.synthetic import synthetic_latency
from tuner.learner import Learner
from tuner.replay import load_dataset, replay
from tuner.scheduler import TaskScheduler
from tuner.strategies import STRATEGIES, Evolutionary, EvolutionConfig, OptunaTPE

DATA = Path(__file__).resolve().parents[2] / "benchmarks/data/h100-random-2026-11-21.json.gz"
SMALL = EvolutionConfig(population=128, generations=2, round_size=16, patience=0)
W = Workload.parse("matmul", "M=512,N=512,K=512")
T = CATALOG["h100"]


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_proposals_are_valid_unique_and_never_repeated(name):
    f = synthetic_latency(W.compute)
    extra = {"config": SMALL} if name == "evolutionary" else {}
    policy = STRATEGIES[name](W.compute, T, 0, set(), learner=Learner(XGBoostModel(), workers=1),
                              **extra)  # fmt: skip
    seen: set[str] = set()
    for _ in range(8):
        got = policy.propose(8)
        assert got and all(check(W.compute, s, T) is None for s in got)
        keys = {s.key for s in got}
        assert len(keys) == len(got) and not keys & seen
        seen |= keys
        policy.update(got, [f(s) for s in got])


def test_evolutionary_search_stops_when_rounds_stop_improving():
    cfg = EvolutionConfig(population=64, generations=1, round_size=8, warmup=8, patience=2)
    r = replay("evolutionary", W, T, {}, 400, seed=0, measure=lambda s: 1e-3, evolution=cfg)
    # warm-up round, then a first round that sets the bar and two that do not beat it
    assert len(r.latencies) == 8 + 3 * 8


def test_rounds_without_a_gain_widen_the_random_share_and_a_gain_resets_it():
    cfg = EvolutionConfig(population=64, generations=1, round_size=16, warmup=16, patience=0)
    policy = Evolutionary(W.compute, T, 0, set(), config=cfg,
                          learner=Learner(XGBoostModel(seed=0), workers=1))  # fmt: skip
    calls: list[int] = []
    sample = policy._unseen_samples

    def counted(n, rng, exclude=frozenset()):
        calls.append(n)
        return sample(n, rng, exclude)

    policy._unseen_samples = counted
    rng = np.random.default_rng(0)
    shares, picks = [], []
    for r in range(9):  # the ninth round's kernels are 2x faster: a gain
        calls.clear()
        got = policy.propose(16)
        shares.append(policy.explore_share())
        picks.append(calls[-1])  # a model round's last draw is its random share
        floor = 1e-3 if r == 0 else 1.2e-3  # after the warm-up: never below its best
        lat = floor * (1 + rng.random(len(got)))
        policy.update(got, list(lat / 2 if r == 8 else lat))
    calls.clear()
    policy.propose(16)
    shares.append(policy.explore_share())
    # the warm-up's best is the bar: 0.05 for the first model round, then doubling with each
    # round that did not beat it, up to max_eps; the gain of the ninth round resets it
    assert shares == [0.05, 0.05, 0.1, 0.2, 0.4, 0.5, 0.5, 0.5, 0.5, 0.05]
    assert picks[1:] == [round(s * 16) for s in shares[1:9]]
    policy.stale = 5000  # a long run with patience off: capped, no overflow
    assert policy.explore_share() == cfg.max_eps


def test_replay_proposes_only_stored_schedules_and_reaches_the_best_sooner():
    """On 376 real GMM 1024 kernels measured on an H100, the model-guided search gets within
    5% of the best stored kernel in fewer trials than random search (4 seeds each)."""
    data = {d.workload.op: d for d in load_dataset(DATA)}["matmul"]
    stored = data.measurements
    goal = min(lat for _, lat in stored.values() if lat) / 0.95
    reach = {}
    for name in ("random", "evolutionary"):
        runs = [replay(name, data.workload, data.target, stored, 120, seed=seed, evolution=SMALL,
                       learner=Learner(XGBoostModel(seed=seed), workers=1))
                for seed in range(4)]  # fmt: skip
        for r in runs:
            assert len(r.latencies) == 120  # every proposal was answered from the store
        reach[name] = np.mean([r.trials_to_reach(goal) or 121 for r in runs])
    assert reach["evolutionary"] < 0.75 * reach["random"], reach


def test_optuna_learns_from_invalid_and_failed_candidates():
    f = synthetic_latency(W.compute)
    policy = OptunaTPE(W.compute, T, 0, set())
    got = policy.propose(16)
    policy.update(got, [None] * 8 + [f(s) for s in got[8:]])
    assert len(policy.study.trials) >= 16
    assert all(t.state.name == "COMPLETE" for t in policy.study.trials)


def test_scheduler_gives_rounds_where_the_gain_is():
    sched = TaskScheduler([1.0, 1.0], eps=0.0)
    curves = {0: iter([10.0, 5.0, 2.5, 1.2, 0.6, 0.3, 0.15, 0.1]), 1: iter([1.0] * 8)}
    picks = []
    for _ in range(8):
        i = sched.pick()
        picks.append(i)
        sched.record(i, next(curves[i]))
    assert picks[:2] == [0, 1]  # a warm-up round each
    assert picks.count(0) > picks.count(1)
    sched.finish(0)
    assert sched.pick() == 1
    sched.finish(1)
    assert sched.pick() is None


def test_a_task_with_nothing_correct_yet_goes_first():
    sched = TaskScheduler([1.0, 1.0], eps=0.0)
    sched.record(0, 1.0)
    sched.record(1, None)
    assert sched.pick() == 1


def test_an_evolutionary_policy_seeds_from_stored_history():
    f = synthetic_latency(W.compute)
    first = Evolutionary(W.compute, T, 0, set(), config=SMALL)
    got = first.propose(16)
    history = [(s, f(s)) for s in got]
    second = Evolutionary(W.compute, T, 1, {s.key for s in got}, history=history, config=SMALL)
    assert second.best == min(lat for _, lat in history)
    assert not {s.key for s in second.propose(16)} & {s.key for s in got}


class OneSketchModel:
    """A stand-in cost model that ranks one sketch above all others (what a model that has
    learnt that sketch first does); it learns nothing."""

    def __init__(self, favourite: str):
        self.favourite, self.ready = favourite, False

    def add(self, compute, target, key, schedules, latencies):
        pass

    def features(self, compute, target, key, schedules):
        return schedules

    def predict(self, schedules):
        return np.array([1.0 + (s.sketch == self.favourite) + 1e-6 * i
                         for i, s in enumerate(schedules)])  # fmt: skip


@pytest.mark.parametrize("stale,spread", [(1, True), (0, True), (1, False)])
def test_a_round_after_no_gain_brings_back_the_sketches_the_model_does_not_favour(stale, spread):
    cfg = EvolutionConfig(population=128, generations=1, round_size=32, warmup=16, patience=0)
    if spread:  # off by default
        cfg = cfg.with_spread()
    f = synthetic_latency(W.compute)
    policy = Evolutionary(W.compute, T, 0, set(), config=cfg, learner=OneSketchModel(""))
    warm = policy.propose(16)
    policy.update(warm, [f(s) for s in warm])
    sketches = {s.sketch for s in warm}
    assert len(sketches) >= 2  # the warm-up's random samples cover several sketches
    policy.learner.favourite = favourite = sorted(sketches)[0]
    policy.learner.ready = True
    policy.stale = stale  # rounds in a row without a gain
    got = policy.propose(32)
    assert len(got) == 32
    picks = got[: 32 - round(policy.explore_share() * 32)]  # model picks first, then random
    counts = {sk: sum(s.sketch == sk for s in picks) for sk in sketches}
    assert sum(counts.values()) == len(picks)
    if stale and spread:
        # a quarter of the model picks go round the sketches, the rest by rank
        quarter = int(0.25 * len(picks))
        assert all(counts[sk] >= quarter // len(sketches) for sk in sketches), counts
        assert counts[favourite] >= len(picks) - quarter
    else:  # while rounds gain, or without the spread, the model's favourite takes them all
        assert counts[favourite] == len(picks), counts


def test_a_run_with_patience_off_shows_where_the_default_would_have_stopped():
    """plot_search replays the stopping rule on a run measured with patience off (the
    study's evolutionary-nostop): the same search with patience on stops at that trial,
    having measured the same kernels."""
    from benchmarks.plot_search import default_stop

    f = synthetic_latency(W.compute)
    cfg = EvolutionConfig(population=64, generations=1, round_size=24, warmup=16)
    runs = {p: replay("evolutionary", W, T, {}, 320, seed=1, measure=f,
                      evolution=replace(cfg, patience=p)).latencies
            for p in (0, 2)}  # fmt: skip
    at = default_stop(runs[0], cfg=replace(cfg, patience=2), budget=320)
    assert at is not None and at < 320 == len(runs[0])
    assert runs[2] == runs[0][:at]


def test_random_search_need_bound_uses_the_poisson_limits():
    """The study's bound on random search's trials: the textbook one-sided 95% limits."""
    from benchmarks.plot_search import poisson_upper, random_need

    assert [round(poisson_upper(k), 2) for k in range(3)] == [3.0, 4.74, 6.3]
    flops = 2e12  # so that a latency of 1 s is 2 TFLOP/s
    runs = [{"latencies": [1.0] + [4.0] * 5999}, {"latencies": [None] * 2000}]
    assert random_need(runs, 1.9, flops) == f"8000 >{8000 / poisson_upper(1):.0f} (1 of 8000)"
    assert random_need(runs, 2.1, flops) == f">{8000 / poisson_upper(0):.0f}"
