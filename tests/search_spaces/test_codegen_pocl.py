"""Generated kernels compute the NumPy reference on a real OpenCL device (PoCL in CI)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from measure import MeasureInput, MeasureOptions, Status
from search_spaces import Schedule, Workload, check, generate, naive, sample

QUICK = MeasureOptions(budget_s=0.0, min_repeats=1, warmup=0)

SHAPES = [
    ("matmul", "M=64,N=48,K=32"),
    ("matmul", "M=7,N=13,K=100"),
    ("matmul", "B=2,M=13,N=100,K=7"),
    ("conv2d", "N=1,H=13,W=13,CI=8,CO=16,kernel=3,stride=1,padding=1,layout=NHWC"),
    ("conv2d", "N=2,H=7,W=13,CI=3,CO=7,kernel=3,stride=2,padding=1,layout=NHWC"),
    ("conv2d", "N=1,H=13,W=13,CI=8,CO=16,kernel=3,stride=1,padding=1,layout=NCHW"),
    ("conv2d", "N=1,H=7,W=7,CI=100,CO=13,kernel=1,layout=NCHW"),
    ("conv2d", "N=1,H=9,W=9,CI=8,CO=8,kernel=3,padding=2,dilation=2,groups=2,layout=NHWC"),
]


def measure(runner, w: Workload, s: Schedule, target):
    assert check(w.compute, s, target) is None, check(w.compute, s, target)
    kernel = generate(w, s, target)
    return kernel, runner.measure(MeasureInput(w, kernel, QUICK))


def assert_correct(runner, w, s, target):
    kernel, r = measure(runner, w, s, target)
    assert r.status is Status.OK, f"{s.canonical}: {r.status} {r.error[:500]}\n{kernel.source}"
    assert r.max_rel_error <= 1e-4
    return kernel


def run_random(runner, local_device, op, shape, count, seed):
    w = Workload.parse(op, shape)
    rng = random.Random(seed)
    schedules = {
        s.key: s for s in (sample(w.compute, local_device.target, rng) for _ in range(count))
    }
    for s in schedules.values():
        assert_correct(runner, w, s, local_device.target)


@pytest.mark.parametrize("op,shape", SHAPES)
def test_random_schedules_match_reference(runner, local_device, op, shape):
    run_random(runner, local_device, op, shape, count=4, seed=11)


@pytest.mark.slow
@pytest.mark.parametrize("op,shape", SHAPES)
def test_many_random_schedules_match_reference(runner, local_device, op, shape):
    run_random(runner, local_device, op, shape, count=25, seed=12)


def sched(sketch, spatial, reduce, vector=1, unroll=0, cache=()):
    return Schedule(sketch, tuple(map(tuple, spatial)), tuple(reduce), vector, unroll, tuple(cache))


# Explicit schedules that force each code path, with what the source must contain.
PATHS = [
    # tiles that overrun M, N and K (guards on stores and on the reduction)
    ("matmul", "M=7,N=13,K=100", sched("tile", [(1, 1, 1), (2, 2, 4), (1, 4, 4)], [32]), "if ("),
    # contiguous vector loads of Y, X broadcast, overrunning rows
    (
        "matmul",
        "M=13,N=16,K=100",
        sched("tile", [(1, 1, 1), (2, 4, 2), (1, 2, 8)], [4], 8, 4),
        "vload8",
    ),
    # both inputs staged in local memory, vector reads from it
    (
        "matmul",
        "M=24,N=32,K=20",
        sched("tile_cache", [(1, 1, 1), (2, 3, 2), (1, 4, 4)], [8], 4, 0, ["X", "Y"]),
        "__local",
    ),
    # NCHW vectorised along x with stride 2: lanes gathered one by one, padding checked per lane
    (
        "conv2d",
        "N=1,H=16,W=16,CI=3,CO=5,kernel=3,stride=2,padding=1,layout=NCHW",
        sched("tile", [(1, 1, 1), (1, 5, 1), (2, 2, 2), (1, 2, 4)], [1, 3, 3], 4),
        "(float4)(",
    ),
    # grouped conv: the data channel depends on co through a division, so lanes are gathered
    (
        "conv2d",
        "N=1,H=9,W=9,CI=8,CO=8,kernel=3,padding=1,groups=2,layout=NHWC",
        sched("tile", [(1, 1, 1), (3, 1, 3), (1, 9, 1), (1, 1, 8)], [3, 1, 4], 8),
        "(float8)(",
    ),
    # padded input staged in local memory (zeros written at load time)
    (
        "conv2d",
        "N=1,H=10,W=10,CI=4,CO=8,kernel=3,stride=1,padding=1,layout=NHWC",
        sched(
            "tile_cache", [(1, 1, 1), (1, 5, 2), (2, 1, 5), (1, 2, 4)], [1, 3, 2], 4, 16, ["data"]
        ),
        "sm_data",
    ),
]


@pytest.mark.parametrize("op,shape,schedule,marker", PATHS)
def test_code_paths_match_reference(runner, local_device, op, shape, schedule, marker):
    w = Workload.parse(op, shape)
    kernel = assert_correct(runner, w, schedule, local_device.target)
    assert marker in kernel.source


@pytest.mark.parametrize("op,shape", SHAPES[:2] + SHAPES[3:4])
def test_naive_schedule_is_one_work_item_per_output(runner, local_device, op, shape):
    w = Workload.parse(op, shape)
    s = naive(w.compute, local_device.target)
    kernel = assert_correct(runner, w, s, local_device.target)
    assert kernel.global_size[0] >= w.compute.output.size
    assert "acc[1]" in kernel.source


def test_broken_kernels_are_recorded_with_a_status(runner, local_device):
    w = Workload.parse("matmul", "M=16,N=16,K=16")
    kernel = generate(w, naive(w.compute, local_device.target), local_device.target)
    bad_syntax = replace(kernel, source=kernel.source.replace("acc[0] +=", "acc[0] +=="))
    wrong = replace(kernel, source=kernel.source.replace("acc[0] +=", "acc[0] -="))
    silent = replace(kernel, source=kernel.source.replace("    Z[", "    if (i + j > 0) Z["))
    r = runner.measure(MeasureInput(w, bad_syntax, QUICK))
    assert r.status is Status.COMPILE_ERROR and "error" in r.error.lower()
    r = runner.measure(MeasureInput(w, wrong, QUICK))
    assert r.status is Status.WRONG_RESULT and r.latency_s is None
    r = runner.measure(MeasureInput(w, silent, QUICK))  # element 0 keeps the poison (NaN)
    assert r.status is Status.WRONG_RESULT
    assert runner.measure(MeasureInput(w, kernel, QUICK)).status is Status.OK
