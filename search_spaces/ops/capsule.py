"""conv2d_capsule in NHWIJC: convolution over capsule matrices (C x C) per pixel."""

from __future__ import annotations

import numpy as np

from search_spaces.compute import Axis, ComputeDef, Tensor
from search_spaces.expr import Read, Var
from search_spaces.ops.base import OpFamily, out_extent, require_positive_output


def _hw(p: dict[str, int]) -> tuple[int, int]:
    k, s, pad = p["kernel"], p["stride"], p["padding"]
    return out_extent(p["H"], k, s, pad), out_extent(p["W"], k, s, pad)


def define(p: dict[str, int], layout: str) -> ComputeDef:
    N, H, W, CI, CO = (p[x] for x in ("N", "H", "W", "CI", "CO"))
    k, s, pad, C = p["kernel"], p["stride"], p["padding"], p["capsule_size"]
    OH, OW = _hw(p)
    n, y, x, i, j, co = (Var(v) for v in ("n", "y", "x", "cap_i", "cap_j", "co"))
    ry, rx, ck, ci = (Var(v) for v in ("ry", "rx", "cap_k", "ci"))
    spatial = (("n", N), ("y", OH), ("x", OW), ("cap_i", C), ("cap_j", C), ("co", CO))
    return ComputeDef(
        "conv2d_capsule",
        (Tensor("data", (N, H, W, C, C, CI)), Tensor("weight", (k, k, C, C, CI, CO))),
        Tensor("out", (N, OH, OW, C, C, CO)),
        tuple(Axis(a, e) for a, e in spatial),
        (Axis("ry", k), Axis("rx", k), Axis("cap_k", C), Axis("ci", CI)),
        Read("data", (n, y * s + ry - pad, x * s + rx - pad, i, ck, ci))
        * Read("weight", (ry, rx, ck, j, ci, co)),
    )


def reference(inputs: list[np.ndarray], p: dict[str, int], layout: str) -> np.ndarray:
    data, weight = (a.astype(np.float64) for a in inputs)
    k, s, pad = p["kernel"], p["stride"], p["padding"]
    OH, OW = _hw(p)
    padded = np.pad(data, ((0, 0), (pad, pad), (pad, pad), (0, 0), (0, 0), (0, 0)))
    out = 0.0
    for ty in range(k):
        for tx in range(k):
            patch = padded[:, ty : ty + s * (OH - 1) + 1 : s, tx : tx + s * (OW - 1) + 1 : s]
            out = out + np.einsum("nyxikc,kjco->nyxijo", patch, weight[ty, tx])
    return out


CONV2D_CAPSULE = OpFamily(
    name="conv2d_capsule",
    params=("N", "H", "W", "CI", "CO", "kernel", "stride", "padding", "capsule_size"),
    defaults={"N": 1, "stride": 1, "padding": 0, "capsule_size": 4},
    layouts=("NHWIJC",),
    define=define,
    reference=reference,
    check=lambda p, layout: require_positive_output(OH=_hw(p)[0], OW=_hw(p)[1]),
)
