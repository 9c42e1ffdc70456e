"""conv2d in NHWC and NCHW, with stride, padding, dilation and groups (OPERATORS.md)."""

from __future__ import annotations

import numpy as np

from search_spaces.compute import Axis, ComputeDef, Tensor
from search_spaces.expr import Expr, Read, Var
from search_spaces.ops.base import OpFamily, ShapeError, out_extent, require_positive_output

PARAMS = ("N", "H", "W", "CI", "CO", "kernel", "stride", "padding", "dilation", "groups")
DEFAULTS = {"N": 1, "stride": 1, "padding": 0, "dilation": 1, "groups": 1}


def output_hw(p: dict[str, int]) -> tuple[int, int]:
    k, s, pad, d = p["kernel"], p["stride"], p["padding"], p["dilation"]
    return out_extent(p["H"], k, s, pad, d), out_extent(p["W"], k, s, pad, d)


def check(p: dict[str, int], layout: str) -> None:
    g = p["groups"]
    if p["CI"] % g or p["CO"] % g:
        raise ShapeError(f"CI={p['CI']} and CO={p['CO']} must both be divisible by groups={g}")
    oh, ow = output_hw(p)
    require_positive_output(OH=oh, OW=ow)


def define(p: dict[str, int], layout: str) -> ComputeDef:
    n_, H, W, CI, CO = p["N"], p["H"], p["W"], p["CI"], p["CO"]
    k, s, pad, d, G = p["kernel"], p["stride"], p["padding"], p["dilation"], p["groups"]
    OH, OW = output_hw(p)
    cig = CI // G
    n, y, x, co = Var("n"), Var("y"), Var("x"), Var("co")
    ry, rx, rc = Var("ry"), Var("rx"), Var("rc")
    iy: Expr = y * s + ry * d - pad
    ix: Expr = x * s + rx * d - pad
    ci: Expr = rc if G == 1 else (co // (CO // G)) * cig + rc
    reduce = (Axis("ry", k), Axis("rx", k), Axis("rc", cig))
    if layout == "NHWC":
        data, weight = Tensor("data", (n_, H, W, CI)), Tensor("weight", (k, k, cig, CO))
        out = Tensor("out", (n_, OH, OW, CO))
        spatial = (Axis("n", n_), Axis("y", OH), Axis("x", OW), Axis("co", CO))
        body = Read("data", (n, iy, ix, ci)) * Read("weight", (ry, rx, rc, co))
    else:
        data, weight = Tensor("data", (n_, CI, H, W)), Tensor("weight", (CO, cig, k, k))
        out = Tensor("out", (n_, CO, OH, OW))
        spatial = (Axis("n", n_), Axis("co", CO), Axis("y", OH), Axis("x", OW))
        body = Read("data", (n, ci, iy, ix)) * Read("weight", (co, rc, ry, rx))
    return ComputeDef("conv2d", (data, weight), out, spatial, reduce, body)


def reference(inputs: list[np.ndarray], p: dict[str, int], layout: str) -> np.ndarray:
    """Direct convolution in float64: a sum over kernel taps of strided slices."""
    data, weight = (a.astype(np.float64) for a in inputs)
    k, s, pad, d, G = p["kernel"], p["stride"], p["padding"], p["dilation"], p["groups"]
    OH, OW = output_hw(p)
    if layout == "NCHW":  # compute in NHWC, then move axes back
        data = data.transpose(0, 2, 3, 1)
        weight = weight.transpose(2, 3, 1, 0)
    padded = np.pad(data, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    cig, cog = p["CI"] // G, p["CO"] // G
    out = np.zeros((p["N"], OH, OW, p["CO"]))
    for ty in range(k):
        for tx in range(k):
            y0, x0 = ty * d, tx * d
            patch = padded[:, y0 : y0 + s * (OH - 1) + 1 : s, x0 : x0 + s * (OW - 1) + 1 : s, :]
            for g in range(G):
                w = weight[ty, tx, :, g * cog : (g + 1) * cog]
                out[..., g * cog : (g + 1) * cog] += patch[..., g * cig : (g + 1) * cig] @ w
    return out.transpose(0, 3, 1, 2) if layout == "NCHW" else out


CONV2D = OpFamily(
    name="conv2d",
    params=PARAMS,
    defaults=DEFAULTS,
    layouts=("NHWC", "NCHW"),
    define=define,
    reference=reference,
    check=check,
)
