"""The search-policy interface every strategy implements (ask / tell)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from search_spaces import ComputeDef, Schedule, Target


class SearchPolicy(ABC):
    """Proposes schedules to measure and learns from what was measured.

    `seen` holds the keys of schedules already measured (this run or stored earlier): a policy
    never proposes one of them again.
    """

    def __init__(self, compute: ComputeDef, target: Target, seed: int, seen: set[str]):
        self.compute, self.target, self.seed = compute, target, seed
        self.seen = set(seen)

    @abstractmethod
    def propose(self, n: int) -> list[Schedule]:
        """Up to `n` new schedules (fewer when the space seems exhausted)."""

    def update(self, schedules: Sequence[Schedule], latencies: Sequence[float | None]) -> None:
        """Results of measured schedules; None for a failed candidate."""
        self.seen.update(s.key for s in schedules)
