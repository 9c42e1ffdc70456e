"""The split reduction (rsplit) of tile_cache: its JSON, validity, sampling and mutation. That
the kernels compute the reference is checked on PoCL in test_codegen_pocl.py and on the GPU in
tests/test_gpu.py."""

from __future__ import annotations

import random
from dataclasses import replace

from measure.catalog import CATALOG
from search_spaces import Schedule, Workload, check, generate, sample
from search_spaces.tiling import Tiling
from tuner.strategies.mutate import crossover, mutate_reduce, mutate_rsplit

H200 = CATALOG["h200"]
C2D14 = "N=1,H=14,W=14,CI=256,CO=256,kernel=3,stride=1,padding=1,layout=NCHW"
BASE = Schedule.from_json(
    {
        "sketch": "tile_cache",
        "spatial": [[1, 1, 1], [2, 8, 1], [1, 14, 1], [1, 1, 2]],
        "reduce": [3, 1, 16],
        "vector": 1,
        "unroll": 4,
        "cache": ["data", "weight"],
        "cache_t": ["data", "weight"],
        "stages": 3,
    }
)


def test_schedules_without_the_split_keep_their_json_and_key():
    split = replace(BASE, rsplit=4)
    assert "rsplit" not in BASE.to_json() and split.to_json()["rsplit"] == 4
    assert Schedule.from_json(split.to_json()) == split
    assert Schedule.from_json(BASE.to_json()).key == BASE.key != split.key


def test_split_shares_one_inner_reduction_tile_among_more_work_items():
    w = Workload.parse("conv2d", C2D14)
    plain, split = Tiling(w.compute, BASE), Tiling(w.compute, replace(BASE, rsplit=4))
    assert split.split_axis == 2  # rc, the last reduce axis whose inner tile 4 divides
    assert split.group_size == 4 * plain.group_size and split.groups == plain.groups
    # three slices leave their accumulators in local memory, where the staged tiles were
    assert split.partial_floats == 3 * plain.threads * 4
    assert split.local_bytes() == max(plain.local_bytes(), 4 * split.partial_floats)
    kernel = generate(w, replace(BASE, rsplit=4), H200)
    assert kernel.local_size == (448,) and "__launch_bounds__(448)" in kernel.source
    assert "const int ki_rc = ((rs * 4) + kj_rc);" in kernel.source
    assert "float* const partials = smem + 0;" in kernel.source


def test_invalid_splits_are_refused():
    w = Workload.parse("conv2d", C2D14)
    assert (
        check(w.compute, replace(BASE, rsplit=3), H200) == "rsplit must be one of (1, 2, 4, 8, 16)"
    )
    assert "divides no reduce axis" in check(
        w.compute, replace(BASE, rsplit=8, reduce=(3, 1, 4)), H200
    )
    assert "exceed 1024" in check(w.compute, replace(BASE, rsplit=16), H200)
    plain = replace(BASE, sketch="tile", cache=(), cache_t=(), stages=1, rsplit=2)
    assert "splits the reduction of tile_cache" in check(w.compute, plain, H200)


def test_gpu_sampling_splits_small_spatial_layers_and_every_split_is_valid():
    w = Workload.parse("conv2d", C2D14)
    rng = random.Random(0)
    schedules = [sample(w.compute, H200, rng) for _ in range(200)]
    split = [s for s in schedules if s.rsplit > 1]
    assert len(split) > 30 and {s.rsplit for s in split} >= {2, 4}
    assert all(check(w.compute, s, H200) is None for s in split)
    cpu = CATALOG["pocl-cpu"]
    assert all(sample(w.compute, cpu, rng).rsplit == 1 for _ in range(50))


def test_mutation_and_crossover_keep_the_split_legal():
    w = Workload.parse("conv2d", C2D14)
    rng = random.Random(1)
    split = replace(BASE, rsplit=8)
    seen = {mutate_rsplit(split, w.compute, rng).rsplit for _ in range(50)}
    assert seen == {1, 4, 16}
    for _ in range(100):
        m = mutate_reduce(split, w.compute, rng)
        if m is not None:
            assert any(t % m.rsplit == 0 for t in m.reduce)
    child = crossover(split, replace(BASE, reduce=(3, 1, 2)), w.compute, rng)
    assert child is not None and any(t % child.rsplit == 0 for t in child.reduce)
