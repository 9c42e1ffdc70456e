"""The interface of a sketch rule: when it applies, what is valid, random annotation, size."""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass

from search_spaces.compute import ComputeDef
from search_spaces.schedule import UNROLL_ALL, Schedule
from search_spaces.target import Target

UNROLLS = (0, 1, 4, 16)
TILE_UNROLLS = (*UNROLLS, UNROLL_ALL)  # tile sketches may unroll every inner reduction loop
STAGES = (1, 2, 3)  # tile_cache: local-memory buffers of the reduction pipeline
RSPLITS = (1, 2, 4, 8, 16)  # tile_cache: slices of work-items that share the reduction


@dataclass(frozen=True)
class Sketch:
    """A schedule structure that a rule derived for one computation."""

    name: str
    cacheable: tuple[str, ...] = ()


class SketchRule(ABC):
    """Derives sketches from a computation's structure (never its operator name)."""

    @abstractmethod
    def sketches(self, compute: ComputeDef, target: Target) -> list[Sketch]:
        """The sketches this rule gives for `compute` (none when it does not apply)."""

    @abstractmethod
    def check(self, compute: ComputeDef, s: Schedule, target: Target, sketch: Sketch) -> str | None:
        """Why `s` is invalid, or None."""

    @abstractmethod
    def sample(
        self, compute: ComputeDef, target: Target, rng: random.Random, sketch: Sketch
    ) -> Schedule:
        """A random annotation of `sketch` (checked by the caller)."""

    @abstractmethod
    def space_size(self, compute: ComputeDef, target: Target, sketch: Sketch) -> int:
        """Annotations of `sketch`, before device limits are applied."""

    def weight(self, sketch: Sketch, target: Target) -> float:
        """How often random sampling picks `sketch` relative to the others."""
        return 1.0


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


def count_factorizations(n: int, levels: int) -> int:
    """Ordered ways to write n as a product of `levels` positive integers."""
    total = 1
    primes = prime_factors(n)
    for p in set(primes):
        e, num = primes.count(p), 1
        for i in range(1, levels):  # stars and bars: e copies of p over `levels` slots
            num = num * (e + i) // i
        total *= num
    return total
