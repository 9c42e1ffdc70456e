"""One cost model shared by the workloads of a run on one device family.

It collects (features, throughput) samples as measurements arrive and retrains the model
lazily, when it is asked to rank and new samples came in since the last fit.
"""

from __future__ import annotations

import numpy as np

from costmodel import CostModel, Sample, features
from search_spaces import ComputeDef, Schedule, Target


class Learner:
    def __init__(self, model: CostModel, min_samples: int = 16):
        self.model = model
        self.min_samples = min_samples
        self.samples: list[Sample] = []
        self._fitted_on = 0
        self._features: dict[tuple[str, str], np.ndarray] = {}
        self.fits = 0
        self.fit_s = 0.0

    def features(self, compute: ComputeDef, target: Target, workload_key: str,
                 schedules: list[Schedule]) -> np.ndarray:  # fmt: skip
        """Feature rows of `schedules` (cached by workload and schedule)."""
        rows = []
        for s in schedules:
            k = (workload_key, s.key)
            f = self._features.get(k)
            if f is None:
                f = self._features[k] = features(compute, s, target)
            rows.append(f)
        return np.stack(rows) if rows else np.zeros((0, 0), dtype=np.float32)

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
