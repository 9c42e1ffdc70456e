"""How a multi-level tiled schedule maps axes onto work-groups, work-items and registers.

Spatial axis a of extent E with factors (V, T, I) and derived B = ceil(E / (V*T*I)) is
    a = ((blk_a * V + vt_a) * T + thr_a) * I + in_a
blk_a comes from the work-group id, thr_a from the work-item id, and vt_a and in_a are fully
unrolled register-tile loops. Reduce axis r of extent R with inner factor Ki is
    r = ko_r * Ki + ki_r
with Ko = ceil(R / Ki). Extents that the tiles do not divide are guarded, never assumed away.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from functools import cached_property, lru_cache
from math import prod

from search_spaces.compute import ComputeDef
from search_spaces.expr import (
    Const,
    Expr,
    Read,
    Var,
    bounds,
    free_vars,
    from_linear,
    linear,
    reads,
    simplify,
    substitute,
)
from search_spaces.schedule import Schedule

VECTOR_WIDTHS = (1, 2, 4, 8, 16)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class SpatialTile:
    name: str
    extent: int
    blocks: int
    vthread: int
    thread: int
    inner: int

    @property
    def covered(self) -> int:
        return self.blocks * self.vthread * self.thread * self.inner


@dataclass(frozen=True)
class ReduceTile:
    name: str
    extent: int
    outer: int
    inner: int

    @property
    def covered(self) -> int:
        return self.outer * self.inner


@dataclass(frozen=True)
class Window:
    """An unstaged input read at [..., stride * axis + dilation * reduce + c]: `axis` the
    innermost spatial axis, `reduce` the innermost reduce axis, whose inner tile is all of it.
    Each work-item's register tile along `axis` and the whole window read `length` floats of
    one row per step of the other reduce axes (schedule knob `window`)."""

    read: Read
    axis: str
    reduce: str
    stride: int
    dilation: int
    length: int


@dataclass(frozen=True)
class CacheRegion:
    """The box of an input that one work-group reads in one outer reduction step."""

    tensor: str
    base: tuple[Expr, ...]  # per dimension, in blk_* and ko_* variables
    extent: tuple[int, ...]
    local_index: tuple[Expr, ...]  # per dimension, in register/thread/inner-reduce variables
    order: tuple[int, ...]  # the dimensions in storage order, outermost first

    @property
    def size(self) -> int:
        return prod(self.extent)

    def storage_index(self, coords: tuple[Expr, ...]) -> Expr:
        """Flat position in local memory of the box coordinates `coords` (tensor order)."""
        out: Expr = Const(0)
        for d in self.order:
            out = simplify(simplify(out * self.extent[d]) + coords[d])
        return out

    @property
    def local_flat(self) -> Expr:
        """Where the current iteration's element lies in local memory."""
        return self.storage_index(self.local_index)

    def folded(self, shape: tuple[int, ...], ranges) -> tuple[CacheRegion, tuple[int, ...]]:
        """The box, and the tensor's shape, with the trailing dimensions that the box covers
        whole folded into the one before them, where that one never leaves the tensor over
        `ranges` (its block variables) and local memory keeps the folded dimensions in tensor
        order, innermost. A row of the folded box is then contiguous in the tensor and in local
        memory (a conv weight's [rc][ry][rx] box over the whole window is one row of rc * 9),
        so the fetch can copy it 4 floats at a time. Returns the box as it is otherwise."""
        n = len(self.extent)
        d = n - 1
        while d > 0 and self.extent[d] == shape[d] and self.base[d] == Const(0):
            d -= 1
        if d == n - 1 or self.order[d - n :] != tuple(range(d, n)):
            return self, shape
        lo, hi = bounds(self.base[d], ranges)
        if lo < 0 or hi + self.extent[d] > shape[d]:
            return self, shape
        whole = prod(shape[d + 1 :])
        region = CacheRegion(
            self.tensor,
            (*self.base[:d], simplify(self.base[d] * whole)),
            (*self.extent[:d], self.extent[d] * whole),
            self.local_index[: d + 1],  # not meaningful in the folded box
            tuple(o for o in self.order if o <= d),
        )
        return region, (*shape[:d], shape[d] * whole)


