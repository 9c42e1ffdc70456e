"""Lowering: a computation and a tiled schedule become a loop-nest kernel (see tiling.py).

Kernel structure (one work-item):
    decompose group / local ids into per-axis block and thread coordinates
    acc[register tile] = 0
    for each outer reduction step:
        [stage cached inputs in local memory (staging.py); barrier]
        for inner reduction (unroll annotation): for register tile (unrolled): acc += body
        [barrier]
    for register tile (unrolled): out = epilogue(acc), guarded where tiles overrun the extent
With a split reduction (rsplit R > 1) the group holds R slices of the thread tile (rs = lid / T):
every work-item helps stage, slice rs reduces its R-th of one inner reduction tile, and before
the epilogue slices 1 .. R-1 leave their accumulators in local memory for slice 0 to add.
The innermost spatial axis is vectorised by `vector`: contiguous reads become vector loads,
reads that do not depend on it are broadcast, anything else is gathered lane by lane.
"""

from __future__ import annotations

from search_spaces.compute import ComputeDef
from search_spaces.expr import (
    Acc,
    Bin,
    Const,
    Expr,
    Read,
    Var,
    Where,
    bounds,
    free_vars,
    linear,
    simplify,
    substitute,
    transform,
)
from search_spaces.ir import (
    ArrayDecl,
    Assign,
    Barrier,
    Block,
    Decl,
    Elem,
    For,
    If,
    KernelIR,
    LaneOf,
    Lanes,
    Load,
    LocalView,
    Param,
    Select,
    Special,
    Splat,
    Stmt,
    Store,
)
from search_spaces.lowering.common import (
    all_of,
    flat_index,
    guarded_read,
    identity,
    is_aligned,
    update,
)
from search_spaces.lowering.staging import Staging
from search_spaces.schedule import UNROLL_ALL, Schedule
from search_spaces.tiling import CacheRegion, Tiling, stage_stride


def is_vector(e: Expr) -> bool:
    """Whether an IR value expression of a vectorised tile kernel is a vector."""
    if isinstance(e, Load):
        return e.width > 1
    if isinstance(e, (Splat, Lanes)):
        return True
    if isinstance(e, Elem):
        return e.array == "acc"
    if isinstance(e, Select):
        return is_vector(e.a) or is_vector(e.b)
    if isinstance(e, Bin):
        return is_vector(e.a) or is_vector(e.b)
    if hasattr(e, "args"):
        return any(is_vector(a) for a in e.args)  # type: ignore[attr-defined]
    return False


