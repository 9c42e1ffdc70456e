"""Workloads from an ONNX model: its Conv, MatMul and Gemm nodes, at the shapes the model gives
them (after ONNX shape inference), deduplicated.

Conv (NCHW, square kernel, equal strides, dilations and symmetric pads) becomes `conv2d` with its
groups, or `depthwise_conv2d` when every channel is its own group. MatMul becomes `matmul` (a
batch of matrices where both sides have it; a batch on the left side only folds into M). Gemm
becomes `matmul` of its M, N and K (alpha, beta and the bias add are not part of the workload).
A node the operators cannot express is skipped with the reason, never silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from search_spaces import ShapeError, Workload


class ModelError(ValueError):
    """The file is not an ONNX model that can be read."""


@dataclass(frozen=True)
class Imported:
    workloads: tuple[Workload, ...]  # deduplicated, in model order
    skipped: tuple[str, ...]  # "node (op): why" for each node left out


def workloads_from_onnx(path: str | Path) -> Imported:
    import onnx
    from onnx import shape_inference

    try:
        model = onnx.load(str(path))
        model = shape_inference.infer_shapes(model)
    except FileNotFoundError:
        raise ModelError(f"no such ONNX model: {path}") from None
    except Exception as e:  # onnx raises DecodeError, ValidationError, ...
        raise ModelError(f"cannot read ONNX model {path}: {e}") from None
    graph = model.graph
    shapes: dict[str, list[int | None]] = {}
    for v in [*graph.input, *graph.value_info, *graph.output]:
        dims = v.type.tensor_type.shape.dim
        shapes[v.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    for t in graph.initializer:
        shapes[t.name] = list(t.dims)

    found: dict[str, Workload] = {}
    skipped = []
    for i, node in enumerate(graph.node):
        if node.op_type not in CONVERTERS:
            continue
        label = f"{node.name or f'node {i}'} ({node.op_type})"
        ins = [shapes.get(name) for name in node.input]
        if any(s is None or None in s for s in ins[:2]):
            skipped.append(f"{label}: its input shapes are not all known")
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        try:
            w = CONVERTERS[node.op_type](ins, attrs)
        except (Unsupported, ShapeError) as e:
            skipped.append(f"{label}: {e}")
            continue
        found.setdefault(w.key, w)
    return Imported(tuple(found.values()), tuple(skipped))


class Unsupported(ValueError):
    pass


def _conv(ins, attrs) -> Workload:
    x, wt = ins[0], ins[1]
    if len(x) != 4:
        raise Unsupported(f"only 2-D convolutions (input rank {len(x)})")
    n, ci, h, w = x
    co, _, kh, kw = wt
    if kh != kw:
        raise Unsupported(f"kernel {kh}x{kw} is not square")
    strides = attrs.get("strides", [1, 1])
    dilations = attrs.get("dilations", [1, 1])
    if len(set(strides)) != 1 or len(set(dilations)) != 1:
        raise Unsupported(f"strides {strides} or dilations {dilations} differ by axis")
    stride, dilation = strides[0], dilations[0]
    auto = attrs.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        total = [max(0, (math.ceil(d / stride) - 1) * stride + dilation * (kh - 1) + 1 - d)
                 for d in (h, w)]  # fmt: skip
        if any(t % 2 for t in total):
            raise Unsupported(f"auto_pad {auto} pads unevenly")
        pads = [total[0] // 2, total[1] // 2] * 2
    elif auto == "VALID":
        pads = [0, 0, 0, 0]
    else:
        pads = attrs.get("pads", [0, 0, 0, 0])
    if len(set(pads)) != 1:
        raise Unsupported(f"pads {pads} are not the same on every side")
    groups = attrs.get("group", 1)
    common = dict(N=n, H=h, W=w, kernel=kh, stride=stride, padding=pads[0])
    if groups > 1 and groups == ci == co:
        if dilation != 1:
            raise Unsupported("a dilated depthwise convolution")
        return Workload.create("depthwise_conv2d", dict(common, C=ci), "NCHW")
    return Workload.create(
        "conv2d", dict(common, CI=ci, CO=co, dilation=dilation, groups=groups), "NCHW"
    )


def _matmul(ins, attrs) -> Workload:
    a, b = ins[0], ins[1]
    if len(a) < 2 or len(b) < 2:
        raise Unsupported("a matrix-vector product")
    *batch_a, m, k = a
    *batch_b, k2, n = b
    if k != k2:
        raise Unsupported(f"inner dimensions differ ({k} and {k2})")
    nb_a, nb_b = math.prod(batch_a), math.prod(batch_b)
    if nb_b == 1:  # one right-hand matrix: the left side's batch folds into its rows
        return Workload.create("matmul", dict(B=1, M=nb_a * m, N=n, K=k))
    if batch_a != batch_b:
        raise Unsupported(f"broadcast batch dimensions {batch_a} and {batch_b}")
    return Workload.create("matmul", dict(B=nb_a, M=m, N=n, K=k))


def _gemm(ins, attrs) -> Workload:
    a, b = ins[0], ins[1]
    m, k = reversed(a) if attrs.get("transA", 0) else a
    k2, n = reversed(b) if attrs.get("transB", 0) else b
    if k != k2:
        raise Unsupported(f"inner dimensions differ ({k} and {k2})")
    return Workload.create("matmul", dict(B=1, M=m, N=n, K=k))


CONVERTERS = {"Conv": _conv, "MatMul": _matmul, "Gemm": _gemm}
