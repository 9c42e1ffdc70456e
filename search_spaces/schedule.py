"""Schedules: a sketch (the structure) plus the annotation (the numbers), as plain data.

A schedule is what the database stores and what the search mutates; code is regenerated from it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property

# `unroll` of tile schedules: every inner reduction loop fully unrolled (a convolution's whole
# window, not just its innermost loop), so values read from local memory are reused across it
UNROLL_ALL = -1


@dataclass(frozen=True)
class Schedule:
    """Annotation of a sketch.

    tile / tile_cache: spatial[a] = (vthread, thread, inner) tile factors of spatial axis a; the
    block count is derived as ceil(extent / product). reduce[r] = inner tile of reduce axis r.
    `vector` is the width along the innermost spatial axis; `unroll` the unroll pragma of the
    innermost reduce loop (0: left to the compiler; UNROLL_ALL: every inner reduce loop
    fully); `cache` the inputs staged in local memory, `cache_t` those of them stored with the
    reduction's dimensions first (transposed).
    `stages` (tile_cache) is how many outer reduction steps' tiles are in local memory at once:
    1 stages each step and then computes it; S > 1 keeps S buffers and fetches step k + S - 1
    (asynchronously where the dialect can) while step k is computed.
    `rsplit` (tile_cache) splits the reduction among the work-items of a group: R > 1 runs R
    slices of the thread tile, each reducing an R-th of the inner reduction tile of one axis
    (the last whose inner tile R divides) over the same staged tiles, and slice 0 adds the
    others' partial accumulators through local memory before the epilogue. Work-groups then
    have R times the work-items for the same outputs, for layers with few outputs.

    `window` (tile, tile_cache; needs `unroll` UNROLL_ALL) keeps a sliding window of one input
    that is not staged in local memory in registers: where the input's last index is the
    innermost spatial axis plus the innermost reduce axis (a convolution's x + rx), each work-
    item loads the row segment under its register tile and the whole window once per step of
    the other reduce axes (aligned vector loads where it can, the halo element by element)
    and reads every tap from registers, instead of loading each tap of each lane. 0: off.

    xthread: spatial[a] = (1, 1, rows) rows per work-group along each row axis (1 on the others);
    reduce all 1; `threads` work-items share each row's reduction; `unroll` as above.
    """

    sketch: str
    spatial: tuple[tuple[int, int, int], ...]
    reduce: tuple[int, ...]
    vector: int = 1
    unroll: int = 0
    cache: tuple[str, ...] = ()
    threads: int = 0  # xthread: work-items that share each row's reduction
    cache_t: tuple[str, ...] = ()  # cached inputs stored reduction-dimensions first
    stages: int = 1  # tile_cache: buffers of the local-memory pipeline (1: none)
    rsplit: int = 1  # tile_cache: slices of work-items that share the reduction (1: none)
    window: int = 0  # tile, tile_cache: a register window of an unstaged input (0: off)

    def to_json(self) -> dict:
        out = {
            "sketch": self.sketch,
            "spatial": [list(t) for t in self.spatial],
            "reduce": list(self.reduce),
            "vector": self.vector,
            "unroll": self.unroll,
            "cache": list(self.cache),
        }
        if self.threads:
            out["threads"] = self.threads
        if self.cache_t:
            out["cache_t"] = list(self.cache_t)
        if self.stages != 1:  # left out at its default: older schedules keep their keys
            out["stages"] = self.stages
        if self.rsplit != 1:
            out["rsplit"] = self.rsplit
        if self.window:
            out["window"] = self.window
        return out

    @staticmethod
    def from_json(d: dict) -> Schedule:
        try:
            return Schedule(
                sketch=str(d["sketch"]),
                spatial=tuple(tuple(int(x) for x in t) for t in d["spatial"]),  # type: ignore[misc]
                reduce=tuple(int(x) for x in d["reduce"]),
                vector=int(d.get("vector", 1)),
                unroll=int(d.get("unroll", 0)),
                cache=tuple(str(c) for c in d.get("cache", ())),
                threads=int(d.get("threads", 0)),
                cache_t=tuple(str(c) for c in d.get("cache_t", ())),
                stages=int(d.get("stages", 1)),
                rsplit=int(d.get("rsplit", 1)),
                window=int(d.get("window", 0)),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"not a schedule: {d!r} ({e})") from None

    @property
    def canonical(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    @cached_property
    def key(self) -> str:  # cached: the search looks keys up many times per schedule
        return hashlib.sha256(self.canonical.encode()).hexdigest()[:24]
