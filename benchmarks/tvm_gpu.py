"""TVM's MetaSchedule on the GPU, beside our kernels and cuBLAS/cuDNN under one protocol.

    python3 benchmarks/tvm_gpu.py [--trials 64] [--seed 0] [--only "GMM 1024,C2D 56"] \
        [--ours gpu_vs_vendor.json] [--out tvm_gpu.json]

For issue 8's workloads (benchmarks/gpu_vs_vendor.py's ISSUE rows), the same computation is
written in TVM's tensor expressions, over the tensors of ../shared/workloads/OPERATORS.md, and
tuned from nothing with `ms.tune_tir` (MetaSchedule's defaults: evolutionary search, XGBoost
cost model, local builder and runner on every core) for target cuda sm_90, --trials trials.
The builder is tvm_metaschedule.py's (MetaSchedule's default build without importing every
target's tensor intrinsics in each builder process; the main process imports them once before
the clock starts). Tuning time is the wall time of `tune_tir`.

The best kernel is checked against NumPy (our reference, a poisoned output buffer, inputs of a
fresh seed) and timed in this process three ways: TVM's own `time_evaluator` (number 3 at
least 100 ms, as its runner), and gpu_vs_vendor.py's protocol (CUDA events around one launch,
a spin kernel queued ahead so that inputs stay warm in L2 and host launch time stays out;
median of 100), in 3 rounds interleaved with cuBLAS/cuDNN and, with --ours, with our kernel
from a gpu_vs_vendor.py --out file (rebuilt here from its schedule and checked the same way).
The median round is reported. A second protocol, `b2b` (back to back), is closer to TVM's
evaluator without favouring a launcher that is quicker on the host: a spin kernel of about 1 ms,
then events around 20 launches in a row (per launch: the time between them / 20), median of 30.
Runs on the GPU machine with TVM beside the project (TVM 0.27 needs apache-tvm-ffi 0.1.14; see
BENCHMARKS.md). Prints the table last.
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.gpu_vs_vendor import ISSUE, SPIN_CYCLES, event_time, ours_here  # noqa: E402
from benchmarks.random_vs_vendor import vendor_fn  # noqa: E402
from measure import MeasureOptions, detect_local  # noqa: E402
from measure.runner import relative_error  # noqa: E402
from search_spaces import Schedule, Workload, generate  # noqa: E402

RTOL = MeasureOptions().rtol  # the tuner's own check


def te_func(w: Workload):
    """The workload as a TVM PrimFunc over the contract's tensors (inputs, then the output)."""
    import tvm
    from tvm import te

    s = w.shape
    f32 = "float32"
    if w.op == "matmul":
        b, m, n, k = s.get("B", 1), s["M"], s["N"], s["K"]
        x = te.placeholder((b, m, k), f32, "X")
        y = te.placeholder((b, k, n), f32, "Y")
        r = te.reduce_axis((0, k), "k")
        z = te.compute((b, m, n), lambda bb, i, j: te.sum(x[bb, i, r] * y[bb, r, j], axis=r))
        return te.create_prim_func([x, y, z])
    if w.layout != "NCHW" or s.get("dilation", 1) != 1 or s.get("groups", 1) != 1:
        raise SystemExit(f"tvm_gpu.py: only matmul and NCHW convolutions: {w.label}")
    nb, h, wd, kk, st, p = s["N"], s["H"], s["W"], s["kernel"], s["stride"], s["padding"]
    oh, ow = (h + 2 * p - kk) // st + 1, (wd + 2 * p - kk) // st + 1
    ci = s["C"] if w.op == "depthwise_conv2d" else s["CI"]
    data = te.placeholder((nb, ci, h, wd), f32, "data")

    def pad_at(nn, c, yy, xx):
        inside = te.all(yy >= p, yy < h + p, xx >= p, xx < wd + p)
        return te.if_then_else(inside, data[nn, c, yy - p, xx - p], tvm.tirx.const(0.0, f32))

    pad = te.compute((nb, ci, h + 2 * p, wd + 2 * p), pad_at, "pad")
    ry, rx = te.reduce_axis((0, kk), "ry"), te.reduce_axis((0, kk), "rx")
    if w.op == "depthwise_conv2d":
        weight = te.placeholder((ci, kk, kk), f32, "weight")
        out = te.compute(
            (nb, ci, oh, ow),
            lambda nn, c, yy, xx: te.sum(
                pad[nn, c, yy * st + ry, xx * st + rx] * weight[c, ry, rx], axis=[ry, rx]
            ),
        )
    elif w.op == "conv2d":
        weight = te.placeholder((s["CO"], ci, kk, kk), f32, "weight")
        rc = te.reduce_axis((0, ci), "rc")
        out = te.compute(
            (nb, s["CO"], oh, ow),
            lambda nn, co, yy, xx: te.sum(
                pad[nn, rc, yy * st + ry, xx * st + rx] * weight[co, rc, ry, rx],
                axis=[rc, ry, rx],
            ),
        )
    else:
        raise SystemExit(f"tvm_gpu.py: no TVM expression for {w.op}")
    return te.create_prim_func([data, weight, out])


