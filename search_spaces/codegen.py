"""One C-style printer for the loop-nest IR, driven by a small table per dialect."""

from __future__ import annotations

from dataclasses import dataclass, field

from search_spaces.expr import Bin, Call, Const, Expr, Var
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
    KernelIR,
    LaneOf,
    Lanes,
    Load,
    LocalView,
    Select,
    Special,
    Splat,
    Stmt,
    Store,
)

# CUDA has vector types but no arithmetic on them: vec<W> and its operators stand in for
# OpenCL's floatN. Loads and stores go element by element (no alignment is assumed).
CUDA_PRELUDE = """\
template <int W> struct vec { float x[W]; };
#define VEC_BINOP(OP)                                                                   \\
template <int W> __device__ __forceinline__ vec<W> operator OP(vec<W> a, vec<W> b) {   \\
  vec<W> r;                                                                             \\
  _Pragma("unroll") for (int l = 0; l < W; ++l) r.x[l] = a.x[l] OP b.x[l];              \\
  return r;                                                                             \\
}                                                                                       \\
template <int W> __device__ __forceinline__ vec<W> operator OP(vec<W> a, float b) {    \\
  vec<W> r;                                                                             \\
  _Pragma("unroll") for (int l = 0; l < W; ++l) r.x[l] = a.x[l] OP b;                   \\
  return r;                                                                             \\
}                                                                                       \\
template <int W> __device__ __forceinline__ vec<W> operator OP(float a, vec<W> b) {    \\
  vec<W> r;                                                                             \\
  _Pragma("unroll") for (int l = 0; l < W; ++l) r.x[l] = a OP b.x[l];                   \\
  return r;                                                                             \\
}
VEC_BINOP(+)
VEC_BINOP(-)
VEC_BINOP(*)
VEC_BINOP(/)
template <int W> __device__ __forceinline__ vec<W>& operator+=(vec<W>& a, vec<W> b) {
  _Pragma("unroll") for (int l = 0; l < W; ++l) a.x[l] += b.x[l];
  return a;
}
template <int W> __device__ __forceinline__ vec<W> splat(float s) {
  vec<W> r;
  _Pragma("unroll") for (int l = 0; l < W; ++l) r.x[l] = s;
  return r;
}
template <int W> __device__ __forceinline__ vec<W> fmaxf(vec<W> a, vec<W> b) {
  vec<W> r;
  _Pragma("unroll") for (int l = 0; l < W; ++l) r.x[l] = fmaxf(a.x[l], b.x[l]);
  return r;
}
template <int W> __device__ __forceinline__ vec<W> fmaxf(vec<W> a, float b) {
  return fmaxf(a, splat<W>(b));
}
template <int W> __device__ __forceinline__ vec<W> expf(vec<W> a) {
  _Pragma("unroll") for (int l = 0; l < W; ++l) a.x[l] = expf(a.x[l]);
  return a;
}
template <int W> __device__ __forceinline__ vec<W> sqrtf(vec<W> a) {
  _Pragma("unroll") for (int l = 0; l < W; ++l) a.x[l] = sqrtf(a.x[l]);
  return a;
}
template <int W> __device__ __forceinline__ vec<W> vload(const float* p) {
  vec<W> r;
  _Pragma("unroll") for (int l = 0; l < W; ++l) r.x[l] = p[l];
  return r;
}
template <int W> __device__ __forceinline__ void vstore(vec<W> v, float* p) {
  _Pragma("unroll") for (int l = 0; l < W; ++l) p[l] = v.x[l];
}
// p is a multiple of W floats: whole 64- and 128-bit accesses
template <int W> __device__ __forceinline__ vec<W> vload_a(const float* p) {
  vec<W> r;
  if constexpr (W % 4 == 0) {
    _Pragma("unroll") for (int l = 0; l < W; l += 4) {
      const float4 t = *reinterpret_cast<const float4*>(p + l);
      r.x[l] = t.x; r.x[l + 1] = t.y; r.x[l + 2] = t.z; r.x[l + 3] = t.w;
    }
  } else if constexpr (W == 2) {
    const float2 t = *reinterpret_cast<const float2*>(p);
    r.x[0] = t.x; r.x[1] = t.y;
  } else {
    r = vload<W>(p);
  }
  return r;
}
template <int W> __device__ __forceinline__ void vstore_a(vec<W> v, float* p) {
  if constexpr (W % 4 == 0) {
    _Pragma("unroll") for (int l = 0; l < W; l += 4)
      *reinterpret_cast<float4*>(p + l) = make_float4(v.x[l], v.x[l + 1], v.x[l + 2], v.x[l + 3]);
  } else if constexpr (W == 2) {
    *reinterpret_cast<float2*>(p) = make_float2(v.x[0], v.x[1]);
  } else {
    vstore<W>(v, p);
  }
}
"""

