"""The operator families of OPERATORS.md, by name."""

from search_spaces.ops.base import OpFamily, ShapeError
from search_spaces.ops.capsule import CONV2D_CAPSULE
from search_spaces.ops.conv1d import CONV1D
from search_spaces.ops.conv2d import CONV2D
from search_spaces.ops.conv2d_bias_relu import CONV2D_BIAS_RELU
from search_spaces.ops.conv2d_transpose import CONV2D_TRANSPOSE
from search_spaces.ops.conv3d import CONV3D
from search_spaces.ops.depthwise import DEPTHWISE_CONV2D
from search_spaces.ops.matmul import MATMUL
from search_spaces.ops.norm import NORM
from search_spaces.ops.softmax import SOFTMAX

OPS: dict[str, OpFamily] = {
    op.name: op
    for op in (
        MATMUL, CONV1D, CONV2D, CONV2D_BIAS_RELU, CONV3D, DEPTHWISE_CONV2D, CONV2D_TRANSPOSE,
        CONV2D_CAPSULE, NORM, SOFTMAX,
    )
}  # fmt: skip


def get_op(name: str) -> OpFamily:
    """The operator family called `name`, or ShapeError listing the known ones."""
    try:
        return OPS[name]
    except KeyError:
        raise ShapeError(f"unknown operator {name!r}; known: {', '.join(sorted(OPS))}") from None


__all__ = ["OPS", "OpFamily", "ShapeError", "get_op"]
