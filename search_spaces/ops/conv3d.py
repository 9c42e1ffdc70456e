"""conv3d in NDHWC (OPERATORS.md)."""

from __future__ import annotations

import numpy as np

from search_spaces.compute import Axis, ComputeDef, Tensor
from search_spaces.expr import Read, Var
from search_spaces.ops.base import OpFamily, out_extent, require_positive_output


def _out(p: dict[str, int]) -> tuple[int, int, int]:
    k, s, pad = p["kernel"], p["stride"], p["padding"]
    return tuple(out_extent(p[d], k, s, pad) for d in ("D", "H", "W"))  # type: ignore[return-value]


def define(p: dict[str, int], layout: str) -> ComputeDef:
    k, s, pad = p["kernel"], p["stride"], p["padding"]
    od, oh, ow = _out(p)
    n, z, y, x, co = (Var(v) for v in ("n", "z", "y", "x", "co"))
    rz, ry, rx, ci = (Var(v) for v in ("rz", "ry", "rx", "ci"))
    return ComputeDef(
        "conv3d",
        (
            Tensor("data", (p["N"], p["D"], p["H"], p["W"], p["CI"])),
            Tensor("weight", (k, k, k, p["CI"], p["CO"])),
        ),
        Tensor("out", (p["N"], od, oh, ow, p["CO"])),
        tuple(
            Axis(a, e) for a, e in zip(("n", "z", "y", "x", "co"), (p["N"], od, oh, ow, p["CO"]))
        ),
        (Axis("rz", k), Axis("ry", k), Axis("rx", k), Axis("ci", p["CI"])),
        Read("data", (n, z * s + rz - pad, y * s + ry - pad, x * s + rx - pad, ci))
        * Read("weight", (rz, ry, rx, ci, co)),
    )


def reference(inputs: list[np.ndarray], p: dict[str, int], layout: str) -> np.ndarray:
    data, weight = (a.astype(np.float64) for a in inputs)
    k, s, pad = p["kernel"], p["stride"], p["padding"]
    od, oh, ow = _out(p)
    padded = np.pad(data, ((0, 0), (pad, pad), (pad, pad), (pad, pad), (0, 0)))
    out = np.zeros((p["N"], od, oh, ow, p["CO"]))
    for tz in range(k):
        for ty in range(k):
            for tx in range(k):
                patch = padded[
                    :,
                    tz : tz + s * (od - 1) + 1 : s,
                    ty : ty + s * (oh - 1) + 1 : s,
                    tx : tx + s * (ow - 1) + 1 : s,
                ]
                out += patch @ weight[tz, ty, tx]
    return out


def check(p: dict[str, int], layout: str) -> None:
    od, oh, ow = _out(p)
    require_positive_output(OD=od, OH=oh, OW=ow)


CONV3D = OpFamily(
    name="conv3d",
    params=("N", "D", "H", "W", "CI", "CO", "kernel", "stride", "padding"),
    defaults={"N": 1, "stride": 1, "padding": 0},
    layouts=("NDHWC",),
    define=define,
    reference=reference,
    check=check,
)