class Tiling:
    """The loop structure of one schedule applied to one computation."""

    def __init__(self, compute: ComputeDef, schedule: Schedule):
        if len(schedule.spatial) != len(compute.spatial) or len(schedule.reduce) != len(
            compute.reduce
        ):
            raise ValueError("schedule does not match the computation's axes")
        self.compute = compute
        self.schedule = schedule
        self.spatial = tuple(
            SpatialTile(a.name, a.extent, ceil_div(a.extent, v * t * i), v, t, i)
            for a, (v, t, i) in zip(compute.spatial, schedule.spatial)
        )
        self.reduce = tuple(
            ReduceTile(a.name, a.extent, ceil_div(a.extent, ki), ki)
            for a, ki in zip(compute.reduce, schedule.reduce)
        )

    # --- sizes -------------------------------------------------------------------------------
    @property
    def threads(self) -> int:
        return prod(s.thread for s in self.spatial)

    @property
    def groups(self) -> int:
        return prod(s.blocks for s in self.spatial)

    @property
    def group_size(self) -> int:
        """Work-items per group: the thread tile, once per reduction slice (rsplit)."""
        return self.threads * self.schedule.rsplit

    @property
    def split_axis(self) -> int | None:
        """The reduce axis whose inner tile the reduction slices share out (rsplit > 1): the
        last one that the split divides; None when there is no split or none fits."""
        r = self.schedule.rsplit
        if r == 1:
            return None
        fits = [i for i, t in enumerate(self.reduce) if t.inner % r == 0]
        return fits[-1] if fits else None

    @property
    def accumulators(self) -> int:
        return prod(s.vthread * s.inner for s in self.spatial)

    @property
    def vector_axis(self) -> str | None:
        return self.spatial[-1].name if self.schedule.vector > 1 else None

    @cached_property
    def window(self) -> Window | None:
        """The input a register window can hold, or None: the first of window_reads() not
        staged in local memory, where the reduce axis's inner tile covers it (one outer step)
        and spans at least 2."""
        if not self.reduce:
            return None
        ax, red = self.spatial[-1], self.reduce[-1]
        if red.outer != 1 or red.inner < 2:
            return None
        for read, st, dl in window_reads(self.compute):
            if read.tensor not in self.schedule.cache:
                length = st * (ax.inner - 1) + dl * (red.inner - 1) + 1
                return Window(read, ax.name, red.name, st, dl, length)
        return None

    def window_positions(self) -> tuple[tuple[str, int], ...]:
        """The register-tile loops (variable, extent) that the window's read depends on,
        besides the inner loop along its axis: one window per combination."""
        w = self.window
        if w is None:
            return ()
        used: set[str] = set()
        exp = self.expansion()
        for ix in w.read.indices:
            used |= free_vars(substitute(ix, exp))
        out = []
        for lvl in ("vt_", "in_"):
            for s in self.spatial:
                extent = s.vthread if lvl == "vt_" else s.inner
                var = lvl + s.name
                if var in used and extent > 1 and var != "in_" + w.axis:
                    out.append((var, extent))
        return tuple(out)

    def window_floats(self) -> int:
        """Registers that the windows hold (0 without the knob)."""
        if not self.schedule.window or self.window is None:
            return 0
        return prod(e for _, e in self.window_positions()) * self.window.length

    # --- loop variables ----------------------------------------------------------------------
    def expansion(self) -> dict[str, Expr]:
        """Each axis as an expression of the loop variables."""
        out: dict[str, Expr] = {}
        for s in self.spatial:
            e = ((Var("blk_" + s.name) * s.vthread + Var("vt_" + s.name)) * s.thread) + Var(
                "thr_" + s.name
            )
            out[s.name] = simplify(e * s.inner + Var("in_" + s.name))
        for r in self.reduce:
            out[r.name] = simplify(Var("ko_" + r.name) * r.inner + Var("ki_" + r.name))
        return out

    def loop_ranges(self) -> dict[str, tuple[int, int]]:
        """Inclusive ranges of every loop variable."""
        out: dict[str, tuple[int, int]] = {}
        for s in self.spatial:
            out.update(
                {
                    "blk_" + s.name: (0, s.blocks - 1),
                    "vt_" + s.name: (0, s.vthread - 1),
                    "thr_" + s.name: (0, s.thread - 1),
                    "in_" + s.name: (0, s.inner - 1),
                }
            )
        for r in self.reduce:
            out.update({"ko_" + r.name: (0, r.outer - 1), "ki_" + r.name: (0, r.inner - 1)})
        return out

    def covered_ranges(self) -> dict[str, tuple[int, int]]:
        """Ranges of the axes as the tiles cover them (past the extent where tiles overrun)."""
        return {t.name: (0, t.covered - 1) for t in (*self.spatial, *self.reduce)}

    # --- local-memory staging ----------------------------------------------------------------
    @cached_property
    def cacheable(self) -> tuple[str, ...]:
        """Inputs whose reads are affine in the loop variables (one region per outer step)."""
        out = []
        exp = self.expansion()
        for t in self.compute.inputs:
            rs = [r for r in reads(self.compute.body) if r.tensor == t.name]
            if not rs or any(r.tensor == t.name for r in reads(self.compute.epilogue)):
                continue
            if all(linear(substitute(ix, exp)) is not None for r in rs for ix in r.indices):
                if len({r.indices for r in rs}) == 1:
                    out.append(t.name)
        return tuple(out)

    def cache_region(self, tensor: str) -> CacheRegion:
        """The box of `tensor` that a work-group reads per outer reduction step, stored with
        the reduction's dimensions first when the schedule transposes it (cache_t).

        Regions are memoised on the computation: the search checks, lowers and featurises
        many schedules that share tile factors."""
        transpose = tensor in self.schedule.cache_t
        memo = _region_memo(self.compute)
        key = (tensor, self.schedule.spatial, self.schedule.reduce, transpose)
        region = memo.get(key)
        if region is None:
            read = next(r for r in reads(self.compute.body) if r.tensor == tensor)
            region = region_of(read, self.expansion(), self.loop_ranges(), transpose)
            if len(memo) > 100_000:
                memo.clear()
            memo[key] = region
        return region

    @property
    def outer_steps(self) -> int:
        """Iterations of the outer reduction loops (each stages one tile of the cached inputs)."""
        return prod(r.outer for r in self.reduce)

    def staged_floats(self, tensor: str) -> int:
        """Local floats that hold `tensor`: one box, or `stages` buffers `stage_stride` apart."""
        size = self.cache_region(tensor).size
        stages = self.schedule.stages
        return size if stages == 1 else stages * stage_stride(size)

    def local_bytes(self) -> int:
        staged = [self.staged_floats(t) for t in self.schedule.cache]
        if self.schedule.rsplit == 1:
            return 4 * sum(staged)
        # the partials reuse the staging buffers once the reduction is done; the buffers
        # start on 64-byte lines
        return 4 * max(sum(stage_stride(n) for n in staged), self.partial_floats)

    @property
    def partial_floats(self) -> int:
        """Local floats that hold the partial accumulators of reduction slices 1 .. R-1."""
        return (self.schedule.rsplit - 1) * self.threads * self.accumulators


