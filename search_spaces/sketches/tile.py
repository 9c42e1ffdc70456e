"""Multi-level tiling (Ansor's SSSRRSRS for GPUs): spatial axes split into block, virtual
thread, thread and register levels, reductions into outer and inner loops; optionally inputs
staged in local memory per outer reduction step (tile_cache). On CPUs also tile_cpu, Ansor's
SSRSRS order: parallel outer loops (work-groups), then outer reduction, middle spatial tiles,
inner reduction and the vectorised innermost tile."""

from __future__ import annotations

import random
from dataclasses import replace
from math import gcd, log2, prod

from search_spaces.compute import ComputeDef
from search_spaces.expr import free_vars, reads
from search_spaces.schedule import Schedule
from search_spaces.sketches.base import (
    RSPLITS,
    STAGES,
    TILE_UNROLLS,
    UNROLL_ALL,
    UNROLLS,
    Sketch,
    SketchRule,
    count_factorizations,
    prime_factors,
)
from search_spaces.target import Target
from search_spaces.tiling import VECTOR_WIDTHS, Tiling, window_reads

WARP = 32


def has_reuse(compute: ComputeDef, tensor: str) -> bool:
    """An input is reused when some spatial axis does not index it (threads share its data)."""
    used: set[str] = set()
    for r in reads(compute.body):
        if r.tensor == tensor:
            for ix in r.indices:
                used |= free_vars(ix)
    return any(a.name not in used for a in compute.spatial)


def sample_unroll(gpu: bool, rng: random.Random) -> int:
    """A random unroll. GPUs: the whole nest (UNROLL_ALL) half the time, since on the H200 it
    was never more than 0.3% slower than the unroll the search had found, on 20 of its 64-trial
    bests, and up to 1.29x faster (BENCHMARKS.md, the unroll sweep); CPUs: uniform."""
    if gpu and rng.random() < 0.5:
        return UNROLL_ALL
    return rng.choice(UNROLLS)


def unrolled_updates(tiling: Tiling, s: Schedule) -> int:
    """Accumulator updates in the unrolled body: the register tile (in vectors) times the
    unrolled trips of the innermost reduction loop, or of all of them with UNROLL_ALL (a split
    reduction's slice unrolls its share of the split loop)."""
    if s.unroll == UNROLL_ALL:
        trips = prod(r.inner for r in tiling.reduce) // max(s.rsplit, 1)
    else:
        trips = max(s.unroll, 1)
    return tiling.accumulators // s.vector * max(trips, 1)


def with_window(compute: ComputeDef, s: Schedule) -> Schedule:
    """`s` with a register window: the innermost reduce axis in one inner tile and every
    inner reduction loop unrolled, as the window needs (the caller checks the rest)."""
    last = compute.reduce[-1].extent
    return replace(s, reduce=s.reduce[:-1] + (last,), unroll=UNROLL_ALL, window=1)


def widen_for_window(compute: ComputeDef, s: Schedule) -> Schedule:
    """A window of inner + K - 1 floats serves inner x K taps, so it pays with the register
    tile along its axis: grow that tile to at least 4 from the thread level where it can (on
    the H200, depthwise windows over tiles of 4 ran 1.66 to 1.75 TFLOP/s, over tiles of 1 and 2
    at vector width 1 1.41 to 1.55), with the widest vector of at most 4 that divides it. And
    give each group whole rows: the work-items along the window's axis cover it, and the thread
    factors of the other axes go to the rows beside it, whose windows overlap (the best tiles
    measured were one channel by 16 to 56 rows of 14 work-items; sampled as they came, 1.3% of
    the samples were like that and 64-trial searches found 1.38 to 1.57, with rows 1.48 to
    1.72: BENCHMARKS.md)."""
    v, t, i = s.spatial[-1]
    while i < 4 and t % 2 == 0:
        t, i = t // 2, i * 2
    extent = compute.spatial[-1].extent
    width = max(w for w in VECTOR_WIDTHS if w <= 4 and extent % w == 0 and i % w == 0)
    spatial = [*s.spatial[:-1], (v, t, i)]
    if len(spatial) >= 2 and extent % (v * i) == 0 and extent // (v * i) <= GPU_CAPS[1]:
        # whole rows per group: work-items along the row cover it, and the other axes' thread
        # factors go to the rows next to it (their windows overlap, through L1), up to the
        # same group size
        row = extent // (v * i)
        threads = prod(a[1] for a in s.spatial)
        vt, inner = spatial[-2][0], spatial[-2][2]
        rows = compute.spatial[-2].extent
        rows = rows // (vt * inner) if rows % (vt * inner) == 0 else rows  # left for threads
        up = max(d for d in range(1, rows + 1) if rows % d == 0 and d * row <= max(threads, row))
        spatial = [(a[0], 1, a[2]) for a in spatial[:-2]] + [(vt, up, inner), (v, row, i)]
    return replace(s, spatial=tuple(spatial), vector=width)


