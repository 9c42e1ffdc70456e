"""Search efficiency: best kernel found against trials, per strategy, on a real device.

    python benchmarks/search_compare.py --trials 64 --seeds 0 \
        --strategies evolutionary,random,optuna --workload matmul:M=1024,N=1024,K=1024 \
        [--workload conv2d:N=1,H=56,...] [--vendor] [--out results.json] [--db-dir DIR] \
        [--resume] [--seed-major]

Each (workload, strategy, seed) tunes from an empty database (so nothing is shared between
runs) through the same Ray device worker, with the default measurement protocol. The best is
confirmed by re-measurement as in `tune run`. With --vendor, torch's cuBLAS/cuDNN (TF32 off)
is timed on the same workload in the same run. Prints a table last; --out keeps every
trial's latency in measurement order for plots, and as the search saw it (`seen_latencies`:
before the end's confirmation re-measured the fastest). `--strategies` also takes the VARIANTS
below (evolutionary-fixedeps: the search before its random share widened in rounds without a
gain). With --resume, the runs already in --out are kept and not run again (a long study goes
on where an interrupted one stopped), and a run cut off midway goes on from the trials its
database kept (--db-dir): its search starts again from them as history, for the trials left
(its row says how many it resumed from); with --seed-major the runs go seed by seed (every
strategy of seed 0 first), so a study cut short still compares the strategies on the seeds it
finished.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from measure import DevicePool, detect_local  # noqa: E402
from search_spaces import Workload, generate  # noqa: E402
from tuner.strategies import EvolutionConfig  # noqa: E402
from tuner.tune import TuneOptions, device_info, tune  # noqa: E402
from tuning_db import TuningDB  # noqa: E402

# strategies run with other settings, for A/B comparisons: label -> (strategy, TuneOptions fields)
VARIANTS = {
    # the evolutionary search as before its random share widened in rounds without a gain
    "evolutionary-fixedeps": ("evolutionary", {"evolution": EvolutionConfig(max_eps=0.05)}),
    # with the sketch spread after rounds without a gain (each sketch's best seeded, a quarter
    # of the model picks spread over the sketches); off by default
    "evolutionary-spread": ("evolutionary", {"evolution": EvolutionConfig().with_spread()}),
    # without early stopping: every run measures its whole budget (`tune run --patience 0`)
    "evolutionary-nostop": ("evolutionary", {"evolution": EvolutionConfig(patience=0)}),
}


def curve(db: TuningDB, w: Workload, device: str, seen: bool = False) -> list[float | None]:
    """Each trial's latency (None: failed) in measurement order; with `seen`, as the search
    saw it, before the end's confirmation re-measured the fastest."""
    rows = sorted(db.trials(w, device), key=lambda r: r.id)
    firsts = [json.loads(r.details).get("first", {}) if seen and r.confirmed else {} for r in rows]
    return [
        f.get("latency_s", r.latency_s) if f.get("status", r.status) == "ok" else None
        for r, f in zip(rows, firsts)
    ]


