"""TVM MetaSchedule baseline: tune fp32 matmul M=N=K=1024 on the host CPU (llvm) and time the best.

Runs in its own virtualenv, not the project's (TVM 0.27 needs apache-tvm-ffi 0.1.14; newer crash):

    python3 -m venv /work/tvmenv
    /work/tvmenv/bin/pip install apache-tvm==0.27.0.post1 apache-tvm-ffi==0.1.14.post1 numpy \
        xgboost-cpu psutil cloudpickle
    /work/tvmenv/bin/python benchmarks/tvm_metaschedule.py --trials 64 --out tvm_ms.json

C[i, j] = sum_k A[i, k] * B[k, j], row-major float32. The target is
{"kind": "llvm", "mcpu": <host cpu>, "num-cores": <cores>}. Tuning uses MetaSchedule's defaults
(evolutionary search, XGBoost cost model, local builder and runner) in a fresh temporary work_dir,
with one change to the builder (below).
The best schedule is compiled, checked against numpy (max relative error < 1e-4) and timed with
time_evaluator: the median of --repeat repeats, each the mean of as many calls as fill 200 ms.
Prints one table: trials, tuning time (s), best latency (ms), GFLOP/s (2*M*N*K / latency).

The builder. MetaSchedule's LocalBuilder starts fresh worker processes for every batch, and its
build function imports `tvm.s_tir.tensor_intrin` in each. That import parses TVMScript for every
target's tensor intrinsics: 30 to 90 s on the 2-core development VM, depending on its load (CUDA's
alone took 63 s at load 7). It overruns the builder's 30 s timeout, and every build of the batch
fails. So by default
the builder runs `build_without_intrinsics` (MetaSchedule's default_build without that import; an
fp32 llvm schedule uses no tensor intrinsic), and the main process imports `tensor_intrin` once
before the clock starts (the time is reported as `intrin_import_s`). `--stock-builder` uses the
unchanged LocalBuilder.

`--export PATH` saves the best kernel as a shared library; `--time-only PATH` loads one, checks
and times it, and prints the result as JSON (benchmarks/cpu_vs_tvm.py re-times kernels this way).
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import statistics
import tempfile
import time

import numpy as np
import psutil
import tvm
import tvm_ffi
from tvm import te
from tvm.s_tir import meta_schedule as ms


def matmul(m: int, n: int, k: int) -> tvm.tirx.PrimFunc:
    a = te.placeholder((m, k), name="A", dtype="float32")
    b = te.placeholder((k, n), name="B", dtype="float32")
    r = te.reduce_axis((0, k), name="k")
    c = te.compute((m, n), lambda i, j: te.sum(a[i, r] * b[r, j], axis=r), name="C")
    return te.create_prim_func([a, b, c])


def build_without_intrinsics(mod, target, _params):
    """MetaSchedule's default_build without `import tvm.s_tir.tensor_intrin`."""
    from tvm.driver import build as tvm_build
    from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock

    mod = RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod)
    return tvm_build(mod, target=target)