def cuda_target():
    import tvm

    attrs = tvm.target.Target("nvidia/nvidia-h100").attrs  # limits shared by the H100 and H200
    return tvm.target.Target({**dict(attrs), "kind": "cuda", "arch": "sm_90"}, host="llvm")


def tune_tvm(w: Workload, trials: int, seed: int, target) -> dict:
    """Tune with MetaSchedule; the compiled best, tuning time and its own best measurement."""
    import tvm
    from tvm.s_tir import meta_schedule as ms

    from benchmarks.tvm_metaschedule import build_without_intrinsics

    func = te_func(w)
    builder = ms.builder.LocalBuilder(f_build=build_without_intrinsics)
    with tempfile.TemporaryDirectory(prefix="tvm_ms_") as work_dir:
        t0 = time.perf_counter()
        database = ms.tune_tir(
            func, target, work_dir=work_dir, max_trials_global=trials, seed=seed,
            builder=builder, num_tuning_cores="logical",
        )  # fmt: skip
        tuning_s = time.perf_counter() - t0
        records = database.get_all_tuning_records()
        ok = [statistics.mean(float(x) for x in r.run_secs) for r in records if r.run_secs]
        ok = [x for x in ok if x < 1e9]  # failures are stored as 1e10 s
        sch = ms.tir_integration.compile_tir(database, func, target)
    if sch is None:
        return {"tvm_tuning_s": tuning_s, "tvm_measured": len(records), "lib": None}
    return {
        "tvm_tuning_s": tuning_s,
        "tvm_measured": len(records),
        "tvm_measured_ok": len(ok),
        "tvm_tuning_best_s": min(ok) if ok else None,
        "tvm_trace": str(sch.trace),
        "lib": tvm.compile(sch.mod, target=target),
    }


def tvm_launcher(lib, w: Workload):
    """TVM's kernel on torch tensors (inputs of a fresh seed): its relative error, a launcher,
    and TVM's own time_evaluator median (number 3, at least 100 ms, 5 repeats)."""
    import numpy as np
    import torch
    import tvm

    arrays = w.random_inputs(11)
    ref = w.reference(arrays)
    ts = [torch.from_numpy(np.ascontiguousarray(a, np.float32)).cuda() for a in arrays]
    ts.append(torch.full(ref.shape, float("nan"), dtype=torch.float32, device="cuda"))
    args = [tvm.runtime.from_dlpack(t) for t in ts]
    f = lib["main"]
    f(*args)
    torch.cuda.synchronize()
    err = relative_error(ts[-1].cpu().numpy(), ref)
    timer = lib.mod.time_evaluator("main", tvm.cuda(0), number=3, repeat=5, min_repeat_ms=100)
    evaluator_s = statistics.median(timer(*args).results)
    return err, (lambda: f(*args)), evaluator_s


def spin(cycles: int = SPIN_CYCLES) -> None:
    import torch

    torch.cuda._sleep(cycles)


