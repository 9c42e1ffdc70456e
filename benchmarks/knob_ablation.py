"""One schedule knob at a time: the same schedules with and without it, side by side on a GPU.

    python benchmarks/knob_ablation.py [--only GMM] [--out results.json]

For each base schedule below (tiles that searches found on the H100 and H200), every variant of
the knobs under study for it (the pipeline's `stages`, the reduction's split `rsplit`) is
generated, compiled in parallel with NVRTC, checked against the NumPy
reference and timed with CUDA events (L2 flushed between samples, median of at least 20). The
variants alternate over 3 rounds and the table reports each variant's median round, with its
speed-up over the variant that has every knob at its default. Prints the table last.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from measure import MeasureInput, MeasureOptions, detect_local  # noqa: E402
from measure.builder import Builder  # noqa: E402
from measure.pool import open_backend  # noqa: E402
from measure.runner import Runner  # noqa: E402
from search_spaces import Schedule, Workload, check, generate  # noqa: E402


def tile(spatial, reduce, vector=1, unroll=4, cache=(), cache_t=(), stages=1) -> Schedule:
    return Schedule("tile_cache", tuple(map(tuple, spatial)), tuple(reduce), vector, unroll,
                    tuple(cache), 0, tuple(cache_t), stages)  # fmt: skip


GMM4K = "M=4096,N=4096,K=4096"
C2D56 = "N=1,H=56,W=56,CI=64,CO=64,kernel=3,stride=1,padding=1,layout=NCHW"
DEP56 = "N=1,H=56,W=56,C=128,kernel=3,stride=1,padding=1,layout=NCHW"
C2D14 = "N=1,H=14,W=14,CI=256,CO=256,kernel=3,stride=1,padding=1,layout=NCHW"
# (label, op, shape, base schedule): bests of earlier H100 runs (BENCHMARKS.md), with the
# reduction's inner tile made small enough for several buffers to fit 48 KB where needed
BASES = [
    ("GMM4096 128x128 k16", "matmul", GMM4K,
     tile([(1, 1, 1), (4, 8, 4), (2, 16, 4)], [16], cache=("X", "Y"))),
    ("GMM4096 128x128 k8", "matmul", GMM4K,
     tile([(1, 1, 1), (4, 8, 4), (2, 16, 4)], [8], cache=("X", "Y"))),
    ("GMM4096 128x128 k16 v4 X^T", "matmul", GMM4K,
     tile([(1, 1, 1), (4, 8, 4), (2, 16, 4)], [16], 4, cache=("X", "Y"), cache_t=("X",))),
    ("GMM1024 64x64 k32", "matmul", "M=1024,N=1024,K=1024",
     tile([(1, 1, 1), (4, 8, 2), (1, 16, 4)], [32], cache=("X", "Y"), cache_t=("Y",))),
    ("C2D56", "conv2d", C2D56,
     tile([(1, 1, 1), (1, 4, 4), (1, 8, 1), (1, 8, 1)], [3, 3, 16], unroll=0,
          cache=("data", "weight"), cache_t=("data", "weight"))),
    ("C2D14 k16", "conv2d", C2D14,
     tile([(1, 1, 1), (1, 8, 2), (1, 2, 1), (1, 14, 1)], [3, 3, 16],
          cache=("data", "weight"), cache_t=("data",))),
]  # fmt: skip
STAGES = {"stages": (1, 2, 3)}
SPLIT = {"rsplit": (1, 2, 4, 8, 16)}
CONVS = ("data", "weight")
# the split reduction on the small-spatial layers: the H200 bests of the 64-trial searches
# (BENCHMARKS.md, issue 8) and variants with a longer inner reduction tile
SPLIT_BASES = [
    ("C2D14 s0 best", "conv2d", C2D14,
     tile([(1, 1, 1), (2, 8, 1), (1, 14, 1), (1, 1, 2)], [3, 1, 16], cache=CONVS, cache_t=CONVS,
          stages=3)),
    ("C2D14 s0 rc32", "conv2d", C2D14,
     tile([(1, 1, 1), (2, 8, 1), (1, 14, 1), (1, 1, 2)], [3, 1, 32], cache=CONVS, cache_t=CONVS,
          stages=2)),
    ("C2D14 s1 best", "conv2d", C2D14,
     tile([(1, 1, 1), (4, 16, 1), (2, 1, 1), (1, 14, 1)], [1, 3, 8], unroll=16, cache=CONVS,
          cache_t=("data",), stages=3)),
    ("C2D14 co4 rc32", "conv2d", C2D14,
     tile([(1, 1, 1), (1, 4, 4), (1, 14, 1), (1, 1, 2)], [3, 1, 32], cache=CONVS, cache_t=CONVS,
          stages=2)),
    ("C2D56 s1 best", "conv2d", C2D56,
     tile([(1, 1, 1), (1, 8, 2), (1, 1, 4), (2, 14, 1)], [3, 3, 8], unroll=16, cache=CONVS,
          cache_t=("weight",), stages=3)),
    ("C2D56 s0 best", "conv2d", C2D56,
     tile([(1, 1, 1), (2, 16, 1), (1, 8, 1), (2, 1, 4)], [1, 3, 8], 4, 0, cache=CONVS,
          cache_t=("data",), stages=3)),
    # TVM MetaSchedule's best C2D 14x14 tile on the H200 (benchmarks/tvm_gpu.py, seed 1, 6.30
    # TFLOP/s): 224 groups of 56 threads, 2 co x 2 x each, rc tile 8 and the 3x3 window staged
    ("C2D14 TVM tile rc8", "conv2d", C2D14,
     tile([(1, 1, 1), (1, 8, 2), (1, 1, 1), (1, 7, 2)], [3, 3, 8], unroll=16, cache=CONVS,
          stages=3)),
    ("C2D14 TVM tile rc8 t", "conv2d", C2D14,
     tile([(1, 1, 1), (1, 8, 2), (1, 1, 1), (1, 7, 2)], [3, 3, 8], unroll=16, cache=CONVS,
          cache_t=CONVS, stages=3)),
    ("C2D14 TVM tile rc16", "conv2d", C2D14,
     tile([(1, 1, 1), (1, 8, 2), (1, 1, 1), (1, 7, 2)], [3, 3, 16], unroll=16, cache=CONVS,
          stages=3)),
    ("C2D14 h200 s0 best", "conv2d", C2D14,  # ours beside it, seed 0 (7.74 with 16 slices)
     tile([(1, 1, 1), (2, 4, 2), (1, 2, 1), (1, 7, 2)], [3, 3, 16], unroll=16, cache=CONVS,
          cache_t=CONVS, stages=3)),
    # TVM MetaSchedule's bests on the H200 (benchmarks/tvm_gpu.py, 2026-11-22; TVM's own
    # TFLOP/s under the one-launch protocol in the labels), as tiles of our space
    ("C2D56 TVM s1 11.0", "conv2d", C2D56,  # 98 groups of 256 threads, 8 outputs each
     tile([(1, 1, 1), (1, 32, 1), (1, 2, 4), (1, 4, 2)], [3, 3, 4], unroll=16, cache=CONVS)),
    ("C2D56 TVM s0 9.2", "conv2d", C2D56,
     tile([(1, 1, 1), (1, 16, 2), (1, 8, 1), (1, 2, 1)], [1, 3, 16], unroll=16, cache=CONVS)),
    ("DEP TVM s2 1.44", "depthwise_conv2d", DEP56,  # 448 groups of 56 threads, 16 outputs
     tile([(1, 1, 1), (1, 2, 2), (1, 1, 8), (1, 28, 1)], [3, 1], unroll=0, cache=("weight",))),
    ("DEP TVM s0 1.28", "depthwise_conv2d", DEP56,
     tile([(1, 1, 1), (1, 2, 2), (1, 8, 1), (4, 7, 2)], [3, 1], unroll=0, cache=("weight",))),
    ("GMM1024 64x64 k32 s3", "matmul", "M=1024,N=1024,K=1024",
     tile([(1, 1, 1), (4, 8, 2), (1, 16, 4)], [32], cache=("X", "Y"), cache_t=("Y",), stages=3)),
]  # fmt: skip
STAGED_SPLIT = {"stages": (1, 2, 3), "rsplit": (1, 2, 4)}
# depthwise: the input staged too was tried at e083346 (slower, reverted); now stages only
CACHED = {"stages": (1, 2, 3)}


def knobs_for(label: str) -> dict:
    if label.startswith("DEP"):
        return CACHED
    return STAGED_SPLIT if " TVM s" in label else SPLIT


CASES = [(*b, STAGES) for b in BASES] + [(*b, knobs_for(b[0])) for b in SPLIT_BASES]


def variants(base: Schedule, knobs: dict) -> list[Schedule]:
    names = list(knobs)
    return [replace(base, **dict(zip(names, vals))) for vals in itertools.product(*knobs.values())]


def defaults(schedule: dict, knobs: dict) -> dict:
    """The knobs' values in a schedule's JSON (left out at 1)."""
    return {n: schedule.get(n, 1) for n in knobs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="", help="comma-separated label prefixes")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    device = next(d for d in detect_local() if d.backend == "cuda")
    runner = Runner(open_backend(device))
    builder = Builder(type(runner.backend).compile_artifact, runner.backend.build_key, 16)
    target = device.target
    print(f"device: {device.name} ({device.description}, {device.driver})", flush=True)
    wanted = [x for x in args.only.split(",") if x]
    cases = []
    knobs_of = {}
    for label, op, shape, base, knobs in CASES:
        if wanted and not any(label.startswith(x) for x in wanted):
            continue
        w = Workload.parse(op, shape)
        knobs_of[label] = (knobs, defaults(base.to_json(), knobs))
        for s in variants(base, knobs):
            why = check(w.compute, s, target)
            if why is None:
                cases.append((label, w, s, generate(w, s, target)))
            else:
                print(f"{label} {defaults(s.to_json(), knobs)}: not valid ({why})", flush=True)
    builder.submit([k.source for *_, k in cases])
    artifacts, results = {}, {}
    for *_, k in cases:
        artifacts[k.source] = builder.get(k.source, timeout=300)[0]
    opts = MeasureOptions(min_repeats=20, budget_s=0.1)
    for _ in range(args.rounds):
        for label, w, s, k in cases:
            r = runner.measure(MeasureInput(w, k, opts), artifacts[k.source])
            key = (label, s.key)
            results.setdefault(key, {"label": label, "schedule": s.to_json(), "runs": [],
                                     "status": [], "resources": r.resources})  # fmt: skip
            results[key]["status"].append(r.status.value)
            if r.ok:
                results[key]["runs"].append(r.latency_s)
    builder.close()
    rows = list(results.values())
    for row in rows:
        row["median_s"] = statistics.median(row["runs"]) if row["runs"] else None
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))
    flops = {label: Workload.parse(op, shape).compute.flops for label, op, shape, *_ in CASES}
    print()
    print(f"{'base schedule':28s} {'knobs':14s} {'TFLOP/s':>8s} {'vs base':>10s} "
          f"{'regs':>5s} {'smem':>6s}  status")  # fmt: skip
    for label in dict.fromkeys(r["label"] for r in rows):
        group = [r for r in rows if r["label"] == label]
        knobs, base = knobs_of[label]
        default = next((r["median_s"] for r in group
                        if defaults(r["schedule"], knobs) == base), None)  # fmt: skip
        for r in group:
            shown = ",".join(f"{n}={v}" for n, v in defaults(r["schedule"], knobs).items())
            t = r["median_s"]
            tf = f"{flops[label] / t / 1e12:8.2f}" if t else "     n/a"
            sp = f"{default / t:9.2f}x" if t and default else "       n/a"
            res, status = r["resources"], ",".join(sorted(set(r["status"])))
            print(f"{label:28s} {shown:14s} {tf} {sp} {res.get('registers', 0):5d} "
                  f"{res.get('shared_bytes', 0):6d}  {status}")  # fmt: skip


if __name__ == "__main__":
    main()
