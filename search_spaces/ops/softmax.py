"""softmax over rows, in three stages: row max, sum of exponentials, normalised exponentials."""

from __future__ import annotations

import numpy as np

from search_spaces.compute import Axis, ComputeDef, Tensor
from search_spaces.expr import Read, Var, call
from search_spaces.ops.base import OpFamily


def define(p: dict[str, int], layout: str) -> ComputeDef:
    M, N = p["M"], p["N"]
    i, j, k = Var("i"), Var("j"), Var("k")
    a, a_max, a_sum = Tensor("A", (M, N)), Tensor("A_max", (M,)), Tensor("A_sum", (M,))
    row_max = ComputeDef(
        "softmax_max", (a,), a_max, (Axis("i", M),), (Axis("k", N),), Read("A", (i, k)),
        combine="max",
    )  # fmt: skip
    row_sum = ComputeDef(
        "softmax_sum", (a, a_max), a_sum, (Axis("i", M),), (Axis("k", N),),
        call("exp", Read("A", (i, k)) - Read("A_max", (i,))),
    )  # fmt: skip
    return ComputeDef(
        "softmax",
        (a,),
        Tensor("S", (M, N)),
        (Axis("i", M), Axis("j", N)),
        (),
        call("exp", Read("A", (i, j)) - Read("A_max", (i,))) / Read("A_sum", (i,)),
        stages=(row_max, row_sum),
    )


def reference(inputs: list[np.ndarray], p: dict[str, int], layout: str) -> np.ndarray:
    a = inputs[0].astype(np.float64)
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


SOFTMAX = OpFamily(
    name="softmax",
    params=("M", "N"),
    defaults={},
    layouts=("",),
    define=define,
    reference=reference,
)
