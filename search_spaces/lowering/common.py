"""Pieces every lowering uses: index flattening, bounds checks, reads, combiners."""

from __future__ import annotations

from search_spaces.compute import Tensor
from search_spaces.expr import Bin, Call, Const, Expr, Read, bounds, linear, simplify
from search_spaces.ir import Assign, Load, Select, Splat, Stmt

# Identity of the max combiner: -FLT_MAX (finite, so it prints the same in every dialect).
IDENTITY = {"sum": 0.0, "max": -3.4028234663852886e38}


def zero(width: int = 1) -> Expr:
    return Const(0.0) if width == 1 else Splat(Const(0.0), width)


def identity(combine: str, width: int = 1) -> Expr:
    c = Const(IDENTITY[combine])
    return c if width == 1 else Splat(c, width)


def update(combine: str, target: Expr, value: Expr) -> Stmt:
    """target = combine(target, value)."""
    if combine == "sum":
        return Assign(target, value, "+=")
    return Assign(target, Call("fmax", (target, value)))


def all_of(conds: list[Expr]) -> Expr | None:
    out: Expr | None = None
    for c in conds:
        out = c if out is None else Bin("&&", out, c)
    return out


def flat_index(indices: tuple[Expr, ...], shape: tuple[int, ...]) -> Expr:
    strides = Tensor("_", shape).strides
    out: Expr = Const(0)
    for ix, st in zip(indices, strides):
        out = simplify(out + simplify(ix * st))
    return out


def range_checks(indices: tuple[Expr, ...], shape: tuple[int, ...], ranges) -> list[Expr]:
    """Bounds checks for the dimensions whose index may leave [0, n) over `ranges`."""
    conds: list[Expr] = []
    for ix, n in zip(indices, shape):
        lo, hi = bounds(ix, ranges)
        if lo < 0:
            conds.append(Bin("<=", Const(0), ix))
        if hi >= n:
            conds.append(Bin("<", ix, Const(n)))
    return conds


def is_aligned(index: Expr, width: int, multiples: dict[str, int]) -> bool:
    """Whether `index` is provably a multiple of `width`, each variable v being a multiple of
    multiples.get(v, 1)."""
    if width == 1:
        return True
    form = linear(index)
    if form is None:
        return False
    coefs, const = form
    return const % width == 0 and all(
        c * multiples.get(v, 1) % width == 0 for v, c in coefs.items()
    )


def guarded_read(r: Read, tensor: Tensor, ranges, width: int = 1, aligned: bool = False) -> Expr:
    """A load of `r` that yields zero where an index may leave the tensor over `ranges`."""
    load = Load(tensor.name, flat_index(r.indices, tensor.shape), width, aligned)
    cond = all_of(range_checks(r.indices, tensor.shape, ranges))
    return load if cond is None else Select(cond, load, zero(width))
