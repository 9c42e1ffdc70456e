"""conv1d in NLC.

out[n, l, co] = sum_{r, ci} pad(data)[n, l*s + r*d - p, ci] * weight[r, ci, co].
"""

from __future__ import annotations

import numpy as np

from search_spaces.compute import Axis, ComputeDef, Tensor
from search_spaces.expr import Read, Var
from search_spaces.ops.base import OpFamily, out_extent, require_positive_output


def _ol(p: dict[str, int]) -> int:
    return out_extent(p["L"], p["kernel"], p["stride"], p["padding"], p["dilation"])


def define(p: dict[str, int], layout: str) -> ComputeDef:
    k, s, pad, d = p["kernel"], p["stride"], p["padding"], p["dilation"]
    n, ll, co, r, ci = Var("n"), Var("l"), Var("co"), Var("r"), Var("ci")
    return ComputeDef(
        "conv1d",
        (Tensor("data", (p["N"], p["L"], p["CI"])), Tensor("weight", (k, p["CI"], p["CO"]))),
        Tensor("out", (p["N"], _ol(p), p["CO"])),
        (Axis("n", p["N"]), Axis("l", _ol(p)), Axis("co", p["CO"])),
        (Axis("r", k), Axis("ci", p["CI"])),
        Read("data", (n, ll * s + r * d - pad, ci)) * Read("weight", (r, ci, co)),
    )


def reference(inputs: list[np.ndarray], p: dict[str, int], layout: str) -> np.ndarray:
    data, weight = (a.astype(np.float64) for a in inputs)
    k, s, pad, d, ol = p["kernel"], p["stride"], p["padding"], p["dilation"], _ol(p)
    padded = np.pad(data, ((0, 0), (pad, pad), (0, 0)))
    out = np.zeros((p["N"], ol, p["CO"]))
    for r in range(k):
        out += padded[:, r * d : r * d + s * (ol - 1) + 1 : s, :] @ weight[r]
    return out


CONV1D = OpFamily(
    name="conv1d",
    params=("N", "L", "CI", "CO", "kernel", "stride", "padding", "dilation"),
    defaults={"N": 1, "stride": 1, "padding": 0, "dilation": 1},
    layouts=("NLC",),
    define=define,
    reference=reference,
    check=lambda p, layout: require_positive_output(OL=_ol(p)),
)
