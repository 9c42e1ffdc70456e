"""The cost model: ranks candidates of a workload by predicted throughput.

One small interface (`CostModel`) and one implementation (XGBoost, trained for pairwise
ranking within each workload on throughput normalised per workload). A model serves every
workload of a device family: features carry the workload's and the device's traits.
"""

from __future__ import annotations

import json
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from costmodel.features import N_FEATURES, feature_names


@dataclass(frozen=True)
class Sample:
    """One measured candidate: its features, its workload, and its throughput (FLOP/s; 0
    when it failed)."""

    features: np.ndarray
    workload: str
    throughput: float


def normalised(samples: Sequence[Sample]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, labels in [0, 1] = throughput / best of its workload, group ids), sorted by
    workload so that groups are contiguous (XGBoost's ranking objectives need that)."""
    order = sorted(range(len(samples)), key=lambda i: samples[i].workload)
    best: dict[str, float] = {}
    for s in samples:
        best[s.workload] = max(best.get(s.workload, 0.0), s.throughput)
    groups = {w: g for g, w in enumerate(sorted(best))}
    x = np.stack([samples[i].features for i in order]).astype(np.float32)
    y = np.array(
        [samples[i].throughput / best[samples[i].workload] if best[samples[i].workload] else 0.0
         for i in order], dtype=np.float32)  # fmt: skip
    qid = np.array([groups[samples[i].workload] for i in order], dtype=np.int64)
    return x, y, qid


class CostModel(ABC):
    """Predicts a score per candidate; higher means faster. Only the order within one
    workload is meaningful."""

    @abstractmethod
    def fit(self, samples: Sequence[Sample]) -> None: ...

    @abstractmethod
    def predict(self, features: np.ndarray) -> np.ndarray: ...

    @property
    @abstractmethod
    def trained(self) -> bool: ...

    @abstractmethod
    def to_bytes(self) -> bytes: ...


class XGBoostModel(CostModel):
    """Gradient-boosted trees with XGBoost's pairwise ranking objective.

    `base` (a model loaded from the database) gives a warm start: until this run has data of
    its own the base model ranks alone, and each retraining adds `rounds` trees on top of it.
    Once a warm model has `max_trees` trees, retraining starts from this run's data alone, so
    models saved run after run do not grow without bound.
    """

    def __init__(self, rounds: int = 120, base: bytes | None = None, seed: int = 0,
                 threads: int | None = None):  # fmt: skip
        import xgboost as xgb

        self._xgb = xgb
        self.rounds, self.seed = rounds, seed
        self.max_trees = 6 * rounds
        self.threads = threads or min(os.cpu_count() or 1, 16)
        self.params = {
            "objective": "rank:pairwise",
            "eta": 0.2,
            "max_depth": 6,
            "min_child_weight": 1.0,
            "subsample": 0.9,
            "lambda": 1.0,
            "lambdarank_num_pair_per_sample": 8,
            "lambdarank_pair_method": "mean",
            "nthread": self.threads,
            "seed": seed,
            "verbosity": 0,
        }
        self.base = self._load(base) if base else None
        self.booster = self.base
        self.fit_s = 0.0

    def _load(self, blob: bytes):
        meta, _, raw = blob.partition(b"\n")
        info = json.loads(meta)
        if info.get("features") != feature_names():
            raise ValueError("the stored cost model was trained on other features; retrain it")
        booster = self._xgb.Booster()
        booster.load_model(bytearray(raw))
        booster.set_param({"nthread": self.threads})
        return booster

    @property
    def trained(self) -> bool:
        return self.booster is not None

    def fit(self, samples: Sequence[Sample]) -> None:
        if len(samples) < 2:
            return
        t0 = time.perf_counter()
        x, y, qid = normalised(samples)
        dtrain = self._xgb.DMatrix(x, label=y, qid=qid, feature_names=feature_names())
        base = self.base
        if base is not None and base.num_boosted_rounds() + self.rounds > self.max_trees:
            base = None  # the warm model has grown enough: this run's data alone from here
        self.booster = self._xgb.train(
            self.params, dtrain, num_boost_round=self.rounds, xgb_model=base
        )
        self.fit_s = time.perf_counter() - t0

    def predict(self, features: np.ndarray) -> np.ndarray:
        features = np.asarray(features, dtype=np.float32).reshape(-1, N_FEATURES)
        if self.booster is None:
            return np.zeros(len(features), dtype=np.float32)
        d = self._xgb.DMatrix(features, feature_names=feature_names())
        return self.booster.predict(d)

    def to_bytes(self) -> bytes:
        if self.booster is None:
            raise ValueError("an untrained model has nothing to save")
        meta = json.dumps({"kind": "xgboost-rank", "features": feature_names()}).encode()
        return meta + b"\n" + bytes(self.booster.save_raw("ubj"))


def pairwise_accuracy(scores: np.ndarray, truth: np.ndarray, groups: np.ndarray) -> float:
    """The share of pairs (same group, different truth) that the scores order correctly."""
    right = total = 0
    for g in np.unique(groups):
        m = groups == g
        s, t = scores[m], truth[m]
        ds = np.sign(s[:, None] - s[None, :])
        dt = np.sign(t[:, None] - t[None, :])
        mask = dt != 0
        right += int(((ds == dt) & mask).sum())
        total += int(mask.sum())
    return right / total if total else float("nan")


def recall_at(scores: np.ndarray, truth: np.ndarray, groups: np.ndarray, top: int = 10,
              within: int = 64) -> float:  # fmt: skip
    """Mean over groups of |true top `top` ∩ predicted top `within`| / `top`."""
    out = []
    for g in np.unique(groups):
        m = np.flatnonzero(groups == g)
        if len(m) <= within:
            continue
        true_top = set(m[np.argsort(-truth[m], kind="stable")[:top]])
        pred_top = set(m[np.argsort(-scores[m], kind="stable")[:within]])
        out.append(len(true_top & pred_top) / top)
    return float(np.mean(out)) if out else float("nan")
