"""Against TVM's MetaSchedule on this machine's CPU: GMM 1024³ at the same trial budgets.

    .venv/bin/python benchmarks/cpu_vs_tvm.py --budgets 64,256

For each budget, both sides tune from nothing and their best kernel is timed:

- ours: `tune run --device auto` (PoCL, the evolutionary search by default) on a fresh SQLite
  database with a fresh PoCL kernel cache, so every compile counts. The tuning time is the wall
  time of `tune run` (Ray start-up included). Its best kernel (`tune lookup`) is then checked
  against NumPy and timed with naive_vs_tuned.py's fixed protocol: 7 rounds, each the median of
  at least 5 profiling-event samples and 0.2 s of kernel time; the figure is the median round.
- TVM: benchmarks/tvm_metaschedule.py in the TVM virtualenv (--tvm-python): MetaSchedule's
  defaults on target llvm with every core, a fresh work_dir. Its tuning time is the wall time of
  `tune_tir`; its best kernel is checked against NumPy and timed with time_evaluator (median of
  15 repeats of at least 200 ms each).

The sides alternate (ours first at the first budget, TVM first at the next, ...) so drift in the
load of a shared machine falls on both alike. At the end every best kernel is timed again,
interleaved over --final-rounds rounds (ours: one round of the protocol above; TVM: the saved
library, 5 time_evaluator repeats in a fresh process), and the table's GFLOP/s is the median of
those rounds: that figure is what the ratio uses, as all kernels see the same load. The 1-minute
load average is sampled before, during (every 5 s) and after each side. Prints one table last
and writes everything as JSON.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from naive_vs_tuned import time_interleaved, tune_fresh  # noqa: E402

from measure import detect_local  # noqa: E402
from measure.opencl import OpenCLBackend  # noqa: E402
from measure.runner import Runner  # noqa: E402
from search_spaces import Schedule, Workload, generate  # noqa: E402


class LoadSampler:
    """The 1-minute load average before, every `every` seconds during, and after a block."""

    def __init__(self, every: float = 5.0):
        self.every = every
        self.samples: list[float] = []
        self._stop = threading.Event()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadSampler:
        self.before = os.getloadavg()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.after = os.getloadavg()

    def to_json(self) -> dict:
        s = self.samples or [self.after[0]]
        return {
            "before": [round(x, 2) for x in self.before],
            "after": [round(x, 2) for x in self.after],
            "during_1min_mean": round(statistics.mean(s), 2),
            "during_1min_max": round(max(s), 2),
        }


def machine() -> dict:
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "host": platform.node(),
        "cpu": model,
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def trial_log(db: Path) -> list[dict]:
    """Every trial of the run in the order it was stored."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        rows = con.execute(
            "SELECT status, latency_s, compile_s, json_extract(details, '$.check_s'), "
            "json_extract(details, '$.time_s'), json_array_length(samples) "
            "FROM trials ORDER BY created_at, id"
        ).fetchall()
    keys = ("status", "latency_s", "compile_s", "check_s", "time_s", "samples")
    return [dict(zip(keys, row)) for row in rows]


