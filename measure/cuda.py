"""CUDA backend (pycuda): NVRTC builds (nvcc through pycuda where NVRTC is missing), CUDA
events for timing, one context for the worker's life."""

from __future__ import annotations

import atexit
from typing import Any

import numpy as np

from measure import nvrtc
from measure.backend import Backend, BuildError, LaunchError
from measure.devices import LocalDevice
from search_spaces import KernelSource

try:
    import pycuda.driver as cuda
except ImportError:  # pragma: no cover - reported when a backend is opened
    cuda = None


class CUDABackend(Backend):
    """Compiles for the device's architecture and launches 1-D grids."""

    def __init__(self, device: LocalDevice):
        if cuda is None:
            raise RuntimeError("pycuda is not installed: pip install 'tune-service[cuda]'")
        cuda.init()
        self.device = cuda.Device(device.index[1])
        # the primary context, shared with any CUDA runtime user in the process (torch)
        self.context = self.device.retain_primary_context()
        self.context.push()
        atexit.register(self.close)
        major, minor = self.device.compute_capability()
        self.arch = f"sm_{major}{minor}"
        self.use_nvrtc = nvrtc.available()
        self.cubins: dict[str, bytes | str] = {}  # source -> cubin, or the build error
        self._pool = None

    def precompile(self, sources: list[str], workers: int = 8) -> None:
        """Compile many kernels in parallel processes ahead of their measurement."""
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        if self._pool is None:  # spawned: the children hold no CUDA state of this process
            ctx = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(workers, mp_context=ctx)
        todo = [s for s in dict.fromkeys(sources) if s not in self.cubins]
        for src, out in zip(todo, self._pool.map(_compile, todo, [self.arch] * len(todo))):
            self.cubins[src] = out

    def build(self, kernel: KernelSource) -> Any:
        try:
            if kernel.source in self.cubins:
                cubin = self.cubins.pop(kernel.source)
                if isinstance(cubin, str):
                    raise BuildError(cubin)
                module = cuda.module_from_buffer(cubin)
            elif self.use_nvrtc:
                module = cuda.module_from_buffer(nvrtc.compile_cubin(kernel.source, self.arch))
            else:
                from pycuda.compiler import SourceModule

                module = SourceModule(kernel.source, no_extern_c=True, arch=self.arch)
            return module.get_function(kernel.entry)
        except BuildError:
            raise
        except Exception as e:  # pycuda's CompileError, LogicError on a bad cubin
            raise BuildError(str(e)) from None

    def upload(self, array: np.ndarray) -> Any:
        return cuda.to_device(np.ascontiguousarray(array, np.float32))

    def poisoned(self, shape: tuple[int, ...]) -> Any:
        return cuda.to_device(np.full(shape, np.nan, np.float32))

    def launch(self, compiled: Any, kernel: KernelSource, buffers: list[Any]) -> float:
        grid = (kernel.global_size[0] // kernel.local_size[0], 1, 1)
        block = (kernel.local_size[0], 1, 1)
        try:
            start, end = cuda.Event(), cuda.Event()
            start.record()
            compiled(*buffers, grid=grid, block=block)
            end.record()
            end.synchronize()
            return start.time_till(end) * 1e-3
        except cuda.Error as e:
            raise LaunchError(str(e)) from None

    def download(self, buffer: Any, shape: tuple[int, ...]) -> np.ndarray:
        out = np.empty(shape, np.float32)
        cuda.memcpy_dtoh(out, buffer)
        return out

    def close(self) -> None:
        """Release the context (pycuda aborts at exit if one is still pushed) and the pool."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        if self.context is not None:
            self.context.pop()
            self.context = None


def _compile(source: str, arch: str) -> bytes | str:
    try:
        return nvrtc.compile_cubin(source, arch)
    except BuildError as e:
        return str(e)
