"""Known devices as generator targets, for code generation without the hardware (`tune space
--device h100` on a laptop). Detection (devices.py) maps real devices to these names."""

from __future__ import annotations

from search_spaces import Target


def _gpu(name: str, arch: str, sms: int, peak_tflops: float, bandwidth_gbs: float) -> Target:
    return Target(
        name=name,
        kind="gpu",
        dialect="cuda",
        max_threads=1024,
        max_local_bytes=48 * 1024,
        max_accumulators=256,
        compute_units=sms,
        peak_gflops=peak_tflops * 1000,
        arch=arch,
        bandwidth_gbs=bandwidth_gbs,
    )


# fp32 peaks without tensor cores and memory bandwidths, from the vendors' data sheets
CATALOG: dict[str, Target] = {
    t.name: t
    for t in (
        _gpu("h200", "hopper", 132, 67.0, 4800),
        _gpu("h100", "hopper", 132, 67.0, 3350),
        _gpu("a100", "ampere", 108, 19.5, 2039),
        _gpu("l4", "ada", 58, 30.3, 300),
        _gpu("rtx4090", "ada", 128, 82.6, 1008),
        _gpu("rtx3090", "ampere", 82, 35.6, 936),
        _gpu("v100", "volta", 80, 15.7, 900),
        Target(
            name="pocl-cpu",
            kind="cpu",
            dialect="opencl",
            max_threads=4096,
            max_local_bytes=512 * 1024,
            max_accumulators=128,
            compute_units=2,
            max_threads_with_barriers=256,
            max_unrolled_updates=512,
            arch="cpu",
        ),
    )
}


def with_catalog(detected: Target) -> Target:
    """A detected device's target: its queried limits, with the catalog's architecture and
    peak figures where the name is known (an unknown device keeps a generic entry)."""
    from dataclasses import replace

    known = CATALOG.get(detected.name.removesuffix("-opencl"))
    if known is None or known.kind != detected.kind:
        return detected
    return replace(detected, arch=known.arch, peak_gflops=known.peak_gflops,
                   bandwidth_gbs=known.bandwidth_gbs)  # fmt: skip
