"""Generated kernels compute the NumPy reference on a real OpenCL device (PoCL in CI)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from measure import MeasureInput, MeasureOptions, Status
from search_spaces import Schedule, Workload, check, generate, naive
from search_spaces.schedule import UNROLL_ALL
from search_spaces.sketch import sketch_rules, sketches
from search_spaces.tiling import Tiling
from tests.search_spaces.shapes import CASES

QUICK = MeasureOptions(budget_s=0.0, min_repeats=1, warmup=0)

SHAPES = [
    ("matmul", "M=64,N=48,K=32"),
    ("matmul", "M=7,N=13,K=100"),
    ("conv2d", "N=1,H=13,W=13,CI=8,CO=16,kernel=3,stride=1,padding=1,layout=NHWC"),
    ("conv2d", "N=1,H=7,W=7,CI=100,CO=13,kernel=1,layout=NCHW"),
]
PER_SKETCH = 10  # per shape: 20 per sketch for each op and layout


def measure(runner, w: Workload, s: Schedule, target):
    assert check(w.compute, s, target) is None, check(w.compute, s, target)
    kernel = generate(w, s, target)
    return kernel, runner.measure(MeasureInput(w, kernel, QUICK))


def assert_correct(runner, w, s, target):
    kernel, r = measure(runner, w, s, target)
    assert r.status is Status.OK, f"{s.canonical}: {r.status} {r.error[:500]}\n{kernel.source}"
    assert r.max_rel_error <= 1e-4
    return kernel


def random_schedules(w: Workload, target, per_sketch: int, seed: int) -> list[Schedule]:
    """`per_sketch` distinct valid random schedules of every sketch that applies."""
    rng, out = random.Random(seed), []
    for rule, sk in sketch_rules(w.compute, target):
        found: dict[str, Schedule] = {}
        for _ in range(50 * per_sketch):
            s = rule.sample(w.compute, target, rng, sk)
            if rule.check(w.compute, s, target, sk) is None:
                found[s.key] = s
            if len(found) == per_sketch:
                break
        assert found, f"no valid {sk.name} schedule"
        out += found.values()
    return out


def case_params():
    for op, layout, bench, odd in CASES:
        for kind, shape in (("benchmark", bench), ("odd", odd)):
            full = shape + (f",layout={layout}" if layout else "")
            yield pytest.param(op, full, id=f"{op}-{layout or 'default'}-{kind}")


@pytest.mark.parametrize("op,shape", list(case_params()))
def test_every_sketch_of_every_op_matches_reference(runner, local_device, op, shape):
    w = Workload.parse(op, shape)
    for s in random_schedules(w, local_device.target, PER_SKETCH, seed=7):
        assert_correct(runner, w, s, local_device.target)


@pytest.mark.slow
@pytest.mark.parametrize("op,shape", SHAPES)
def test_many_random_schedules_match_reference(runner, local_device, op, shape):
    w = Workload.parse(op, shape)
    for s in random_schedules(w, local_device.target, 25, seed=12):
        assert_correct(runner, w, s, local_device.target)


def sched(sketch, spatial, reduce, vector=1, unroll=0, cache=()):
    return Schedule(sketch, tuple(map(tuple, spatial)), tuple(reduce), vector, unroll, tuple(cache))


CONVS = ["data", "weight"]

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


PATHS += [
    # transposed conv vectorised along x with stride 2: the tap mask differs between lanes
    (
        "conv2d_transpose",
        "N=1,H=4,W=4,CI=3,CO=2,kernel=4,stride=2,padding=1,layout=NCHW",
        sched("tile", [(1, 1, 1), (1, 2, 1), (2, 2, 2), (1, 2, 4)], [2, 1, 3], 4),
        "(float4)((",
    ),
    # bias read as a vector along co, ReLU on vectors
    (
        "conv2d_bias_relu",
        "N=1,H=6,W=6,CI=4,CO=16,kernel=3,padding=1,layout=NHWC",
        sched("tile", [(1, 1, 1), (2, 3, 1), (1, 6, 1), (2, 1, 8)], [3, 3, 2], 8),
        "vload8(0, (bias",
    ),
    # a 3-stage pipeline of a transposed, padded input: one copy per float, zeros at the border
    (
        "conv2d",
        "N=1,H=10,W=10,CI=8,CO=8,kernel=3,stride=1,padding=1,layout=NHWC",
        replace(
            sched(
                "tile_cache",
                [(1, 1, 1), (1, 5, 2), (2, 1, 5), (1, 2, 4)],
                [1, 3, 4],
                4,
                0,
                ["data", "weight"],
            ),
            cache_t=("data",),
            stages=3,
        ),
        "sm_data[((sbuf * ",
    ),
    # a split reduction over 4 slices with a pipeline, vectors and a padded, transposed input:
    # each slice takes 2 of the 8 input channels of a step; overrunning rows are guarded
    (
        "conv2d",
        "N=1,H=10,W=10,CI=16,CO=8,kernel=3,stride=1,padding=1,layout=NHWC",
        replace(
            sched(
                "tile_cache",
                [(1, 1, 1), (1, 3, 2), (2, 1, 5), (1, 2, 4)],
                [1, 3, 8],
                4,
                4,
                ["data", "weight"],
            ),
            cache_t=("data",),
            stages=2,
            rsplit=4,
        ),
        "const int ki_rc = ((rs * 2) + kj_rc);",
    ),
    # every slice one step of an overrunning reduction (K=100, tile 8): ki is the slice
    (
        "matmul",
        "M=7,N=13,K=100",
        replace(
            sched("tile_cache", [(1, 1, 1), (1, 4, 2), (1, 4, 4)], [8], 1, 0, ["X", "Y"]),
            rsplit=8,
        ),
        "const int ki_k = rs;",
    ),
    # NCHW weights staged over the whole 3x3 window: the box [co][rc 4][3][3] is fetched as rows
    # of 36 contiguous floats, 4 at a time (144 floats in 36 copies), plain and pipelined. Plain,
    # the 20 work-items' 2 copies each are loaded into registers before any is stored (the last
    # guarded); the data box's 336 floats (17 each) stay a strided loop
    (
        "conv2d",
        "N=1,H=10,W=10,CI=8,CO=8,kernel=3,stride=1,padding=1,layout=NCHW",
        sched("tile_cache", [(1, 1, 1), (1, 2, 2), (1, 5, 1), (1, 2, 5)], [3, 3, 4], 1, 0, CONVS),
        (
            "f_weight[it_weight] = ((e_weight < 36) ? vload4(",
            "if ((e_weight < 36)) {",
            "for (int e_data = lid; e_data < 336; e_data += 20) {",
        ),
    ),
    (
        "conv2d",
        "N=1,H=10,W=10,CI=8,CO=8,kernel=3,stride=1,padding=1,layout=NCHW",
        replace(
            sched(
                "tile_cache", [(1, 1, 1), (1, 2, 2), (1, 5, 1), (1, 2, 5)], [3, 3, 4], 1, 0, CONVS
            ),
            stages=2,
        ),
        "if ((e_weight < 36)) {",
    ),
    # depthwise weights [c 4][3][3]: 36 floats in 9 copies
    (
        "depthwise_conv2d",
        "N=1,H=10,W=10,C=8,kernel=3,stride=1,padding=1,layout=NCHW",
        sched("tile_cache", [(1, 1, 1), (1, 2, 2), (1, 5, 1), (1, 2, 5)], [3, 3], 1, 0, ["weight"]),
        "e_weight < 9)",
    ),
    # the channel tile overruns CI=6: rows are not folded (one float a copy, guarded)
    (
        "conv2d",
        "N=1,H=10,W=10,CI=6,CO=8,kernel=3,stride=1,padding=1,layout=NCHW",
        sched("tile_cache", [(1, 1, 1), (1, 2, 2), (1, 5, 1), (1, 2, 5)], [3, 3, 4], 1, 0, CONVS),
        "e_weight < 144)",
    ),
    # cross-thread max and sum with rows that overrun the extent
    (
        "softmax",
        "M=13,N=50",
        Schedule("xthread", ((1, 1, 4), (1, 1, 1)), (), threads=8, unroll=4),
        "st_A_max",
    ),
]


@pytest.mark.parametrize("op,shape,schedule,marker", PATHS)
def test_code_paths_match_reference(runner, local_device, op, shape, schedule, marker):
    w = Workload.parse(op, shape)
    kernel = assert_correct(runner, w, schedule, local_device.target)
    for m in (marker,) if isinstance(marker, str) else marker:
        assert m in kernel.source, m


@pytest.mark.parametrize("op,shape", SHAPES[:3])
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


def pipelined_schedules(w: Workload, target, seed: int) -> list[Schedule]:
    """Random tile_cache schedules of `w` turned into 2- and 3-stage pipelines where valid."""
    rng, out = random.Random(seed), []
    for rule, sk in sketch_rules(w.compute, target):
        if sk.name != "tile_cache":
            continue
        for _ in range(400):
            s = replace(rule.sample(w.compute, target, rng, sk), stages=2 + len(out) % 2)
            if rule.check(w.compute, s, target, sk) is None:
                out.append(s)
            if len(out) == 2:
                break
    return out


@pytest.mark.parametrize("op,shape", list(case_params()))
def test_pipelined_local_memory_matches_reference(runner, local_device, op, shape):
    """stages > 1: several buffers per staged input, the next steps fetched while one is
    computed (a plain copy in OpenCL, cp.async in CUDA)."""
    w = Workload.parse(op, shape)
    for s in pipelined_schedules(w, local_device.target, seed=3):
        kernel = assert_correct(runner, w, s, local_device.target)
        assert f"kt < {Tiling(w.compute, s).outer_steps}" in kernel.source


def split_schedules(w: Workload, target, seed: int) -> list[Schedule]:
    """Random tile_cache schedules of `w` with their reduction split among 2, 4 or 8 slices
    of work-items, pipelined or not, wherever the split fits."""
    rng, out = random.Random(seed), []
    for rule, sk in sketch_rules(w.compute, target):
        if sk.name != "tile_cache":
            continue
        for _ in range(2000):
            s = rule.sample(w.compute, target, rng, sk)
            tiling = Tiling(w.compute, s)
            stages = rng.choice([1, 2, 3]) if tiling.outer_steps > 1 else 1
            s = replace(s, rsplit=(2, 4, 8)[len(out) % 3], stages=stages)
            if rule.check(w.compute, s, target, sk) is None:
                out.append(s)
            if len(out) == 3:
                break
    return out


@pytest.mark.parametrize("op,shape", list(case_params()))
def test_split_reduction_matches_reference(runner, local_device, op, shape):
    """rsplit > 1: slices of work-items reduce parts of one inner reduction tile over the same
    staged tiles; slice 0 adds the others' partials from local memory and stores."""
    w = Workload.parse(op, shape)
    schedules = split_schedules(w, local_device.target, seed=5)
    splittable = any(a.extent % 2 == 0 for a in w.compute.reduce)
    if splittable and any(
        sk.name == "tile_cache" for sk in sketches(w.compute, local_device.target)
    ):
        assert schedules, "no split schedule found"
    for s in schedules:
        kernel = assert_correct(runner, w, s, local_device.target)
        assert "partials[" in kernel.source and kernel.local_size[0] % s.rsplit == 0


