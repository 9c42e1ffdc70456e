"""Cross-thread reduction (Ansor's rule for reductions with little spatial work, and for
multi-stage reductions such as softmax): the work-items of a group share each row's reduction."""

from __future__ import annotations

import random
from math import prod

from search_spaces.compute import ComputeDef
from search_spaces.expr import Var, reads
from search_spaces.lowering.xthread import row_axes
from search_spaces.schedule import Schedule
from search_spaces.sketches.base import UNROLLS, Sketch, SketchRule
from search_spaces.target import Target

MAX_ROWS = 64  # row points per work-group
SMALL_SPATIAL = 1024  # "little spatial work": at most this many outputs...
LARGE_REDUCE = 64  # ...each reducing at least this many points


def stages_fit(compute: ComputeDef) -> bool:
    """Intermediate stages share the row axes, which lead the output's axes, and are read at
    exactly the row."""
    rows = row_axes(compute)
    if any(s.spatial != rows or s.stages or not s.reduce for s in compute.stages):
        return False
    if compute.spatial[: len(rows)] != rows:
        return False
    names = {s.output.name for s in compute.stages}
    wanted = tuple(Var(a.name) for a in rows)
    everything = [compute.body, compute.epilogue, *(s.body for s in compute.stages)]
    return all(r.indices == wanted for e in everything for r in reads(e) if r.tensor in names)


def row_choices(extent: int) -> list[int]:
    out = {d for d in range(1, min(extent, MAX_ROWS) + 1) if extent % d == 0}
    out |= {2**b for b in range(7) if 2**b <= min(extent, MAX_ROWS)}
    return sorted(out)


class XThreadRule(SketchRule):
    def sketches(self, compute: ComputeDef, target: Target) -> list[Sketch]:
        if compute.stages:
            return [Sketch("xthread")] if stages_fit(compute) else []
        outputs = prod(a.extent for a in compute.spatial)
        reduced = prod(a.extent for a in compute.reduce)
        if compute.reduce and outputs <= SMALL_SPATIAL and reduced >= LARGE_REDUCE:
            return [Sketch("xthread")]
        return []

    def thread_limit(self, target: Target) -> int:
        return min(target.max_threads, target.max_threads_with_barriers or target.max_threads)

    def check(self, compute: ComputeDef, s: Schedule, target: Target, sketch: Sketch) -> str | None:
        rows = {a.name for a in row_axes(compute)}
        if len(s.spatial) != len(compute.spatial) or len(s.reduce) != len(compute.reduce):
            return "factors do not match the axes"
        for a, t in zip(compute.spatial, s.spatial):
            if t[:2] != (1, 1) or t[2] < 1 or (a.name not in rows and t[2] != 1):
                return "xthread takes (1, 1, rows) on row axes and (1, 1, 1) elsewhere"
        if any(f != 1 for f in s.reduce) or s.vector != 1 or s.cache:
            return "xthread takes no reduce tiles, vectors or caches"
        T = s.threads
        if T < 1 or T & (T - 1) or T > self.thread_limit(target):
            return f"threads must be a power of two up to {self.thread_limit(target)}"
        if s.unroll not in UNROLLS:
            return f"unroll must be one of {UNROLLS}"
        nrows = prod(t[2] for t in s.spatial)
        if nrows > MAX_ROWS:
            return f"{nrows} rows per group exceed {MAX_ROWS}"
        local = 4 * nrows * (T + len(compute.stages))
        if local > target.max_local_bytes:
            return f"{local} bytes of local memory exceed {target.max_local_bytes}"
        return None

    def sample(
        self, compute: ComputeDef, target: Target, rng: random.Random, sketch: Sketch
    ) -> Schedule:
        rows = {a.name for a in row_axes(compute)}
        top = self.thread_limit(target).bit_length() - 1
        low = min(5, top) if target.kind == "gpu" else 0
        spatial = tuple(
            (1, 1, rng.choice(row_choices(a.extent)) if a.name in rows else 1)
            for a in compute.spatial
        )
        return Schedule(
            sketch="xthread",
            spatial=spatial,
            reduce=tuple(1 for _ in compute.reduce),
            unroll=rng.choice(UNROLLS),
            threads=2 ** rng.randint(low, top),
        )

    def space_size(self, compute: ComputeDef, target: Target, sketch: Sketch) -> int:
        rows = {a.name for a in row_axes(compute)}
        per_axis = prod(len(row_choices(a.extent)) for a in compute.spatial if a.name in rows)
        return per_axis * self.thread_limit(target).bit_length() * len(UNROLLS)
