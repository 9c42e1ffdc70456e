"""Lowering of the cross-thread reduction sketch (reductions with little spatial work).

Kernel structure (one work-group, `threads` work-items, a block of `rows` row points):
    for each stage (softmax's max and sum, then the output):
        stage with a reduction: for each row: every work-item combines a strided part of the
            flattened reduction; a tree in local memory combines the work-items' partials;
            an intermediate result stays in local memory, the last stage's is stored
        stage without one: the work-items share the row's remaining output points
Row axes are the spatial axes of the intermediate stages (all spatial axes when there are none).
"""

from __future__ import annotations

from math import prod

from search_spaces.compute import Axis, ComputeDef
from search_spaces.expr import Acc, Bin, Const, Expr, Read, Var, Where, simplify, transform
from search_spaces.ir import (
    ArrayDecl,
    Assign,
    Barrier,
    Decl,
    Elem,
    For,
    If,
    KernelIR,
    Load,
    Param,
    Select,
    Special,
    Stmt,
    Store,
)
from search_spaces.lowering.common import all_of, flat_index, guarded_read, identity, update
from search_spaces.schedule import Schedule


def row_axes(compute: ComputeDef) -> tuple[Axis, ...]:
    """The axes one work-group's rows run over."""
    if compute.stages:
        return compute.stages[0].spatial
    return compute.spatial


