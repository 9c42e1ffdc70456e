"""Repeatability: one kernel measured in 5 separate processes with the default protocol.

    python benchmarks/repeatability.py [--device NAME] [--runs 5] [--op matmul --shape ...]

Prints each run's median and the spread of the medians ((max - min) / min).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from measure import MeasureInput, detect_local  # noqa: E402
from measure.pool import open_backend  # noqa: E402
from measure.runner import Runner  # noqa: E402
from search_spaces import Schedule, Workload, generate  # noqa: E402

# A good GMM 1024 schedule on GPUs (from the random-samples benchmark) and a CPU one.
SCHEDULES = {
    "gpu": {"sketch": "tile_cache", "spatial": [[1, 1, 1], [4, 4, 4], [4, 32, 1]],
            "reduce": [32], "vector": 1, "unroll": 4, "cache": ["X", "Y"], "cache_t": ["Y"]},
    "cpu": {"sketch": "tile", "spatial": [[1, 1, 1], [4, 16, 1], [2, 4, 8]], "reduce": [16],
            "vector": 1, "unroll": 4, "cache": []},
}  # fmt: skip


def child(device_name: str, op: str, shape: str) -> None:
    device = next(d for d in detect_local() if d.name == device_name)
    w = Workload.parse(op, shape)
    s = Schedule.from_json(SCHEDULES[device.target.kind])
    r = Runner(open_backend(device)).measure(MeasureInput(w, generate(w, s, device.target)))
    assert r.ok, r.error
    print(json.dumps({"median": r.latency_s, "samples": len(r.samples), "spread": r.spread}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--op", default="matmul")
    ap.add_argument("--shape", default="M=1024,N=1024,K=1024")
    ap.add_argument("--child", action="store_true")
    args = ap.parse_args()
    device = detect_local()[0] if args.device == "auto" else None
    name = device.name if device else args.device
    if args.child:
        child(name, args.op, args.shape)
        return
    medians = []
    for i in range(args.runs):
        cmd = [sys.executable, __file__, "--child", "--device", name, "--op", args.op,
               "--shape", args.shape]  # fmt: skip
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        run = json.loads(out.strip().splitlines()[-1])
        medians.append(run["median"])
        print(f"run {i + 1}: median {run['median'] * 1e6:9.2f} us over {run['samples']} samples "
              f"(IQR/median {run['spread']:.1%})")  # fmt: skip
    flops = Workload.parse(args.op, args.shape).compute.flops
    spread = (max(medians) - min(medians)) / min(medians)
    print(f"{name} {args.op} {args.shape}: {args.runs} runs, medians {min(medians) * 1e6:.2f} to "
          f"{max(medians) * 1e6:.2f} us ({flops / min(medians) / 1e12:.2f} TFLOP/s best); "
          f"spread of medians {spread:.2%}")  # fmt: skip


if __name__ == "__main__":
    main()
