"""Random search: uniform samples of the sketches' annotations, never repeating one."""

from __future__ import annotations

import random

from search_spaces import Schedule
from tuner.strategies.base import SearchPolicy


class RandomSearch(SearchPolicy):
    """The baseline every other strategy must beat."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rng = random.Random(self.seed)

    def propose(self, n: int) -> list[Schedule]:
        out = self._unseen_samples(n, self.rng)
        self.seen.update(s.key for s in out)
        return out
