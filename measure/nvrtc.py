"""CUDA C to a cubin with NVRTC (cuda-bindings): several times faster than nvcc, and it needs
no GPU, so CI can compile every generated CUDA kernel too."""

from __future__ import annotations

from measure.backend import BuildError


def available() -> bool:
    try:
        from cuda.bindings import nvrtc  # noqa: F401

        return nvrtc.nvrtcVersion()[0] == nvrtc.nvrtcResult.NVRTC_SUCCESS
    except Exception:
        return False


def compile_cubin(source: str, arch: str, name: str = "kernel.cu") -> bytes:
    """Compile `source` for `arch` (e.g. "sm_90"); BuildError with NVRTC's log on failure."""
    try:
        from cuda.bindings import nvrtc
    except ImportError as e:
        raise BuildError(
            f"NVRTC is not installed (pip install cuda-bindings nvidia-cuda-nvrtc): {e}"
        ) from None
    ok = nvrtc.nvrtcResult.NVRTC_SUCCESS
    err, prog = nvrtc.nvrtcCreateProgram(source.encode(), name.encode(), 0, [], [])
    if err != ok:
        raise BuildError(f"nvrtcCreateProgram: {err}")
    try:
        opts = [f"--gpu-architecture={arch}".encode(), b"--std=c++17"]
        (err,) = nvrtc.nvrtcCompileProgram(prog, len(opts), opts)
        if err != ok:
            _, size = nvrtc.nvrtcGetProgramLogSize(prog)
            log = b" " * size
            nvrtc.nvrtcGetProgramLog(prog, log)
            raise BuildError(log.decode(errors="replace").strip() or str(err))
        _, size = nvrtc.nvrtcGetCUBINSize(prog)
        cubin = b" " * size
        nvrtc.nvrtcGetCUBIN(prog, cubin)
        return cubin
    finally:
        nvrtc.nvrtcDestroyProgram(prog)
