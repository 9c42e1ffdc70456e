"""The one generic tensor-expression form every operator is written in.

An operator is `out[spatial axes] = epilogue(combine over reduce axes of body)`, where the
combiner is a sum or a max, and `body` and `epilogue` are expressions over reads of the input
tensors with integer index expressions. A read outside its tensor yields zero (that is how
padding is written). Multi-stage operators (softmax) list earlier stages, each of the same
form, whose outputs later stages read as intermediate tensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from search_spaces.expr import Acc, Bin, Call, Expr, Read, Where, bounds, reads

COMBINERS = ("sum", "max")


@dataclass(frozen=True)
class Axis:
    """A loop axis of the computation with its extent."""

    name: str
    extent: int


@dataclass(frozen=True)
class Tensor:
    """A dense float32 row-major tensor argument."""

    name: str
    shape: tuple[int, ...]

    @property
    def strides(self) -> tuple[int, ...]:
        out, acc = [], 1
        for n in reversed(self.shape):
            out.append(acc)
            acc *= n
        return tuple(reversed(out))

    @property
    def size(self) -> int:
        return prod(self.shape)


@dataclass(frozen=True)
class ComputeDef:
    """An operator instance: inputs, output, axes, the reduced body and an optional epilogue.

    The output is indexed by the spatial axes in order. `epilogue` uses `Acc()` for the reduced
    value and may read inputs indexed by spatial axes only (a bias, say). `stages` compute
    intermediate tensors (their outputs) that this stage reads; they are not kernel arguments.
    """

    op: str
    inputs: tuple[Tensor, ...]
    output: Tensor
    spatial: tuple[Axis, ...]
    reduce: tuple[Axis, ...]
    body: Expr
    epilogue: Expr = Acc()
    combine: str = "sum"
    stages: tuple[ComputeDef, ...] = ()

    def __post_init__(self) -> None:
        if tuple(a.extent for a in self.spatial) != self.output.shape:
            raise ValueError("spatial axes must match the output shape")
        if self.combine not in COMBINERS:
            raise ValueError(f"combine must be one of {COMBINERS}")
        names = {t.name for t in self.inputs} | {s.output.name for s in self.stages}
        ranges = self.axis_ranges()
        for r in reads(self.body) + reads(self.epilogue):
            if r.tensor not in names:
                raise ValueError(f"read of unknown tensor {r.tensor}")
            if len(r.indices) != len(self.tensor(r.tensor).shape):
                raise ValueError(f"read of {r.tensor} has the wrong rank")
            for ix in r.indices:
                bounds(ix, ranges)  # every index must be analysable
                _check_divisions(ix, ranges)

    def tensor(self, name: str) -> Tensor:
        for t in (*self.inputs, *(s.output for s in self.stages), self.output):
            if t.name == name:
                return t
        raise KeyError(name)

    def axis_ranges(self) -> dict[str, tuple[int, int]]:
        return {a.name: (0, a.extent - 1) for a in (*self.spatial, *self.reduce)}

    @property
    def flops(self) -> int:
        """Floating-point operations of all stages: the body's operations plus one combine per
        reduction step (a multiply-add counts as two; padding included)."""
        points = prod(a.extent for a in self.spatial) * prod(a.extent for a in self.reduce)
        per_point = float_ops(self.body) + (1 if self.reduce else 0)
        return points * per_point + sum(s.flops for s in self.stages)


def float_ops(e: Expr) -> int:
    """Arithmetic operations on values in `e` (index arithmetic and conditions not counted)."""
    if isinstance(e, Read):
        return 0
    if isinstance(e, Where):
        return float_ops(e.a) + float_ops(e.b)
    if isinstance(e, Bin):
        return 1 + float_ops(e.a) + float_ops(e.b)
    if isinstance(e, Call):
        return 1 + sum(float_ops(a) for a in e.args)
    return 0


def _check_divisions(e: Expr, ranges: dict[str, tuple[int, int]]) -> None:
    """Kernels print // and % as C's / and %, which truncate: numerators must be nonnegative."""
    if isinstance(e, Bin):
        if e.op in ("//", "%") and bounds(e.a, ranges)[0] < 0:
            raise ValueError(f"{e.op} of a possibly negative value in an index: {e}")
        _check_divisions(e.a, ranges)
        _check_divisions(e.b, ranges)
