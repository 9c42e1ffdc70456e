"""Register windows in the search: sampled on GPUs where they apply, never elsewhere; mutation
and crossover keep them valid; schedules without one keep their JSON and key. (Their kernels
are checked against NumPy in test_codegen_pocl.py.)"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from measure.catalog import CATALOG
from search_spaces import Schedule, Workload, check
from search_spaces.schedule import UNROLL_ALL
from search_spaces.sketch import sketch_rules
from tuner.strategies.mutate import crossover, mutate, mutate_unroll, mutate_window

DEP = "N=1,H=56,W=56,C=128,kernel=3,stride=1,padding=1,layout=NCHW"


def samples(op: str, shape: str, target: str, n: int = 300) -> list[Schedule]:
    w, t, rng = Workload.parse(op, shape), CATALOG[target], random.Random(3)
    out = []
    for rule, sk in sketch_rules(w.compute, t):
        if sk.name in ("tile", "tile_cache"):
            for _ in range(n):
                s = rule.sample(w.compute, t, rng, sk)
                assert rule.check(w.compute, s, t, sk) is None or not s.window
                out.append(s)
    return out


def test_gpu_samples_windows_where_they_apply():
    got = samples("depthwise_conv2d", DEP, "h200")
    share = sum(s.window for s in got) / len(got)
    assert 0.45 <= share <= 0.9, share  # 3 in 4 where the window fits the limits
    w, widened = Workload.parse("depthwise_conv2d", DEP), 0
    for s in got:
        if s.window:
            assert check(w.compute, s, CATALOG["h200"]) is None
            assert s.unroll == UNROLL_ALL and s.reduce[-1] == 3
            # whole rows per group, the other thread factors on the rows next to them
            v, t_, i = s.spatial[-1]
            assert v * t_ * i == 56 and s.spatial[1][1] == 1, s.spatial
            assert s.vector == max(w for w in (1, 2, 4) if i % w == 0)
            widened += i >= 4
    assert widened > 0.6 * sum(s.window for s in got)  # the register tile grown to 4 mostly


@pytest.mark.parametrize(
    "op,shape,target",
    [
        ("depthwise_conv2d", DEP, "pocl-cpu"),  # CPUs sample as before
        ("matmul", "M=256,N=256,K=256", "h200"),  # no sliding window
        ("depthwise_conv2d", DEP.replace("NCHW", "NHWC"), "h200"),  # channels innermost
    ],
)
def test_no_windows_elsewhere(op, shape, target):
    assert not any(s.window for s in samples(op, shape, target, 100))


def test_mutation_and_crossover_keep_windows_valid():
    w, t, rng = Workload.parse("depthwise_conv2d", DEP), CATALOG["h200"], random.Random(5)
    base = Schedule("tile", ((1, 1, 1), (1, 2, 1), (1, 8, 1), (1, 14, 4)), (3, 1), 4, 4)
    windowed = mutate_window(base, w.compute, rng)
    assert windowed.window == 1 and windowed.unroll == UNROLL_ALL and windowed.reduce == (3, 3)
    assert check(w.compute, windowed, t) is None
    assert mutate_window(windowed, w.compute, rng).window == 0
    assert mutate_unroll(windowed, w.compute, rng).unroll != UNROLL_ALL
    valid = 0
    for _ in range(300):
        child = mutate(windowed, w.compute, rng)
        if child is not None:
            # a child that lost the unroll or the whole window axis lost the window with it
            assert not child.window or (child.unroll == UNROLL_ALL and child.reduce[-1] == 3)
            valid += check(w.compute, child, t) is None
        kid = crossover(windowed, base, w.compute, rng)
        assert kid is not None and (not kid.window or kid.unroll == UNROLL_ALL)
    assert valid > 100


def test_schedules_without_window_keep_their_json_and_key():
    s = Schedule("tile", ((1, 1, 1), (1, 2, 1), (1, 8, 1), (1, 14, 4)), (3, 3), 4, UNROLL_ALL)
    assert "window" not in s.to_json()
    with_window = replace(s, window=1)
    assert with_window.to_json()["window"] == 1
    assert Schedule.from_json(with_window.to_json()) == with_window
    assert with_window.key != s.key