def run_ours(size: int, budget: int, seed: int, rounds: int, workdir: Path) -> tuple[dict, object]:
    shape, flops = f"M={size},N={size},K={size}", 2 * size**3
    with LoadSampler() as load:
        tuning_s, best, cmd = tune_fresh("matmul", shape, budget, seed, workdir)
    device = detect_local()[0]
    w = Workload.parse("matmul", shape)
    kernel = generate(w, Schedule.from_json(best["schedule"]), device.target)
    errors: dict[str, float] = {}
    with LoadSampler() as timing_load:
        rounds_s = time_interleaved(Runner(OpenCLBackend(device)), w, {"best": kernel}, rounds,
                                    errors)["best"]  # fmt: skip
    latency_s = statistics.median(rounds_s)
    trials = trial_log(workdir / "bench.db")
    curve, best_so_far = [], None
    for t in trials:
        if t["status"] == "ok" and (best_so_far is None or t["latency_s"] < best_so_far):
            best_so_far = t["latency_s"]
        curve.append(None if best_so_far is None else round(flops / best_so_far / 1e9, 2))
    return {
        "side": "ours",
        "command": " ".join(["tune", *cmd[3:]]),
        "device": f"{device.name} ({device.description}, {device.platform} {device.driver})",
        "tuning_s": round(tuning_s, 1),
        "latency_ms": round(latency_s * 1e3, 3),
        "gflops": round(flops / latency_s / 1e9, 2),
        "rounds_ms": [round(x * 1e3, 3) for x in rounds_s],
        "max_rel_err": errors["best"],
        "correct": True,  # time_interleaved asserts every checked run
        "tuner_gflops": best.get("gflops"),
        "schedule": best["schedule"],
        "measured": len(trials),
        "measured_ok": sum(t["status"] == "ok" for t in trials),
        "statuses": {
            s: sum(t["status"] == s for t in trials) for s in {t["status"] for t in trials}
        },
        "compile_s_total": round(sum(t["compile_s"] or 0.0 for t in trials), 1),
        "check_s_total": round(sum(t["check_s"] or 0.0 for t in trials), 1),
        "time_s_total": round(sum(t["time_s"] or 0.0 for t in trials), 1),
        "one_sample": sum(t["samples"] == 1 for t in trials),  # stopped at the checked run
        "best_gflops_after_trial": curve,
        "load": load.to_json(),
        "timing_load": timing_load.to_json(),
    }, kernel


def run_tvm(size: int, budget: int, seed: int, python: str, workdir: Path) -> dict:
    out, lib = workdir / "tvm.json", workdir / "best.so"
    cmd = [python, "benchmarks/tvm_metaschedule.py", "--trials", str(budget), "--seed", str(seed),
           "--size", str(size), "--out", str(out), "--export", str(lib)]  # fmt: skip
    with LoadSampler() as load:
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT)
        wall_s = time.perf_counter() - t0
    r = json.loads(out.read_text())
    return {"side": "tvm", "command": " ".join(cmd[1:]), **r, "process_wall_s": round(wall_s, 1),
            "load": load.to_json(), "library": str(lib)}  # fmt: skip


