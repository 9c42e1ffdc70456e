"""The interface a device backend gives the runner: compile, move arrays, launch with timing."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from search_spaces import KernelSource


class BuildError(Exception):
    """The kernel did not compile; the message is the compiler's log."""


class LaunchError(Exception):
    """The kernel could not be launched or failed while running."""


class Backend(ABC):
    """One device, opened for the life of a worker."""

    @abstractmethod
    def build(self, kernel: KernelSource) -> Any:
        """Compile `kernel`; raise BuildError with the log on failure."""

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
