"""Optuna's TPE sampler as a search policy (a baseline beside random and evolutionary search).

Each schedule parameter is a categorical choice: the sketch, then per sketch each spatial
axis's (vthread, thread, inner) factors among the divisors of its extent (up to 8, 256 and 16),
each reduction's inner factor (up to 64), vector width (narrowed to one that divides the inner
tile), unroll and the staged inputs. Optuna is told the log latency to
minimise. A suggestion that is invalid on the target, outside a replay pool, or already
measured is told at once (a penalty, or its known value) and never measured.
"""

from __future__ import annotations

import math
from itertools import combinations

from search_spaces import Schedule
from search_spaces.sketches.base import TILE_UNROLLS, UNROLLS
from search_spaces.tiling import VECTOR_WIDTHS
from tuner.strategies.base import SearchPolicy

PENALTY = 5.0  # added to the worst log-latency seen, for failed and invalid candidates


def divisors(n: int, cap: int | None = None) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0 and (cap is None or d <= cap)]


def subsets(items: tuple[str, ...]) -> list[str]:
    out = []
    for k in range(1, len(items) + 1):
        out += [",".join(c) for c in combinations(items, k)]
    return out


class OptunaTPE(SearchPolicy):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        sampler = optuna.samplers.TPESampler(seed=self.seed, n_startup_trials=16)
        self.study = optuna.create_study(direction="minimize", sampler=sampler)
        self.open: dict[str, list] = {}  # schedule key -> optuna trials waiting for its result
        self.known: dict[str, float] = {}
        self.worst: float | None = None
        for s, lat in self.history:
            if lat:
                self._note(s.key, math.log(lat))

    def _note(self, key: str, value: float) -> None:
        self.known[key] = value
        self.worst = value if self.worst is None else max(self.worst, value)

    def _penalty(self) -> float:
        return (self.worst if self.worst is not None else 0.0) + PENALTY

    def _suggest(self, trial) -> Schedule:
        c, t = self.compute, self.target
        sketch = trial.suggest_categorical("sketch", list(self.space.sketch_names))
        if sketch == "xthread":
            top = t.max_threads.bit_length() - 1
            threads = trial.suggest_categorical("x.threads", [2**b for b in range(top + 1)])
            spatial = tuple(
                (1, 1, trial.suggest_categorical(f"x.rows{i}", divisors(a.extent, 64)))
                for i, a in enumerate(c.spatial)
            )
            return Schedule("xthread", spatial, tuple(1 for _ in c.reduce),
                            unroll=trial.suggest_categorical("x.unroll", list(UNROLLS)),
                            threads=threads)  # fmt: skip
        spatial = []
        for i, a in enumerate(c.spatial):
            spatial.append(tuple(
                trial.suggest_categorical(f"{sketch}.s{i}.{lvl}", divisors(a.extent, cap))
                for lvl, cap in (("v", 8), ("t", min(t.max_threads, 256)), ("i", 16))
            ))  # fmt: skip
        reduce = tuple(trial.suggest_categorical(f"{sketch}.r{i}", divisors(a.extent, 64))
                       for i, a in enumerate(c.reduce))  # fmt: skip
        widths = [w for w in VECTOR_WIDTHS if c.spatial[-1].extent % w == 0]
        vector = trial.suggest_categorical(f"{sketch}.vector", widths)
        vector = max(w for w in widths if w <= vector and spatial[-1][2] % w == 0)
        unroll = trial.suggest_categorical(f"{sketch}.unroll", list(TILE_UNROLLS))
        cache: tuple[str, ...] = ()
        cache_t: tuple[str, ...] = ()
        cacheable = self.space.cacheable.get(sketch, ())
        if sketch == "tile_cache" and cacheable:
            cache = tuple(trial.suggest_categorical("cache", subsets(cacheable)).split(","))
            pick = trial.suggest_categorical("cache_t", ["", *subsets(cacheable)])
            cache_t = tuple(x for x in pick.split(",") if x and x in cache)
        return Schedule(sketch, tuple(spatial), reduce, vector, unroll, cache, 0, cache_t)

    def propose(self, n: int) -> list[Schedule]:
        out: dict[str, Schedule] = {}
        for _ in range(100 * n):
            if len(out) == n:
                break
            trial = self.study.ask()
            s = self._suggest(trial)
            if s.key in self.known:
                self.study.tell(trial, self.known[s.key])
            elif s.key in self.seen or not self.space.valid(s):
                self.study.tell(trial, self._penalty())
            elif s.key in out:
                self.open[s.key].append(trial)
            else:
                out[s.key] = s
                self.open[s.key] = [trial]
        self.seen.update(out)
        return list(out.values())

    def update(self, schedules, latencies) -> None:
        super().update(schedules, latencies)
        for s, lat in zip(schedules, latencies):
            if lat:
                self._note(s.key, math.log(lat))
            else:
                self.known[s.key] = self._penalty()
            final = self.known[s.key]
            for trial in self.open.pop(s.key, []):
                self.study.tell(trial, final)
