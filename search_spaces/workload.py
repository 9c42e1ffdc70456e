"""Workloads: an operator at one shape, layout and dtype, with a canonical key."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from search_spaces.compute import ComputeDef
from search_spaces.ops import ShapeError, get_op

DTYPE = "float32"

# A copy of ../shared/workloads/ansor_single_op.toml shipped with the package (a test keeps
# the two equal).
BENCHMARK_FILE = Path(__file__).parent / "data" / "ansor_single_op.toml"


@dataclass(frozen=True)
class Workload:
    """op + shape parameters (all of them, defaults filled, in OPERATORS.md order) + layout."""

    op: str
    params: tuple[tuple[str, int], ...]
    layout: str
    dtype: str = DTYPE

    @staticmethod
    def create(op: str, params: dict[str, int], layout: str | None = None) -> Workload:
        """Validate and normalise; raises ShapeError with a message meant for users."""
        family = get_op(op)
        full, layout = family.normalise(params, layout)
        return Workload(op, tuple(full.items()), layout)

    @staticmethod
    def parse(op: str, shape: str) -> Workload:
        """From the command-line form `NAME=V,...[,layout=L]`."""
        params, layout = parse_shape(shape)
        return Workload.create(op, params, layout)

    @property
    def shape(self) -> dict[str, int]:
        return dict(self.params)

    @property
    def text(self) -> str:
        """The normalised text form that the key hashes (stored beside it)."""
        shape = ",".join(f"{k}={v}" for k, v in self.params)
        return f"{self.op}|{self.dtype}|{self.layout}|{shape}"

    @property
    def key(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:32]

    @property
    def shape_text(self) -> str:
        """The `--shape` string that names this workload."""
        parts = [f"{k}={v}" for k, v in self.params]
        return ",".join(parts + ([f"layout={self.layout}"] if self.layout else []))

    @property
    def label(self) -> str:
        """A short name for people: parameters that differ from their defaults, and layout."""
        defaults = get_op(self.op).defaults
        parts = [f"{k}={v}" for k, v in self.params if defaults.get(k) != v]
        return ",".join(parts + ([self.layout] if self.layout else []))

    @cached_property
    def compute(self) -> ComputeDef:
        return get_op(self.op).define(self.shape, self.layout)

    def random_inputs(self, seed: int = 0) -> list[np.ndarray]:
        """Random float32 inputs with no zeros (magnitudes in [0.1, 1), random signs)."""
        rng = np.random.default_rng(seed)
        out = []
        for t in self.compute.inputs:
            mag = rng.uniform(0.1, 1.0, t.shape)
            out.append((mag * rng.choice([-1.0, 1.0], t.shape)).astype(np.float32))
        return out

    def reference(self, inputs: list[np.ndarray]) -> np.ndarray:
        """The NumPy reference output (float64)."""
        return get_op(self.op).reference(inputs, self.shape, self.layout)


def parse_shape(shape: str) -> tuple[dict[str, int], str | None]:
    """`M=512,N=512,K=512` or `...,layout=NHWC` into parameters and layout."""
    params: dict[str, int] = {}
    layout = None
    for part in (p.strip() for p in shape.split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise ShapeError(f"bad shape item {part!r}: expected NAME=VALUE")
        if name in params or (name == "layout" and layout is not None):
            raise ShapeError(f"{name} is given twice")
        if name == "layout":
            layout = value
            continue
        digits = value[1:] if value[:1] == "-" else value
        if not (digits.isascii() and digits.isdigit()):  # int() takes "٨", "+8" and "1_0"
            raise ShapeError(f"{name}={value!r} is not an integer")
        params[name] = int(value)
    return params, layout


def benchmark_set(op: str, path: Path = BENCHMARK_FILE) -> list[Workload]:
    """The benchmark file's workloads of operator `op` (GMM for matmul, C2D for conv2d...).

    Where several families share an operator, the first family listed for it is used.
    """
    table = tomllib.loads(path.read_text())
    for family in table.values():
        if family.get("op") != op:
            continue
        names = family["params"]
        return [
            Workload.create(op, dict(zip(names, shape)), family.get("layout"))
            for shape in family["shapes"]
        ]
    raise ShapeError(f"the benchmark set {path} has no workloads for {op}")