def retime(runs: list[dict], kernels: dict, size: int, seed: int, rounds: int, python: str) -> dict:
    """Every best kernel again, interleaved over `rounds` rounds; each run gets `final_ms` (its
    round figures) and `final_gflops` (their median)."""
    shape = f"M={size},N={size},K={size}"
    device = detect_local()[0]
    w = Workload.parse("matmul", shape)
    runner = Runner(OpenCLBackend(device))
    for r in runs:
        r["final_ms"] = []
    with LoadSampler() as load:
        for _ in range(rounds):
            for i, r in enumerate(runs):
                if r["side"] == "ours":
                    lat = time_interleaved(runner, w, {"best": kernels[i]}, 1)["best"][0] * 1e3
                else:
                    cmd = [python, "benchmarks/tvm_metaschedule.py", "--size", str(size),
                           "--seed", str(seed), "--repeat", "5",
                           "--time-only", r["library"]]  # fmt: skip
                    got = subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, text=True)
                    lat = json.loads(got.stdout.strip().splitlines()[-1])["latency_ms"]
                r["final_ms"].append(round(lat, 3))
    for r in runs:
        r["final_gflops"] = round(2 * size**3 / statistics.median(r["final_ms"]) / 1e6, 2)
    return load.to_json()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budgets", default="64,256", help="trial budgets, comma-separated")
    ap.add_argument("--size", type=int, default=1024, help="M = N = K")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=7, help="timing rounds of our best kernel")
    ap.add_argument("--final-rounds", type=int, default=5, help="rounds of the final re-timing")
    ap.add_argument("--sides", default="ours,tvm", help="comma-separated: ours, tvm or both")
    ap.add_argument("--tvm-python", default="/work/tvmenv/bin/python")
    ap.add_argument("--machine-name", default="devvm")
    ap.add_argument("--date", default=datetime.date.today().isoformat())
    ap.add_argument(
        "--out", help="JSON path (default benchmarks/results/cpu_vs_tvm-MACHINE-DATE.json)"
    )
    args = ap.parse_args()

    budgets = [int(b) for b in args.budgets.split(",")]
    sides = args.sides.split(",")
    out_path = Path(
        args.out or ROOT / f"benchmarks/results/cpu_vs_tvm-{args.machine_name}-{args.date}.json"
    )
    # the parent's own OpenCL context (for timing) gets a fresh kernel cache too
    top = Path(tempfile.mkdtemp(prefix="cpu-vs-tvm-"))
    os.environ["POCL_CACHE_DIR"] = str(top / "pocl-cache-timing")

    report = {
        "benchmark": "cpu_vs_tvm",
        "workload": f"matmul M=N=K={args.size} fp32",
        "command": " ".join([".venv/bin/python", "benchmarks/cpu_vs_tvm.py", *sys.argv[1:]]),
        "date": args.date,
        "machine": {"name": args.machine_name, **machine()},
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "runs": [],
    }

    def save() -> None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(report, indent=1) + "\n")

    kernels: dict[int, object] = {}  # our best kernels, by index in report["runs"]
    for i, budget in enumerate(budgets):
        order = sides if i % 2 == 0 else sides[::-1]
        for side in order:
            workdir = top / f"{side}-{budget}"
            workdir.mkdir()
            print(f"\n=== {side}, {budget} trials (load {os.getloadavg()}) ===", flush=True)
            if side == "ours":
                r, kernels[len(report["runs"])] = run_ours(
                    args.size, budget, args.seed, args.rounds, workdir
                )
            else:
                r = run_tvm(args.size, budget, args.seed, args.tvm_python, workdir)
            r["budget"] = budget
            report["runs"].append(r)
            save()
            print(f"--> {side} {budget}: {r['tuning_s']} s, {r['gflops']} GFLOP/s, "
                  f"load {r['load']}", flush=True)  # fmt: skip
    print(f"\n=== final re-timing, {args.final_rounds} interleaved rounds ===", flush=True)
    report["final_load"] = retime(report["runs"], kernels, args.size, args.seed,
                                  args.final_rounds, args.tvm_python)  # fmt: skip
    report["finished"] = datetime.datetime.now().isoformat(timespec="seconds")
    save()

    m = report["machine"]
    print(f"\nmachine: {m['host']}, {m['cpu']}, {m['cores']} cores; workload {report['workload']}")
    sides_seen = {r["side"]: r for r in report["runs"]}
    if "ours" in sides_seen:
        print(f"ours: {sides_seen['ours']['device']}")
    if "tvm" in sides_seen:
        r = sides_seen["tvm"]
        print(f"tvm:  {r['tvm']} (tvm-ffi {r['tvm_ffi']}), target {r['target']}")
    print(f"raw results: {out_path}")
    print(f"final re-timing load (1-min): {report['final_load']}")
    print("GFLOP/s: after = right after its own tuning; final = median of the interleaved "
          "re-timing (the ratio uses it)")  # fmt: skip
    head = (f"{'budget':>6}  {'side':4}  {'tuning (s)':>10}  {'after':>7}  {'final':>7}  "
            f"{'ours/TVM GFLOP/s':>16}  {'ours/TVM time':>13}  "
            f"{'load 1-min before / mean during / after':>40}")  # fmt: skip
    print(head)
    for budget in budgets:
        by = {r["side"]: r for r in report["runs"] if r["budget"] == budget}
        for side in sides:
            r = by[side]
            ratio_g = ratio_t = ""
            if side == "ours" and "tvm" in by:
                ratio_g = f"{r['final_gflops'] / by['tvm']['final_gflops']:.2f}x"
                ratio_t = f"{r['tuning_s'] / by['tvm']['tuning_s']:.2f}x"
            ld = r["load"]
            load = f"{ld['before'][0]:.2f} / {ld['during_1min_mean']:.2f} / {ld['after'][0]:.2f}"
            print(f"{budget:>6}  {side:4}  {r['tuning_s']:>10.1f}  {r['gflops']:>7.1f}  "
                  f"{r['final_gflops']:>7.1f}  {ratio_g:>16}  {ratio_t:>13}  "
                  f"{load:>40}")  # fmt: skip


if __name__ == "__main__":
    main()
