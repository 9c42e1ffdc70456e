"""A direct NumPy evaluator of tensor expressions, for tests: an independent check of the op
definitions against their NumPy references (tiny shapes only: it loops over reduce points)."""

from __future__ import annotations

from itertools import product

import numpy as np

from search_spaces.compute import ComputeDef
from search_spaces.expr import Acc, Bin, Call, Const, Expr, Read, Var, Where

_OPS = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.divide,
    "//": np.floor_divide,
    "%": np.mod,
    "min": np.minimum,
    "max": np.maximum,
    "<": np.less,
    "<=": np.less_equal,
    "==": np.equal,
    "&&": np.logical_and,
    "||": np.logical_or,
}
_CALLS = {"fmax": np.maximum, "exp": np.exp, "sqrt": np.sqrt}


def _eval(e: Expr, env: dict, tensors: dict, acc=None):
    if isinstance(e, Const):
        return e.value
    if isinstance(e, Var):
        return env[e.name]
    if isinstance(e, Acc):
        return acc
    if isinstance(e, Bin):
        return _OPS[e.op](_eval(e.a, env, tensors, acc), _eval(e.b, env, tensors, acc))
    if isinstance(e, Call):
        return _CALLS[e.fn](*(_eval(x, env, tensors, acc) for x in e.args))
    if isinstance(e, Where):
        cond = _eval(e.cond, env, tensors, acc)
        return np.where(cond, _eval(e.a, env, tensors, acc), _eval(e.b, env, tensors, acc))
    if isinstance(e, Read):
        arr = tensors[e.tensor]
        idx = np.broadcast_arrays(*(np.asarray(_eval(ix, env, tensors, acc)) for ix in e.indices))
        inside = np.ones(idx[0].shape, bool)
        for ix, n in zip(idx, arr.shape):
            inside &= (ix >= 0) & (ix < n)
        clipped = tuple(np.clip(ix, 0, n - 1) for ix, n in zip(idx, arr.shape))
        return np.where(inside, arr[clipped], 0.0)
    raise TypeError(e)


def _stage(compute: ComputeDef, tensors: dict) -> np.ndarray:
    grid = np.indices(compute.output.shape)
    env = {a.name: grid[d] for d, a in enumerate(compute.spatial)}
    acc = np.full(compute.output.shape, -np.inf if compute.combine == "max" else 0.0)
    for point in product(*(range(r.extent) for r in compute.reduce)):
        env.update({r.name: v for r, v in zip(compute.reduce, point)})
        value = _eval(compute.body, env, tensors)
        acc = np.maximum(acc, value) if compute.combine == "max" else acc + value
    return np.broadcast_to(_eval(compute.epilogue, env, tensors, acc), acc.shape)


def evaluate(compute: ComputeDef, inputs: list[np.ndarray]) -> np.ndarray:
    tensors = {t.name: a.astype(np.float64) for t, a in zip(compute.inputs, inputs)}
    for stage in compute.stages:
        tensors[stage.output.name] = _stage(stage, tensors)
    return _stage(compute, tensors)
