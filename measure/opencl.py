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

_contexts: dict[tuple[int, int], Any] = {}  # per process, for compile_artifact


def _build(context: Any, source: str) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cl.Program(context, source).build()
    except (cl.RuntimeError, cl.LogicError) as e:
        raise BuildError(str(e)) from None


def _helper_program(source: str, build_key: Any) -> Any:
    """Build `source` in this (helper) process's own context for the device."""
    if build_key not in _contexts:
        pi, di = build_key
        _contexts[build_key] = cl.Context([cl.get_platforms()[pi].get_devices()[di]])
    return _build(_contexts[build_key], source)


class OpenCLBackend(Backend):
    """Compiles with the platform's OpenCL compiler and times with profiling events."""

    def __init__(self, device: LocalDevice):
        if cl is None:
            raise RuntimeError("pyopencl is not installed: pip install pyopencl")
        pi, di = device.index
        self.build_key = device.index
        self.device = cl.get_platforms()[pi].get_devices()[di]
        self.context = cl.Context([self.device])
        self.queue = cl.CommandQueue(
            self.context, properties=cl.command_queue_properties.PROFILING_ENABLE
        )
        self._flush_buffer = None
        if self.device.type & cl.device_type.GPU:
            size = max(2 * int(self.device.global_mem_cache_size), 1 << 20)
            self._flush_buffer = cl.Buffer(self.context, cl.mem_flags.READ_WRITE, size)

    @staticmethod
    def compile_artifact(source: str, build_key: Any) -> None:
        """Build once in this process: drivers keep the binary in their on-disk cache (PoCL's
        kcache, NVIDIA's ComputeCache), so the worker's own build of it is quick."""
        _helper_program(source, build_key)
        return None

    @classmethod
    def prebuild(cls, kernel: KernelSource, build_key: Any) -> None:
        """Build, and on CPUs also run one work-group on scratch buffers: PoCL compiles a
        kernel for its work-group size at the first launch and keeps that in its cache too,
        so the worker's own first launch is quick."""
        program = _helper_program(kernel.source, build_key)
        context = _contexts[build_key]
        if not context.devices[0].type & cl.device_type.CPU:
            return None
        try:
            queue = cl.CommandQueue(context)
            size = [4 * max(1, int(np.prod(a.shape))) for a in kernel.args]
            buffers = [cl.Buffer(context, cl.mem_flags.READ_WRITE, n) for n in size]
            getattr(program, kernel.entry)(queue, kernel.local_size, kernel.local_size, *buffers)
            queue.finish()
        except (cl.RuntimeError, cl.LogicError, cl.MemoryError, AttributeError):
            pass  # the worker's own launch reports it
        return None

    def load(self, kernel: KernelSource, artifact: Any) -> Any:
        program = _build(self.context, kernel.source)
        try:
            return getattr(program, kernel.entry)
        except AttributeError:
            raise BuildError(f"no kernel named {kernel.entry}") from None

    def resources(self, compiled: Any) -> dict:
        info = cl.kernel_work_group_info
        return {
            "private_bytes": int(compiled.get_work_group_info(info.PRIVATE_MEM_SIZE, self.device)),
            "local_bytes": int(compiled.get_work_group_info(info.LOCAL_MEM_SIZE, self.device)),
        }

    def flush(self) -> None:
        if self._flush_buffer is not None:
            cl.enqueue_fill_buffer(
                self.queue, self._flush_buffer, np.float32(0), 0, self._flush_buffer.size
            )

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
