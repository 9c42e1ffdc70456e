"""Cooperative staging of cached inputs in local memory, for the tile lowering (tile.py).

Every work-item of the group helps copy each cached input's box (CacheRegion) for the current
outer reduction step. A work-item's share, steps e = lid, lid + group, ... of the box walked in
the tensor's own order, is a fully unrolled loop of known trip count up to FETCH_UNROLL copies,
with the loads of all inputs held in registers before the stores, so that none waits for
another's store; longer shares are a strided loop. Rows of the last dimension that are provably
4-aligned are copied FETCH floats at a time. With `stages` > 1 the copies are asynchronous
(cp.async) into `stages` buffers, and the outer reduction loops become one pipeline.
"""

from __future__ import annotations

from math import prod

from search_spaces.compute import ComputeDef, Tensor
from search_spaces.expr import Bin, Const, Expr, Read, Var, linear, simplify
from search_spaces.ir import (
    ArrayDecl,
    Assign,
    Barrier,
    Block,
    Copy,
    CopyCommit,
    CopyWait,
    Decl,
    Elem,
    For,
    If,
    LaneOf,
    Select,
    Stmt,
    Store,
)
from search_spaces.lowering.common import (
    all_of,
    flat_index,
    guarded_read,
    is_aligned,
    range_checks,
    zero,
)
from search_spaces.tiling import CacheRegion, Tiling

FETCH = 4  # floats per work-item copy in cooperative fetches (128-bit)
FETCH_UNROLL = 16  # a work-item's share of a cooperative fetch is unrolled up to this many copies