def back_to_back(fn, n: int = 20, repeats: int = 30) -> float:
    """Median seconds per launch of `n` launches in a row between CUDA events, queued behind a
    spin of about 1 ms so that the host's launch time stays out (it enqueues all n meanwhile)."""
    import torch

    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    samples = []
    for _ in range(repeats):
        spin(10 * SPIN_CYCLES)
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(n):
            fn()
        b.record()
        b.synchronize()
        samples.append(a.elapsed_time(b) * 1e-3 / n)
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default="", help="comma-separated label prefixes")
    ap.add_argument("--ours", default="", help="a gpu_vs_vendor.py --out file to time beside")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--deadline-s", type=float, default=1e9, help="skip workloads after this")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    t_start = time.time()

    import torch
    import tvm

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    t0 = time.perf_counter()
    importlib.import_module("tvm.s_tir.tensor_intrin")  # what TuneContext imports, once
    intrin_s = time.perf_counter() - t0
    target = cuda_target()
    dev = next(d for d in detect_local() if d.backend == "cuda")
    ours_rows = {}
    if args.ours:
        ours_rows = {r["label"]: r for r in json.loads(Path(args.ours).read_text())}
    backend = None
    if ours_rows:
        from measure.pool import open_backend

        backend = open_backend(dev)
    print(f"device: {dev.description}; tvm {tvm.__version__}, torch {torch.__version__}; "
          f"target {target}; tensor_intrin import {intrin_s:.1f} s", flush=True)  # fmt: skip
    wanted = [x for x in args.only.split(",") if x]
    results = []
    for label, op, shape, issue_tflops, issue_s in ISSUE:
        if wanted and not any(label.startswith(x) for x in wanted):
            continue
        if time.time() - t_start > args.deadline_s:
            print(f"deadline: skipping {label}", flush=True)
            continue
        w = Workload.parse(op, shape)
        flops = w.compute.flops
        tuned = tune_tvm(w, args.trials, args.seed, target)
        lib = tuned.pop("lib")
        row = {"label": label, "trials": args.trials, "seed": args.seed, **tuned,
               "issue_tvm_tflops": issue_tflops, "issue_tvm_tuning_s": issue_s}  # fmt: skip
        launchers = {}
        if lib is not None:
            err, launchers["tvm"], evaluator_s = tvm_launcher(lib, w)
            row.update(tvm_err=err, tvm_correct=err <= RTOL,
                       tvm_evaluator_tflops=flops / evaluator_s / 1e12)  # fmt: skip
        mine = ours_rows.get(label)
        if mine and mine.get("schedule"):
            kernel = generate(w, Schedule.from_json(mine["schedule"]), dev.target)
            err, launchers["ours"] = ours_here(backend, w, kernel)
            row.update(ours_err=err, ours_correct=err <= RTOL, ours_schedule=mine["schedule"],
                       ours_tuning_s=mine["tuning_s"], ours_trials=mine["trials"])  # fmt: skip
        vendor = vendor_fn(w, w.random_inputs(0))
        if vendor is not None:
            launchers["vendor"] = vendor[0]
        rounds = {(name, p): [] for name in launchers for p in ("busy", "b2b")}
        for _ in range(args.rounds):
            for name, fn in launchers.items():
                rounds[name, "busy"].append(flops / event_time(fn, spin) / 1e12)
                rounds[name, "b2b"].append(flops / back_to_back(fn) / 1e12)
        for (name, p), figures in rounds.items():
            key = f"{name}_tflops" if p == "busy" else f"{name}_b2b_tflops"
            row[key] = statistics.median(figures)
            row[f"{name}_{p}_rounds"] = figures
        results.append(row)
        print(f"{label}: TVM {row['tvm_measured']} measured in {row['tvm_tuning_s']:.0f} s, "
              f"{row.get('tvm_tflops') or 0:.2f} TFLOP/s (its evaluator "
              f"{row.get('tvm_evaluator_tflops') or 0:.2f}, err {row.get('tvm_err', 'n/a')}); "
              f"ours {row.get('ours_tflops') or 0:.2f}; vendor "
              f"{row.get('vendor_tflops') or 0:.2f}; back to back: TVM "
              f"{row.get('tvm_b2b_tflops') or 0:.2f}, ours {row.get('ours_b2b_tflops') or 0:.2f}, "
              f"vendor {row.get('vendor_b2b_tflops') or 0:.2f}",
              flush=True)  # fmt: skip
        if args.out:
            Path(args.out).write_text(json.dumps(results, indent=1))
    print()
    print(f"{dev.description}; TFLOP/s (fp32, TF32 off), warm L2, busy GPU (one launch; b2b: 20 "
          f"in a row), median of {args.rounds} interleaved rounds; TVM MetaSchedule, "
          f"{args.trials} trials")  # fmt: skip
    print(f"{'workload':30s} {'TVM s':>6s} {'TVM':>6s} {'(eval)':>7s} {'ours s':>6s} "
          f"{'ours':>6s} {'vendor':>6s} {'ours/TVM':>8s} {'ours/vend':>9s} "
          f"{'b2b: TVM':>8s} {'ours':>6s} {'vendor':>6s} {'ours/TVM':>8s} check")  # fmt: skip
    for r in results:
        tvm_f, ours_f, vend_f = r.get("tvm_tflops"), r.get("ours_tflops"), r.get("vendor_tflops")
        tvm_b, ours_b = r.get("tvm_b2b_tflops"), r.get("ours_b2b_tflops")
        ok = r.get("tvm_correct") and r.get("ours_correct", True)
        print(" ".join([
            f"{r['label']:30s} {r['tvm_tuning_s']:6.0f} {tvm_f or 0:6.2f}",
            f"{'(' + format(r.get('tvm_evaluator_tflops') or 0, '.2f') + ')':>7s}",
            f"{r.get('ours_tuning_s') or 0:6.0f} {ours_f or 0:6.2f} {vend_f or 0:6.2f}",
            f"{f'{ours_f / tvm_f:.2f}x' if ours_f and tvm_f else '':>8s}",
            f"{f'{ours_f / vend_f:.2f}x' if ours_f and vend_f else '':>9s}",
            f"{r.get('tvm_b2b_tflops') or 0:8.2f} {r.get('ours_b2b_tflops') or 0:6.2f}",
            f"{r.get('vendor_b2b_tflops') or 0:6.2f}",
            f"{f'{ours_b / tvm_b:.2f}x' if ours_b and tvm_b else '':>8s}",
            "ok" if ok else "NOT CHECKED OK",
        ]))  # fmt: skip


if __name__ == "__main__":
    main()
