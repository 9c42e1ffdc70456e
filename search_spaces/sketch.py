"""Sketch rules, validity against a target, random annotation and the size of the space.

Rules read the computation's structure (axes, reads, reuse), never the operator's name.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from math import prod

from search_spaces.compute import ComputeDef
from search_spaces.expr import free_vars, reads
from search_spaces.schedule import Schedule
from search_spaces.target import Target
from search_spaces.tiling import VECTOR_WIDTHS, Tiling

UNROLLS = (0, 1, 4, 16)


@dataclass(frozen=True)
class Sketch:
    """A schedule structure: "tile" (multi-level tiling into registers) or "tile_cache" (the
    same with inputs staged in local memory per outer reduction step)."""

    name: str
    cacheable: tuple[str, ...] = ()


def sketches(compute: ComputeDef, target: Target) -> list[Sketch]:
    """The sketches that apply to `compute` (Ansor's multi-level tiling with cache reads)."""
    out = [Sketch("tile")]
    probe = Tiling(compute, naive(compute, target))
    reused = [t for t in probe.cacheable if has_reuse(compute, t)]
    if compute.reduce and reused:
        out.append(Sketch("tile_cache", tuple(reused)))
    return out


def has_reuse(compute: ComputeDef, tensor: str) -> bool:
    """An input is reused when some spatial axis does not index it (threads share its data)."""
    used: set[str] = set()
    for r in reads(compute.body):
        if r.tensor == tensor:
            for ix in r.indices:
                used |= free_vars(ix)
    return any(a.name not in used for a in compute.spatial)


def naive(compute: ComputeDef, target: Target) -> Schedule:
    """One work-item per output element, no tiling: the baseline every kernel is compared to."""
    spatial = [(1, 1, 1)] * len(compute.spatial)
    last = compute.spatial[-1].extent
    spatial[-1] = (1, min(last, 64, target.max_threads), 1)
    return Schedule("tile", tuple(spatial), tuple(1 for _ in compute.reduce))


def check(compute: ComputeDef, s: Schedule, target: Target) -> str | None:
    """Why `s` is not a valid schedule of `compute` on `target`, or None when it is."""
    names = {k.name: k for k in sketches(compute, target)}
    if s.sketch not in names:
        return f"sketch {s.sketch!r} does not apply (have {', '.join(names)})"
    if len(s.spatial) != len(compute.spatial) or len(s.reduce) != len(compute.reduce):
        return "tile factors do not match the axes"
    if any(f < 1 for t in s.spatial for f in t) or any(f < 1 for f in s.reduce):
        return "tile factors must be positive"
    if s.unroll not in UNROLLS:
        return f"unroll must be one of {UNROLLS}"
    tiling = Tiling(compute, s)
    if s.vector not in VECTOR_WIDTHS:
        return f"vector width must be one of {VECTOR_WIDTHS}"
    last = tiling.spatial[-1]
    if last.extent % s.vector or last.inner % s.vector:
        return "vector width must divide the innermost axis and its inner tile"
    if tiling.threads > target.max_threads:
        return f"{tiling.threads} threads per group exceed {target.max_threads}"
    if tiling.accumulators > target.max_accumulators:
        return f"{tiling.accumulators} accumulators exceed {target.max_accumulators}"
    updates = tiling.accumulators // s.vector * max(s.unroll, 1)
    if updates > target.max_unrolled_updates:
        return f"{updates} unrolled accumulator updates exceed {target.max_unrolled_updates}"
    if tiling.groups > 2**31 - 1:
        return "too many work-groups"
    sketch = names[s.sketch]
    if s.sketch == "tile" and s.cache:
        return "the tile sketch caches nothing"
    if s.sketch == "tile_cache":
        if not s.cache or len(set(s.cache)) != len(s.cache):
            return "tile_cache needs distinct inputs to cache"
        if any(c not in sketch.cacheable for c in s.cache):
            return f"only {', '.join(sketch.cacheable)} can be cached"
        limit = target.max_threads_with_barriers or target.max_threads
        if tiling.threads > limit:
            return f"{tiling.threads} threads exceed {limit} for kernels with barriers"
        if tiling.local_bytes() > target.max_local_bytes:
            return f"{tiling.local_bytes()} bytes of local memory exceed {target.max_local_bytes}"
    return None


# --- random annotation ---------------------------------------------------------------------------


def prime_factors(n: int) -> list[int]:
    out, p = [], 2
    while p * p <= n:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    if n > 1:
        out.append(n)
    return out


def random_split(extent: int, parts: int, rng: random.Random) -> list[int]:
    """Factors of a random split of `extent` into `parts` + 1 levels (outermost dropped).

    Usually an exact factorisation (each prime factor goes to a random level); sometimes powers
    of two that overrun the extent, which the generated code guards.
    """
    if rng.random() < 0.8 or extent < 4:
        slots = [1] * (parts + 1)
        for p in prime_factors(extent):
            slots[rng.randrange(parts + 1)] *= p
        return slots[1:]
    bits = max(1, (extent - 1).bit_length())
    out, left = [], bits
    for _ in range(parts):
        b = rng.randint(0, left)
        out.append(2**b)
        left -= b
    rng.shuffle(out)
    return out


def sample(compute: ComputeDef, target: Target, rng: random.Random, tries: int = 200) -> Schedule:
    """A random valid schedule of a random sketch."""
    options = sketches(compute, target)
    for _ in range(tries):
        sk = rng.choice(options)
        spatial = [tuple(random_split(a.extent, 3, rng)) for a in compute.spatial]
        reduce = [random_split(a.extent, 1, rng)[0] for a in compute.reduce]
        last = compute.spatial[-1].extent
        inner = spatial[-1][2]
        widths = [w for w in VECTOR_WIDTHS if last % w == 0 and inner % w == 0]
        cache: tuple[str, ...] = ()
        if sk.cacheable:
            cache = tuple(c for c in sk.cacheable if rng.random() < 0.5) or (
                rng.choice(sk.cacheable),
            )
        s = Schedule(
            sketch=sk.name,
            spatial=tuple(spatial),  # type: ignore[arg-type]
            reduce=tuple(reduce),
            vector=rng.choice(widths),
            unroll=rng.choice(UNROLLS),
            cache=cache,
        )
        if check(compute, s, target) is None:
            return s
    return naive(compute, target)


def count_factorizations(n: int, levels: int) -> int:
    """Ordered ways to write n as a product of `levels` positive integers."""
    total = 1
    for p in set(prime_factors(n)):
        e = prime_factors(n).count(p)
        # stars and bars: distribute e copies of p over `levels` slots
        num = 1
        for i in range(1, levels):
            num = num * (e + i) // i
        total *= num
    return total


def space_size(compute: ComputeDef, target: Target) -> dict[str, int]:
    """Exact-factorisation annotations per sketch before device limits are applied (an upper
    bound on the valid ones; overrunning power-of-two tiles come on top)."""
    tiles = prod(count_factorizations(a.extent, 4) for a in compute.spatial)
    tiles *= prod(count_factorizations(a.extent, 2) for a in compute.reduce)
    widths = sum(1 for w in VECTOR_WIDTHS if compute.spatial[-1].extent % w == 0)
    out = {}
    for sk in sketches(compute, target):
        caches = 2 ** len(sk.cacheable) - 1 if sk.cacheable else 1
        out[sk.name] = tiles * widths * len(UNROLLS) * caches
    return out
