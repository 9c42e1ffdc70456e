"""Mutation and crossover of schedules, for the evolutionary search.

Each operator returns a new schedule of the same sketch or None when it does not apply; the
caller checks validity against the target. Mutations (Ansor's): move a tile factor between
levels of a spatial axis (blocks, virtual threads, threads, registers), move a factor
between the outer and inner loop of a reduction, change unroll, change vector width, change
what is staged in local memory, change the pipeline's depth or the reduction's split among
work-items, add or drop a register window, change the cross-thread reduction's threads or
rows.
"""

from __future__ import annotations

import random
from dataclasses import replace
from math import prod

from search_spaces import ComputeDef, Schedule
from search_spaces.sketches.base import (
    RSPLITS,
    STAGES,
    TILE_UNROLLS,
    UNROLL_ALL,
    UNROLLS,
    prime_factors,
)
from search_spaces.sketches.tile import can_window, with_split, with_window
from search_spaces.tiling import VECTOR_WIDTHS


def _move(levels: list[int], extent: int, rng: random.Random) -> list[int] | None:
    """Move one prime factor between the levels [blocks, *levels]; blocks are implied."""
    covered = prod(levels)
    exact = extent % covered == 0
    blocks = extent // covered if exact else 0
    sources = [i for i, v in enumerate(levels) if v > 1]
    if blocks > 1:
        sources.append(-1)
    if not sources:
        return None
    src = rng.choice(sources)
    if src == -1:
        p = rng.choice(prime_factors(blocks))
    else:
        p = rng.choice(prime_factors(levels[src]) if exact else [2] if levels[src] % 2 == 0
                       else prime_factors(levels[src]))  # fmt: skip
    dests = [i for i in range(-1, len(levels)) if i != src]
    dst = rng.choice(dests)
    out = list(levels)
    if src >= 0:
        out[src] //= p
    if dst >= 0:
        out[dst] *= p
    return out


def mutate_tile(s: Schedule, compute: ComputeDef, rng: random.Random) -> Schedule | None:
    axis = rng.randrange(len(s.spatial))
    new = _move(list(s.spatial[axis]), compute.spatial[axis].extent, rng)
    if new is None:
        return None
    spatial = list(s.spatial)
    spatial[axis] = tuple(new)  # type: ignore[call-overload]
    return _fix_vector(replace(s, spatial=tuple(spatial)), compute)


def mutate_reduce(s: Schedule, compute: ComputeDef, rng: random.Random) -> Schedule | None:
    if not compute.reduce or s.sketch == "xthread":
        return None
    r = rng.randrange(len(s.reduce))
    new = _move([s.reduce[r]], compute.reduce[r].extent, rng)
    if new is None:
        return None
    reduce = list(s.reduce)
    reduce[r] = new[0]
    return _fix_rsplit(replace(s, reduce=tuple(reduce)))


def mutate_unroll(s: Schedule, compute: ComputeDef, rng: random.Random) -> Schedule | None:
    values = UNROLLS if s.sketch == "xthread" else TILE_UNROLLS
    return replace(s, unroll=rng.choice([u for u in values if u != s.unroll]))


def _widths(s: Schedule, compute: ComputeDef) -> list[int]:
    last, inner = compute.spatial[-1].extent, s.spatial[-1][2]
    return [w for w in VECTOR_WIDTHS if last % w == 0 and inner % w == 0]


def _fix_vector(s: Schedule, compute: ComputeDef) -> Schedule:
    """Keep the vector width legal after the innermost tile changed (the widest that fits)."""
    if s.sketch == "xthread" or s.vector in _widths(s, compute):
        return s
    return replace(s, vector=max(_widths(s, compute)))


def _fix_rsplit(s: Schedule) -> Schedule:
    """Keep a split reduction legal after the reduction tiles changed: the most slices that
    still divide some inner reduction tile."""
    if s.rsplit == 1 or any(t % s.rsplit == 0 for t in s.reduce):
        return s
    fits = [r for r in RSPLITS if r < s.rsplit and any(t % r == 0 for t in s.reduce)]
    return replace(s, rsplit=max(fits))


def mutate_vector(s: Schedule, compute: ComputeDef, rng: random.Random) -> Schedule | None:
    options = [w for w in _widths(s, compute) if w != s.vector]
    if s.sketch == "xthread" or not options:
        return None
    return replace(s, vector=rng.choice(options))


def mutate_cache(
    s: Schedule, compute: ComputeDef, rng: random.Random, cacheable: tuple[str, ...]
) -> Schedule | None:
    """Stage one more or one fewer input, or flip one staged input's storage order."""
    if s.sketch != "tile_cache" or not cacheable:
        return None
    t = rng.choice(cacheable)
    cache, cache_t = list(s.cache), list(s.cache_t)
    if t in cache and rng.random() < 0.5:
        if t in cache_t:
            cache_t.remove(t)
        else:
            cache_t.append(t)
    elif t in cache:
        if len(cache) == 1:
            return None
        cache.remove(t)
        if t in cache_t:
            cache_t.remove(t)
    else:
        cache.append(t)
    order = {c: i for i, c in enumerate(cacheable)}
    return replace(s, cache=tuple(sorted(cache, key=order.get)),
                   cache_t=tuple(sorted(cache_t, key=order.get)))  # fmt: skip


