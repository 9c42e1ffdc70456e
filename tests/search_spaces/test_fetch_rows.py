"""Whole rows in the cooperative fetch: a staged box's trailing dimensions that it covers whole
fold into one contiguous row (CacheRegion.folded), so weights over the whole window are copied
4 floats at a time. That the kernels compute the reference is checked on PoCL in
test_codegen_pocl.py (test_code_paths_match_reference) and on the GPU in tests/test_gpu.py."""

from __future__ import annotations

from dataclasses import replace

from measure.catalog import CATALOG
from search_spaces import Schedule, Workload, generate
from search_spaces.lowering.tile import TileLowering

H200 = CATALOG["h200"]
C2D14 = "N=1,H=14,W=14,CI=256,CO=256,kernel=3,stride=1,padding=1,layout=NCHW"
# TVM MetaSchedule's best C2D 14x14 tile on the H200: 16 co x 7 x 2 x per group, rc tile 8
TILE = Schedule.from_json(
    {
        "sketch": "tile_cache",
        "spatial": [[1, 1, 1], [1, 8, 2], [1, 1, 1], [1, 7, 2]],
        "reduce": [3, 3, 8],
        "vector": 1,
        "unroll": 16,
        "cache": ["data", "weight"],
        "stages": 3,
    }
)


def folded(shape: str, s: Schedule, tensor: str):
    w = Workload.parse("conv2d", shape)
    low = TileLowering(w.compute, s, "k")
    return low.regions[tensor].folded(w.compute.tensor(tensor).shape, low.ranges)


def test_weights_over_the_whole_window_fold_into_rows():
    reg, shape = folded(C2D14, TILE, "weight")
    assert reg.extent == (16, 72) and shape == (256, 2304)  # [co][rc 8 x 3 x 3]
    source = generate(Workload.parse("conv2d", C2D14), TILE, H200).source
    assert "e_weight < 288)" in source and "cp_async<16>((sm_weight" in source  # 1152 / 4


def test_boxes_that_cannot_be_rows_are_left_as_they_are():
    # padded data: its rows leave the tensor at the border
    reg, shape = folded(C2D14, TILE, "data")
    assert len(reg.extent) == 4 and shape == (1, 256, 14, 14)
    # transposed weights: local memory keeps co innermost, not the tensor's order
    transposed = replace(TILE, cache_t=("weight",))
    reg, _ = folded(C2D14, transposed, "weight")
    assert len(reg.extent) == 4
    # a channel tile that overruns CI = 12: the folded dimension would leave the tensor
    reg, _ = folded(C2D14.replace("CI=256", "CI=12"), TILE, "weight")
    assert len(reg.extent) == 4
    # one row of the window a step (ry tile 1): only rx folds, into rows of 3 that are not
    # 4-aligned, so the copies stay one float each
    part = replace(TILE, reduce=(1, 3, 8))
    reg, _ = folded(C2D14, part, "weight")
    assert reg.extent == (16, 8, 3)  # [co][rc][ry 1][rx 3] -> [co][rc][3]
    source = generate(Workload.parse("conv2d", C2D14), part, H200).source
    assert "e_weight < 384)" in source and "cp_async<16>((sm_weight" not in source
