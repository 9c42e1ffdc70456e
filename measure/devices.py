"""Local device detection: what pyopencl (and later pycuda) report, mapped to Targets."""

from __future__ import annotations

import re
from dataclasses import dataclass

from search_spaces import Target

# Catalog names for GPUs, matched against vendor device strings (case-insensitive).
_GPU_NAMES = [
    (r"\bh200\b", "h200"),
    (r"\bh100\b", "h100"),
    (r"\ba100\b", "a100"),
    (r"\bl4\b", "l4"),
    (r"rtx\s*4090", "rtx4090"),
    (r"rtx\s*3090", "rtx3090"),
    (r"\bv100\b", "v100"),
]


@dataclass(frozen=True)
class LocalDevice:
    """A device this machine can run kernels on, with the backend and how to reach it."""

    name: str
    backend: str  # "opencl" or "cuda"
    platform: str
    description: str
    driver: str
    target: Target
    index: tuple[int, int]  # (platform, device) indices for the backend


def catalog_name(vendor_name: str, platform: str, is_cpu: bool) -> str:
    """A stable catalog name for a device from its vendor strings."""
    if is_cpu:
        if "portable computing language" in platform.lower() or "pocl" in platform.lower():
            return "pocl-cpu"
        return "opencl-cpu"
    return gpu_name(vendor_name) + ("-opencl" if "nvidia" in platform.lower() else "")


def gpu_name(vendor_name: str) -> str:
    """The catalog name of a GPU (h100, rtx4090, ...), or its vendor string made a name."""
    low = vendor_name.lower()
    for pattern, name in _GPU_NAMES:
        if re.search(pattern, low):
            return name
    return re.sub(r"[^a-z0-9]+", "-", low).strip("-") or "gpu"


def detect_opencl() -> list[LocalDevice]:
    """OpenCL devices on this machine; none (not an error) when OpenCL is unavailable."""
    try:
        import pyopencl as cl

        platforms = cl.get_platforms()
    except Exception:
        return []
    out = []
    for pi, p in enumerate(platforms):
        try:
            devices = p.get_devices()
        except Exception:
            continue
        for di, d in enumerate(devices):
            is_cpu = bool(d.type & cl.device_type.CPU)
            name = catalog_name(d.name, p.name, is_cpu)
            target = Target(
                name=name,
                kind="cpu" if is_cpu else "gpu",
                dialect="opencl",
                max_threads=int(d.max_work_group_size),
                max_local_bytes=int(d.local_mem_size),
                max_accumulators=128 if is_cpu else 256,
                compute_units=int(d.max_compute_units),
                max_threads_with_barriers=256 if is_cpu else 0,
                max_unrolled_updates=512 if is_cpu else 4096,
            )
            out.append(
                LocalDevice(
                    name, "opencl", p.name, d.name.strip(), d.driver_version, target, (pi, di)
                )
            )
    return out


def detect_cuda() -> list[LocalDevice]:
    """NVIDIA GPUs through pycuda; none when pycuda or the driver is missing."""
    try:
        import pycuda.driver as cuda

        cuda.init()
        count = cuda.Device.count()
    except Exception:
        return []
    attr = cuda.device_attribute
    out = []
    for i in range(count):
        d = cuda.Device(i)
        name = gpu_name(d.name())
        major, minor = d.compute_capability()
        target = Target(
            name=name,
            kind="gpu",
            dialect="cuda",
            max_threads=d.get_attribute(attr.MAX_THREADS_PER_BLOCK),
            max_local_bytes=min(d.get_attribute(attr.MAX_SHARED_MEMORY_PER_BLOCK), 48 * 1024),
            max_accumulators=256,
            compute_units=d.get_attribute(attr.MULTIPROCESSOR_COUNT),
        )
        v = cuda.get_driver_version()  # e.g. 13000 for CUDA 13.0
        driver = f"CUDA {v // 1000}.{v % 1000 // 10}, sm_{major}{minor}"
        out.append(LocalDevice(name, "cuda", "CUDA", d.name(), driver, target, (0, i)))
    return out


def detect_local() -> list[LocalDevice]:
    """All local devices, GPUs first, each name once (the first device of a name wins)."""
    from dataclasses import replace

    from measure.catalog import with_catalog

    found = [replace(d, target=with_catalog(d.target)) for d in detect_cuda() + detect_opencl()]
    found.sort(key=lambda d: d.target.kind != "gpu")
    seen: set[str] = set()
    out = []
    for d in found:
        if d.name not in seen:
            seen.add(d.name)
            out.append(d)
    return out
