"""A small loop-nest IR between schedules and C source; the cost model reads features from it."""

from __future__ import annotations

from dataclasses import dataclass

from search_spaces.expr import Expr

# --- expressions beyond search_spaces.expr ----------------------------------------------------


@dataclass(frozen=True)
class Special(Expr):
    """A hardware index: "group" or "local" id along dimension 0."""

    kind: str


@dataclass(frozen=True)
class Load(Expr):
    """`width` consecutive floats of a buffer (global or local) from a flat element index."""

    buffer: str
    index: Expr
    width: int = 1
    aligned: bool = False  # index provably a multiple of width (whole-vector loads allowed)


@dataclass(frozen=True)
class Elem(Expr):
    """An element of a private or local array variable."""

    array: str
    index: Expr


@dataclass(frozen=True)
class Select(Expr):
    """cond ? a : b."""

    cond: Expr
    a: Expr
    b: Expr


@dataclass(frozen=True)
class Splat(Expr):
    """A vector of `width` copies of a scalar."""

    value: Expr
    width: int


@dataclass(frozen=True)
class LaneOf(Expr):
    """Lane k of a vector value."""

    value: Expr
    lane: int


@dataclass(frozen=True)
class Lanes(Expr):
    """A vector built from one scalar per lane."""

    lanes: tuple[Expr, ...]


# --- statements --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decl:
    """`ctype name = value;` (an int when ctype is "int"; a vector of floats when width > 1)."""

    name: str
    ctype: str
    value: Expr
    width: int = 1


@dataclass(frozen=True)
class ArrayDecl:
    """A private ("private") or work-group shared ("local") array of `size` elements, each a
    vector of `width` floats when width > 1."""

    name: str
    ctype: str
    size: int
    scope: str = "private"
    width: int = 1


@dataclass(frozen=True)
class LocalView:
    """`name` stands for the floats of the local array `array` from `offset` on (a pointer in
    C): buffers that are never live at once can share local memory."""

    name: str
    array: str
    offset: int


@dataclass(frozen=True)
class Assign:
    """target op value, with op "=" or "+="."""

    target: Expr
    value: Expr
    op: str = "="


@dataclass(frozen=True)
class Store:
    """Write `width` consecutive floats of a global buffer."""

    buffer: str
    index: Expr
    value: Expr
    width: int = 1
    aligned: bool = False


@dataclass(frozen=True)
class For:
    """for (int var = 0; var < extent; var += step). unroll: None = no pragma, 0 = full,
    n = unroll by n."""

    var: str
    extent: int | Expr
    body: tuple[Stmt, ...]
    step: int = 1
    start: int | Expr = 0
    unroll: int | None = None


@dataclass(frozen=True)
class If:
    cond: Expr
    body: tuple[Stmt, ...]


@dataclass(frozen=True)
class Block:
    """A nested scope."""

    body: tuple[Stmt, ...]


@dataclass(frozen=True)
class Barrier:
    """Work-group barrier on local memory."""


@dataclass(frozen=True)
class Copy:
    """local[dst_index : +width] = global[src_index : +width], or zeros where `cond` is false.

    Asynchronous where the dialect can (CUDA's cp.async from sm_80 on): the data is there only
    after a CopyWait that covers its group and a Barrier. Elsewhere it is a plain copy."""

    dst: str
    dst_index: Expr
    src: str
    src_index: Expr
    width: int = 1
    aligned: bool = False  # both indices provably multiples of width
    cond: Expr | None = None


@dataclass(frozen=True)
class CopyCommit:
    """Closes the group of this work-item's asynchronous copies issued since the last one."""


@dataclass(frozen=True)
class CopyWait:
    """Waits until at most `pending` of this work-item's copy groups are still in flight."""

    pending: int


Stmt = (
    Decl
    | ArrayDecl
    | LocalView
    | Assign
    | Store
    | For
    | If
    | Block
    | Barrier
    | Copy
    | CopyCommit
    | CopyWait
)


@dataclass(frozen=True)
class Param:
    """A kernel argument: a float32 buffer, read-only for inputs."""

    name: str
    shape: tuple[int, ...]
    is_output: bool


@dataclass(frozen=True)
class KernelIR:
    """A whole kernel: arguments in call order, body, launch configuration (1-D)."""

    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    groups: int
    threads: int
    vector: int
