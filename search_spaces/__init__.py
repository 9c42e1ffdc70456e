"""Operators, workloads, sketches, lowering and code generation."""

from search_spaces.compute import Axis, ComputeDef, Tensor
from search_spaces.kernel import (
    GENERATOR_VERSION,
    InvalidSchedule,
    KernelArg,
    KernelSource,
    generate,
)
from search_spaces.ops import OPS, ShapeError
from search_spaces.schedule import Schedule
from search_spaces.sketch import Sketch, check, naive, sample, sketches, space_size
from search_spaces.target import Target
from search_spaces.workload import Workload, benchmark_set, parse_shape

__all__ = [
    "Axis",
    "ComputeDef",
    "GENERATOR_VERSION",
    "InvalidSchedule",
    "KernelArg",
    "KernelSource",
    "OPS",
    "Schedule",
    "ShapeError",
    "Sketch",
    "Target",
    "Tensor",
    "Workload",
    "benchmark_set",
    "check",
    "generate",
    "naive",
    "parse_shape",
    "sample",
    "sketches",
    "space_size",
]