def decompose(index: Expr, names: list[str], extents: list[int]) -> list[Stmt]:
    """Declare names[d] as the d-th coordinate of a flat row-major `index`."""
    out: list[Stmt] = []
    below = 1
    for name, n in reversed(list(zip(names, extents))):
        out.append(Decl(name, "int", simplify(simplify(index // below) % n)))
        below *= n
    return out[::-1]


class XThreadLowering:
    """Builds the KernelIR of an xthread schedule."""

    def __init__(self, compute: ComputeDef, schedule: Schedule, name: str):
        self.c, self.s, self.name = compute, schedule, name
        self.rows_axes = row_axes(compute)
        index = {a.name: i for i, a in enumerate(compute.spatial)}
        self.rows = {a.name: schedule.spatial[index[a.name]][2] for a in self.rows_axes}
        self.blocks = {a.name: -(-a.extent // self.rows[a.name]) for a in self.rows_axes}
        self.nrows = prod(self.rows.values())
        self.threads = schedule.threads
        self.intermediate = {s.output.name for s in compute.stages}

    def row_decls(self) -> list[Stmt]:
        names = ["in_" + a.name for a in self.rows_axes]
        out = decompose(Var("row"), names, [self.rows[a.name] for a in self.rows_axes])
        for a in self.rows_axes:
            value = Var("blk_" + a.name) * self.rows[a.name] + Var("in_" + a.name)
            out.append(Decl(a.name, "int", simplify(value)))
        return out

    def row_guard(self) -> Expr | None:
        return all_of(
            [
                Bin("<", Var(a.name), Const(a.extent))
                for a in self.rows_axes
                if self.blocks[a.name] * self.rows[a.name] > a.extent
            ]
        )

    def ranges(self, stage: ComputeDef) -> dict[str, tuple[int, int]]:
        out = {a.name: (0, a.extent - 1) for a in (*stage.spatial, *stage.reduce)}
        for a in self.rows_axes:
            out[a.name] = (0, self.blocks[a.name] * self.rows[a.name] - 1)
        return out

    def value(self, stage: ComputeDef, e: Expr, acc: Expr | None = None) -> Expr:
        ranges = self.ranges(stage)
        local_row = flat_index(
            tuple(Var("in_" + a.name) for a in self.rows_axes),
            tuple(self.rows[a.name] for a in self.rows_axes),
        )

        def rewrite(n: Expr) -> Expr | None:
            if isinstance(n, Read):
                if n.tensor in self.intermediate:  # indexed by the row axes: see the sketch
                    return Load("st_" + n.tensor, local_row)
                return guarded_read(n, self.c.tensor(n.tensor), ranges)
            if isinstance(n, Acc):
                return acc
            if isinstance(n, Where):
                return Select(n.cond, self.value(stage, n.a, acc), self.value(stage, n.b, acc))
            return None

        return transform(e, rewrite)

    def reduce_stage(self, stage: ComputeDef, last: bool) -> list[Stmt]:
        T, names = self.threads, [r.name for r in stage.reduce]
        total = prod(r.extent for r in stage.reduce)
        part = Var("part")
        body: list[Stmt] = decompose(Var("e"), names, [r.extent for r in stage.reduce])
        body.append(update(stage.combine, part, self.value(stage, stage.body)))
        guard = self.row_guard()
        loop: Stmt = For(
            "e", total, tuple(body), step=T, start=Var("lid"), unroll=self.s.unroll or None
        )
        per_row: list[Stmt] = [
            *self.row_decls(),
            Decl("part", "float", identity(stage.combine)),
            loop if guard is None else If(guard, (loop,)),
            Assign(Elem("red", Var("row") * T + Var("lid")), part),
        ]
        out: list[Stmt] = [For("row", self.nrows, tuple(per_row)), Barrier()]
        mine = Elem("red", Var("row") * T + Var("lid"))
        half = T // 2
        while half:  # the tree: T/2, T/4, ..., 1 work-items combine pairs of partials
            other = Load("red", Var("row") * T + Var("lid") + half)
            tree = For("row", self.nrows, (update(stage.combine, mine, other),))
            out += [If(Bin("<", Var("lid"), Const(half)), (tree,)), Barrier()]
            half //= 2
        result = self.value(stage, stage.epilogue, Load("red", Var("row") * T))
        if last:
            idx = flat_index(tuple(Var(a.name) for a in stage.spatial), stage.output.shape)
            write: Stmt = Store(stage.output.name, idx, result)
        else:
            write = Assign(Elem("st_" + stage.output.name, Var("row")), result)
        write = write if guard is None or not last else If(guard, (write,))
        out += [For("row", self.nrows, (*self.row_decls(), write), step=T, start=Var("lid"))]
        out.append(Barrier())
        return out

    def map_stage(self, stage: ComputeDef) -> list[Stmt]:
        """The last stage without a reduction: work-items share each row's other points."""
        others = [a for a in stage.spatial if a.name not in self.rows]
        inner: list[Stmt] = decompose(
            Var("e"), [a.name for a in others], [a.extent for a in others]
        )
        idx = flat_index(tuple(Var(a.name) for a in stage.spatial), stage.output.shape)
        inner.append(Store(stage.output.name, idx, self.value(stage, stage.body)))
        total = prod(a.extent for a in others)
        loop: Stmt = For("e", total, tuple(inner), step=self.threads, start=Var("lid"))
        guard = self.row_guard()
        return [
            For(
                "row",
                self.nrows,
                (*self.row_decls(), loop if guard is None else If(guard, (loop,))),
            )
        ]

    def build(self) -> KernelIR:
        c = self.c
        stmts: list[Stmt] = [ArrayDecl("red", "float", self.nrows * self.threads, "local")]
        stmts += [ArrayDecl("st_" + s.output.name, "float", self.nrows, "local") for s in c.stages]
        stmts += [Decl("gid", "int", Special("group")), Decl("lid", "int", Special("local"))]
        stmts += decompose(
            Var("gid"), ["blk_" + a.name for a in self.rows_axes], list(self.blocks.values())
        )
        for stage in c.stages:
            stmts += self.reduce_stage(stage, last=False)
        stmts += self.reduce_stage(c, last=True) if c.reduce else self.map_stage(c)
        params = tuple(Param(x.name, x.shape, False) for x in c.inputs)
        params += (Param(c.output.name, c.output.shape, True),)
        groups = prod(self.blocks.values())
        return KernelIR(self.name, params, tuple(stmts), groups, self.threads, 1)


def lower_xthread(compute: ComputeDef, schedule: Schedule, name: str) -> KernelIR:
    """The loop-nest kernel of an xthread schedule."""
    return XThreadLowering(compute, schedule, name).build()