def check_and_time(mod, size: int, seed: int, repeat: int) -> tuple[float, float]:
    """Max relative error against numpy, and the median latency (s) of `repeat` time_evaluator
    repeats of at least 200 ms each."""
    dev = tvm.cpu(0)
    rng = np.random.default_rng(seed)
    a_np = rng.uniform(-1, 1, (size, size)).astype("float32")
    b_np = rng.uniform(-1, 1, (size, size)).astype("float32")
    a, b = tvm.runtime.tensor(a_np, dev), tvm.runtime.tensor(b_np, dev)
    c = tvm.runtime.tensor(np.zeros((size, size), "float32"), dev)
    mod["main"](a, b, c)
    ref = a_np.astype("float64") @ b_np.astype("float64")
    rel_err = float(np.max(np.abs(c.numpy() - ref)) / np.max(np.abs(ref)))
    timer = mod.time_evaluator("main", dev, number=1, repeat=repeat, min_repeat_ms=200)
    return rel_err, statistics.median(timer(a, b, c).results)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=64)
    ap.add_argument("--size", type=int, default=1024, help="M = N = K")
    ap.add_argument("--cores", type=int, default=psutil.cpu_count(logical=False) or 1)
    ap.add_argument("--mcpu", default=tvm.target.codegen.llvm_get_system_cpu())
    ap.add_argument("--repeat", type=int, default=15, help="time_evaluator repeats")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="also write the result as JSON to this file")
    ap.add_argument("--stock-builder", action="store_true", help="MetaSchedule's own LocalBuilder")
    ap.add_argument("--export", help="save the best kernel as a shared library at this path")
    ap.add_argument("--time-only", metavar="LIB", help="only check and time a saved --export "
                    "library; prints {max_rel_err, latency_ms} as JSON")  # fmt: skip
    args = ap.parse_args()

    size = args.size
    if args.time_only:
        rel_err, latency_s = check_and_time(
            tvm.runtime.load_module(args.time_only), size, args.seed, args.repeat
        )
        print(json.dumps({"max_rel_err": rel_err, "latency_ms": latency_s * 1e3}))
        if not rel_err < 1e-4:
            raise SystemExit(1)
        return

    target = tvm.target.Target({"kind": "llvm", "mcpu": args.mcpu, "num-cores": args.cores})
    func = matmul(size, size, size)
    builder = "local"
    intrin_import_s = None
    if not args.stock_builder:
        builder = ms.builder.LocalBuilder(f_build=build_without_intrinsics)
        t0 = time.perf_counter()
        importlib.import_module("tvm.s_tir.tensor_intrin")  # what TuneContext imports
        intrin_import_s = time.perf_counter() - t0

    with tempfile.TemporaryDirectory(prefix="tvm_ms_") as work_dir:
        t0 = time.perf_counter()
        database = ms.tune_tir(
            func,
            target,
            work_dir=work_dir,
            max_trials_global=args.trials,
            num_tuning_cores=args.cores,
            seed=args.seed,
            builder=builder,
        )
        tuning_s = time.perf_counter() - t0
        records = database.get_all_tuning_records()
        # a failed build or run is stored with run times of 1e10 s (MetaSchedule's max_float)
        runs = [[float(x) for x in r.run_secs] for r in records if r.run_secs]
        ok_runs = [statistics.mean(r) for r in runs if max(r) < 1e9]
        sch = ms.tir_integration.compile_tir(database, func, target)
    if sch is None:
        raise SystemExit("MetaSchedule found no valid schedule")
    lib = tvm.compile(sch.mod, target=target)
    if args.export:
        lib.export_library(args.export)
    rel_err, latency_s = check_and_time(lib.mod, size, args.seed, args.repeat)
    correct = rel_err < 1e-4
    latency_ms = latency_s * 1e3
    gflops = 2 * size**3 / latency_s / 1e9

    result = {
        "workload": f"matmul M=N=K={size} fp32",
        "target": str(target),
        "tvm": tvm.__version__,
        "tvm_ffi": tvm_ffi.__version__,
        "host": platform.node(),
        "trials": args.trials,
        "measured": len(records),
        "measured_ok": len(ok_runs),
        "best_tuning_run_ms": round(min(ok_runs) * 1e3, 3) if ok_runs else None,
        "tuning_s": round(tuning_s, 1),
        "builder": "stock LocalBuilder" if args.stock_builder else "build_without_intrinsics",
        "intrin_import_s": None if intrin_import_s is None else round(intrin_import_s, 1),
        "latency_ms": round(latency_ms, 3),
        "gflops": round(gflops, 1),
        "max_rel_err": rel_err,
        "correct": correct,
        "schedule_trace": str(sch.trace),
    }
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)

    print(f"\ntarget: {target}  (tvm {tvm.__version__}, tvm-ffi {tvm_ffi.__version__})")
    print(f"check vs numpy: max rel err {rel_err:.2e} -> {'OK' if correct else 'WRONG'}")
    print(f"measured {len(records)} candidates, {len(ok_runs)} ran")
    print(f"{'trials':>6}  {'tuning (s)':>10}  {'latency (ms)':>12}  {'GFLOP/s':>8}")
    print(f"{args.trials:>6}  {tuning_s:>10.1f}  {latency_ms:>12.3f}  {gflops:>8.1f}")
    if not correct:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