def window_schedules(w: Workload, target, seed: int) -> list[Schedule]:
    """Random tile and tile_cache schedules of `w` with a register window (the innermost
    reduce axis in one inner tile, every inner reduction loop unrolled), wherever one fits."""
    rng, out = random.Random(seed), []
    for rule, sk in sketch_rules(w.compute, target):
        if sk.name not in ("tile", "tile_cache") or not w.compute.reduce:
            continue
        found = 0
        for _ in range(400):
            s = rule.sample(w.compute, target, rng, sk)
            reduce = s.reduce[:-1] + (w.compute.reduce[-1].extent,)
            s = replace(s, reduce=reduce, unroll=UNROLL_ALL, window=1, rsplit=1)
            if rule.check(w.compute, s, target, sk) is None:
                out.append(s)
                found += 1
            if found == 2:
                break
    return out


# ops whose input rows run along the innermost spatial axis with the innermost reduce axis
# sliding on them (conv2d NCHW reduces over ry, rx, rc: its window axis is not the innermost)
WINDOWED = {"depthwise_conv2d-NCHW"}


@pytest.mark.parametrize("op,shape", list(case_params()))
def test_register_window_matches_reference(runner, local_device, op, shape):
    """window = 1: each work-item loads the row segment under its register tile and the whole
    window into registers once per outer tap (aligned vector loads where it can, the halo
    element by element, zeros at the padding) and reads every tap from there."""
    w = Workload.parse(op, shape)
    schedules = window_schedules(w, local_device.target, seed=11)
    layout = shape.rsplit("layout=", 1)[-1]
    windowed = op in WINDOWED or f"{op}-{layout}" in WINDOWED
    assert bool(schedules) == windowed, [s.canonical for s in schedules]
    for s in schedules:
        kernel = assert_correct(runner, w, s, local_device.target)
        assert "win[" in kernel.source
        plain = generate(w, replace(s, window=0), local_device.target)
        assert "win[" not in plain.source


