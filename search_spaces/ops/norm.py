"""norm: D[b] = sqrt(sum_{i, j} A[b, i, j]^2)."""

from __future__ import annotations

import numpy as np

from search_spaces.compute import Axis, ComputeDef, Tensor
from search_spaces.expr import Acc, Read, Var, call
from search_spaces.ops.base import OpFamily


def define(p: dict[str, int], layout: str) -> ComputeDef:
    B, M, N = p["B"], p["M"], p["N"]
    a = Read("A", (Var("b"), Var("i"), Var("j")))
    return ComputeDef(
        "norm",
        (Tensor("A", (B, M, N)),),
        Tensor("D", (B,)),
        (Axis("b", B),),
        (Axis("i", M), Axis("j", N)),
        a * a,
        epilogue=call("sqrt", Acc()),
    )


def reference(inputs: list[np.ndarray], p: dict[str, int], layout: str) -> np.ndarray:
    (a,) = inputs
    return np.sqrt(np.square(a.astype(np.float64)).sum(axis=(1, 2)))


NORM = OpFamily(
    name="norm",
    params=("B", "M", "N"),
    defaults={"B": 1},
    layouts=("",),
    define=define,
    reference=reference,
)