# Asynchronous global-to-shared copies (cp.async, sm_80 on): B bytes, zero-filled where pred is
# false. Older architectures copy synchronously; the commit and wait are then no-ops.
CUDA_ASYNC_PRELUDE = """\
template <int B> __device__ __forceinline__ void cp_async(float* dst, const float* src, bool pred) {
#if __CUDA_ARCH__ >= 800
  const unsigned d = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  if constexpr (B == 16) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\\n"
                 :: "r"(d), "l"(src), "r"(pred ? 16 : 0) : "memory");
  } else {
    asm volatile("cp.async.ca.shared.global [%0], [%1], %2, %3;\\n"
                 :: "r"(d), "l"(src), "n"(B), "r"(pred ? B : 0) : "memory");
  }
#else
  _Pragma("unroll") for (int l = 0; l < B / 4; ++l) dst[l] = pred ? src[l] : 0.0f;
#endif
}
__device__ __forceinline__ void cp_async_commit() {
#if __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\\n" ::: "memory");
#endif
}
template <int N> __device__ __forceinline__ void cp_async_wait() {
#if __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;\\n" :: "n"(N) : "memory");
#endif
}
"""


@dataclass(frozen=True)
class Dialect:
    """What differs between C dialects; the printer does the rest."""

    name: str
    kernel: str  # function qualifiers; {threads} is the work-group size
    arg_in: str  # {name}
    arg_out: str
    local_array: str  # {ctype} {name} {size}
    local_view: str  # {name} {array} {offset}: a pointer into a local array
    specials: dict[str, str]
    barrier: str
    vload: str  # {w} {ptr}
    vstore: str  # {w} {ptr} {value}
    vload_aligned: str  # the same where the address is a multiple of the vector's size
    vstore_aligned: str
    vector: str  # {w}
    lanes: str  # {w} {args}
    splat: str  # {w} {value}
    lane: str  # {value} {k} {hex}
    calls: dict[str, str] = field(default_factory=dict)  # math function names
    prelude: str = ""
    # asynchronous copies ({bytes} {dst} {src} {cond}); "" copies synchronously
    async_copy: str = ""
    async_commit: str = ""
    async_wait: str = ""  # {n}
    async_prelude: str = ""  # prepended to kernels that copy asynchronously
    unroll: str = "#pragma unroll {n}"
    unroll_full: str = "#pragma unroll"


OPENCL = Dialect(
    name="opencl",
    kernel="__kernel __attribute__((reqd_work_group_size({threads}, 1, 1))) void",
    arg_in="__global const float* restrict {name}",
    arg_out="__global float* restrict {name}",
    local_array="__local {ctype} {name}[{size}] __attribute__((aligned(16)));",
    local_view="__local float* const {name} = {array} + {offset};",
    specials={"group": "get_group_id(0)", "local": "get_local_id(0)"},
    barrier="barrier(CLK_LOCAL_MEM_FENCE);",
    vload="vload{w}(0, {ptr})",
    vstore="vstore{w}({value}, 0, {ptr});",
    vload_aligned="vload{w}(0, {ptr})",
    vstore_aligned="vstore{w}({value}, 0, {ptr});",
    vector="float{w}",
    lanes="(float{w})({args})",
    splat="(float{w})({value})",
    lane="{value}.s{hex}",
)

CUDA = Dialect(
    name="cuda",
    kernel='extern "C" __global__ void __launch_bounds__({threads})',
    arg_in="const float* __restrict__ {name}",
    arg_out="float* __restrict__ {name}",
    local_array="__shared__ __align__(16) {ctype} {name}[{size}];",
    local_view="float* const {name} = {array} + {offset};",
    specials={"group": "(int)blockIdx.x", "local": "(int)threadIdx.x"},
    barrier="__syncthreads();",
    vload="vload<{w}>({ptr})",
    vstore="vstore<{w}>({value}, {ptr});",
    vload_aligned="vload_a<{w}>({ptr})",
    vstore_aligned="vstore_a<{w}>({value}, {ptr});",
    vector="vec<{w}>",
    lanes="vec<{w}>{{{{{args}}}}}",
    splat="splat<{w}>({value})",
    lane="{value}.x[{k}]",
    calls={"fmax": "fmaxf", "exp": "expf", "sqrt": "sqrtf"},
    prelude=CUDA_PRELUDE,
    async_copy="cp_async<{bytes}>({dst}, {src}, {cond});",
    async_commit="cp_async_commit();",
    async_wait="cp_async_wait<{n}>();",
    async_prelude=CUDA_ASYNC_PRELUDE,
)