class Staging:
    """The staging half of TileLowering (a mixin): it reads the lowering's compute `c`, tiling
    `t`, cache `regions`, loop `ranges`, pipeline depth `stages` and buffer `stride`."""

    c: ComputeDef
    t: Tiling
    regions: dict[str, CacheRegion]
    ranges: dict[str, tuple[int, int]]
    stages: int
    stride: dict[str, int]

    def sm_index(self, tensor: str, idx: Expr) -> Expr:
        """`idx` in the local buffer of `tensor` that is in use."""
        if self.stages == 1:
            return idx
        return simplify(Var("sbuf") * self.stride[tensor] + idx)

    def staging(self) -> list[Stmt]:
        """Every cached input's cooperative copy: the loads held in registers first, for all
        inputs, then the stores to local memory, so no load waits for another's store."""
        parts = [self.stage(n) for n in self.regions]
        return [st for loads, _ in parts for st in loads] + [st for _, put in parts for st in put]

    def stage(self, name: str) -> tuple[list[Stmt], list[Stmt]]:
        """Cooperative copy of one cached input's box into local memory: (loads, stores).

        The box is walked in the tensor's own order (neighbouring work-items read neighbouring
        addresses) and stored in the region's storage order. Where the last dimension's rows
        are provably 4-aligned, work-items copy 4 floats at a time.
        """
        reg, shape = self.regions[name].folded(self.c.tensor(name).shape, self.ranges)
        tensor = Tensor(name, shape)
        group = self.t.group_size  # every work-item helps, whatever its reduction slice
        width = FETCH if self.fetch_aligned(reg, tensor) else 1
        extent = list(reg.extent)
        extent[-1] //= width
        e = Var("e_" + name)
        body: list[Stmt] = []
        coords: list[Expr] = []
        ranges = dict(self.ranges)
        for d, n in enumerate(extent):
            cvar = f"c{d}_{name}"
            value = simplify(simplify(e // prod(extent[d + 1 :])) % n)
            body.append(
                Decl(cvar, "int", simplify(value * width) if d == len(extent) - 1 else value)
            )
            ranges[cvar] = (0, reg.extent[d] - width if d == len(extent) - 1 else n - 1)
            coords.append(Var(cvar))
        gidx = tuple(simplify(b + c) for b, c in zip(reg.base, coords))
        steps = {f"c{len(extent) - 1}_{name}": width}
        src = flat_index(gidx, tensor.shape)
        src_aligned = is_aligned(src, width, steps)
        where = reg.storage_index(tuple(coords))
        n = prod(extent)
        if self.stages > 1:
            copies = self.copies(reg, tensor, coords, src, src_aligned, steps, gidx, ranges, width)
            return [], self.share(e, n, [*body, *copies])
        load = guarded_read(Read(name, gidx), tensor, ranges, width, src_aligned)

        def put(value: Expr) -> list[Stmt]:  # the stores of one step's loaded value
            if width == 1:
                return [Assign(Elem("sm_" + name, where), value)]
            if reg.order[-1] == len(reg.extent) - 1:  # rows stay rows: one vector store
                return [Store("sm_" + name, where, value, width, is_aligned(where, width, steps))]
            out: list[Stmt] = [Decl("v_" + name, "float", value, width)]
            for k in range(width):  # transposed: the floats land in `width` places
                shifted = tuple(coords[:-1]) + (simplify(coords[-1] + k),)
                lane = LaneOf(Var("v_" + name), k)
                out.append(Assign(Elem("sm_" + name, reg.storage_index(shifted)), lane))
            return out

        trips = -(-n // group)
        if not 1 < trips <= FETCH_UNROLL:
            return [], self.share(e, n, [*body, *put(load)])
        # loads into registers, stores after: every load of the share is in flight at once
        held = Elem("f_" + name, Var("it_" + name))  # share()'s step counter for e_<name>
        if n % group:
            load = Select(Bin("<", e, Const(n)), load, zero(width))
        loads = self.share(e, n, [*body, Assign(held, load)], guard=False)
        decl = ArrayDecl("f_" + name, "float", trips, "private", width)
        return [decl, *loads], self.share(e, n, [*body, *put(held)])

    def share(self, e: Var, n: int, body: list[Stmt], guard: bool = True) -> list[Stmt]:
        """One work-item's steps e = lid, lid + group, ... < n of a cooperative copy. Up to
        FETCH_UNROLL steps are a fully unrolled loop of known trip count, the last step guarded
        where n is not a multiple of the group (unless guard=False, for statements that guard
        themselves); longer shares stay a strided loop."""
        group = self.t.group_size
        trips = -(-n // group)
        if trips > FETCH_UNROLL:
            return [For(e.name, n, tuple(body), step=group, start=Var("lid"))]
        it = Var("it" + e.name.removeprefix("e"))
        first = Decl(e.name, "int", simplify(Var("lid") + it * group) if trips > 1 else Var("lid"))
        if guard and n % group:
            body = [If(Bin("<", e, Const(n)), tuple(body))]
        step = (first, *body)
        return [Block(step)] if trips == 1 else [For(it.name, trips, step, unroll=0)]

    def copies(
        self, reg, tensor, coords, src, src_aligned, steps, gidx, ranges, width
    ) -> list[Stmt]:
        """The copy statements of one work-item's share of a pipelined stage: one `width`-float
        copy where rows stay rows and both sides are aligned, else one copy per float."""
        name = tensor.name
        cond = all_of(range_checks(gidx, tensor.shape, ranges))
        where = self.sm_index(name, reg.storage_index(tuple(coords)))
        steps = {**steps, "sbuf": self.stride[name]}
        rows = reg.order[-1] == len(reg.extent) - 1
        if width == 1 or (rows and src_aligned and is_aligned(where, width, steps)):
            return [Copy("sm_" + name, where, name, src, width, width > 1, cond)]
        out: list[Stmt] = []
        for k in range(width):
            shifted = tuple(coords[:-1]) + (simplify(coords[-1] + k),)
            dst = self.sm_index(name, reg.storage_index(shifted))
            out.append(Copy("sm_" + name, dst, name, simplify(src + k), 1, True, cond))
        return out

    def pipelined(self, compute: list[Stmt], ko_loops) -> list[Stmt]:
        """The outer reduction loops as one pipeline over `stages` buffers per cached input.

            issue tiles 0 .. S-2                  (one copy group each)
            for kt: wait for tile kt; barrier
                    issue tile kt + S - 1 into the buffer that tile kt - 1 used; commit
                    compute tile kt
        One barrier per step: it orders both "tile kt has landed" and "every work-item is done
        reading the buffer about to be refilled"."""
        stages = self.stages
        steps = prod(r.outer for r in ko_loops)

        def at(flat: Expr) -> list[Stmt]:  # the tile coordinates (and buffer) of step `flat`
            out: list[Stmt] = []
            below = 1
            for r in reversed(ko_loops):
                out.append(Decl("ko_" + r.name, "int", simplify(simplify(flat // below) % r.outer)))
                below *= r.outer
            return out + [Decl("sbuf", "int", simplify(flat % stages))]

        def issue(flat: Expr) -> Stmt:
            staged = self.staging()
            return If(Bin("<", flat, Const(steps)), tuple(at(flat) + staged))

        kp, kt = Var("kp"), Var("kt")
        prologue = For("kp", stages - 1, (issue(kp), CopyCommit()), unroll=0)
        loop = (
            CopyWait(stages - 2),
            Barrier(),
            issue(simplify(kt + (stages - 1))),
            CopyCommit(),
            Block(tuple(at(kt) + compute)),
        )
        return [prologue, For("kt", steps, loop)]

    def fetch_aligned(self, reg: CacheRegion, tensor: Tensor) -> bool:
        """The box's rows start on multiples of FETCH floats of a row-aligned tensor."""
        if reg.extent[-1] % FETCH or tensor.shape[-1] % FETCH:
            return False
        form = linear(reg.base[-1])
        return form is not None and all(c % FETCH == 0 for c in (*form[0].values(), form[1]))
