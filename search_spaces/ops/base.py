"""What an operator family provides: parameters, layouts, a definition and a NumPy reference."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from search_spaces.compute import ComputeDef


class ShapeError(ValueError):
    """A shape, parameter or layout that the operator does not accept."""


# Index arithmetic in generated kernels is 32-bit: keep every tensor below this many elements.
MAX_ELEMENTS = 2**31 - 1


@dataclass(frozen=True)
class OpFamily:
    """An operator as OPERATORS.md names it.

    `define(params, layout)` returns the tensor expression; `reference(inputs, params, layout)`
    computes the output with NumPy independently of that expression; `check(params, layout)`
    raises ShapeError for shapes the operator cannot take (beyond positivity, checked here).
    """

    name: str
    params: tuple[str, ...]
    defaults: dict[str, int]
    layouts: tuple[str, ...]
    define: Callable[[dict[str, int], str], ComputeDef]
    reference: Callable[[list[np.ndarray], dict[str, int], str], np.ndarray]
    check: Callable[[dict[str, int], str], None] = lambda p, layout: None
    nonnegative: frozenset[str] = field(default_factory=lambda: frozenset({"padding"}))

    def normalise(self, params: dict[str, int], layout: str | None) -> tuple[dict[str, int], str]:
        """Fill defaults, check names, values and layout; return params in canonical order."""
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            raise ShapeError(
                f"{self.name} has no parameter {', '.join(unknown)}; "
                f"its parameters are {', '.join(self.params)}"
            )
        full = {**self.defaults, **params}
        missing = [p for p in self.params if p not in full]
        if missing:
            raise ShapeError(f"{self.name} needs {', '.join(missing)}")
        for p in self.params:
            v = full[p]
            if isinstance(v, bool) or not isinstance(v, int):
                raise ShapeError(f"{p} must be an integer, got {v!r}")
            lo = 0 if p in self.nonnegative else 1
            if v < lo or v > MAX_ELEMENTS:
                raise ShapeError(f"{p}={v} is out of range (must be {lo} to {MAX_ELEMENTS})")
        layout = layout or self.layouts[0]
        if layout not in self.layouts:
            choices = ", ".join(self.layouts) if any(self.layouts) else "none (omit layout)"
            raise ShapeError(f"{self.name} has no layout {layout}; layouts: {choices}")
        ordered = {p: full[p] for p in self.params}
        self.check(ordered, layout)
        compute = self.define(ordered, layout)
        for t in (*compute.inputs, compute.output):
            if t.size > MAX_ELEMENTS:
                raise ShapeError(f"tensor {t.name}{list(t.shape)} is too large")
        return ordered, layout


def out_extent(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Output length of a convolution along one dimension (OPERATORS.md's OH formula)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def require_positive_output(**extents: int) -> None:
    for name, v in extents.items():
        if v < 1:
            raise ShapeError(
                f"the output would be empty ({name}={v}): kernel too large for the input"
            )