DIALECTS = {d.name: d for d in (OPENCL, CUDA)}

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
            return f"{d.calls.get(e.fn, e.fn)}({', '.join(self.expr(x) for x in e.args)})"
        if isinstance(e, Special):
            return d.specials[e.kind]
        if isinstance(e, Load):
            if e.width == 1:
                return f"{e.buffer}[{self.expr(e.index)}]"
            fmt = d.vload_aligned if e.aligned else d.vload
            return fmt.format(w=e.width, ptr=f"({e.buffer} + {self.expr(e.index)})")
        if isinstance(e, Elem):
            return f"{e.array}[{self.expr(e.index)}]"
        if isinstance(e, Select):
            return f"({self.expr(e.cond)} ? {self.expr(e.a)} : {self.expr(e.b)})"
        if isinstance(e, Splat):
            return d.splat.format(w=e.width, value=self.expr(e.value))
        if isinstance(e, LaneOf):
            return d.lane.format(value=self.expr(e.value), k=e.lane, hex=f"{e.lane:x}")
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
            ctype = ctype if s.width == 1 else d.vector.format(w=s.width)
            return [f"{pad}{ctype} {s.name} = {self.expr(s.value)};"]
        if isinstance(s, ArrayDecl):
            ctype = s.ctype if s.width == 1 else d.vector.format(w=s.width)
            if s.scope == "local":
                return [pad + d.local_array.format(ctype=ctype, name=s.name, size=s.size)]
            return [f"{pad}{ctype} {s.name}[{s.size}];"]
        if isinstance(s, LocalView):
            return [pad + d.local_view.format(name=s.name, array=s.array, offset=s.offset)]
        if isinstance(s, Assign):
            return [f"{pad}{self.expr(s.target)} {s.op} {self.expr(s.value)};"]
        if isinstance(s, Store):
            idx = self.expr(s.index)
            if s.width == 1:
                return [f"{pad}{s.buffer}[{idx}] = {self.expr(s.value)};"]
            ptr = f"({s.buffer} + {idx})"
            fmt = d.vstore_aligned if s.aligned else d.vstore
            return [pad + fmt.format(w=s.width, ptr=ptr, value=self.expr(s.value))]
        if isinstance(s, For):
            lines = []
            if s.unroll == 0:
                lines.append(pad + d.unroll_full)
            elif s.unroll is not None:
                lines.append(pad + d.unroll.format(n=s.unroll))
            start = s.start if isinstance(s.start, int) else self.expr(s.start)
            ext = s.extent if isinstance(s.extent, int) else self.expr(s.extent)
            head = f"for (int {s.var} = {start}; {s.var} < {ext}; {s.var} += {s.step}) {{"
            return lines + [pad + head] + self.stmts(s.body, depth + 1) + [pad + "}"]
        if isinstance(s, If):
            head = f"{pad}if ({self.expr(s.cond)}) {{"
            return [head] + self.stmts(s.body, depth + 1) + [pad + "}"]
        if isinstance(s, Block):
            return [pad + "{"] + self.stmts(s.body, depth + 1) + [pad + "}"]
        if isinstance(s, Barrier):
            return [pad + d.barrier]
        if isinstance(s, Copy):
            return self.copy(s, pad)
        if isinstance(s, CopyCommit):
            return [pad + d.async_commit] if d.async_commit else []
        if isinstance(s, CopyWait):
            return [pad + d.async_wait.format(n=s.pending)] if d.async_wait else []
        raise TypeError(f"cannot print {s!r}")

    def copy(self, s: Copy, pad: str) -> list[str]:
        d = self.d
        if d.async_copy:  # a false condition reads nothing: point at the buffer's start
            cond = "true" if s.cond is None else self.expr(s.cond)
            src = self.expr(s.src_index)
            src = src if s.cond is None else f"({cond} ? {src} : 0)"
            dst = f"({s.dst} + {self.expr(s.dst_index)})"
            line = d.async_copy.format(bytes=4 * s.width, dst=dst, src=f"({s.src} + {src})",
                                       cond=cond)  # fmt: skip
            return [pad + line]
        load: Expr = Load(s.src, s.src_index, s.width, s.aligned)
        if s.cond is not None:
            zero = Const(0.0) if s.width == 1 else Splat(Const(0.0), s.width)
            load = Select(s.cond, load, zero)
        if s.width == 1:
            return [f"{pad}{s.dst}[{self.expr(s.dst_index)}] = {self.expr(load)};"]
        return self.stmt(Store(s.dst, s.dst_index, load, s.width, s.aligned), len(pad) // 2)

    def kernel(self, k: KernelIR) -> str:
        d = self.d
        args = ",\n    ".join(
            (d.arg_out if p.is_output else d.arg_in).format(name=p.name) for p in k.params
        )
        head = f"{d.kernel.format(threads=k.threads)} {k.name}(\n    {args})"
        prelude = d.prelude + (d.async_prelude if uses_copies(k.body) else "")
        return "\n".join([prelude + head + " {", *self.stmts(k.body, 1), "}", ""])


def uses_copies(body) -> bool:
    """Whether a statement list holds a Copy at any depth."""
    for s in body:
        if isinstance(s, Copy) or (isinstance(s, (For, If, Block)) and uses_copies(s.body)):
            return True
    return False


def render(k: KernelIR, dialect: str) -> str:
    """Source text of `k` in `dialect` ("opencl" or "cuda")."""
    if dialect not in DIALECTS:
        raise ValueError(f"no printer for dialect {dialect!r}")
    return Printer(DIALECTS[dialect]).kernel(k)
