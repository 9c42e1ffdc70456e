"""Search logic against a fake device (real SQLite): budgets, no repeats, best tracking."""

from __future__ import annotations

from dataclasses import replace

from measure import MeasureOptions, MeasureResult, Status
from search_spaces import Schedule, Target, Workload, check
from tuner.strategies import STRATEGIES, EvolutionConfig, RandomSearch
from tuner.tune import TuneOptions, tune
from tuning_db import DeviceInfo, TuningDB

TARGET = Target("fake", "gpu", "opencl", 256, 1 << 15, 64, 4)
SMALL = EvolutionConfig(population=128, generations=2, round_size=16)


class FakePool:
    """Latency is a deterministic function of the schedule; every 5th candidate fails."""

    def __init__(self):
        self.seen: list[str] = []
        self.options: list = []

    def measure(self, name, inputs):
        out = []
        for inp in inputs:
            self.seen.append(inp.kernel.source)
            self.options.append(inp.options)
            h = int(inp.kernel.source.__hash__() % 1000)
            if len(self.seen) % 5 == 0:
                out.append(MeasureResult(Status.WRONG_RESULT, error="fake"))
            else:
                out.append(MeasureResult(Status.OK, latency_s=(h + 1) * 1e-6, samples=(1e-6,)))
        return out


def test_gpu_searches_give_up_on_slow_builds_sooner_than_cpu_searches(tmp_path):
    db, w = TuningDB(str(tmp_path / "t.db")), Workload.parse("matmul", "M=32,N=32,K=32")
    cpu = Target("fake-cpu", "cpu", "opencl", 256, 1 << 15, 64, 4)
    limits = {}
    for target, options in ((TARGET, TuneOptions()), (cpu, TuneOptions()),
                            (TARGET, TuneOptions(build_limit=40.0))):  # fmt: skip
        pool = FakePool()
        opts = replace(options, trials=6, batch=3, strategy="random")
        tune(w, DeviceInfo(target.name, target), db, pool, opts)
        limits[target.kind, options.build_limit] = {o.compile_timeout_s for o in pool.options}
    assert limits == {("gpu", None): {15.0}, ("cpu", None): {MeasureOptions().compile_timeout_s},
                      ("gpu", 40.0): {40.0}}  # fmt: skip


def test_random_search_proposes_unique_valid_unseen_schedules():
    w = Workload.parse("matmul", "M=64,N=64,K=64")
    first = RandomSearch(w.compute, TARGET, seed=1, seen=set()).propose(20)
    assert len({s.key for s in first}) == 20
    assert all(check(w.compute, s, TARGET) is None for s in first)
    again = RandomSearch(w.compute, TARGET, seed=1, seen=set()).propose(20)
    assert [s.key for s in again] == [s.key for s in first]  # seeded
    seen = {s.key for s in first}
    later = RandomSearch(w.compute, TARGET, seed=1, seen=seen).propose(20)
    assert not seen & {s.key for s in later}


def test_a_resumed_random_search_goes_past_its_earlier_samples():
    """Resumed with its seed, the search draws its earlier samples again first: with more of
    them than the attempts of a small batch, it used to propose nothing (a cut-off study run
    of 440 trials came back with no new ones)."""
    w = Workload.parse("matmul", "M=256,N=256,K=256")
    first = RandomSearch(w.compute, TARGET, seed=4, seen=set())
    earlier = [s for _ in range(30) for s in first.propose(10)]  # 300 > 50 x a batch of 4
    resumed = RandomSearch(w.compute, TARGET, seed=4, seen={s.key for s in earlier})
    batch = resumed.propose(4)
    assert len(batch) == 4 and not {s.key for s in earlier} & {s.key for s in batch}


def test_random_search_stops_when_the_space_is_exhausted():
    w = Workload.parse("matmul", "M=1,N=1,K=2")
    policy = RandomSearch(w.compute, TARGET, seed=0, seen=set())
    got = policy.propose(1000)
    assert 0 < len(got) < 1000
    assert policy.propose(5) == []


