"""unroll = UNROLL_ALL: every inner reduction loop fully unrolled (a convolution's whole window),
checked on PoCL against NumPy, and the rule's limit on the unrolled body."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from measure.catalog import CATALOG
from search_spaces import Schedule, Workload, check, generate
from search_spaces.schedule import UNROLL_ALL
from search_spaces.sketch import sketch_rules
from tests.search_spaces.test_codegen_pocl import CONVS, assert_correct, sched

CASES = [
    # NCHW window [3][3] and a channel tile, pipelined and split among 2 slices
    (
        "conv2d",
        "N=1,H=10,W=10,CI=8,CO=8,kernel=3,stride=1,padding=1,layout=NCHW",
        replace(
            sched(
                "tile_cache", [(1, 1, 1), (1, 2, 2), (1, 5, 1), (1, 2, 5)], [3, 3, 4], 1, 4, CONVS
            ),
            stages=2,
            rsplit=2,
        ),
    ),
    # NHWC, stride 2, window overrunning nothing, vectors of 2 along the channels
    (
        "conv2d",
        "N=1,H=9,W=9,CI=6,CO=8,kernel=3,stride=2,padding=1,layout=NHWC",
        sched("tile_cache", [(1, 1, 1), (1, 5, 1), (1, 1, 5), (1, 4, 2)], [3, 3, 3], 2, 16, CONVS),
    ),
    # depthwise without local memory, and a matmul whose K tile overruns K
    (
        "depthwise_conv2d",
        "N=1,H=10,W=10,C=8,kernel=3,stride=1,padding=1,layout=NCHW",
        sched("tile", [(1, 1, 1), (1, 2, 2), (1, 5, 1), (1, 2, 5)], [3, 3], 1, 1),
    ),
    ("matmul", "M=7,N=13,K=100", sched("tile", [(1, 1, 1), (2, 2, 4), (1, 4, 4)], [8], 1, 4)),
]


def pragma_free(source: str) -> list[str]:
    return [line for line in source.splitlines() if "#pragma unroll" not in line]


@pytest.mark.parametrize("op,shape,schedule", CASES)
def test_unroll_all_matches_reference(runner, local_device, op, shape, schedule):
    w = Workload.parse(op, shape)
    target = local_device.target
    full = replace(schedule, unroll=UNROLL_ALL)
    kernel = assert_correct(runner, w, full, target)
    lines = kernel.source.splitlines()
    starts = ("for (int ki_", "for (int kj_")
    loops = [i for i, line in enumerate(lines) if line.strip().startswith(starts)]
    assert loops, "no inner reduction loop"
    for i in loops:  # each one fully unrolled, the loops themselves unchanged
        assert lines[i - 1].strip() == "#pragma unroll", lines[i - 1]
    assert pragma_free(kernel.source) == pragma_free(generate(w, schedule, target).source)


def test_unroll_all_counts_the_whole_window_against_the_limit():
    w = Workload.parse(
        "conv2d", "N=1,H=14,W=14,CI=64,CO=64,kernel=3,stride=1,padding=1,layout=NCHW"
    )
    gpu = CATALOG["h200"]  # 4096 unrolled updates
    spatial = [(1, 1, 1), (1, 4, 4), (1, 7, 2), (1, 14, 1)]
    s = sched("tile_cache", spatial, [3, 3, 32], 1, 16, ["weight"])
    assert check(w.compute, s, gpu) is None  # 8 accumulators x 16
    why = check(w.compute, replace(s, unroll=UNROLL_ALL), gpu)  # 8 x 3 x 3 x 32 = 2304: fits
    assert why is None
    big = replace(s, reduce=(3, 3, 64), unroll=UNROLL_ALL)  # 8 x 576 = 4608: too many
    assert "unrolled accumulator updates" in (check(w.compute, big, gpu) or "")
    # a split slice unrolls only its share of the split loop
    assert check(w.compute, replace(big, rsplit=2), gpu) is None
    assert "unroll must be" in (check(w.compute, replace(s, unroll=-2), gpu) or "")


def test_gpu_sampling_picks_unroll_all_half_the_time_and_keeps_it_within_the_limit():
    w = Workload.parse(
        "conv2d", "N=1,H=56,W=56,CI=64,CO=64,kernel=3,stride=1,padding=1,layout=NCHW"
    )
    for name in ("h200", "pocl-cpu"):
        target, rng, seen, tiles = CATALOG[name], random.Random(0), [], 0
        for rule, sk in sketch_rules(w.compute, target):
            for _ in range(200):
                s: Schedule = rule.sample(w.compute, target, rng, sk)
                tiles += sk.name != "xthread"
                if s.unroll == UNROLL_ALL:
                    seen.append(s)
                    assert "unrolled" not in (rule.check(w.compute, s, target, sk) or "")
        if name == "h200":  # half, less the windows too big to unroll whole
            assert 0.35 * tiles < len(seen) < 0.6 * tiles, (len(seen), tiles)
        else:  # CPUs sample the unrolls uniformly, without the whole nest
            assert not seen
