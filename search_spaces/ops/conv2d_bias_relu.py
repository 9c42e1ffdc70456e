"""conv2d_bias_relu: conv2d with the bias add and ReLU fused as an epilogue."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from search_spaces.compute import ComputeDef, Tensor
from search_spaces.expr import Acc, Read, Var, call
from search_spaces.ops import conv2d
from search_spaces.ops.base import OpFamily


def define(p: dict[str, int], layout: str) -> ComputeDef:
    conv = conv2d.define(p, layout)
    return replace(
        conv,
        op="conv2d_bias_relu",
        inputs=(*conv.inputs, Tensor("bias", (p["CO"],))),
        epilogue=call("fmax", Acc() + Read("bias", (Var("co"),)), 0.0),
    )


def reference(inputs: list[np.ndarray], p: dict[str, int], layout: str) -> np.ndarray:
    data, weight, bias = inputs
    out = conv2d.reference([data, weight], p, layout)
    shape = (1, -1, 1, 1) if layout == "NCHW" else (1, 1, 1, -1)
    return np.maximum(out + bias.astype(np.float64).reshape(shape), 0.0)


CONV2D_BIAS_RELU = OpFamily(
    name="conv2d_bias_relu",
    params=conv2d.PARAMS,
    defaults=conv2d.DEFAULTS,
    layouts=("NHWC", "NCHW"),
    define=define,
    reference=reference,
    check=conv2d.check,
)
