"""CUDA backend (pycuda): NVRTC builds (nvcc through pycuda where NVRTC is missing), CUDA
events for timing, the device's primary context for the worker's life."""

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

    warm_kernel = KernelSource(
        "cuda", 'extern "C" __global__ void warm(float* x) { x[threadIdx.x] += 1.0f; }',
        "warm", (), (32,), (32,),
    )  # fmt: skip

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
        self.build_key = f"sm_{major}{minor}"
        l2 = self.device.get_attribute(cuda.device_attribute.L2_CACHE_SIZE)
        self._flush_words = max(2 * l2, 1 << 20) // 4
        self._flush_buffer = cuda.mem_alloc(self._flush_words * 4)

    @staticmethod
    def compile_artifact(source: str, build_key: Any) -> bytes:
        """A cubin for `build_key` (an sm_XY architecture)."""
        if nvrtc.available():
            return nvrtc.compile_cubin(source, build_key)
        from pycuda.compiler import compile as nvcc_compile

        try:
            return nvcc_compile(source, no_extern_c=True, arch=build_key)
        except Exception as e:  # pycuda's CompileError
            raise BuildError(str(e)) from None

    def load(self, kernel: KernelSource, artifact: Any) -> Any:
        try:
            return cuda.module_from_buffer(artifact).get_function(kernel.entry)
        except Exception as e:  # LogicError on a bad cubin or a missing entry
            raise BuildError(str(e)) from None

    def resources(self, compiled: Any) -> dict:
        return {
            "registers": int(compiled.num_regs),
            "shared_bytes": int(compiled.shared_size_bytes),
            "local_bytes": int(compiled.local_size_bytes),  # spills and stack
        }

    def flush(self) -> None:
        cuda.memset_d32(self._flush_buffer, 0, self._flush_words)

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
        """Release the context (pycuda aborts at exit if one is still pushed)."""
        if self.context is not None:
            self.context.pop()
            self.context = None
