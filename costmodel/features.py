"""Features of a candidate, read from its lowered loop-nest IR, plus device traits.

Ansor's groups, reduced to one fixed-length vector per kernel so that one model serves every
workload of a device family:

- computation: float operations and index arithmetic per work-item and in total;
- memory access per buffer class (global inputs, local/shared staging, private registers,
  global output): instructions, elements, vector width, and reuse (accesses per distinct
  element fetched from global memory by a work-group);
- arithmetic intensity: float operations per global and per local element;
- allocations: accumulators, private array bytes, local bytes per work-group;
- outer-loop structure: work-groups, work-items, waves over the compute units, how full the
  busy compute units are (warps resident on each; the share of units with a group), loop
  depth, unrolled work in the innermost body, barriers, guarded (masked) statements;
- the schedule's own numbers (levels of the tiles, vector, unroll, caches, pipeline stages,
  reduction slices, register window, sketch);
- the device: kind, compute units, peak FLOP/s, bandwidth, limits.

Counts are log2(1 + x) so that workloads of very different sizes share one scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import log2, prod

import numpy as np

from search_spaces import ComputeDef, Schedule, Target
from search_spaces.expr import Bin, Call, Const, Expr, Var, Where, children
from search_spaces.ir import (
    ArrayDecl,
    Assign,
    Barrier,
    Block,
    Copy,
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
    Splat,
    Store,
)
from search_spaces.lowering import lower

SKETCHES = ("tile", "tile_cpu", "tile_cache", "xthread")
WARP = 32


@dataclass
class _Counts:
    """Per-work-item dynamic counts gathered by walking the IR."""

    flops: float = 0.0
    int_ops: float = 0.0
    special: float = 0.0  # calls (exp, max, ...) and selects
    g_load_instr: float = 0.0
    g_load_elems: float = 0.0
    l_load_instr: float = 0.0
    l_load_elems: float = 0.0
    l_store_instr: float = 0.0
    l_store_elems: float = 0.0
    p_access: float = 0.0  # private array element accesses
    g_store_instr: float = 0.0
    g_store_elems: float = 0.0
    barriers: float = 0.0
    guarded: float = 0.0  # statements executed under an If
    loops: int = 0
    depth: int = 0
    innermost_unrolled: float = 1.0  # trip product of the unrolled loops around the deepest body
    private_elems: float = 0.0
    local_bytes: float = 0.0
    unroll_pragmas: int = 0
    per_buffer: dict[str, float] = field(default_factory=dict)  # global elements per input


def _trips(loop: For) -> float:
    def num(x) -> float | None:
        if isinstance(x, int):
            return float(x)
        if isinstance(x, Const):
            return float(x.value)
        return None

    extent, start = num(loop.extent), num(loop.start)
    if extent is None:
        return 1.0
    return max(0.0, (extent - (start or 0.0)) / max(loop.step, 1))


class _Walker:
    def __init__(self, local_arrays: set[str]):
        self.c = _Counts()
        self.local_arrays = local_arrays

    def expr(self, e: Expr, mult: float, lanes: int = 1, in_float: bool = True) -> int:
        """Counts the operations of `e` executed `mult` times; returns its vector width."""
        if isinstance(e, Load):
            self.expr(e.index, mult, 1, False)
            if e.buffer in self.local_arrays:
                self.c.l_load_instr += mult
                self.c.l_load_elems += mult * e.width
            else:
                self.c.g_load_instr += mult
                self.c.g_load_elems += mult * e.width
                self.c.per_buffer[e.buffer] = self.c.per_buffer.get(e.buffer, 0) + mult * e.width
            return e.width
        if isinstance(e, Elem):
            self.expr(e.index, mult, 1, False)
            if e.array in self.local_arrays:
                self.c.l_load_instr += mult
                self.c.l_load_elems += mult
            else:
                self.c.p_access += mult
            return 1
        if isinstance(e, Bin):
            wa = self.expr(e.a, mult, lanes, in_float)
            wb = self.expr(e.b, mult, lanes, in_float)
            width = max(wa, wb)
            if in_float:
                self.c.flops += mult * width
            else:
                self.c.int_ops += mult
            return width
        if isinstance(e, (Call, Select, Where)):
            widths = [self.expr(k, mult, lanes, in_float) for k in children(e)]
            self.c.special += mult
            return max(widths, default=1)
        if isinstance(e, Splat):
            self.expr(e.value, mult, 1, in_float)
            return e.width
        if isinstance(e, Lanes):
            for k in e.lanes:
                self.expr(k, mult, 1, in_float)
            return len(e.lanes)
        if isinstance(e, LaneOf):
            self.expr(e.value, mult, lanes, in_float)
            return 1
        if isinstance(e, (Var, Const)):
            return 1
        for k in children(e):
            self.expr(k, mult, lanes, in_float)
        return 1

    def stmts(self, body, mult: float, depth: int, unrolled: float, guarded: bool) -> None:
        for s in body:
            self.stmt(s, mult, depth, unrolled, guarded)

    def stmt(self, s, mult: float, depth: int, unrolled: float, guarded: bool) -> None:
        c = self.c
        if guarded:
            c.guarded += mult
        if isinstance(s, For):
            c.loops += 1
            c.unroll_pragmas += s.unroll is not None
            trips = _trips(s)
            inner_unrolled = unrolled * trips if s.unroll is not None else 1.0
            if depth + 1 >= c.depth:
                c.depth = depth + 1
                c.innermost_unrolled = max(c.innermost_unrolled, inner_unrolled)
            self.stmts(s.body, mult * trips, depth + 1, inner_unrolled, guarded)
        elif isinstance(s, If):
            self.expr(s.cond, mult, 1, False)
            self.stmts(s.body, mult, depth, unrolled, True)
        elif isinstance(s, Block):
            self.stmts(s.body, mult, depth, unrolled, guarded)
        elif isinstance(s, Decl):
            self.expr(s.value, mult, s.width, s.ctype != "int")
        elif isinstance(s, ArrayDecl):
            if s.scope == "local":
                self.local_arrays.add(s.name)
                c.local_bytes += 4 * s.size * s.width
            else:
                c.private_elems += s.size * s.width
        elif isinstance(s, LocalView):  # a name for part of a local array already counted
            self.local_arrays.add(s.name)
        elif isinstance(s, Assign):
            width = self.expr(s.value, mult, 1, True)
            if isinstance(s.target, Elem):
                self.expr(s.target.index, mult, 1, False)
                if s.target.array in self.local_arrays:
                    c.l_store_instr += mult
                    c.l_store_elems += mult * width
                else:
                    c.p_access += mult
            if s.op != "=":
                c.flops += mult * width
        elif isinstance(s, Store):
            width = self.expr(s.value, mult, s.width, True)
            self.expr(s.index, mult, 1, False)
            if s.buffer in self.local_arrays:
                c.l_store_instr += mult
                c.l_store_elems += mult * max(s.width, width)
            else:
                c.g_store_instr += mult
                c.g_store_elems += mult * max(s.width, width)
        elif isinstance(s, Barrier):
            c.barriers += mult
        elif isinstance(s, Copy):  # a global load and a local store
            self.expr(s.src_index, mult, 1, False)
            self.expr(s.dst_index, mult, 1, False)
            if s.cond is not None:
                self.expr(s.cond, mult, 1, False)
            c.g_load_instr += mult
            c.g_load_elems += mult * s.width
            c.per_buffer[s.src] = c.per_buffer.get(s.src, 0) + mult * s.width
            c.l_store_instr += mult
            c.l_store_elems += mult * s.width


def _lg(x: float) -> float:
    return log2(1.0 + max(float(x), 0.0))


def ir_counts(ir: KernelIR) -> _Counts:
    w = _Walker(set())
    w.stmts(ir.body, 1.0, 0, 1.0, False)
    return w.c


def feature_names() -> list[str]:
    return list(_feature_dict_template())


def _feature_dict_template() -> dict[str, float]:
    # only the names matter here; features() fills the values in this order
    names = (
        "total_flops wi_flops wi_int_ops wi_special total_int_ops "
        "wi_gload_instr wi_gload_elems gload_width total_gload_elems "
        "wi_lload_instr wi_lload_elems lload_width wi_lstore_elems "
        "wi_private_access wi_gstore_elems gstore_width "
        "ai_global ai_local ai_private reuse_global min_buffer_reuse max_buffer_reuse "
        "accumulators private_bytes local_bytes "
        "groups threads warps_per_group threads_mod_warp waves occupancy_groups "
        "loops depth innermost_unrolled unroll_pragmas barriers guarded_frac "
        "vthreads thread_tile inner_tile reduce_inner reduce_outer vector unroll n_cache n_cache_t "
        "pipeline_stages reduce_slices register_window xthreads "
        "sketch_tile sketch_tile_cpu sketch_tile_cache sketch_xthread "
        "workload_flops outputs reduce_size n_inputs n_spatial n_reduce n_stages "
        "dev_gpu dev_cus dev_peak dev_bw dev_max_threads dev_local_bytes dev_flop_per_byte "
        "est_compute_s est_memory_s cu_busy warps_per_cu est_filled_s"
    ).split()
    return dict.fromkeys(names, 0.0)


def features(compute: ComputeDef, schedule: Schedule, target: Target, ir: KernelIR | None = None
             ) -> np.ndarray:  # fmt: skip
    """The feature vector of `schedule` on `compute` for `target` (lowered here if `ir` is
    not given)."""
    if ir is None:
        ir = lower(compute, schedule, "k")
    c = ir_counts(ir)
    threads, groups = ir.threads, ir.groups
    items = threads * groups
    wi_gload = max(c.g_load_elems, 1.0)
    group_unique = sum(t.size for t in compute.inputs)  # an upper bound of what a group fetches
    per_buffer = [v * items / max(t.size, 1) for t in compute.inputs
                  for k, v in c.per_buffer.items() if k == t.name]  # fmt: skip
    cus = max(target.compute_units, 1)
    groups_per_cu = max(1, min(16, (2048 if target.kind == "gpu" else 1024) // max(threads, 1)))
    if target.kind == "gpu" and c.local_bytes:
        groups_per_cu = max(1, min(groups_per_cu, int(target.max_local_bytes * 4 // c.local_bytes)))
    waves = groups / (cus * groups_per_cu)
    # a layer with few outputs leaves compute units idle, or with too few warps to hide
    # latency (16 taken as enough): what split reductions and smaller tiles change
    resident = max(1, min(groups_per_cu, -(-groups // cus)))
    busy = min(groups, cus) / cus
    warps = resident * -(-threads // WARP)
    filled = max(busy * min(1.0, warps / 16), 1 / 64)
    peak = target.peak_gflops or 100.0
    bw = target.bandwidth_gbs or 50.0
    total_flops = c.flops * items
    total_bytes = 4.0 * (c.g_load_elems + c.g_store_elems) * items
    sp = schedule.spatial
    reduce_size = prod(a.extent for a in compute.reduce) if compute.reduce else 1
    out = [
        _lg(total_flops), _lg(c.flops), _lg(c.int_ops), _lg(c.special), _lg(c.int_ops * items),
        _lg(c.g_load_instr), _lg(c.g_load_elems), c.g_load_elems / max(c.g_load_instr, 1.0),
        _lg(c.g_load_elems * items),
        _lg(c.l_load_instr), _lg(c.l_load_elems), c.l_load_elems / max(c.l_load_instr, 1.0),
        _lg(c.l_store_elems),
        _lg(c.p_access), _lg(c.g_store_elems), c.g_store_elems / max(c.g_store_instr, 1.0),
        _lg(c.flops / wi_gload), _lg(c.flops / max(c.l_load_elems, 1.0)),
        _lg(c.flops / max(c.p_access, 1.0)),
        _lg(c.g_load_elems * items / max(group_unique, 1)),
        _lg(min(per_buffer, default=0.0)), _lg(max(per_buffer, default=0.0)),
        _lg(c.private_elems), _lg(4 * c.private_elems), _lg(c.local_bytes),
        _lg(groups), _lg(threads), threads / WARP, float(threads % WARP), _lg(waves),
        min(groups / cus, 64.0),
        float(c.loops), float(c.depth), _lg(c.innermost_unrolled), float(c.unroll_pragmas),
        _lg(c.barriers), c.guarded / max(c.flops + c.int_ops, 1.0),
        _lg(prod(t[0] for t in sp)), _lg(prod(t[1] for t in sp)), _lg(prod(t[2] for t in sp)),
        _lg(prod(schedule.reduce)), _lg(reduce_size / max(prod(schedule.reduce), 1)),
        float(schedule.vector), float(schedule.unroll), float(len(schedule.cache)),
        float(len(schedule.cache_t)), float(schedule.stages), _lg(schedule.rsplit),
        float(schedule.window), _lg(schedule.threads),
        *(float(schedule.sketch == name) for name in SKETCHES),
        _lg(compute.flops), _lg(compute.output.size), _lg(reduce_size), float(len(compute.inputs)),
        float(len(compute.spatial)), float(len(compute.reduce)), float(len(compute.stages)),
        float(target.kind == "gpu"), _lg(cus), _lg(peak), _lg(bw), _lg(target.max_threads),
        _lg(target.max_local_bytes), peak / bw,
        _lg(1e6 * total_flops / (peak * 1e9) * max(1.0, np.ceil(waves) / max(waves, 1e-9))),
        _lg(1e6 * total_bytes / (bw * 1e9)),
        busy, _lg(warps), _lg(1e6 * total_flops / (peak * 1e9 * filled)),
    ]  # fmt: skip
    return np.asarray(out, dtype=np.float32)


N_FEATURES = len(_feature_dict_template())
