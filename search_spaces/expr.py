"""A small expression tree shared by operator definitions and the loop-nest IR.

Integer expressions index tensors; float expressions compute values. Everything is a frozen
dataclass, so expressions hash, compare and can be used as dictionary keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Number = int | float


class Expr:
    """Base of all expressions; arithmetic operators build trees."""

    def __add__(self, other: ExprLike) -> Expr:
        return simplify(Bin("+", self, wrap(other)))

    def __radd__(self, other: ExprLike) -> Expr:
        return simplify(Bin("+", wrap(other), self))

    def __sub__(self, other: ExprLike) -> Expr:
        return simplify(Bin("-", self, wrap(other)))

    def __rsub__(self, other: ExprLike) -> Expr:
        return simplify(Bin("-", wrap(other), self))

    def __mul__(self, other: ExprLike) -> Expr:
        return simplify(Bin("*", self, wrap(other)))

    def __rmul__(self, other: ExprLike) -> Expr:
        return simplify(Bin("*", wrap(other), self))

    def __floordiv__(self, other: ExprLike) -> Expr:
        return simplify(Bin("//", self, wrap(other)))

    def __truediv__(self, other: ExprLike) -> Expr:
        return Bin("/", self, wrap(other))

    def __mod__(self, other: ExprLike) -> Expr:
        return simplify(Bin("%", self, wrap(other)))


ExprLike = Expr | int | float


@dataclass(frozen=True, eq=True)
class Var(Expr):
    """A named integer variable: a loop axis or a kernel-local index."""

    name: str


@dataclass(frozen=True, eq=True)
class Const(Expr):
    """An integer or float literal."""

    value: Number


@dataclass(frozen=True, eq=True)
class Bin(Expr):
    """A binary operation: + - * // % min max and comparisons < <= == && ||."""

    op: str
    a: Expr
    b: Expr


@dataclass(frozen=True, eq=True)
class Call(Expr):
    """A math function on floats: sqrt, exp, max (elementwise)."""

    fn: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, eq=True)
class Read(Expr):
    """An element of a tensor at integer indices (zero outside the tensor: padding)."""

    tensor: str
    indices: tuple[Expr, ...]


@dataclass(frozen=True, eq=True)
class Where(Expr):
    """`a` where the integer condition holds, else `b` (a masked read, say)."""

    cond: Expr
    a: Expr
    b: Expr


@dataclass(frozen=True, eq=True)
class Acc(Expr):
    """In an epilogue: the value of the reduction for the current output element."""


def wrap(x: ExprLike) -> Expr:
    """Turn Python numbers into constants; leave expressions as they are."""
    return x if isinstance(x, Expr) else Const(x)


def call(fn: str, *args: ExprLike) -> Expr:
    """A float math function (fmax, exp, sqrt) applied elementwise."""
    return Call(fn, tuple(wrap(a) for a in args))


def emin(a: ExprLike, b: ExprLike) -> Expr:
    return Bin("min", wrap(a), wrap(b))


def emax(a: ExprLike, b: ExprLike) -> Expr:
    return Bin("max", wrap(a), wrap(b))


def children(e: Expr) -> tuple[Expr, ...]:
    if isinstance(e, Bin):
        return (e.a, e.b)
    if isinstance(e, Where):
        return (e.cond, e.a, e.b)
    if isinstance(e, Call):
        return e.args
    if isinstance(e, Read):
        return e.indices
    return ()


def rebuild(e: Expr, kids: tuple[Expr, ...]) -> Expr:
    if isinstance(e, Bin):
        return Bin(e.op, kids[0], kids[1])
    if isinstance(e, Where):
        return Where(*kids)
    if isinstance(e, Call):
        return Call(e.fn, kids)
    if isinstance(e, Read):
        return Read(e.tensor, kids)
    return e


def transform(e: Expr, fn: Callable[[Expr], Expr | None]) -> Expr:
    """Rebuild `e` bottom-up; where `fn` returns an expression, it replaces the node."""
    replaced = fn(e)
    if replaced is not None:
        return replaced
    kids = children(e)
    if not kids:
        return e
    return simplify(rebuild(e, tuple(transform(k, fn) for k in kids)))