@lru_cache(maxsize=256)
def window_reads(compute: ComputeDef) -> tuple[tuple[Read, int, int], ...]:
    """The inputs a register window could hold, as (read, stride, dilation): read once (and
    not in the epilogue), the last index `stride * x + dilation * r + c` with x the innermost
    spatial and r the innermost reduce axis, the other indices free of both."""
    if not compute.reduce:
        return ()
    ax, red = compute.spatial[-1].name, compute.reduce[-1].name
    out = []
    for t in compute.inputs:
        rs = [r for r in reads(compute.body) if r.tensor == t.name]
        if len({r.indices for r in rs}) != 1:
            continue
        if any(r.tensor == t.name for r in reads(compute.epilogue)):
            continue
        form = linear(rs[0].indices[-1])
        if form is None or set(form[0]) != {ax, red}:
            continue
        if any({ax, red} & free_vars(ix) for ix in rs[0].indices[:-1]):
            continue
        st, dl = form[0][ax], form[0][red]
        if st >= 1 and dl >= 1:
            out.append((rs[0], st, dl))
    return tuple(out)


def stage_stride(size: int) -> int:
    """Floats between the buffers of a pipelined cached input: whole 64-byte lines, so every
    buffer keeps the alignment of vector accesses (up to 16 floats)."""
    return ceil_div(size, 16) * 16


OUTER_PREFIXES = ("blk_", "ko_")


_MEMOS: dict[int, dict] = {}


def _region_memo(compute: ComputeDef) -> dict:
    """A memo of cache regions per computation object, dropped when the object dies."""
    memo = _MEMOS.get(id(compute))
    if memo is None:
        memo = _MEMOS[id(compute)] = {}
        weakref.finalize(compute, _MEMOS.pop, id(compute), None)
    return memo


def region_of(
    read: Read, exp: dict[str, Expr], ranges: dict[str, tuple[int, int]], transpose: bool = False
) -> CacheRegion:
    base, extent, local = [], [], []
    for ix in read.indices:
        form = linear(substitute(ix, exp))
        assert form is not None, "cache regions need affine indices"
        coefs, const = form
        outer = {v: c for v, c in coefs.items() if v.startswith(OUTER_PREFIXES)}
        inner = {v: c for v, c in coefs.items() if not v.startswith(OUTER_PREFIXES)}
        lo, hi = bounds(from_linear(inner, 0), ranges)
        base.append(from_linear(outer, const + lo))
        extent.append(hi - lo + 1)
        local.append(from_linear(inner, -lo))
    order = tuple(range(len(extent)))
    if transpose:  # dimensions walked by the inner reduction first, the thread's rows last
        by_reduce = [d for d in order if any(v.startswith("ki_") for v in free_vars(local[d]))]
        order = tuple(by_reduce + [d for d in order if d not in by_reduce])
    return CacheRegion(read.tensor, tuple(base), tuple(extent), tuple(local), order)
