"""One cost model shared by the workloads of a run on one device family.

It collects (features, throughput) samples as measurements arrive and retrains the model
lazily, when it is asked to rank and new samples came in since the last fit.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from costmodel import CostModel, Sample, features
from search_spaces import ComputeDef, Schedule, Target

PARALLEL_FROM = 256  # featurise batches at least this large in worker processes


def _featurise(compute: ComputeDef, target: Target, schedules: list[Schedule]) -> list:
    return [features(compute, s, target) for s in schedules]


class Learner:
    def __init__(self, model: CostModel, min_samples: int = 16, workers: int | None = None):
        self.model = model
        self.min_samples = min_samples
        self.samples: list[Sample] = []
        self._fitted_on = 0
        self._features: dict[tuple[str, str], np.ndarray] = {}
        self.fits = 0
        self.fit_s = 0.0
        self.workers = workers if workers is not None else min(os.cpu_count() or 1, 16)
        self._pool: ProcessPoolExecutor | None = None

    def features(self, compute: ComputeDef, target: Target, workload_key: str,
                 schedules: list[Schedule]) -> np.ndarray:  # fmt: skip
        """Feature rows of `schedules` (cached by workload and schedule). Large batches are
        lowered and featurised in parallel processes."""
        missing = {s.key: s for s in schedules if (workload_key, s.key) not in self._features}
        todo = list(missing.values())
        if len(todo) >= PARALLEL_FROM and self.workers > 1:
            chunks = [todo[i :: self.workers] for i in range(self.workers)]
            pool = self._executor()
            jobs = [pool.submit(_featurise, compute, target, c) for c in chunks]
            for chunk, job in zip(chunks, jobs):
                for s, row in zip(chunk, job.result()):
                    self._features[(workload_key, s.key)] = row
        else:
            for s in todo:
                self._features[(workload_key, s.key)] = features(compute, s, target)
        rows = [self._features[(workload_key, s.key)] for s in schedules]
        return np.stack(rows) if rows else np.zeros((0, 0), dtype=np.float32)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            ctx = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def add(self, compute: ComputeDef, target: Target, workload_key: str,
            schedules: list[Schedule], latencies: list[float | None]) -> None:  # fmt: skip
        x = self.features(compute, target, workload_key, schedules)
        for row, lat in zip(x, latencies):
            tput = compute.flops / lat if lat else 0.0
            self.samples.append(Sample(row, workload_key, tput))

    @property
    def ready(self) -> bool:
        """Can rank: a model loaded warm, or enough samples of this run to train one."""
        return self.model.trained or len(self.samples) >= self.min_samples

    def predict(self, x: np.ndarray) -> np.ndarray:
        if len(self.samples) >= self.min_samples and len(self.samples) > self._fitted_on:
            self.model.fit(self.samples)
            self._fitted_on = len(self.samples)
            self.fits += 1
            self.fit_s += getattr(self.model, "fit_s", 0.0)
        return self.model.predict(x)