def test_tune_stores_every_trial_and_never_repeats_one(tmp_path):
    db = TuningDB(str(tmp_path / "t.db"))
    dev = DeviceInfo("fake", TARGET)
    w = Workload.parse("matmul", "M=32,N=32,K=32")
    pool = FakePool()
    s1 = tune(w, dev, db, pool, TuneOptions(trials=23, batch=4, seed=0, evolution=SMALL))
    assert s1.measured == 23 and db.count_trials(w, "fake") == 23
    assert s1.statuses == {"ok": 19, "wrong_result": 4}
    best = db.best(w, "fake")
    assert best is not None and best.latency_s == s1.best_s
    assert Schedule.from_json(s1.best_schedule) == best.schedule
    s2 = tune(
        w, dev, db, pool, TuneOptions(trials=10, batch=4, seed=0, evolution=SMALL)
    )  # same seed, resumed
    assert s2.measured == 10 and db.count_trials(w, "fake") == 33
    keys = [r.schedule_key for r in db.trials(w, "fake")]
    assert len(set(keys)) == 33
    db.close()


def test_every_strategy_is_a_search_policy():
    assert STRATEGIES and all(hasattr(s, "propose") for s in STRATEGIES.values())


def test_the_cost_model_is_saved_and_warms_the_next_run(tmp_path):
    from tuner.tune import make_learner, model_name

    db = TuningDB(str(tmp_path / "t.db"))
    dev = DeviceInfo("fake", TARGET)
    w = Workload.parse("matmul", "M=32,N=32,K=32")
    opts = TuneOptions(trials=40, batch=8, seed=0, strategy="evolutionary", evolution=SMALL)
    assert not make_learner(opts, db, TARGET).ready  # nothing saved yet: a cold start
    tune(w, dev, db, FakePool(), opts)
    saved = db.cost_model(model_name(TARGET))
    assert saved is not None and saved.meta["samples"] >= 40
    warm = make_learner(opts, db, TARGET)
    assert warm.ready and warm.model.trained  # ranks before measuring anything
    w2 = Workload.parse("matmul", "M=48,N=32,K=32")
    s2 = tune(w2, dev, db, FakePool(), opts)
    assert s2.measured == 40
    db.close()


def test_several_workloads_each_get_a_round_even_when_the_budget_is_below_one_round(tmp_path):
    from tuner.tune import tune_many

    db = TuningDB(str(tmp_path / "t.db"))
    dev = DeviceInfo("fake", TARGET)
    ws = [Workload.parse("matmul", f"M={m},N=32,K=32") for m in (16, 32, 48)]
    opts = TuneOptions(trials=8, batch=4, seed=0, evolution=SMALL, round_trials=64)
    out = tune_many(ws, dev, db, FakePool(), opts)
    assert [s.measured for s in out] == [8, 8, 8]
    assert [db.count_trials(w, "fake") for w in ws] == [8, 8, 8]
    db.close()


def test_a_small_budget_gets_rounds_of_a_quarter_so_the_model_ranks_three_times(tmp_path):
    from costmodel import XGBoostModel
    from tuner.learner import Learner
    from tuner.tune import tune_many

    cfg = EvolutionConfig(population=128, generations=2)  # Ansor's 64 a round
    assert cfg.for_budget(64).round_size == 16
    assert cfg.for_budget(1000).round_size == 64  # long runs keep Ansor's rounds
    assert cfg.for_budget(20).round_size == cfg.warmup  # never below the random warm-up
    db = TuningDB(str(tmp_path / "t.db"))
    w = Workload.parse("matmul", "M=32,N=32,K=32")
    learner = Learner(XGBoostModel(seed=0), workers=1)
    options = TuneOptions(trials=64, batch=8, seed=0, evolution=cfg, confirm_rounds=1)
    dev = DeviceInfo("fake", TARGET)
    (summary,) = tune_many([w], dev, db, FakePool(), options, learner=learner)
    assert summary.measured == 64
    assert summary.search_s > 0  # proposing and learning, timed apart from measuring
    # 16 random, then three rounds of 16 each ranked by a model retrained on what came before
    assert learner.fits == 3
