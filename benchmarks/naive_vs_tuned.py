"""Tuned against naive: run `tune run` on a workload, then time its best kernel and the naive
one-work-item-per-output kernel of the same op side by side on the same device.

    python benchmarks/naive_vs_tuned.py --op matmul --shape M=512,N=512,K=512 --trials 64

Prints the tuning time and a table: latency and GFLOP/s of each kernel (median of interleaved
rounds, each round the median of its own samples) and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from measure import MeasureInput, MeasureOptions, detect_local  # noqa: E402
from measure.opencl import OpenCLBackend  # noqa: E402
from measure.runner import Runner  # noqa: E402
from search_spaces import Schedule, Workload, generate, naive  # noqa: E402


def tune_fresh(
    op: str, shape: str, trials: int, seed: int, workdir: Path, extra: tuple[str, ...] = ()
) -> tuple[float, dict, list[str]]:
    """`tune run` on a fresh database and a fresh PoCL kernel cache (so the tuning time includes
    every compile) in `workdir`; returns the wall-clock tuning time, the `tune lookup` JSON of
    the best, and the command."""
    db = workdir / "bench.db"
    tune = [sys.executable, "-m", "tuner.cli"]
    cmd = [*tune, "run", "--op", op, "--shape", shape, "--device", "auto",
           "--trials", str(trials), "--seed", str(seed), "--db", str(db), *extra]  # fmt: skip
    env = {**os.environ, "POCL_CACHE_DIR": str(workdir / "pocl-cache")}
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)
    tuning_s = time.perf_counter() - t0
    found = subprocess.run(
        [*tune, "lookup", "--op", op, "--shape", shape, "--db", str(db)],
        check=True, cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    return tuning_s, json.loads(found.stdout), cmd


def time_interleaved(
    runner: Runner, w: Workload, kernels: dict, rounds: int, errors: dict | None = None
) -> dict[str, list[float]]:
    """The fixed protocol: `rounds` rounds over the kernels in turn (so drift on a shared machine
    hits all alike), each round the median of at least 5 samples and 0.2 s of kernel time, after
    a check against NumPy. Returns each kernel's round medians; `errors`, when given, gets each
    kernel's largest relative error against NumPy."""
    opts = MeasureOptions(min_repeats=5, budget_s=0.2)
    out: dict[str, list[float]] = {k: [] for k in kernels}
    for _ in range(rounds):
        for name, k in kernels.items():
            r = runner.measure(MeasureInput(w, k, opts))
            assert r.ok, f"{name}: {r.status} {r.error}"
            out[name].append(r.latency_s)
            if errors is not None:
                errors[name] = max(errors.get(name, 0.0), r.max_rel_error)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--op", default="matmul")
    ap.add_argument("--shape", default="M=512,N=512,K=512")
    ap.add_argument("--trials", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="naive-vs-tuned-"))
    tuning_s, best, cmd = tune_fresh(args.op, args.shape, args.trials, args.seed, workdir)

    device = detect_local()[0]
    w = Workload.parse(args.op, args.shape)
    kernels = {
        "naive (1 work-item/output)": generate(w, naive(w.compute, device.target), device.target),
        "tuned": generate(w, Schedule.from_json(best["schedule"]), device.target),
    }
    rounds = time_interleaved(Runner(OpenCLBackend(device)), w, kernels, args.rounds)

    lat = {k: statistics.median(v) for k, v in rounds.items()}
    print()
    print(f"device: {device.name} ({device.description}, {device.platform} {device.driver}); "
          f"host: {platform.node()} {platform.processor() or platform.machine()}")  # fmt: skip
    print(f"command: {' '.join(cmd[2:])}")
    print(f"tuning: {args.trials} trials in {tuning_s:.0f} s; best schedule {best['schedule']}")
    print(f"{'kernel':30s} {'latency (ms)':>13s} {'GFLOP/s':>9s} {'spread':>8s}")
    for name, v in lat.items():
        spread = (max(rounds[name]) - min(rounds[name])) / v
        print(f"{name:30s} {v * 1e3:13.3f} {w.compute.flops / v / 1e9:9.2f} {spread:8.1%}")
    naive_s, tuned_s = lat["naive (1 work-item/output)"], lat["tuned"]
    print(f"speed-up of tuned over naive: {naive_s / tuned_s:.1f}x")


if __name__ == "__main__":
    main()
