"""The lookup compilers use at build time: the best kernel for a workload on a device."""

from __future__ import annotations

from search_spaces import GENERATOR_VERSION, Workload, generate
from tuning_db.store import TuningDB


class NotTuned(LookupError):
    """No stored kernel answers the lookup."""


def lookup(db: TuningDB, workload: Workload, device: str) -> dict:
    """The best kernel as JSON-ready data; the kernel is regenerated from the stored schedule."""
    best = db.best(workload, device)
    if best is None:
        raise NotTuned(
            f"no tuned kernel for {workload.op} {workload.shape_text} on {device} "
            f"(key {workload.key}); run: tune run --op {workload.op} "
            f"--shape {workload.shape_text} --device {device}"
        )
    kernel = generate(workload, best.schedule, best.device.target)
    return {
        "match": "exact",
        "workload": {
            "op": workload.op,
            "shape": workload.shape,
            "dtype": workload.dtype,
            "layout": workload.layout,
            "key": workload.key,
        },
        "device": device,
        "schedule": best.schedule.to_json(),
        "latency_us": best.latency_s * 1e6,
        "gflops": best.gflops,
        "generator_version": GENERATOR_VERSION,
        "trial_id": best.trial_id,
        "kernel": kernel.to_json(),
    }
