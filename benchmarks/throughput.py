"""Measured candidates per second on one device, with the compile / check / time split.

    python benchmarks/throughput.py [--device NAME] [--count 64] [--shape M=128,N=128,K=128]

Side by side in one run: the Ray device worker (builds in parallel helper processes,
overlapping timing) and the same candidates measured serially in this process (build, check,
time, one after the other). Small matmul kernels, random schedules, the default protocol.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from measure import DevicePool, MeasureInput, MeasureOptions, detect_local  # noqa: E402
from measure.pool import open_backend  # noqa: E402
from measure.runner import Runner  # noqa: E402
from search_spaces import Workload, generate, sample  # noqa: E402


def candidates(w: Workload, target, count: int, seed: int) -> list[MeasureInput]:
    rng, seen, out = random.Random(seed), set(), []
    while len(out) < count:
        s = sample(w.compute, target, rng)
        if s.key not in seen:
            seen.add(s.key)
            out.append(MeasureInput(w, generate(w, s, target), MeasureOptions()))
    return out


def report(label: str, results, wall: float) -> None:
    n = len(results)
    split = {k: sum(getattr(r, k) for r in results) for k in ("compile_s", "check_s", "time_s")}
    ok = sum(r.ok for r in results)
    print(
        f"{label:34s} {n / wall:7.1f} cand/s  ({n} in {wall:5.1f} s, {ok} ok)  "
        f"compile {split['compile_s']:5.1f} s  check {split['check_s']:5.2f} s  "
        f"time {split['time_s']:5.1f} s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--count", type=int, default=64)
    ap.add_argument("--shape", default="M=128,N=128,K=128")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    local = detect_local()
    device = local[0] if args.device == "auto" else next(d for d in local if d.name == args.device)
    w = Workload.parse("matmul", args.shape)
    batch = candidates(w, device.target, args.count, args.seed)
    print(f"device: {device.name} ({device.description}); host {platform.node()}")
    print(
        f"workload: matmul {w.label}; {args.count} random candidates; protocol {batch[0].options}"
    )

    pool = DevicePool()
    pool.start()
    pool.workers(device.name)  # started before the clock
    pool.measure(device.name, batch[:2])  # warm: first-use costs out of the way
    t0 = time.perf_counter()
    results = pool.measure(device.name, batch)
    report("Ray worker, parallel builds", results, time.perf_counter() - t0)
    pool.shutdown()

    runner = Runner(open_backend(device))
    runner.measure(batch[0])
    fresh = candidates(w, device.target, args.count, args.seed + 1)  # not in any build cache
    t0 = time.perf_counter()
    results = [runner.measure(inp) for inp in fresh]
    report("in process, serial builds", results, time.perf_counter() - t0)


if __name__ == "__main__":
    main()