def vendor_tflops(w: Workload) -> float | None:
    try:
        from benchmarks.random_vs_vendor import time_vendor, vendor_fn
    except ImportError:
        return None
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    fn = vendor_fn(w, w.random_inputs(0))
    if fn is None:
        return None
    return w.compute.flops / time_vendor(fn[0]) / 1e12


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", action="append", required=True, help="op:NAME=V,...")
    ap.add_argument("--strategies", default="evolutionary,random")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--trials", type=int, default=64)
    ap.add_argument("--device", default=None)
    ap.add_argument("--vendor", action="store_true")
    ap.add_argument("--out", default=None)
    ap.add_argument("--db-dir", default=None, help="keep each run's database here")
    ap.add_argument("--deadline-s", type=float, default=1e9, help="skip runs after this")
    warm_help = (
        "also run 'evolutionary-warm': one database per seed across workloads, so each "
        "starts from the cost model that the ones before saved"
    )
    ap.add_argument("--warm", action="store_true", help=warm_help)
    ap.add_argument("--resume", action="store_true", help="keep the runs already in --out")
    ap.add_argument("--seed-major", action="store_true", help="all strategies of a seed first")
    args = ap.parse_args()
    if args.resume and not args.out:
        ap.error("--resume needs --out")
    t_start = time.time()
    devices = detect_local()
    dev = next(d for d in devices if args.device in (None, d.name))
    workloads = [Workload.parse(*spec.split(":", 1)) for spec in args.workload]
    pool = DevicePool()
    pool.start()
    info = device_info(pool, dev.name)
    print(f"device: {dev.name} ({dev.description}, {dev.driver})", flush=True)
    db_dir = Path(args.db_dir or tempfile.mkdtemp())
    db_dir.mkdir(parents=True, exist_ok=True)
    results = []
    if args.resume and Path(args.out).exists():
        results = json.loads(Path(args.out).read_text())
        print(f"resuming: {len(results)} runs already in {args.out}", flush=True)
    done = {(r["workload"], r["strategy"], r["seed"]) for r in results}
    labels = args.strategies.split(",") + (["evolutionary-warm"] if args.warm else [])
    seeds = [int(s) for s in args.seeds.split(",")]
    for w in workloads:
        vendor = vendor_tflops(w) if args.vendor else None
        runs = [(label, seed) for label in labels for seed in seeds]
        if args.seed_major:
            runs.sort(key=lambda run: seeds.index(run[1]))
        for label, seed in runs:
            strategy, extra = VARIANTS.get(label, (label.removesuffix("-warm"), {}))
            if (w.label, label, seed) in done:
                continue
            if time.time() - t_start > args.deadline_s:
                print(f"deadline: skipping {w.label} {label} {seed}", flush=True)
                continue
            if label.endswith("-warm"):
                path = db_dir / f"warm-{seed}.db"
            else:
                path = db_dir / f"{w.key[:12]}-{label}-{seed}.db"
                if not (args.resume and args.db_dir):
                    path.unlink(missing_ok=True)
            db = TuningDB(str(path))
            # an interrupted run of this study: its stored trials count against the budget
            resumed = 0 if label.endswith("-warm") else len(curve(db, w, dev.name))
            if resumed:
                print(f"{w.label} {label} seed {seed}: resuming from {resumed} trials", flush=True)
            t0 = time.time()
            opts = TuneOptions(trials=max(args.trials - resumed, 0), seed=seed, strategy=strategy,
                               warm_start=label.endswith("-warm"), **extra)  # fmt: skip
            summary = tune(w, info, db, pool, opts)
            wall = time.time() - t0
            lats = curve(db, w, dev.name)
            statuses = Counter(r.status for r in db.trials(w, dev.name))
            best = summary.best_s
            tflops = w.compute.flops / best / 1e12 if best else None
            if best is not None:  # the reported kernel regenerates and stays correct
                generate(w, db.best(w, dev.name).schedule, info.target)
            row = {
                "workload": w.label, "op": w.op, "shape": w.shape_text, "layout": w.layout,
                "strategy": label, "seed": seed, "trials": len(lats), "resumed_from": resumed,
                "statuses": dict(statuses), "wall_s": wall, "best_s": best,
                "tflops": tflops, "vendor_tflops": vendor, "latencies": lats,
                "seen_latencies": curve(db, w, dev.name, seen=True),
                "best_schedule": summary.best_schedule, "confirmed": summary.confirmed,
            }  # fmt: skip
            results.append(row)
            print(f"{w.label:40s} {label:21s} seed {seed}: {len(lats)} trials "
                  f"in {wall:6.1f} s, best {tflops or 0:.3f} TFLOP/s"
                  + (f" (vendor {vendor:.3f})" if vendor else ""), flush=True)  # fmt: skip
            db.close()
            if args.out:
                Path(args.out).write_text(json.dumps(results, indent=1))
    pool.shutdown()
    print()
    print(f"{'workload':40s} {'strategy':21s} {'seed':>4s} {'trials':>6s} {'time s':>7s} "
          f"{'TFLOP/s':>8s} {'vendor':>7s} {'ratio':>6s}")  # fmt: skip
    for r in results:
        ratio = r["tflops"] / r["vendor_tflops"] if r["tflops"] and r["vendor_tflops"] else None
        print(f"{r['workload']:40s} {r['strategy']:21s} {r['seed']:4d} {r['trials']:6d} "
              f"{r['wall_s']:7.1f} {r['tflops'] or 0:8.3f} {r['vendor_tflops'] or 0:7.3f} "
              f"{ratio or 0:6.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