def substitute(e: Expr, mapping: dict[str, Expr]) -> Expr:
    """Replace variables by expressions."""
    return transform(e, lambda n: mapping.get(n.name) if isinstance(n, Var) else None)


def free_vars(e: Expr) -> set[str]:
    if isinstance(e, Var):
        return {e.name}
    out: set[str] = set()
    for k in children(e):
        out |= free_vars(k)
    return out


def reads(e: Expr) -> list[Read]:
    """Every tensor read in `e`, outermost first."""
    if isinstance(e, Read):
        return [e]
    out: list[Read] = []
    for k in children(e):
        out += reads(k)
    return out


_FOLD = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "//": lambda a, b: a // b,
    "%": lambda a, b: a % b,
    "min": min,
    "max": max,
}


def simplify(e: Expr) -> Expr:
    """Local constant folding and identities (x+0, x*1, x*0, x//1, x%1)."""
    if not isinstance(e, Bin):
        return e
    a, b = e.a, e.b
    ca = a.value if isinstance(a, Const) else None
    cb = b.value if isinstance(b, Const) else None
    if ca is not None and cb is not None and e.op in _FOLD:
        return Const(_FOLD[e.op](ca, cb))
    if e.op == "+":
        if ca == 0:
            return b
        if cb == 0:
            return a
    if e.op == "-" and cb == 0:
        return a
    if e.op == "*":
        if ca == 1:
            return b
        if cb == 1:
            return a
        if (ca == 0 and isinstance(ca, int)) or (cb == 0 and isinstance(cb, int)):
            return Const(0)
    if e.op == "//" and cb == 1:
        return a
    if e.op == "%" and cb == 1:
        return Const(0)
    return e


def bounds(e: Expr, ranges: dict[str, tuple[int, int]]) -> tuple[int, int]:
    """Inclusive integer interval of `e` when each variable lies in its inclusive range."""
    if isinstance(e, Const):
        return int(e.value), int(e.value)
    if isinstance(e, Var):
        return ranges[e.name]
    if isinstance(e, Bin):
        alo, ahi = bounds(e.a, ranges)
        blo, bhi = bounds(e.b, ranges)
        if e.op == "+":
            return alo + blo, ahi + bhi
        if e.op == "-":
            return alo - bhi, ahi - blo
        if e.op == "*":
            p = (alo * blo, alo * bhi, ahi * blo, ahi * bhi)
            return min(p), max(p)
        if e.op == "//" and blo == bhi and blo > 0:
            return alo // blo, ahi // blo
        if e.op == "%" and blo == bhi and blo > 0:
            if alo >= 0 and ahi - alo < blo and alo % blo <= ahi % blo:
                return alo % blo, ahi % blo
            return 0, blo - 1
        if e.op == "min":
            return min(alo, blo), min(ahi, bhi)
        if e.op == "max":
            return max(alo, blo), max(ahi, bhi)
    raise ValueError(f"no integer bounds for {e}")


def linear(e: Expr) -> tuple[dict[str, int], int] | None:
    """`e` as sum(coef * var) + const, or None when it is not affine."""
    if isinstance(e, Const):
        return ({}, int(e.value)) if isinstance(e.value, int) else None
    if isinstance(e, Var):
        return {e.name: 1}, 0
    if isinstance(e, Bin) and e.op in ("+", "-", "*"):
        la, lb = linear(e.a), linear(e.b)
        if la is None or lb is None:
            return None
        if e.op == "*":
            if not la[0]:
                la, lb = lb, la
            if lb[0]:
                return None
            k = lb[1]
            return {v: c * k for v, c in la[0].items() if c * k}, la[1] * k
        sign = 1 if e.op == "+" else -1
        coefs = dict(la[0])
        for v, c in lb[0].items():
            coefs[v] = coefs.get(v, 0) + sign * c
        return {v: c for v, c in coefs.items() if c}, la[1] + sign * lb[1]
    return None


def from_linear(coefs: dict[str, int], const: int) -> Expr:
    """The expression for sum(coef * var) + const, variables in sorted order."""
    out: Expr = Const(const)
    for name in sorted(coefs):
        out = simplify(out + simplify(Var(name) * coefs[name]))
    return out
