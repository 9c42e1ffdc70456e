"""Measure the best kernels of some search_compare.py runs again, side by side on this machine.

    python3 benchmarks/remeasure_bests.py benchmarks/results/search1000-pocl-devvm-partial.json \
        --op matmul --runs evolutionary:0,optuna:1,optuna:3 [--rounds 5]

A run's best figure is one measurement taken during the run, among many; measured again, in
rounds that go through the chosen runs' best schedules in turn with the tuner's own protocol
(MeasureOptions' defaults, on the first local device of --backend), each gets the median of
its rounds. Prints one line per run last.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from measure import MeasureInput, MeasureOptions, detect_local  # noqa: E402
from measure.pool import open_backend  # noqa: E402
from measure.runner import Runner  # noqa: E402
from search_spaces import Schedule, Workload, generate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", help="a search_compare.py --out file")
    ap.add_argument("--op", required=True)
    ap.add_argument("--runs", required=True, help="strategy:seed,...")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--backend", default="opencl")
    args = ap.parse_args()
    wanted = [(s, int(n)) for s, n in (x.split(":") for x in args.runs.split(","))]
    runs = {(r["strategy"], r["seed"]): r for r in json.loads(Path(args.results).read_text())
            if r["op"] == args.op}  # fmt: skip
    missing = [x for x in wanted if x not in runs]
    if missing:
        sys.exit(f"no such runs for {args.op}: {missing}")
    dev = next(d for d in detect_local() if d.backend == args.backend)
    runner = Runner(open_backend(dev))
    w = Workload.parse(args.op, runs[wanted[0]]["shape"])
    kernels = {x: generate(w, Schedule.from_json(runs[x]["best_schedule"]), dev.target)
               for x in wanted}  # fmt: skip
    samples: dict = {x: [] for x in wanted}
    for _ in range(args.rounds):
        for x, k in kernels.items():
            r = runner.measure(MeasureInput(w, k, MeasureOptions()))
            if r.ok:
                samples[x].append(w.compute.flops / r.latency_s / 1e9)
    print(f"device: {dev.name} ({dev.description}); {args.rounds} rounds; GFLOP/s")
    for x in wanted:
        got = samples[x]
        med = f"{statistics.median(got):.1f}" if got else "n/a"
        print(f"{x[0]:13s} seed {x[1]}: in its run {runs[x]['tflops'] * 1e3:.1f}, again {med} "
              f"(rounds: {', '.join(f'{v:.1f}' for v in got)})")  # fmt: skip


if __name__ == "__main__":
    main()
