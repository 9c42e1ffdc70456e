"""depthwise_conv2d in NHWC and NCHW: each channel convolved with its own k x k filter."""

from __future__ import annotations

import numpy as np

from search_spaces.compute import Axis, ComputeDef, Tensor
from search_spaces.expr import Read, Var
from search_spaces.ops.base import OpFamily, out_extent, require_positive_output


def _hw(p: dict[str, int]) -> tuple[int, int]:
    k, s, pad = p["kernel"], p["stride"], p["padding"]
    return out_extent(p["H"], k, s, pad), out_extent(p["W"], k, s, pad)


def define(p: dict[str, int], layout: str) -> ComputeDef:
    N, H, W, C, k, s, pad = (p[x] for x in ("N", "H", "W", "C", "kernel", "stride", "padding"))
    OH, OW = _hw(p)
    n, y, x, c, ry, rx = (Var(v) for v in ("n", "y", "x", "c", "ry", "rx"))
    iy, ix = y * s + ry - pad, x * s + rx - pad
    if layout == "NHWC":
        ins = (Tensor("data", (N, H, W, C)), Tensor("weight", (k, k, C)))
        out, axes = Tensor("out", (N, OH, OW, C)), (("n", N), ("y", OH), ("x", OW), ("c", C))
        body = Read("data", (n, iy, ix, c)) * Read("weight", (ry, rx, c))
    else:
        ins = (Tensor("data", (N, C, H, W)), Tensor("weight", (C, k, k)))
        out, axes = Tensor("out", (N, C, OH, OW)), (("n", N), ("c", C), ("y", OH), ("x", OW))
        body = Read("data", (n, c, iy, ix)) * Read("weight", (c, ry, rx))
    spatial = tuple(Axis(a, e) for a, e in axes)
    return ComputeDef("depthwise_conv2d", ins, out, spatial, (Axis("ry", k), Axis("rx", k)), body)


def reference(inputs: list[np.ndarray], p: dict[str, int], layout: str) -> np.ndarray:
    data, weight = (a.astype(np.float64) for a in inputs)
    k, s, pad = p["kernel"], p["stride"], p["padding"]
    OH, OW = _hw(p)
    if layout == "NCHW":
        data, weight = data.transpose(0, 2, 3, 1), weight.transpose(1, 2, 0)
    padded = np.pad(data, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    out = np.zeros((p["N"], OH, OW, p["C"]))
    for ty in range(k):
        for tx in range(k):
            patch = padded[:, ty : ty + s * (OH - 1) + 1 : s, tx : tx + s * (OW - 1) + 1 : s, :]
            out += patch * weight[ty, tx]
    return out.transpose(0, 3, 1, 2) if layout == "NCHW" else out


DEPTHWISE_CONV2D = OpFamily(
    name="depthwise_conv2d",
    params=("N", "H", "W", "C", "kernel", "stride", "padding"),
    defaults={"N": 1, "stride": 1, "padding": 0},
    layouts=("NHWC", "NCHW"),
    define=define,
    reference=reference,
    check=lambda p, layout: require_positive_output(OH=_hw(p)[0], OW=_hw(p)[1]),
)
