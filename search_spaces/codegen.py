"""One C-style printer for the loop-nest IR, driven by a small table per dialect."""

from __future__ import annotations

from dataclasses import dataclass

from search_spaces.expr import Bin, Call, Const, Expr, Var
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
    Lanes,
    Load,
    Select,
    Special,
    Stmt,
    Store,
)


@dataclass(frozen=True)
class Dialect:
    """What differs between C dialects; the printer does the rest."""

    name: str
    kernel: str  # function qualifiers; {threads} is the work-group size
    arg_in: str  # {name}
    arg_out: str
    local_array: str  # {ctype} {name} {size}
    specials: dict[str, str]
    barrier: str
    unroll: str  # pragma with {n}
    unroll_full: str
    vload: str  # {w} {ptr}
    vstore: str  # {w} {ptr} {value}
    vector: str  # {w}
    lanes: str  # {w} {args}


OPENCL = Dialect(
    name="opencl",
    kernel="__kernel __attribute__((reqd_work_group_size({threads}, 1, 1))) void",
    arg_in="__global const float* restrict {name}",
    arg_out="__global float* restrict {name}",
    local_array="__local {ctype} {name}[{size}];",
    specials={"group": "get_group_id(0)", "local": "get_local_id(0)"},
    barrier="barrier(CLK_LOCAL_MEM_FENCE);",
    unroll="#pragma unroll {n}",
    unroll_full="#pragma unroll",
    vload="vload{w}(0, {ptr})",
    vstore="vstore{w}({value}, 0, {ptr});",
    vector="float{w}",
    lanes="(float{w})({args})",
)

DIALECTS = {d.name: d for d in (OPENCL,)}

_INFIX = {"+", "-", "*", "/", "%", "<", "<=", "==", "&&", "||"}


class Printer:
    """Prints a KernelIR as source in one dialect."""

    def __init__(self, dialect: Dialect):
        self.d = dialect

    def expr(self, e: Expr) -> str:
        d = self.d
        if isinstance(e, Const):
            if isinstance(e.value, float):
                return repr(float(e.value)) + "f"
            return str(e.value)
        if isinstance(e, Var):
            return e.name
        if isinstance(e, Bin):
            a, b = self.expr(e.a), self.expr(e.b)
            if e.op == "//":  # operands are nonnegative (ComputeDef checks op definitions)
                return f"({a} / {b})"
            if e.op in _INFIX:
                return f"({a} {e.op} {b})"
            return f"{e.op}({a}, {b})"
        if isinstance(e, Call):
            return f"{e.fn}({', '.join(self.expr(x) for x in e.args)})"
        if isinstance(e, Special):
            return d.specials[e.kind]
        if isinstance(e, Load):
            if e.width == 1:
                return f"{e.buffer}[{self.expr(e.index)}]"
            return d.vload.format(w=e.width, ptr=f"({e.buffer} + {self.expr(e.index)})")
        if isinstance(e, Elem):
            return f"{e.array}[{self.expr(e.index)}]"
        if isinstance(e, Select):
            b = self.expr(e.b)
            width = e.a.width if isinstance(e.a, Load) else 1
            if width > 1:
                b = d.lanes.format(w=width, args=b)
            return f"({self.expr(e.cond)} ? {self.expr(e.a)} : {b})"
        if isinstance(e, Lanes):
            return d.lanes.format(w=len(e.lanes), args=", ".join(self.expr(x) for x in e.lanes))
        raise TypeError(f"cannot print {e!r}")

    def stmts(self, body: tuple[Stmt, ...] | list[Stmt], depth: int) -> list[str]:
        out: list[str] = []
        for s in body:
            out += self.stmt(s, depth)
        return out

    def stmt(self, s: Stmt, depth: int) -> list[str]:
        pad = "  " * depth
        d = self.d
        if isinstance(s, Decl):
            ctype = "const int" if s.ctype == "int" else s.ctype
            return [f"{pad}{ctype} {s.name} = {self.expr(s.value)};"]
        if isinstance(s, ArrayDecl):
            if s.scope == "local":
                return [pad + d.local_array.format(ctype=s.ctype, name=s.name, size=s.size)]
            return [f"{pad}{s.ctype} {s.name}[{s.size}];"]
        if isinstance(s, Assign):
            return [f"{pad}{self.expr(s.target)} {s.op} {self.expr(s.value)};"]
        if isinstance(s, Store):
            idx = self.expr(s.index)
            if s.width == 1:
                return [f"{pad}{s.buffer}[{idx}] = {self.expr(s.value)};"]
            return [
                pad
                + d.vstore.format(w=s.width, ptr=f"({s.buffer} + {idx})", value=self.expr(s.value))
            ]
        if isinstance(s, For):
            lines = []
            if s.unroll == 0:
                lines.append(pad + d.unroll_full)
            elif s.unroll is not None:
                lines.append(pad + d.unroll.format(n=s.unroll))
            start = s.start if isinstance(s.start, int) else self.expr(s.start)
            ext = s.extent if isinstance(s.extent, int) else self.expr(s.extent)
            lines.append(
                f"{pad}for (int {s.var} = {start}; {s.var} < {ext}; {s.var} += {s.step}) {{"
            )
            return lines + self.stmts(s.body, depth + 1) + [pad + "}"]
        if isinstance(s, If):
            head = f"{pad}if ({self.expr(s.cond)}) {{"
            return [head] + self.stmts(s.body, depth + 1) + [pad + "}"]
        if isinstance(s, Block):
            return [pad + "{"] + self.stmts(s.body, depth + 1) + [pad + "}"]
        if isinstance(s, Barrier):
            return [pad + d.barrier]
        raise TypeError(f"cannot print {s!r}")

    def kernel(self, k: KernelIR) -> str:
        d = self.d
        args = ",\n    ".join(
            (d.arg_out if p.is_output else d.arg_in).format(name=p.name) for p in k.params
        )
        head = f"{d.kernel.format(threads=k.threads)} {k.name}(\n    {args})"
        return "\n".join([head + " {", *self.stmts(k.body, 1), "}", ""])


def render(k: KernelIR, dialect: str) -> str:
    """Source text of `k` in `dialect` ("opencl")."""
    if dialect not in DIALECTS:
        raise ValueError(f"no printer for dialect {dialect!r}")
    return Printer(DIALECTS[dialect]).kernel(k)
