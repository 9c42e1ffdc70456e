"""conv2d_transpose (PyTorch's conv_transpose2d) in NHWC and NCHW.

Written output-centric: out[y] sums taps ry whose source row h = (y + padding - ry) / stride is
a whole number inside the input, as a masked read.
"""

from __future__ import annotations

import numpy as np

from search_spaces.compute import Axis, ComputeDef, Tensor
from search_spaces.expr import Bin, Const, Expr, Read, Var, Where
from search_spaces.ops.base import OpFamily, require_positive_output


def _hw(p: dict[str, int]) -> tuple[int, int]:
    k, s, pad = p["kernel"], p["stride"], p["padding"]
    return (p["H"] - 1) * s - 2 * pad + k, (p["W"] - 1) * s - 2 * pad + k


def source_index(o: Var, r: Var, k: int, s: int, pad: int) -> tuple[Expr, Expr | None]:
    """The input index feeding output `o` through tap `r`, and the divisibility condition.

    The numerator o + pad - r is shifted by a multiple of the stride so that it is never
    negative (generated kernels divide with C's truncating division).
    """
    shift = s * max(0, -(-(k - 1 - pad) // s))
    num = o + (pad + shift) - r
    if s == 1:
        return num - shift, None
    return num // s - shift // s, Bin("==", num % s, Const(0))


def define(p: dict[str, int], layout: str) -> ComputeDef:
    N, H, W, CI, CO = (p[x] for x in ("N", "H", "W", "CI", "CO"))
    k, s, pad = p["kernel"], p["stride"], p["padding"]
    OH, OW = _hw(p)
    n, y, x, co, ry, rx, ci = (Var(v) for v in ("n", "y", "x", "co", "ry", "rx", "ci"))
    h, cond_h = source_index(y, ry, k, s, pad)
    w, cond_w = source_index(x, rx, k, s, pad)
    if layout == "NHWC":
        ins = (Tensor("data", (N, H, W, CI)), Tensor("weight", (k, k, CI, CO)))
        out, axes = Tensor("out", (N, OH, OW, CO)), (("n", N), ("y", OH), ("x", OW), ("co", CO))
        src, wgt = Read("data", (n, h, w, ci)), Read("weight", (ry, rx, ci, co))
    else:
        ins = (Tensor("data", (N, CI, H, W)), Tensor("weight", (CI, CO, k, k)))
        out, axes = Tensor("out", (N, CO, OH, OW)), (("n", N), ("co", CO), ("y", OH), ("x", OW))
        src, wgt = Read("data", (n, ci, h, w)), Read("weight", (ci, co, ry, rx))
    conds = [c for c in (cond_h, cond_w) if c is not None]
    masked: Expr = src
    if conds:
        cond = conds[0] if len(conds) == 1 else Bin("&&", conds[0], conds[1])
        masked = Where(cond, src, Const(0.0))
    spatial = tuple(Axis(a, e) for a, e in axes)
    reduce = (Axis("ry", k), Axis("rx", k), Axis("ci", CI))
    return ComputeDef("conv2d_transpose", ins, out, spatial, reduce, masked * wgt)


def reference(inputs: list[np.ndarray], p: dict[str, int], layout: str) -> np.ndarray:
    """Scatter each input pixel through the kernel into a full-size output, then crop."""
    data, weight = (a.astype(np.float64) for a in inputs)
    k, s, pad = p["kernel"], p["stride"], p["padding"]
    H, W = p["H"], p["W"]
    OH, OW = _hw(p)
    if layout == "NCHW":
        data, weight = data.transpose(0, 2, 3, 1), weight.transpose(2, 3, 0, 1)
    full = np.zeros((p["N"], (H - 1) * s + k, (W - 1) * s + k, p["CO"]))
    for ty in range(k):
        for tx in range(k):
            full[:, ty : ty + (H - 1) * s + 1 : s, tx : tx + (W - 1) * s + 1 : s, :] += (
                data @ weight[ty, tx]
            )
    out = full[:, pad : pad + OH, pad : pad + OW, :]
    return out.transpose(0, 3, 1, 2) if layout == "NCHW" else out


def check(p: dict[str, int], layout: str) -> None:
    OH, OW = _hw(p)
    require_positive_output(OH=OH, OW=OW)


CONV2D_TRANSPOSE = OpFamily(
    name="conv2d_transpose",
    params=("N", "H", "W", "CI", "CO", "kernel", "stride", "padding"),
    defaults={"N": 1, "stride": 1, "padding": 0},
    layouts=("NHWC", "NCHW"),
    define=define,
    reference=reference,
    check=check,
)
