"""Random search: uniform samples of the sketches' annotations, never repeating one."""

from __future__ import annotations

import random

from search_spaces import Schedule, sample
from tuner.strategies.base import SearchPolicy


class RandomSearch(SearchPolicy):
    """The baseline every other strategy must beat."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rng = random.Random(self.seed)

    def propose(self, n: int) -> list[Schedule]:
        out: dict[str, Schedule] = {}
        for _ in range(50 * n):
            if len(out) == n:
                break
            s = sample(self.compute, self.target, self.rng)
            if s.key not in self.seen and s.key not in out:
                out[s.key] = s
        self.seen.update(out)
        return list(out.values())
