"""The interface a device backend gives the runner: compile, move arrays, launch with timing."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from search_spaces import KernelSource

# Error texts (either dialect) that mean the kernel asked for more than the device has.
RESOURCE_ERRORS = (
    "out_of_resources",
    "out of resources",
    "too many resources",
    "invalid_work_group_size",
    "uses too much shared data",
    "too much local data",
    "exceeds the limit",
)
# Errors after which the device context is no longer usable (CUDA's sticky errors).
FATAL_ERRORS = ("illegal address", "unspecified launch failure", "misaligned address",
                "illegal instruction", "launch timed out", "context is destroyed")  # fmt: skip


class BuildError(Exception):
    """The kernel did not compile; the message is the compiler's log."""

    @property
    def out_of_resources(self) -> bool:
        return any(s in str(self).lower() for s in RESOURCE_ERRORS)


class LaunchError(Exception):
    """The kernel could not be launched or failed while running."""

    @property
    def out_of_resources(self) -> bool:
        return any(s in str(self).lower() for s in RESOURCE_ERRORS)

    @property
    def fatal(self) -> bool:
        return any(s in str(self).lower() for s in FATAL_ERRORS)


class Backend(ABC):
    """One device, opened for the life of a worker.

    Compiling is split in two so that it can run in parallel processes: `compile_artifact` is a
    picklable function (module level) from (source, build_key) to an artifact (a cubin, or
    None where the driver keeps its own cache), and `load` turns it into a launchable kernel in
    the worker.
    """

    build_key: Any = None  # what compile_artifact needs besides the source (an arch, say)
    # a small kernel each build helper compiles as it starts (GPU workers start them early)
    warm_kernel: KernelSource | None = None

    @staticmethod
    @abstractmethod
    def compile_artifact(source: str, build_key: Any) -> Any:
        """Compile in any process; raise BuildError with the log on failure."""

    @abstractmethod
    def load(self, kernel: KernelSource, artifact: Any) -> Any:
        """A launchable kernel from what compile_artifact returned; BuildError on failure."""

    @classmethod
    def prebuild(cls, kernel: KernelSource, build_key: Any) -> Any:
        """compile_artifact in a helper process that knows the whole kernel, launch included:
        a backend whose driver finishes compiling at the first launch finishes it here."""
        return cls.compile_artifact(kernel.source, build_key)

    def build(self, kernel: KernelSource) -> Any:
        """compile_artifact and load in this process."""
        return self.load(kernel, self.compile_artifact(kernel.source, self.build_key))

    def resources(self, compiled: Any) -> dict:
        """What the compiled kernel uses (registers, shared / local / private bytes)."""
        return {}

    def flush(self) -> None:  # noqa: B027 - optional: only GPUs have something to flush
        """Evict the last level cache between timed samples (GPUs); a no-op elsewhere."""

    @abstractmethod
    def upload(self, array: np.ndarray) -> Any:
        """A device buffer holding a copy of `array`."""

    @abstractmethod
    def poisoned(self, shape: tuple[int, ...]) -> Any:
        """A float32 device buffer of `shape` filled with NaN."""

    @abstractmethod
    def launch(self, compiled: Any, kernel: KernelSource, buffers: list[Any]) -> float:
        """Run once and return the device-timed duration in seconds; LaunchError on failure."""

    @abstractmethod
    def download(self, buffer: Any, shape: tuple[int, ...]) -> np.ndarray:
        """The buffer's contents as a float32 array."""
