"""One launch each of our fastest GMM 4096³ kernel and of cuBLAS's, for Nsight Compute to profile
side by side (BENCHMARKS.md, issue 8: "Is the GMM gap the search or the space?").

    ncu -k regex:"matmul_kernel|gemm" --section SpeedOfLight --section Occupancy \\
        --section LaunchStats --section WarpStateStats --section SchedulerStats \\
        --section ComputeWorkloadAnalysis python3 benchmarks/gmm_ncu.py
    M=smsp__inst_executed.sum,smsp__sass_thread_inst_executed_op_ffma_pred_on.sum
    ncu -k regex:matmul_kernel -c 1 --metrics \\
        "regex:smsp__average_warps_issue_stalled_.*_per_issue_active\\.ratio,$M" \\
        python3 benchmarks/gmm_ncu.py

The schedule is the fastest that benchmarks/gmm_space.py found on the H200; the kernel is
checked against NumPy before its profiled launch (the check's launch is profiled too).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.gpu_vs_vendor import ours_here  # noqa: E402
from measure import MeasureOptions, detect_local  # noqa: E402
from measure.pool import open_backend  # noqa: E402
from search_spaces import Schedule, Workload, generate  # noqa: E402

BEST = {"sketch": "tile_cache", "spatial": [[1, 1, 1], [2, 8, 8], [2, 16, 4]], "reduce": [16],
        "vector": 1, "unroll": 16, "cache": ["X", "Y"], "cache_t": ["Y"], "stages": 3}  # fmt: skip


def main() -> None:
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    device = next(d for d in detect_local() if d.backend == "cuda")
    w = Workload.parse("matmul", "M=4096,N=4096,K=4096")
    err, launch = ours_here(
        open_backend(device), w, generate(w, Schedule.from_json(BEST), device.target)
    )
    assert err <= MeasureOptions().rtol, f"relative error {err}"
    launch()
    a = torch.randn(4096, 4096, device="cuda")
    b = torch.randn(4096, 4096, device="cuda")
    torch.matmul(a, b)
    torch.cuda.synchronize()
    print(f"ours checked (relative error {err:.1e}); one launch each of ours and cuBLAS")


if __name__ == "__main__":
    main()
