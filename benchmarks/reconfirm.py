"""Confirm the bests of search_compare.py runs again, with nothing else running.

    python3 benchmarks/reconfirm.py RESULTS.json --db-dir DIR --out RECONFIRMED.json

At the end of a run, `tune` re-measures its fastest trials with a stricter protocol and keeps
the re-measured figure (the first stays in the trial's details). A run whose confirmation met a
busy machine (a study's 2-core VM shared with other work) ends with its fastest kernels marked
slower than they are, and its best is then a lesser kernel. This puts every confirmed trial of
each run back to its first measurement, in a copy of the run's database from --db-dir (the
study's own databases are not touched), and runs `tune`'s confirmation again (same code, same
protocol), run after run, seed by seed. Each row of --out is the run's row with its latencies,
best and best schedule from the new confirmation, and `before` keeping the old best (TFLOP/s)
and `confirm_s`. Prints one line per run. On a small shared VM two passes of this can
disagree by 5% and sometimes far more (BENCHMARKS.md, issue 6, "Twelfth session"): run it
more than once.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from plot_search import workload_of  # noqa: E402
from search_compare import curve  # noqa: E402

from measure import DevicePool, detect_local  # noqa: E402
from tuner.tune import TuneOptions, confirm, device_info  # noqa: E402
from tuning_db import TuningDB  # noqa: E402
from tuning_db.models import TrialRow  # noqa: E402


def unconfirm(db: TuningDB) -> int:
    """Put every confirmed trial back to its first measurement; how many there were."""
    n = 0
    with db.session() as s:
        for row in s.query(TrialRow).filter(TrialRow.confirmed.is_(True)):
            details = json.loads(row.details)
            first = details.pop("first")
            row.status, row.latency_s = first["status"], first["latency_s"]
            row.samples, row.protocol = json.dumps(first["samples"]), json.dumps(first["protocol"])
            row.details, row.confirmed, row.error = json.dumps(details), False, ""
            n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", help="a search_compare.py --out file")
    ap.add_argument("--db-dir", required=True, help="the runs' databases (search_compare's)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default=None)
    args = ap.parse_args()
    rows = json.loads(Path(args.results).read_text())
    paths = [Path(args.db_dir) / f"{workload_of(r).key[:12]}-{r['strategy']}-{r['seed']}.db"
             for r in rows]  # fmt: skip
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        sys.exit(f"no database for {len(missing)} run(s): {', '.join(missing)}")
    dev = next(d for d in detect_local() if args.device in (None, d.name))
    pool = DevicePool()
    pool.start()
    info = device_info(pool, dev.name)
    print(f"device: {dev.name} ({dev.description}, {dev.driver})", flush=True)
    out, tmp = [None] * len(rows), Path(tempfile.mkdtemp())
    for i in sorted(range(len(rows)), key=lambda i: (rows[i]["seed"], i)):
        r, w = rows[i], workload_of(rows[i])
        copy = tmp / paths[i].name
        shutil.copy(paths[i], copy)
        db = TuningDB(str(copy))
        undone = unconfirm(db)
        t0 = time.time()
        best, schedule, confirmed = confirm(w, info, db, pool, TuneOptions(seed=r["seed"]))
        took = time.time() - t0
        lats = curve(db, w, dev.name)
        if len(lats) != r["trials"]:
            sys.exit(f"{paths[i]} holds {len(lats)} trials, the results {r['trials']}")
        tflops = w.compute.flops / best / 1e12 if best else None
        out[i] = {**r, "latencies": lats, "seen_latencies": curve(db, w, dev.name, seen=True),
                  "best_s": best, "tflops": tflops, "best_schedule": schedule,
                  "before": r["tflops"], "confirm_s": took, "confirmed": confirmed}  # fmt: skip
        db.close()
        print(f"{w.label:40s} {r['strategy']:21s} seed {r['seed']}: best "
              f"{(r['tflops'] or 0) * 1e3:6.1f} -> {(tflops or 0) * 1e3:6.1f} GFLOP/s "
              f"({undone} confirmations undone, {took:.0f} s"
              f"{'' if confirmed else '; the best is NOT confirmed'})", flush=True)  # fmt: skip
        Path(args.out).write_text(json.dumps([x for x in out if x], indent=1))
    pool.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
