"""Features read from the lowered IR: defined for every operator, and they see the schedule."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest

from costmodel import N_FEATURES, feature_names, features
from measure.catalog import CATALOG
from search_spaces import Schedule, Workload, check, sample
from tests.search_spaces.shapes import CASES

NAMES = feature_names()


def f(w: Workload, s: Schedule, target) -> dict[str, float]:
    return dict(zip(NAMES, features(w.compute, s, target)))


@pytest.mark.parametrize("op,layout,shape,odd", CASES)
@pytest.mark.parametrize("target", ["pocl-cpu", "h100"])
def test_every_op_has_finite_features(op, layout, shape, odd, target):
    t = CATALOG[target]
    rng = random.Random(0)
    for text in (shape, odd):
        w = Workload.parse(op, text + (f",layout={layout}" if layout else ""))
        rows = [features(w.compute, sample(w.compute, t, rng), t) for _ in range(5)]
        assert all(r.shape == (N_FEATURES,) and np.isfinite(r).all() for r in rows)
        assert len({r.tobytes() for r in rows}) > 1  # schedules differ, so do their features


def test_features_follow_the_schedule():
    w = Workload.parse("matmul", "M=256,N=256,K=256")
    t = CATALOG["h100"]
    base = Schedule("tile_cache", ((1, 1, 1), (2, 16, 4), (2, 16, 4)), (8,), 1, 0, ("X", "Y"))
    assert check(w.compute, base, t) is None
    plain = f(w, replace(base, sketch="tile", cache=()), t)
    cached = f(w, base, t)
    assert plain["local_bytes"] == 0 and cached["local_bytes"] > 0
    assert plain["barriers"] == 0 and cached["barriers"] > 0
    assert cached["wi_gload_elems"] < plain["wi_gload_elems"]  # staging fetches less per item
    wide = f(w, replace(base, vector=4), t)
    assert wide["gstore_width"] == 4 and cached["gstore_width"] == 1
    more = f(w, replace(base, spatial=((1, 1, 1), (2, 16, 8), (2, 16, 4))), t)
    assert more["accumulators"] > cached["accumulators"]
    assert more["groups"] < cached["groups"]
    assert cached["dev_gpu"] == 1 and f(w, replace(base, sketch="tile", cache=()),
                                        CATALOG["pocl-cpu"])["dev_gpu"] == 0  # fmt: skip
