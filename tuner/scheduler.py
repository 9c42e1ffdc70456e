"""Task scheduler: which workload gets the next round of trials (Ansor's gradient rule).

The run minimises the weighted sum of the workloads' best latencies. After one warm-up round
per task, each round goes to the task whose objective is expected to fall fastest per round:

    grad_i = w_i * (alpha * backward_i + (1 - alpha) * forward_i)
    backward_i = (best_i(now) - best_i(`window` rounds ago)) / window
    forward_i  = -best_i(now) / rounds_i          (an optimistic guess: the curve so far)

and the most negative gradient wins; an epsilon share of rounds goes to a random task. A task
whose policy has nothing left to propose, or whose budget is spent, leaves the schedule.
"""

from __future__ import annotations

import random
from collections.abc import Sequence


class TaskScheduler:
    def __init__(self, weights: Sequence[float], alpha: float = 0.2, window: int = 3,
                 eps: float = 0.05, seed: int = 0):  # fmt: skip
        self.weights = list(weights)
        self.alpha, self.window, self.eps = alpha, window, eps
        self.rng = random.Random(seed)
        self.curves: list[list[float | None]] = [[] for _ in self.weights]
        self.done = [False] * len(self.weights)

    def record(self, task: int, best: float | None) -> None:
        """The task's best latency after a round it was given."""
        self.curves[task].append(best)

    def finish(self, task: int) -> None:
        self.done[task] = True

    def gradient(self, task: int) -> float:
        curve = [b for b in self.curves[task] if b is not None]
        if not curve:
            return float("-inf")  # nothing correct found yet: most in need
        now = curve[-1]
        past = curve[max(0, len(curve) - 1 - self.window)]
        backward = (now - past) / self.window
        forward = -now / len(self.curves[task])
        return self.weights[task] * (self.alpha * backward + (1 - self.alpha) * forward)

    def pick(self) -> int | None:
        live = [i for i, d in enumerate(self.done) if not d]
        if not live:
            return None
        fresh = [i for i in live if not self.curves[i]]
        if fresh:
            return fresh[0]
        if self.rng.random() < self.eps:
            return self.rng.choice(live)
        return min(live, key=lambda i: (self.gradient(i), len(self.curves[i])))
