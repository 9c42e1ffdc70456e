"""A direct NumPy evaluator of tensor expressions, for tests: an independent check of the op
definitions against their NumPy references (tiny shapes only: it loops over reduce points)."""

from __future__ import annotations

from itertools import product

import numpy as np

from search_spaces.compute import ComputeDef
from search_spaces.expr import Acc, Bin, Call, Const, Expr, Read, Var

_OPS = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "//": np.floor_divide,
    "%": np.mod,
    "min": np.minimum,
    "max": np.maximum,
}


def _eval(e: Expr, env: dict, tensors: dict, compute: ComputeDef, acc=None):
    if isinstance(e, Const):
        return e.value
    if isinstance(e, Var):
        return env[e.name]
    if isinstance(e, Acc):
        return acc
    if isinstance(e, Bin):
        return _OPS[e.op](*(_eval(x, env, tensors, compute, acc) for x in (e.a, e.b)))
    if isinstance(e, Call):
        return getattr(np, e.fn)(*(_eval(x, env, tensors, compute, acc) for x in e.args))
    if isinstance(e, Read):
        arr = tensors[e.tensor]
        idx = [np.asarray(_eval(ix, env, tensors, compute, acc)) for ix in e.indices]
        idx = np.broadcast_arrays(*idx)
        inside = np.ones(idx[0].shape, bool)
        for ix, n in zip(idx, arr.shape):
            inside &= (ix >= 0) & (ix < n)
        clipped = tuple(np.clip(ix, 0, n - 1) for ix, n in zip(idx, arr.shape))
        return np.where(inside, arr[clipped], 0.0)
    raise TypeError(e)


def evaluate(compute: ComputeDef, inputs: list[np.ndarray]) -> np.ndarray:
    tensors = {t.name: a.astype(np.float64) for t, a in zip(compute.inputs, inputs)}
    grid = np.indices(compute.output.shape)
    env = {a.name: grid[d] for d, a in enumerate(compute.spatial)}
    acc = np.zeros(compute.output.shape)
    for point in product(*(range(r.extent) for r in compute.reduce)):
        env.update({r.name: v for r, v in zip(compute.reduce, point)})
        acc = acc + _eval(compute.body, env, tensors, compute)
    return np.broadcast_to(_eval(compute.epilogue, env, tensors, compute, acc), acc.shape)
