"""matmul: Z[b, i, j] = sum_k X[b, i, k] * Y[b, k, j]."""

from __future__ import annotations

import numpy as np

from search_spaces.compute import Axis, ComputeDef, Tensor
from search_spaces.expr import Read, Var
from search_spaces.ops.base import OpFamily


def define(p: dict[str, int], layout: str) -> ComputeDef:
    B, M, N, K = p["B"], p["M"], p["N"], p["K"]
    b, i, j, k = Var("b"), Var("i"), Var("j"), Var("k")
    return ComputeDef(
        op="matmul",
        inputs=(Tensor("X", (B, M, K)), Tensor("Y", (B, K, N))),
        output=Tensor("Z", (B, M, N)),
        spatial=(Axis("b", B), Axis("i", M), Axis("j", N)),
        reduce=(Axis("k", K),),
        body=Read("X", (b, i, k)) * Read("Y", (b, k, j)),
    )


def reference(inputs: list[np.ndarray], p: dict[str, int], layout: str) -> np.ndarray:
    x, y = inputs
    return np.matmul(x.astype(np.float64), y.astype(np.float64))


MATMUL = OpFamily(
    name="matmul",
    params=("B", "M", "N", "K"),
    defaults={"B": 1},
    layouts=("",),
    define=define,
    reference=reference,
)
