"""A fake device for search-logic tests: latency is an analytic function of the tiling with
one best region (enough threads, a register tile of about 32, staged inputs, wide vectors,
little waste on ragged tiles). Real devices are tested elsewhere; this one is fast."""

from __future__ import annotations

from search_spaces import ComputeDef, Schedule
from search_spaces.tiling import Tiling


def synthetic_latency(compute: ComputeDef):
    def latency(s: Schedule) -> float:
        t = Tiling(compute, s)
        eff = (min(t.threads, 256) / 256) * (min(t.accumulators, 32) / 32)
        eff *= (1.5 if s.cache else 1.0) * (1 + s.vector / 16) * (1.2 if s.unroll == 4 else 1.0)
        waste = t.groups * t.threads * t.accumulators / compute.output.size
        return compute.flops / (1e12 * eff) * waste + 1e-6

    return latency