DEP16 = "N=1,H=9,W=16,C=3,kernel=3,stride={},padding=1,layout=NCHW"


@pytest.mark.parametrize(
    "shape,spatial,vector,cache",
    [
        (DEP16.format(1), [(1, 1, 1), (1, 3, 1), (1, 3, 1), (2, 2, 4)], 4, ()),
        (DEP16.format(1), [(1, 1, 1), (1, 1, 3), (2, 3, 1), (1, 2, 8)], 4, ("weight",)),
        (DEP16.format(1), [(1, 1, 1), (1, 3, 1), (1, 9, 1), (1, 4, 4)], 2, ()),
        (DEP16.format(1), [(1, 1, 1), (1, 3, 1), (1, 9, 1), (1, 3, 6)], 2, ()),  # overruns W
        (DEP16.format(2), [(1, 1, 1), (1, 3, 1), (1, 5, 1), (1, 2, 4)], 4, ()),
        (DEP16.format(2), [(1, 1, 1), (3, 1, 1), (1, 5, 1), (1, 8, 1)], 1, ("weight",)),
    ],
)
def test_register_window_vector_paths(runner, local_device, shape, spatial, vector, cache):
    """The window's aligned vector loads, several windows per work-item (vthreads, inner
    rows), a tile that overruns the row, stride 2, and the staged weight beside it."""
    w = Workload.parse("depthwise_conv2d", shape)
    sketch = "tile_cache" if cache else "tile"
    s = Schedule(sketch, tuple(spatial), (3, 3), vector, UNROLL_ALL, cache, window=1)
    kernel = assert_correct(runner, w, s, local_device.target)
    if vector > 1 and "stride=1" in shape:
        fills = [line for line in kernel.source.splitlines() if " wv = " in line]
        assert fills and all("vload" in line for line in fills)  # whole vectors into windows
