"""Evolutionary search guided by the cost model (Ansor's search policy).

Each round: a population of random annotations of the sketches plus the best schedules
measured so far evolves for a few generations by mutation and crossover, parents picked by
the model's rank; the best-ranked unseen candidates are measured, with an epsilon share of
random ones for exploration. The model retrains on every result. Until a model can rank (no
warm model loaded and fewer than `warmup` measurements), rounds are small and random. Each
round without a gain of at least `min_gain` doubles the random share of the next (up to
`max_eps`), so a search stuck around one optimum explores more; a gain resets it. The search
stops early after `patience` such rounds in a row.

With `sketch_share` set, rounds without a gain also bring back the sketches the model has come
to neglect: the next population is seeded with the best measured schedules of every sketch
(`sketch_seeds`), and that share of its model picks goes to the best-ranked candidates of each
sketch in turn. It is off by default: on PoCL (C2D 56x56, 1,000 trials, 5 seeds) it lifted the
run that had spent 802 of 912 trials on one sketch from 160 to 183 GFLOP/s but ended three
others 6% to 12% lower, and at 64 trials on an H200 it was level or slightly behind
(BENCHMARKS.md, issue 6, "The sketch spread").
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, replace

import numpy as np

from search_spaces import Schedule
from tuner.strategies.base import SearchPolicy
from tuner.strategies.mutate import crossover, mutate


@dataclass(frozen=True)
class EvolutionConfig:
    population: int = 2048
    generations: int = 4
    round_size: int = 64  # measurements per round
    warmup: int = 16  # random measurements before a model of this run's own can rank
    eps: float = 0.05  # random share of a round at the start and after a gain
    max_eps: float = 0.5  # the random share after rounds without a gain (doubling each)
    crossover: float = 0.15  # share of children made by crossover (the rest by mutation)
    elite: float = 0.1  # share of a generation kept as it is
    seeds: int = 64  # best measured schedules seeded into each population
    # after a round without a gain: the best measured of each sketch seeded too, and the share
    # of the model picks spread over the sketches (off by default; the module docstring)
    sketch_seeds: int = 0
    sketch_share: float = 0.0
    patience: int = 5  # rounds without a gain before the search stops (0: never)
    min_gain: float = 0.005

    def with_spread(self) -> EvolutionConfig:
        """The sketch spread as it was measured (the module docstring)."""
        return replace(self, sketch_seeds=8, sketch_share=0.25)

    def for_budget(self, trials: int) -> EvolutionConfig:
        """Rounds of at most a quarter of a small budget, never fewer than `warmup`: at 64
        trials the model retrains and ranks three times instead of once."""
        return replace(self, round_size=max(self.warmup, min(self.round_size, trials // 4)))


class Evolutionary(SearchPolicy):
    def __init__(self, *args, config: EvolutionConfig | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.config = config or EvolutionConfig()
        self.rng = random.Random(self.seed)
        self.queue: list[Schedule] = []
        self.measured: dict[str, tuple[Schedule, float | None]] = {}
        self.best: float | None = None
        self.round_best: float | None = None
        self.pending = 0
        self.stale = 0
        self.stopped = False
        self.rounds = 0
        self.model_rounds = 0
        if self.history and self.learner is not None:
            schedules, latencies = zip(*self.history)
            self.learner.add(
                self.compute, self.target, self.workload_key, list(schedules), list(latencies)
            )
        for s, lat in self.history:
            self._record(s, lat)
        self.round_best = self.best

    # --- ask -------------------------------------------------------------------------------
    def propose(self, n: int) -> list[Schedule]:
        if self.stopped:
            return []
        if not self.queue:
            self._end_round()
            if self.stopped:
                return []
            self.queue = self._next_round()
            self.pending = len(self.queue)
            self.rounds += 1
        out, self.queue = self.queue[:n], self.queue[n:]
        self.seen.update(s.key for s in out)
        return out

    def _end_round(self) -> None:
        """Count the model rounds in a row whose best did not improve by `min_gain` (they widen
        the random share); stop after `patience` of them (0: never)."""
        if self.rounds == 0 or not self.model_rounds:
            self.round_best = self.best
            return
        before, now = self.round_best, self.best
        gained = now is not None and (before is None or now < before * (1 - self.config.min_gain))
        self.stale = 0 if gained else self.stale + 1
        self.round_best = self.best
        if self.config.patience and self.stale >= self.config.patience:
            self.stopped = True

    def explore_share(self) -> float:
        """The random share of the next round: `eps`, doubled for each round in a row without
        a gain, at most `max_eps`."""
        cfg = self.config
        return min(max(cfg.max_eps, cfg.eps), cfg.eps * 2 ** min(self.stale, 32))

    def _ranked(self, schedules: list[Schedule]) -> np.ndarray:
        x = self.learner.features(self.compute, self.target, self.workload_key, schedules)
        return self.learner.predict(x)

    def _next_round(self) -> list[Schedule]:
        cfg = self.config
        if self.learner is None or not self.learner.ready:
            return self._unseen_samples(max(cfg.warmup, 1), self.rng)
        self.model_rounds += 1
        scored: dict[str, tuple[float, Schedule]] = {}

        def score(cands: list[Schedule]) -> list[tuple[float, Schedule]]:
            new = [s for s in cands if s.key not in scored]
            if new:
                for s, v in zip(new, self._ranked(new)):
                    scored[s.key] = (float(v), s)
            return [scored[s.key] for s in cands]

        ok = sorted((lat, s.key, s) for s, lat in self.measured.values() if lat is not None)
        pop = {s.key: s for _, _, s in ok[: cfg.seeds]}
        per_sketch: dict[str, int] = {}
        for _, key, s in ok if self.stale and cfg.sketch_seeds else ():
            if per_sketch.get(s.sketch, 0) < cfg.sketch_seeds:
                per_sketch[s.sketch] = per_sketch.get(s.sketch, 0) + 1
                pop[key] = s
        for s in self._unseen_samples(cfg.population - len(pop), self.rng, set(pop)):
            pop[s.key] = s
        population = sorted(score(list(pop.values())), key=lambda t: -t[0])
        for _ in range(cfg.generations):
            parents = [s for _, s in population]
            # rank-based roulette (cumulative once: choices() would sum 2,048 weights a draw)
            cum = list(itertools.accumulate(np.linspace(1.0, 0.05, len(parents)).tolist()))
            keep = max(1, int(cfg.elite * cfg.population))
            children: dict[str, Schedule] = {s.key: s for s in parents[:keep]}
            tries = 0
            while len(children) < cfg.population and tries < 4 * cfg.population:
                tries += 1
                a = self.rng.choices(parents, cum_weights=cum)[0]
                if self.rng.random() < cfg.crossover:
                    b = self.rng.choices(parents, cum_weights=cum)[0]
                    child = crossover(a, b, self.compute, self.rng)
                else:
                    cacheable = self.space.cacheable.get(a.sketch, ())
                    child = mutate(a, self.compute, self.rng, cacheable)
                if child is not None and child.key not in children and self.space.valid(child):
                    children[child.key] = child
            population = sorted(score(list(children.values())), key=lambda t: -t[0])
        ranked = [s for _, s in sorted(scored.values(), key=lambda t: -t[0])
                  if s.key not in self.seen]  # fmt: skip
        explore = int(round(self.explore_share() * cfg.round_size))
        picks = cfg.round_size - explore
        out: dict[str, Schedule] = {}
        for s in self._spread(ranked, int(cfg.sketch_share * picks) if self.stale else 0):
            out[s.key] = s
        for s in ranked:
            if len(out) >= picks:
                break
            out.setdefault(s.key, s)
        for s in self._unseen_samples(cfg.round_size - len(out), self.rng, set(out)):
            out[s.key] = s
        return list(out.values())

    @staticmethod
    def _spread(ranked: list[Schedule], n: int) -> list[Schedule]:
        """Up to `n` of `ranked`, taking each sketch's next best in turn."""
        if n <= 0:
            return []
        by_sketch: dict[str, list[Schedule]] = {}
        for s in ranked:
            by_sketch.setdefault(s.sketch, []).append(s)
        out: list[Schedule] = []
        for row in itertools.zip_longest(*by_sketch.values()):
            out += [s for s in row if s is not None][: n - len(out)]
            if len(out) >= n:
                break
        return out

    # --- tell ------------------------------------------------------------------------------
    def _record(self, s: Schedule, lat: float | None) -> None:
        self.measured[s.key] = (s, lat)
        if lat is not None and (self.best is None or lat < self.best):
            self.best = lat

    def update(self, schedules, latencies) -> None:
        super().update(schedules, latencies)
        for s, lat in zip(schedules, latencies):
            self._record(s, lat)
        if self.learner is not None:
            self.learner.add(self.compute, self.target, self.workload_key, list(schedules),
                             list(latencies))  # fmt: skip