def can_window(compute: ComputeDef, s: Schedule) -> bool:
    """Whether some input that `s` does not stage could be held in a register window."""
    return s.sketch in ("tile", "tile_cache") and any(
        r.tensor not in s.cache for r, _, _ in window_reads(compute)
    )


def naive(compute: ComputeDef, target: Target) -> Schedule:
    """One work-item per output element, no tiling: the baseline every kernel is compared to."""
    spatial = [(1, 1, 1)] * len(compute.spatial)
    spatial[-1] = (1, min(compute.spatial[-1].extent, 64, target.max_threads), 1)
    return Schedule("tile", tuple(spatial), tuple(1 for _ in compute.reduce))


def random_split(extent: int, parts: int, rng: random.Random) -> list[int]:
    """Factors of a random split of `extent` into `parts` + 1 levels (outermost dropped).

    Usually an exact factorisation (each prime factor goes to a random level); sometimes powers
    of two that overrun the extent, which the generated code guards.
    """
    if rng.random() < 0.8 or extent < 4:
        slots = [1] * (parts + 1)
        for p in prime_factors(extent):
            slots[rng.randrange(parts + 1)] *= p
        return slots[1:]
    bits = max(1, (extent - 1).bit_length())
    out, left = [], bits
    for _ in range(parts):
        b = rng.randint(0, left)
        out.append(2**b)
        left -= b
    rng.shuffle(out)
    return out


# On GPUs, per-axis caps of the (vthread, thread, inner) levels: register tiles of up to 8x4
# per axis and up to 64 threads along an axis, as hand-written GPU kernels are shaped.
GPU_CAPS = (4, 64, 8)


def capped_split(extent: int, caps: tuple[int, ...], rng: random.Random) -> list[int]:
    """Like random_split, but each prime factor goes to a random level that stays within its
    cap, or to the blocks (uncapped)."""
    levels = [1] * len(caps)
    factors = prime_factors(extent)
    rng.shuffle(factors)
    for p in factors:
        room = [i for i, c in enumerate(caps) if levels[i] * p <= c]
        pick = rng.choice(room + [-1])
        if pick >= 0:
            levels[pick] *= p
    return levels


# Work-items per compute unit that a split reduction aims for (half of an SM's 2048 slots)
FILL = 1024


def with_split(compute: ComputeDef, s: Schedule, r: int) -> Schedule | None:
    """`s` with its reduction split r ways: as it is where r divides an inner reduction tile,
    else with the last inner tile that can grow to a multiple of r (a divisor of its extent)
    grown so; None where none can."""
    if any(t % r == 0 for t in s.reduce):
        return replace(s, rsplit=r)
    for i in reversed(range(len(s.reduce))):
        t, extent = s.reduce[i], compute.reduce[i].extent
        grown = t * r // gcd(t, r)
        if extent % grown == 0:
            reduce = s.reduce[:i] + (grown,) + s.reduce[i + 1 :]
            return replace(s, reduce=reduce, rsplit=r)
    return None


def split_reduction(compute: ComputeDef, target: Target, rng: random.Random, s: Schedule
                    ) -> Schedule:  # fmt: skip
    """`s` with its reduction split among 2 to 16 slices of work-items (rsplit): always where
    its thread tile is not whole warps (into whole warps where a split can), mostly where the
    tiles leave the GPU short of threads (fewer work-items than FILL per compute unit: a
    small-spatial layer), rarely elsewhere; `s` itself where no split fits. Most often the
    split that comes nearest FILL, else any that fits."""
    tiling = Tiling(compute, s)
    items = tiling.groups * tiling.threads
    few = items < target.compute_units * FILL
    whole = tiling.threads % WARP == 0  # else only a split makes whole warps
    if whole and rng.random() >= (0.75 if few else 0.1):
        return s
    limit = target.max_threads_with_barriers or target.max_threads
    options = []
    for r in RSPLITS[1:]:
        split = with_split(compute, s, r)
        if split is None:
            continue
        t = Tiling(compute, split)
        if t.group_size <= limit and t.local_bytes() <= target.max_local_bytes:
            options.append(split)
    if not whole:
        options = [o for o in options if o.rsplit * tiling.threads % WARP == 0] or options
    if not options:
        return s
    if few and rng.random() < 0.6:
        want = target.compute_units * FILL / items
        return min(options, key=lambda o: abs(log2(o.rsplit / want)))
    return rng.choice(options)


