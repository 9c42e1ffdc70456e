"""The operator families of OPERATORS.md, by name."""

from search_spaces.ops.base import OpFamily, ShapeError
from search_spaces.ops.conv2d import CONV2D
from search_spaces.ops.matmul import MATMUL

OPS: dict[str, OpFamily] = {op.name: op for op in (MATMUL, CONV2D)}


def get_op(name: str) -> OpFamily:
    """The operator family called `name`, or ShapeError listing the known ones."""
    try:
        return OPS[name]
    except KeyError:
        raise ShapeError(f"unknown operator {name!r}; known: {', '.join(sorted(OPS))}") from None


__all__ = ["OPS", "OpFamily", "ShapeError", "get_op"]
