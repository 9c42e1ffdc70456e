"""A device as the code generator sees it: plain data about limits and dialect.

measure/ detects physical devices and maps them to these; the sketch rules read the limits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Target:
    """What the generator needs to know about a device to emit only valid kernels."""

    name: str  # catalog name, e.g. "pocl-cpu", "h100"
    kind: str  # "cpu" or "gpu"
    dialect: str  # "opencl" or "cuda"
    max_threads: int  # work-items per work-group / threads per block
    max_local_bytes: int  # local (shared) memory per work-group
    max_accumulators: int  # register-tile elements (accumulators) per work-item
    compute_units: int = 1
    peak_gflops: float = 0.0  # fp32, 0 when unknown
    # Work-items per group for kernels with barriers. CPU OpenCL (PoCL) runs a group's
    # work-items as loops and keeps each one's state that lives across a barrier in one stack
    # frame, which overflows past a few thousand work-items. 0 means max_threads.
    max_threads_with_barriers: int = 0
    # Accumulator updates in the innermost unrolled body (register tile / vector x unroll):
    # past this, compile time grows much faster than the kernel improves.
    max_unrolled_updates: int = 4096
    arch: str = ""  # architecture family (hopper, ampere, ada, volta, cpu): devices of one
    # family share tuned schedules as fallbacks
    bandwidth_gbs: float = 0.0  # device memory bandwidth, 0 when unknown

    def to_json(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_json(d: dict) -> Target:
        return Target(**d)
