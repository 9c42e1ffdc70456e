"""OpenCL backend (pyopencl): one context and a profiling queue per device."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from measure.backend import Backend, BuildError, LaunchError
from measure.devices import LocalDevice
from search_spaces import KernelSource

try:
    import pyopencl as cl
except ImportError:  # pragma: no cover - reported when a backend is opened
    cl = None


class OpenCLBackend(Backend):
    """Compiles with the platform's OpenCL compiler and times with profiling events."""

    def __init__(self, device: LocalDevice):
        if cl is None:
            raise RuntimeError("pyopencl is not installed: pip install pyopencl")
        pi, di = device.index
        self.device = cl.get_platforms()[pi].get_devices()[di]
        self.context = cl.Context([self.device])
        self.queue = cl.CommandQueue(
            self.context, properties=cl.command_queue_properties.PROFILING_ENABLE
        )

    def build(self, kernel: KernelSource) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                program = cl.Program(self.context, kernel.source).build()
            return getattr(program, kernel.entry)
        except (cl.RuntimeError, cl.LogicError, AttributeError) as e:
            raise BuildError(str(e)) from None

    def upload(self, array: np.ndarray) -> Any:
        flags = cl.mem_flags.READ_ONLY | cl.mem_flags.COPY_HOST_PTR
        return cl.Buffer(self.context, flags, hostbuf=np.ascontiguousarray(array, np.float32))

    def poisoned(self, shape: tuple[int, ...]) -> Any:
        nan = np.full(shape, np.nan, np.float32)
        flags = cl.mem_flags.READ_WRITE | cl.mem_flags.COPY_HOST_PTR
        return cl.Buffer(self.context, flags, hostbuf=nan)

    def launch(self, compiled: Any, kernel: KernelSource, buffers: list[Any]) -> float:
        try:
            event = compiled(self.queue, kernel.global_size, kernel.local_size, *buffers)
            event.wait()
            return (event.profile.end - event.profile.start) * 1e-9
        except (cl.RuntimeError, cl.LogicError, cl.MemoryError) as e:
            raise LaunchError(str(e)) from None

    def download(self, buffer: Any, shape: tuple[int, ...]) -> np.ndarray:
        out = np.empty(shape, np.float32)
        cl.enqueue_copy(self.queue, out, buffer)
        return out
