"""Known devices as generator targets, for code generation without the hardware (`tune space
--device h100` on a laptop). Detection (devices.py) maps real devices to these names."""

from __future__ import annotations

from search_spaces import Target


def _gpu(name: str, sms: int, peak_tflops: float, shared_kb: int = 48) -> Target:
    return Target(
        name=name,
        kind="gpu",
        dialect="cuda",
        max_threads=1024,
        max_local_bytes=shared_kb * 1024,
        max_accumulators=256,
        compute_units=sms,
        peak_gflops=peak_tflops * 1000,
    )


# fp32 peaks without tensor cores, from the vendors' data sheets
CATALOG: dict[str, Target] = {
    t.name: t
    for t in (
        _gpu("h200", 132, 67.0),
        _gpu("h100", 132, 67.0),
        _gpu("a100", 108, 19.5),
        _gpu("l4", 58, 30.3),
        _gpu("rtx4090", 128, 82.6),
        _gpu("rtx3090", 82, 35.6),
        _gpu("v100", 80, 15.7),
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
        ),
    )
}
