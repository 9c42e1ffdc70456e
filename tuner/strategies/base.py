"""The search-policy interface every strategy implements (ask / tell)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence

from search_spaces import ComputeDef, Schedule, Target
from tuner.space import Space


class SearchPolicy(ABC):
    """Proposes schedules to measure and learns from what was measured.

    `seen` holds the keys of schedules already measured (this run or stored earlier): a policy
    never proposes one of them again. `space` is where proposals come from (the live space by
    default; a stored pool when replaying). `history` holds earlier measurements of this
    workload on this device as (schedule, latency or None) pairs. `learner` is a cost model
    shared by the workloads of a run; policies that use no model ignore it.
    """

    def __init__(
        self,
        compute: ComputeDef,
        target: Target,
        seed: int,
        seen: set[str],
        *,
        space: Space | None = None,
        history: Iterable[tuple[Schedule, float | None]] = (),
        learner=None,
        workload_key: str = "",
    ):
        self.compute, self.target, self.seed = compute, target, seed
        self.seen = set(seen)
        self.space = space or Space(compute, target)
        self.history = list(history)
        self.learner = learner
        self.workload_key = workload_key or compute.op

    @abstractmethod
    def propose(self, n: int) -> list[Schedule]:
        """Up to `n` new schedules (fewer, or none, when the space seems exhausted or the
        search has stopped improving)."""

    def update(self, schedules: Sequence[Schedule], latencies: Sequence[float | None]) -> None:
        """Results of measured schedules; None for a failed candidate."""
        self.seen.update(s.key for s in schedules)

    def _unseen_samples(self, n: int, rng, exclude: set[str] = frozenset()) -> list[Schedule]:
        """Up to `n` random samples not seen or excluded. The attempts grow with what was
        seen: a run resumed with its seed draws its earlier samples again first."""
        out: dict[str, Schedule] = {}
        for _ in range(50 * n + len(self.seen)):
            if len(out) == n:
                break
            s = self.space.sample(rng)
            if s.key not in self.seen and s.key not in out and s.key not in exclude:
                out[s.key] = s
        return list(out.values())
