"""The schedules a search policy may propose.

`Space` is the live space: the sketches' random annotations, checked against the target.
`PoolSpace` is a stored set of measured schedules, for replaying a strategy without a device:
the policy then proposes only schedules whose measurement is known.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from search_spaces import ComputeDef, Schedule, Target, check, sample
from search_spaces.sketch import sketch_rules


class Space:
    def __init__(self, compute: ComputeDef, target: Target):
        self.compute, self.target = compute, target
        self._valid: dict[str, bool] = {}
        self.sketch_names = tuple(sk.name for _, sk in sketch_rules(compute, target))
        self.cacheable = {sk.name: sk.cacheable for _, sk in sketch_rules(compute, target)}

    def sample(self, rng: random.Random) -> Schedule:
        return sample(self.compute, self.target, rng)

    def valid(self, s: Schedule) -> bool:
        key = s.key
        if key not in self._valid:
            self._valid[key] = check(self.compute, s, self.target) is None
        return self._valid[key]


class PoolSpace(Space):
    """Only the given schedules (those with a stored measurement)."""

    def __init__(self, compute: ComputeDef, target: Target, schedules: Iterable[Schedule]):
        super().__init__(compute, target)
        self.pool = {s.key: s for s in schedules}
        self._keys = sorted(self.pool)

    def sample(self, rng: random.Random) -> Schedule:
        if not self._keys:
            raise ValueError("the replay pool is empty")
        return self.pool[rng.choice(self._keys)]

    def valid(self, s: Schedule) -> bool:
        return s.key in self.pool