def mutate_stages(s: Schedule, compute: ComputeDef, rng: random.Random) -> Schedule | None:
    """Another depth of the local-memory pipeline (tile_cache)."""
    if s.sketch != "tile_cache":
        return None
    return replace(s, stages=rng.choice([n for n in STAGES if n != s.stages]))


def mutate_rsplit(s: Schedule, compute: ComputeDef, rng: random.Random) -> Schedule | None:
    """Split the reduction among more or fewer slices of work-items (tile_cache): a
    neighbouring value, or none; an inner reduction tile grows where the new split needs it."""
    if s.sketch != "tile_cache" or s.rsplit not in RSPLITS:
        return None
    i = RSPLITS.index(s.rsplit)
    options = [RSPLITS[j] for j in (i - 1, i + 1) if 0 <= j < len(RSPLITS)]
    if s.rsplit > 1 and 1 not in options:
        options.append(1)
    return with_split(compute, s, rng.choice(options))


def mutate_window(s: Schedule, compute: ComputeDef, rng: random.Random) -> Schedule | None:
    """Drop the register window, or add one (with the whole innermost reduce axis in the
    inner tile and every inner reduction loop unrolled)."""
    return replace(s, window=0) if s.window else with_window(compute, s)


def _fix_window(s: Schedule, compute: ComputeDef) -> Schedule:
    """Drop a register window that the unroll or the reduction tiles no longer allow."""
    whole = bool(compute.reduce) and s.reduce[-1:] == (compute.reduce[-1].extent,)
    if s.window and (s.unroll != UNROLL_ALL or not whole):
        return replace(s, window=0)
    return s


def mutate_xthread(s: Schedule, compute: ComputeDef, rng: random.Random) -> Schedule | None:
    if s.sketch != "xthread":
        return None
    if rng.random() < 0.5:
        threads = s.threads * 2 if rng.random() < 0.5 else max(1, s.threads // 2)
        return replace(s, threads=threads)
    rows = [i for i, t in enumerate(s.spatial) if t[2] > 1 or compute.spatial[i].extent > 1]
    if not rows:
        return None
    i = rng.choice(rows)
    r = s.spatial[i][2]
    new = r * 2 if rng.random() < 0.5 else max(1, r // 2)
    spatial = list(s.spatial)
    spatial[i] = (1, 1, new)
    return replace(s, spatial=tuple(spatial))


def mutate(
    s: Schedule, compute: ComputeDef, rng: random.Random, cacheable: tuple[str, ...] = ()
) -> Schedule | None:
    """One random mutation that applies to `s` (None when the chosen one does not)."""
    if s.sketch == "xthread":
        ops = [mutate_xthread, mutate_xthread, mutate_unroll]
    else:
        ops = [mutate_tile, mutate_tile, mutate_tile, mutate_reduce, mutate_unroll, mutate_vector]
        if s.sketch == "tile_cache":
            ops.append(lambda s, c, r: mutate_cache(s, c, r, cacheable))
            ops.append(mutate_stages)
            ops.append(mutate_rsplit)
        if can_window(compute, s):
            ops.append(mutate_window)
    out = rng.choice(ops)(s, compute, rng)
    return None if out is None else _fix_window(out, compute)


def crossover(a: Schedule, b: Schedule, compute: ComputeDef, rng: random.Random
              ) -> Schedule | None:  # fmt: skip
    """A child of two schedules of one sketch: each axis's tiles and each other annotation
    from either parent."""
    if a.sketch != b.sketch:
        return None
    pick = lambda x, y: x if rng.random() < 0.5 else y  # noqa: E731
    spatial = tuple(pick(x, y) for x, y in zip(a.spatial, b.spatial))
    reduce = tuple(pick(x, y) for x, y in zip(a.reduce, b.reduce))
    cache_from = pick(a, b)
    child = Schedule(
        sketch=a.sketch, spatial=spatial, reduce=reduce, vector=pick(a.vector, b.vector),
        unroll=pick(a.unroll, b.unroll), cache=cache_from.cache, cache_t=cache_from.cache_t,
        threads=pick(a.threads, b.threads), stages=pick(a.stages, b.stages),
        rsplit=pick(a.rsplit, b.rsplit),
        # drawn only where the parents differ: other searches keep their random streams
        window=a.window if a.window == b.window else pick(a.window, b.window),
    )  # fmt: skip
    return _fix_window(_fix_rsplit(_fix_vector(child, compute)), compute)
