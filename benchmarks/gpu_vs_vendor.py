"""Issue 8's comparison: our default search at 64 trials against cuBLAS/cuDNN and TVM, one run.

    python benchmarks/gpu_vs_vendor.py [--trials 64] [--seed 0] [--only GMM] [--benchmark-set]
        [--out results.json]

Each workload is tuned with the default (evolutionary) search from an empty database through
the Ray device worker, as `tune run` does. The best kernel is then measured again with inputs
of a fresh seed, so it is checked against the NumPy reference once more, twice: without L2
flushes between samples (the protocol of the vendor column and of TVM's runner), and with them
(the tuner's own protocol). Torch's cuBLAS/cuDNN (fp32, TF32 off) runs the same shape in the
same process tree, timed with CUDA events. The TVM column is issue 8's table (apache-tvm 0.27
MetaSchedule on an H200, 64 trials unless noted), not measured here. --benchmark-set adds the
C2D and DEP rows of the benchmark set at batch 1 and 16 (no TVM figure). Prints the table last.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.random_vs_vendor import time_vendor, vendor_fn  # noqa: E402
from measure import DevicePool, MeasureInput, MeasureOptions, detect_local  # noqa: E402
from search_spaces import Workload, benchmark_set, generate  # noqa: E402
from tuner.tune import TuneOptions, device_info, tune  # noqa: E402
from tuning_db import TuningDB  # noqa: E402

C2D56 = "N=1,H=56,W=56,CI=64,CO=64,kernel=3,stride=1,padding=1,layout=NCHW"
C2D14 = "N=1,H=14,W=14,CI=256,CO=256,kernel=3,stride=1,padding=1,layout=NCHW"
DEP56 = "N=1,H=56,W=56,C=128,kernel=3,stride=1,padding=1,layout=NCHW"
# (label, op, shape, TVM TFLOP/s, TVM tuning s) from issue 8 (H200, MetaSchedule, 64 trials;
# GMM 1024's figure is after 128 trials, and its time that of the last 64)
ISSUE = [
    ("GMM 1024^3", "matmul", "M=1024,N=1024,K=1024", 23.0, 89.0),
    ("GMM 4096^3", "matmul", "M=4096,N=4096,K=4096", 17.5, 517.0),
    ("C2D 56x56 64-64 3x3 NCHW", "conv2d", C2D56, 10.4, 84.0),
    ("C2D 14x14 256-256 3x3 NCHW", "conv2d", C2D14, 4.4, 78.0),
    ("DEP 56x56x128 3x3 NCHW", "depthwise_conv2d", DEP56, 1.5, 71.0),
]


def benchmark_rows() -> list[tuple]:
    """The C2D and DEP rows of the benchmark set at batch 1 and 16."""
    out = []
    for op, fam in (("conv2d", "C2D"), ("depthwise_conv2d", "DEP")):
        for n in (1, 16):
            for w in benchmark_set(op):
                shape = {**w.shape, "N": n}
                w = Workload.create(op, shape, w.layout)
                out.append((f"{fam} N{n} {w.shape_text}", op, w, None, None))
    return out


def final_check(pool, dev: str, w: Workload, kernel, flush: bool) -> tuple[str, float | None]:
    """Status and latency of the reported kernel on inputs of a seed the search never used."""
    opts = MeasureOptions(seed=7, min_repeats=30, budget_s=0.2, flush=flush)
    r = pool.measure(dev, [MeasureInput(w, kernel, opts)])[0]
    return r.status.value, r.latency_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default="", help="comma-separated label prefixes")
    ap.add_argument("--benchmark-set", action="store_true")
    ap.add_argument("--deadline-s", type=float, default=1e9, help="skip workloads after this")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    t_start = time.time()

    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = next(d for d in detect_local() if d.backend == "cuda")
    pool = DevicePool()
    pool.start()
    info = device_info(pool, dev.name)
    print(f"device: {dev.name} ({dev.description}, {dev.driver}); torch {torch.__version__}")
    rows = [(label, op, Workload.parse(op, shape), tvm, tvm_s) for label, op, shape, tvm, tvm_s
            in ISSUE] + (benchmark_rows() if args.benchmark_set else [])  # fmt: skip
    wanted = [x for x in args.only.split(",") if x]
    db_dir = Path(tempfile.mkdtemp())
    results = []
    for label, op, w, tvm, tvm_s in rows:
        if wanted and not any(label.startswith(x) for x in wanted):
            continue
        if time.time() - t_start > args.deadline_s:
            print(f"deadline: skipping {label}", flush=True)
            continue
        db = TuningDB(str(db_dir / f"{w.key[:16]}.db"))
        t0 = time.time()
        summary = tune(w, info, db, pool, TuneOptions(trials=args.trials, seed=args.seed))
        tuning_s = time.time() - t0
        best = db.best(w, dev.name)
        db.close()
        row = {"label": label, "op": op, "shape": w.shape_text, "layout": w.layout,
               "trials": summary.measured, "statuses": summary.statuses, "tuning_s": tuning_s,
               "tvm_tflops": tvm, "tvm_tuning_s": tvm_s}  # fmt: skip
        if best is not None:
            kernel = generate(w, best.schedule, info.target)
            status, lat = final_check(pool, dev.name, w, kernel, flush=False)
            status_f, lat_f = final_check(pool, dev.name, w, kernel, flush=True)
            row.update(schedule=best.schedule.to_json(), check=[status, status_f],
                       ours_s=lat, ours_flushed_s=lat_f, tuned_s=summary.best_s)  # fmt: skip
        fn, _ = vendor_fn(w, w.random_inputs(0))
        row["vendor_s"] = time_vendor(fn, repeats=50) if fn is not None else None
        flops = w.compute.flops
        for k in ("ours_s", "ours_flushed_s", "vendor_s"):
            row[k.replace("_s", "_tflops")] = flops / row[k] / 1e12 if row.get(k) else None
        results.append(row)
        print(f"{label}: {row['trials']} trials in {tuning_s:.0f} s, ours "
              f"{row.get('ours_tflops') or 0:.2f} TFLOP/s ({row.get('check')}), vendor "
              f"{row['vendor_tflops'] or 0:.2f}, {row.get('schedule')}", flush=True)  # fmt: skip
        if args.out:
            Path(args.out).write_text(json.dumps(results, indent=1))
    pool.shutdown()
    print()
    print(
        f"{dev.description}, {args.trials} trials of the default search, fp32 (TF32 off); "
        "TFLOP/s, no L2 flush (flushed in brackets); TVM from issue 8 (H200)"
    )
    head = (f"{'workload':34s} {'trials':>6s} {'tune s':>6s} {'ours':>14s} {'vendor':>7s} "
            f"{'ours/vend':>9s} {'TVM':>5s} {'ours/TVM':>8s} {'TVM s':>5s} check")  # fmt: skip
    print(head)
    for r in results:
        ours, vend, tvm, tvm_s = (r.get("ours_tflops"), r["vendor_tflops"], r["tvm_tflops"],
                                  r["tvm_tuning_s"])  # fmt: skip
        flushed = f"({r['ours_flushed_tflops']:.2f})" if r.get("ours_flushed_tflops") else ""
        cells = [
            f"{r['label']:34s} {r['trials']:6d} {r['tuning_s']:6.0f}",
            f"{ours or 0:6.2f} {flushed:>7s} {vend or 0:7.2f}",
            f"{f'{ours / vend:.2f}x' if ours and vend else 'n/a':>9s}",
            f"{f'{tvm:.1f}' if tvm else '':>5s}",
            f"{f'{ours / tvm:.2f}x' if ours and tvm else '':>8s}",
            f"{f'{tvm_s:.0f}' if tvm_s else '':>5s}",
            "/".join(r.get("check", ["none"])),
        ]
        print(" ".join(cells))


if __name__ == "__main__":
    main()