class TileLowering(Staging):
    """Builds the KernelIR of a tile or tile_cache schedule (staging.py: local-memory copies)."""

    def __init__(self, compute: ComputeDef, schedule: Schedule, name: str):
        self.c = compute
        self.s = schedule
        self.name = name
        self.t = Tiling(compute, schedule)
        self.width = schedule.vector
        self.vax = self.t.vector_axis
        ranges = self.t.loop_ranges()
        # loop variables that can only be 0 are replaced by 0: no loop, no declaration
        self.zero = {v: Const(0) for v, (lo, hi) in ranges.items() if lo == hi == 0}
        self.ranges = {v: r for v, r in ranges.items() if v not in self.zero}
        self.exp = {a: substitute(e, self.zero) for a, e in self.t.expansion().items()}
        self.covered = self.t.covered_ranges()
        self.regions: dict[str, CacheRegion] = {}
        for name_ in schedule.cache:
            reg = self.t.cache_region(name_)
            self.regions[name_] = CacheRegion(
                reg.tensor,
                tuple(substitute(b, self.zero) for b in reg.base),
                reg.extent,
                tuple(substitute(ix, self.zero) for ix in reg.local_index),
                reg.order,
            )
        # pipelined staging (stages > 1): each cached input has `stages` buffers, `stride`
        # floats apart; `sbuf` is the buffer in use
        self.stages = schedule.stages if self.regions else 1
        self.stride = {n: stage_stride(reg.size) for n, reg in self.regions.items()}
        # split reduction: `rsplit` slices of the thread tile share the inner tile of one axis
        self.rsplit = schedule.rsplit
        self.split = self.t.split_axis
        # register window (window = 1): one per combination of these register-tile loops
        self.win = self.t.window if schedule.window else None
        self.win_pos = self.t.window_positions() if self.win else ()

    def aligned(self, index: Expr) -> bool:
        """Whether a flat index (in axis names or loop variables) is a multiple of the vector
        width: the vector axis's register loop steps by the width, so it is one too."""
        if self.width == 1:
            return True
        steps = {"in_" + str(self.vax): self.width}
        return is_aligned(substitute(index, self.exp), self.width, steps)

    # --- reads -------------------------------------------------------------------------------
    def lane(self, e: Expr, k: int) -> Expr:
        """`e` at vector lane k (the vector axis shifted by k)."""
        if k == 0 or self.vax is None:
            return e
        return substitute(e, {self.vax: Var(self.vax) + k})

    def read(self, r: Read) -> Expr:
        """A read in the vector context: vector load, broadcast scalar, or gathered lanes."""
        tensor = self.c.tensor(r.tensor)
        if self.win is not None and r.tensor == self.win.read.tensor:
            if self.width == 1:
                return self.window_elem(0)
            return Lanes(tuple(self.window_elem(k) for k in range(self.width)))
        if r.tensor in self.regions:
            return self.cached_read(r)
        if self.vax is None:
            return guarded_read(r, tensor, self.covered)
        forms = [linear(ix) for ix in r.indices]
        if all(f is not None and self.vax not in f[0] for f in forms):
            return guarded_read(r, tensor, self.covered)  # the same for every lane
        last = r.indices[-1]
        lead_free = all(f is not None and self.vax not in f[0] for f in forms[:-1])
        if lead_free and forms[-1] is not None and forms[-1][0].get(self.vax) == 1:
            lo, hi = bounds(last, self.covered)
            # the lanes are all inside or all outside the last dimension
            uniform = (lo >= 0 and hi < tensor.shape[-1]) or (
                last == Var(self.vax) and tensor.shape[-1] % self.width == 0
            )
            if uniform:
                idx = flat_index(r.indices, tensor.shape)
                return guarded_read(r, tensor, self.covered, self.width, self.aligned(idx))
        return Lanes(tuple(self.lane_read(r, k) for k in range(self.width)))

    def lane_read(self, r: Read, k: int) -> Expr:
        """The scalar read of `r` at vector lane k."""
        return self.scalar_value(self.lane(r, k), k)

    def cached_read(self, r: Read) -> Expr:
        reg = self.regions[r.tensor]
        idx = reg.local_flat
        if self.vax is None:
            return Load("sm_" + r.tensor, self.sm_index(r.tensor, idx))
        form = linear(idx)
        assert form is not None
        coef = form[0].get("in_" + self.vax, 0)
        if coef == 0:
            return Load("sm_" + r.tensor, self.sm_index(r.tensor, idx))
        if coef == 1:
            idx = self.sm_index(r.tensor, idx)
            return Load("sm_" + r.tensor, idx, self.width, self.aligned(idx))
        return Lanes(tuple(self.lane_read(r, k) for k in range(self.width)))

    def value(self, e: Expr, acc: Expr) -> Expr:
        """The compute-level expression `e` as an IR expression (vector where vectorised)."""

        def rewrite(n: Expr) -> Expr | None:
            if isinstance(n, Read):
                return self.read(n)
            if isinstance(n, Acc):
                return acc
            if isinstance(n, Where):
                if self.vax is not None and self.vax in free_vars(n.cond):
                    # the mask differs between lanes: evaluate the whole subtree per lane
                    lanes = (self.scalar_value(self.lane(n, k), k) for k in range(self.width))
                    return Lanes(tuple(lanes))
                a, b = self.value(n.a, acc), self.value(n.b, acc)
                if is_vector(a) != is_vector(b):
                    a, b = (x if is_vector(x) else Splat(x, self.width) for x in (a, b))
                return Select(n.cond, a, b)
            return None

        return transform(e, rewrite)

    def scalar_value(self, e: Expr, k: int) -> Expr:
        """A subtree already shifted to lane k (vector axis + k), as a scalar expression."""

        def rewrite(n: Expr) -> Expr | None:
            if isinstance(n, Read):
                if self.win is not None and n.tensor == self.win.read.tensor:
                    return self.window_elem(k)
                if n.tensor in self.regions:  # local-memory indices are in loop variables
                    reg = self.regions[n.tensor]
                    inner = "in_" + str(self.vax)
                    idx = substitute(reg.local_flat, {inner: Var(inner) + k})
                    return Load("sm_" + n.tensor, self.sm_index(n.tensor, idx))
                return guarded_read(n, self.c.tensor(n.tensor), self.covered)
            if isinstance(n, Where):
                return Select(n.cond, self.scalar_value(n.a, k), self.scalar_value(n.b, k))
            return None

        return transform(e, rewrite)

    # --- register window -----------------------------------------------------------------------
    def window_base(self) -> Expr:
        """Where the current register-tile position's window starts in `win`."""
        pos: Expr = Const(0)
        for var, extent in self.win_pos:
            pos = simplify(simplify(pos * extent) + Var(var))
        assert self.win is not None
        return simplify(pos * self.win.length)

    def window_elem(self, k: int) -> Expr:
        """The window's element that vector lane k reads at the current inner-tile position
        and tap: stride * (in + k) + dilation * ki past the window's start."""
        w = self.win
        assert w is not None
        inner = self.zero.get("in_" + w.axis, Var("in_" + w.axis))
        tap = simplify(w.stride * (inner + k)) + simplify(w.dilation * Var("ki_" + w.reduce))
        return Elem("win", simplify(self.window_base() + simplify(tap)))

    def window_fill(self) -> list[Stmt]:
        """Per register-tile position, the window's `length` floats of the row: the first
        inner-tile element at the first tap, and on. Aligned vector loads where a whole vector
        lies on one row at a multiple of the width (in or out of bounds together), single
        loads for the rest; out-of-bounds elements (padding) are zero."""
        w = self.win
        assert w is not None
        tensor = self.c.tensor(w.read.tensor)
        start = {"in_" + w.axis: Const(0), "ki_" + w.reduce: Const(0)}
        idx = [simplify(substitute(substitute(ix, self.exp), start)) for ix in w.read.indices]
        base, width = self.window_base(), self.width
        fill: list[Stmt] = []
        i = 0
        while i < w.length:
            at = (*idx[:-1], simplify(idx[-1] + i))
            read = Read(tensor.name, at)
            vec = width > 1 and i + width <= w.length and tensor.shape[-1] % width == 0
            if vec and is_aligned(flat_index(at, tensor.shape), width, {}):
                load = guarded_read(read, tensor, self.ranges, width, True)
                lanes = (
                    Assign(Elem("win", simplify(base + (i + k))), LaneOf(Var("wv"), k))
                    for k in range(width)
                )
                fill.append(Block((Decl("wv", "float", load, width), *lanes)))
                i += width
            else:
                value = guarded_read(read, tensor, self.ranges)
                fill.append(Assign(Elem("win", simplify(base + i)), value))
                i += 1
        for var, extent in reversed(self.win_pos):
            fill = [For(var, extent, tuple(fill), unroll=0)]
        return fill

    # --- loop structure ------------------------------------------------------------------------
    def tile_loops(self, inner: list[Stmt], levels: tuple[str, ...] = ("in_", "vt_")) -> list[Stmt]:
        """Wrap `inner` in fully unrolled register-tile loops of the given levels, innermost
        level first (by default inner inside vthread)."""
        body: list[Stmt] = inner
        loops = [
            (lvl + s.name, s.inner if lvl == "in_" else s.vthread, s.name)
            for lvl in levels
            for s in reversed(self.t.spatial)
        ]
        for var, extent, axis in loops:
            if var in self.zero:
                continue
            step = self.width if (axis == self.vax and var.startswith("in_")) else 1
            body = [For(var, extent, tuple(body), step=step, unroll=0)]
        return body if body is not inner else [Block(tuple(inner))]

    def acc_index(self) -> Expr:
        parts: list[tuple[str, int]] = [("vt_" + s.name, s.vthread) for s in self.t.spatial]
        parts += [("in_" + s.name, s.inner) for s in self.t.spatial]
        out: Expr = Const(0)
        for var, extent in parts:
            v: Expr = self.zero.get(var, Var(var))
            if var == "in_" + str(self.vax):
                v, extent = v // self.width, extent // self.width
            out = simplify(simplify(out * extent) + v)
        return out

    def axis_decls(self, axes) -> list[Stmt]:
        return [Decl(a.name, "int", self.exp[a.name]) for a in axes]

    def local_arrays(self) -> list[Stmt]:
        """A local array per staged input; with a split reduction one array that holds them
        (from 64-byte lines) and, after the reduction, the slices' partials."""
        if self.rsplit == 1:
            return [
                ArrayDecl("sm_" + n, "float", self.t.staged_floats(n), "local")
                for n in self.regions
            ]
        views: list[Stmt] = []
        offset = 0
        for n in self.regions:
            views.append(LocalView("sm_" + n, "smem", offset))
            offset += stage_stride(self.t.staged_floats(n))
        views.append(LocalView("partials", "smem", 0))
        size = max(offset, self.t.partial_floats)
        return [ArrayDecl("smem", "float", size, "local"), *views]

    def build(self) -> KernelIR:
        c, t, s = self.c, self.t, self.s
        stmts: list[Stmt] = self.local_arrays()
        stmts.append(Decl("gid", "int", Special("group")))
        stmts.append(Decl("lid", "int", Special("local")))
        thread_base = "lid"
        if self.rsplit > 1:  # the reduction slice, and the work-item within the thread tile
            stmts.append(Decl("rs", "int", simplify(Var("lid") // t.threads)))
            stmts.append(Decl("tl", "int", simplify(Var("lid") % t.threads)))
            thread_base = "tl"
        blocks = [(("blk_" + a.name), a.blocks) for a in t.spatial]
        threads = [(("thr_" + a.name), a.thread) for a in t.spatial]
        for base, dims in (("gid", blocks), (thread_base, threads)):
            below = 1
            for var, n in reversed(dims):
                if var not in self.zero:
                    stmts.append(Decl(var, "int", simplify(simplify(Var(base) // below) % n)))
                below *= n
        nacc = t.accumulators // self.width
        stmts.append(ArrayDecl("acc", "float", nacc, width=self.width))
        init = Assign(Elem("acc", Var("z")), identity(c.combine, self.width))
        stmts.append(For("z", nacc, (init,), unroll=0))
        if self.win is not None:
            stmts.append(ArrayDecl("win", "float", self.t.window_floats()))

        acc = Elem("acc", self.acc_index())
        inner: list[Stmt] = self.axis_decls(c.spatial) + self.axis_decls(c.reduce)
        value = self.value(c.body, acc)
        if self.width > 1 and not is_vector(value):
            value = Splat(value, self.width)
        step: Stmt = update(c.combine, acc, value)
        overrun = [Bin("<", Var(r.name), Const(r.extent)) for r in t.reduce if r.covered > r.extent]
        guard = all_of(overrun)
        inner.append(step if guard is None else If(guard, (step,)))
        # GPU order S S S R R S S: reductions outside the whole register tile. CPU order
        # (tile_cpu, Ansor's S S R S R S): the vthread tiles between the two reduction levels,
        # so each inner reduction sweeps a cache-sized slice.
        ssrsrs = s.sketch == "tile_cpu"
        body = self.tile_loops(inner, ("in_",) if ssrsrs else ("in_", "vt_"))
        ki_loops = [r for r in t.reduce if "ki_" + r.name not in self.zero]
        split = None if self.split is None else t.reduce[self.split].name
        for i, r in enumerate(reversed(ki_loops)):
            if s.unroll == UNROLL_ALL:  # every inner reduction loop: the whole window
                unroll: int | None = 0
            else:
                unroll = (s.unroll or None) if i == 0 else None
            if r.name == split:  # this slice's part of the inner tile
                chunk = r.inner // self.rsplit
                if chunk == 1:
                    body = [Block((Decl("ki_" + r.name, "int", Var("rs")), *body))]
                else:
                    ki = simplify(Var("rs") * chunk + Var("kj_" + r.name))
                    mine = Decl("ki_" + r.name, "int", ki)
                    body = [For("kj_" + r.name, chunk, (mine, *body), unroll=unroll)]
            else:
                body = [For("ki_" + r.name, r.inner, tuple(body), unroll=unroll)]
                if self.win is not None and r.name == self.win.reduce:
                    body = self.window_fill() + body  # once per step of the outer taps
        if ssrsrs:
            body = self.tile_loops(body, ("vt_",))
        ko_loops = [r for r in t.reduce if "ko_" + r.name not in self.zero]
        if self.stages > 1:  # the sketch rule allows this only with outer reduction steps
            body = self.pipelined(body, ko_loops)
            ko_loops = []
        elif self.regions:
            staged = self.staging()
            body = staged + [Barrier()] + body + ([Barrier()] if ko_loops else [])
        for r in reversed(ko_loops):
            body = [For("ko_" + r.name, r.outer, tuple(body))]
        stmts += body
        gather: list[Stmt] = []
        if self.rsplit > 1:
            stmts += self.leave_partials(nacc)
            gather = self.gather_partials(nacc)

        out = c.output
        epi: list[Stmt] = self.axis_decls(c.spatial)
        out_idx = flat_index(tuple(Var(a.name) for a in c.spatial), out.shape)
        value = self.value(c.epilogue, acc)
        store = Store(out.name, out_idx, value, self.width, self.aligned(out_idx))
        spill = [Bin("<", Var(a.name), Const(a.extent)) for a in t.spatial if a.covered > a.extent]
        guard = all_of(spill)
        epi.append(store if guard is None else If(guard, (store,)))
        epilogue = self.tile_loops(epi)
        if self.rsplit > 1:  # slice 0 adds the other slices' partials and stores
            epilogue = [If(Bin("==", Var("rs"), Const(0)), (*gather, *epilogue))]
        stmts += epilogue

        params = tuple(Param(x.name, x.shape, False) for x in c.inputs) + (
            Param(out.name, out.shape, True),
        )
        return KernelIR(self.name, params, tuple(stmts), t.groups, t.group_size, self.width)

    def partial_index(self, slot: Expr, lane: int, nacc: int) -> Expr:
        """Where accumulator z's lane of slice slot + 1 lies among the partials: lane by lane,
        so that neighbouring work-items touch neighbouring floats."""
        z, tl = Var("z"), Var("tl")
        return simplify(
            simplify(simplify(slot * nacc + z) * self.width + lane) * self.t.threads + tl
        )

    def leave_partials(self, nacc: int) -> list[Stmt]:
        """After a barrier (the partials reuse the staging buffers), slices 1 .. R-1 store
        their accumulators in local memory; then a barrier."""
        acc = Elem("acc", Var("z"))
        lanes = [acc] if self.width == 1 else [LaneOf(acc, k) for k in range(self.width)]
        slot = Var("rs") - 1
        keep = tuple(
            Assign(Elem("partials", self.partial_index(slot, k, nacc)), v)
            for k, v in enumerate(lanes)
        )
        store = If(Bin("<", Const(0), Var("rs")), (For("z", nacc, keep, unroll=0),))
        return [Barrier(), store, Barrier()]

    def gather_partials(self, nacc: int) -> list[Stmt]:
        """Slice 0 combines the other slices' partials into its accumulators."""
        loads = [
            Load("partials", self.partial_index(Var("sl"), k, nacc)) for k in range(self.width)
        ]
        value = loads[0] if self.width == 1 else Lanes(tuple(loads))
        add = update(self.c.combine, Elem("acc", Var("z")), value)
        return [For("z", nacc, (For("sl", self.rsplit - 1, (add,), unroll=0),), unroll=0)]


def lower_tile(compute: ComputeDef, schedule: Schedule, name: str) -> KernelIR:
    """The loop-nest kernel of a tile or tile_cache schedule."""
    return TileLowering(compute, schedule, name).build()
