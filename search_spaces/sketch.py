"""Sketch rules, validity against a target, random annotation and the size of the space.

Rules read the computation's structure (axes, reads, reuse, stages), never the operator's
name; each rule is one module of search_spaces/sketches/.
"""

from __future__ import annotations

import random
from functools import lru_cache

from search_spaces.compute import ComputeDef
from search_spaces.schedule import Schedule
from search_spaces.sketches.base import Sketch, SketchRule
from search_spaces.sketches.tile import TileRule, naive
from search_spaces.sketches.xthread import XThreadRule
from search_spaces.target import Target

RULES: tuple[SketchRule, ...] = (TileRule(), XThreadRule())


def sketch_rules(compute: ComputeDef, target: Target) -> list[tuple[SketchRule, Sketch]]:
    """Every (rule, sketch) pair that applies to `compute` on `target`."""
    return list(_sketch_rules(compute, target))


@lru_cache(maxsize=256)
def _sketch_rules(compute: ComputeDef, target: Target) -> tuple[tuple[SketchRule, Sketch], ...]:
    # a function of the computation's structure and the target only; the search checks and
    # samples thousands of schedules of one computation a round
    return tuple((rule, sk) for rule in RULES for sk in rule.sketches(compute, target))


def sketches(compute: ComputeDef, target: Target) -> list[Sketch]:
    """The sketches that apply to `compute` on `target`."""
    return [sk for _, sk in sketch_rules(compute, target)]


def check(compute: ComputeDef, s: Schedule, target: Target) -> str | None:
    """Why `s` is not a valid schedule of `compute` on `target`, or None when it is."""
    found = {sk.name: (rule, sk) for rule, sk in sketch_rules(compute, target)}
    if s.sketch not in found:
        return f"sketch {s.sketch!r} does not apply (have {', '.join(found) or 'none'})"
    rule, sk = found[s.sketch]
    return rule.check(compute, s, target, sk)


def sample(compute: ComputeDef, target: Target, rng: random.Random, tries: int = 200) -> Schedule:
    """A random valid schedule of a random sketch."""
    options = sketch_rules(compute, target)
    if not options:
        raise ValueError(f"no sketch applies to {compute.op}")
    weights = [rule.weight(sk, target) for rule, sk in options]
    for _ in range(tries):
        rule, sk = rng.choices(options, weights)[0]
        s = rule.sample(compute, target, rng, sk)
        if rule.check(compute, s, target, sk) is None:
            return s
    for rule, sk in options:  # the naive schedule when the space is nearly all invalid
        fallback = naive(compute, target)
        if sk.name == "tile" and rule.check(compute, fallback, target, sk) is None:
            return fallback
    raise ValueError(f"no valid schedule of {compute.op} found for {target.name}")


def space_size(compute: ComputeDef, target: Target) -> dict[str, int]:
    """Annotations per sketch before device limits are applied (an upper bound on the valid
    ones; for tiles, overrunning power-of-two factors come on top)."""
    return {
        sk.name: rule.space_size(compute, target, sk) for rule, sk in sketch_rules(compute, target)
    }


__all__ = ["Sketch", "check", "naive", "sample", "sketch_rules", "sketches", "space_size"]