class TileRule(SketchRule):
    """Applies to single-stage computations; tile_cache where an input is reused."""

    def sketches(self, compute: ComputeDef, target: Target) -> list[Sketch]:
        if compute.stages:
            return []
        out = [Sketch("tile")]
        if target.kind == "cpu" and compute.reduce:
            out.append(Sketch("tile_cpu"))
        probe = Tiling(compute, naive(compute, target))
        reused = [t for t in probe.cacheable if has_reuse(compute, t)]
        if compute.reduce and reused:
            out.append(Sketch("tile_cache", tuple(reused)))
        return out

    def check(self, compute: ComputeDef, s: Schedule, target: Target, sketch: Sketch) -> str | None:
        if len(s.spatial) != len(compute.spatial) or len(s.reduce) != len(compute.reduce):
            return "tile factors do not match the axes"
        if any(f < 1 for t in s.spatial for f in t) or any(f < 1 for f in s.reduce):
            return "tile factors must be positive"
        if s.threads:
            return "tile schedules derive their threads from the tiles"
        tiling = Tiling(compute, s)
        if s.vector not in VECTOR_WIDTHS:
            return f"vector width must be one of {VECTOR_WIDTHS}"
        last = tiling.spatial[-1]
        if last.extent % s.vector or last.inner % s.vector:
            return "vector width must divide the innermost axis and its inner tile"
        if tiling.group_size > target.max_threads:
            return f"{tiling.group_size} threads per group exceed {target.max_threads}"
        if tiling.accumulators > target.max_accumulators:
            return f"{tiling.accumulators} accumulators exceed {target.max_accumulators}"
        if s.unroll < 0 and s.unroll != UNROLL_ALL:
            return f"unroll must be at least 0, or {UNROLL_ALL} (every inner reduction loop)"
        updates = unrolled_updates(tiling, s)
        if updates > target.max_unrolled_updates:
            return f"{updates} unrolled accumulator updates exceed {target.max_unrolled_updates}"
        if tiling.groups > 2**31 - 1:
            return "too many work-groups"
        if sketch.name in ("tile", "tile_cpu") and (s.cache or s.cache_t):
            return f"the {sketch.name} sketch caches nothing"
        if s.stages not in STAGES:
            return f"stages must be one of {STAGES}"
        if s.stages > 1 and (sketch.name != "tile_cache" or tiling.outer_steps == 1):
            return "stages > 1 pipeline the outer reduction steps of tile_cache"
        if s.rsplit not in RSPLITS:
            return f"rsplit must be one of {RSPLITS}"
        if s.rsplit > 1 and sketch.name != "tile_cache":
            return "rsplit > 1 splits the reduction of tile_cache among work-items"
        if s.rsplit > 1 and tiling.split_axis is None:
            return f"rsplit {s.rsplit} divides no reduce axis's inner tile"
        if s.window not in (0, 1):
            return "window must be 0 or 1"
        if s.window:
            if sketch.name not in ("tile", "tile_cache"):
                return f"the {sketch.name} sketch has no register window"
            if s.unroll != UNROLL_ALL:
                return f"a register window needs every inner reduction loop unrolled ({UNROLL_ALL})"
            if tiling.window is None:
                return (
                    "no unstaged input is read at the innermost spatial plus the innermost reduce"
                    " axis, with that reduce axis in one inner tile"
                )
            if s.rsplit > 1 and tiling.split_axis == len(tiling.reduce) - 1:
                return "a split reduction cannot share out the window's reduce axis"
            if tiling.window_floats() > target.max_accumulators:
                return f"{tiling.window_floats()} window floats exceed {target.max_accumulators}"
        if any(c not in s.cache for c in s.cache_t) or len(set(s.cache_t)) != len(s.cache_t):
            return "cache_t names distinct cached inputs"
        if sketch.name == "tile_cache":
            if not s.cache or len(set(s.cache)) != len(s.cache):
                return "tile_cache needs distinct inputs to cache"
            if any(c not in sketch.cacheable for c in s.cache):
                return f"only {', '.join(sketch.cacheable)} can be cached"
            limit = target.max_threads_with_barriers or target.max_threads
            if tiling.group_size > limit:
                return f"{tiling.group_size} threads exceed {limit} for kernels with barriers"
            if tiling.local_bytes() > target.max_local_bytes:
                return (
                    f"{tiling.local_bytes()} bytes of local memory exceed {target.max_local_bytes}"
                )
        return None

    def sample(
        self, compute: ComputeDef, target: Target, rng: random.Random, sketch: Sketch
    ) -> Schedule:
        gpu = target.kind == "gpu"
        outputs = prod(a.extent for a in compute.spatial)
        # on GPUs, whole warps where the workload has them (or thread tiles of 8k work-items
        # that a split reduction makes whole warps), and mostly work-groups for at least half
        # the compute units where the workload has the outputs for that
        spread = outputs >= target.compute_units * 4 * WARP and rng.random() < 0.8
        splittable = sketch.name == "tile_cache" and any(a.extent % 2 == 0 for a in compute.reduce)
        fallback = None  # whole warps but too few groups, where nothing better comes up
        for _ in range(50):
            if gpu and rng.random() < 0.9:
                spatial = [tuple(capped_split(a.extent, GPU_CAPS, rng)) for a in compute.spatial]
            else:
                spatial = [tuple(random_split(a.extent, 3, rng)) for a in compute.spatial]
            threads = prod(t[1] for t in spatial)
            if not gpu or outputs < 4 * WARP:
                break
            groups = prod(-(-a.extent // prod(t)) for a, t in zip(compute.spatial, spatial))
            warps = threads % WARP == 0 and threads >= 2 * WARP
            warps |= splittable and threads % 8 == 0 and threads >= WARP
            if warps and (not spread or 2 * groups >= target.compute_units):
                break
            if warps and fallback is None:
                fallback = spatial
        else:
            spatial = fallback or spatial
        if gpu:
            reduce = [capped_split(a.extent, (32,), rng)[0] for a in compute.reduce]
        else:
            reduce = [random_split(a.extent, 1, rng)[0] for a in compute.reduce]
        last, inner = compute.spatial[-1].extent, spatial[-1][2]
        widths = [w for w in VECTOR_WIDTHS if last % w == 0 and inner % w == 0]
        width = widths[-1] if gpu and rng.random() < 0.6 else rng.choice(widths)
        cache: tuple[str, ...] = ()
        if sketch.cacheable:
            p = 0.8 if gpu else 0.5
            cache = tuple(c for c in sketch.cacheable if rng.random() < p) or (
                rng.choice(sketch.cacheable),
            )
        cache_t = tuple(c for c in cache if rng.random() < 0.5)
        s = Schedule(
            sketch=sketch.name,
            spatial=tuple(spatial),  # type: ignore[arg-type]
            reduce=tuple(reduce),
            vector=width,
            unroll=sample_unroll(gpu, rng),
            cache=cache,
            cache_t=cache_t,
        )
        if gpu and cache:  # pipelined where it fits (deeper picked more often: on the H200
            # 2 and 3 stages beat 1 on every schedule tried, by 1.1x to 1.9x)
            for stages in range(rng.choice(STAGES + STAGES[-1:]), 1, -1):
                piped = replace(s, stages=stages)
                tiling = Tiling(compute, piped)
                if tiling.outer_steps > 1 and tiling.local_bytes() <= target.max_local_bytes:
                    s = piped
                    break
            s = split_reduction(compute, target, rng, s)
        if s.unroll == UNROLL_ALL and unrolled_updates(Tiling(compute, s), s) > (
            target.max_unrolled_updates
        ):
            s = replace(s, unroll=UNROLLS[-1])  # the window is too big to unroll whole
        if gpu and can_window(compute, s):  # register windows 3 times in 4: on the H200 every
            # depthwise tile tried ran 1.08x to 1.70x faster with one (BENCHMARKS.md)
            windowed = widen_for_window(compute, with_window(compute, s))
            if rng.random() < 0.75 and self.check(compute, windowed, target, sketch) is None:
                s = windowed
        return s

    def weight(self, sketch: Sketch, target: Target) -> float:
        """GPUs: shared-memory tiles are where the fast kernels are; sample them more."""
        return 3.0 if target.kind == "gpu" and sketch.name == "tile_cache" else 1.0

    def space_size(self, compute: ComputeDef, target: Target, sketch: Sketch) -> int:
        tiles = prod(count_factorizations(a.extent, 4) for a in compute.spatial)
        tiles *= prod(count_factorizations(a.extent, 2) for a in compute.reduce)
        widths = sum(1 for w in VECTOR_WIDTHS if compute.spatial[-1].extent % w == 0)
        n = len(sketch.cacheable)  # each input: not cached, cached, cached transposed
        caches = (3**n - 2**n) * len(STAGES) * len(RSPLITS) if n else 1
        windows = 2 if sketch.name in ("tile", "tile_cache") and window_reads(compute) else 1
        return tiles * widths * len(TILE_UNROLLS) * caches * windows
