"""How far the generator's space reaches on GMM, beside cuBLAS: is the gap the search or the space?

    python benchmarks/gmm_space.py [--only 4096,1024] [--top 6] [--out results.json]

For each matmul size, stage 1 generates the tile_cache schedules of hand-picked work-group
tiles and thread layouts (the shapes fast SGEMM kernels use: 64 to 256 rows and columns, 64 to
256 threads, each thread's rows and columns split every way between strided (`vthread`) and
contiguous (`inner`) parts) with one setting of the other knobs; stage 2 takes the `--top`
fastest and changes one knob at a time (reduction tile, stages, unroll, vector width,
transposed caches, split reduction), then all the knobs' winners together. Every variant is
compiled with NVRTC in parallel, checked against NumPy and timed by the tuner's runner (L2
flushed, median of at least 10). The five fastest are then built in this process and timed
beside torch's cuBLAS (TF32 off) as gpu_vs_vendor.py times them (warm L2, one launch behind a
spin kernel), alternating over 3 rounds; with `cuobjdump` on the PATH their SASS instruction
counts are given too. Prints the table last.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.gpu_vs_vendor import event_time, ours_here, protocols  # noqa: E402
from benchmarks.random_vs_vendor import vendor_fn  # noqa: E402
from measure import MeasureInput, MeasureOptions, detect_local  # noqa: E402
from measure.builder import Builder  # noqa: E402
from measure.pool import open_backend  # noqa: E402
from measure.runner import Runner  # noqa: E402
from search_spaces import Schedule, Workload, check, generate  # noqa: E402

# (rows, columns, threads along rows, threads along columns) of a work-group
BLOCKS = {
    4096: [(128, 128, 16, 16), (128, 128, 8, 32), (128, 128, 32, 8), (128, 128, 8, 16),
           (128, 128, 16, 8), (64, 256, 4, 32), (64, 256, 8, 16), (128, 256, 16, 16),
           (256, 128, 16, 16), (128, 64, 16, 8), (64, 128, 8, 16)],
    1024: [(64, 64, 8, 8), (64, 64, 8, 16), (64, 64, 16, 16), (128, 64, 16, 8),
           (64, 128, 8, 16), (128, 128, 16, 16), (32, 64, 8, 16), (64, 32, 16, 8),
           (128, 32, 16, 8), (32, 128, 8, 16)],
}  # fmt: skip
KNOBS = {
    "reduce": [(8,), (16,), (32,)],
    "stages": [1, 2, 3],
    "unroll": [0, 1, 4, 16],
    "vector": [1, 2, 4],
    "cache_t": [(), ("X",), ("Y",), ("X", "Y")],
    "rsplit": [1, 2, 4],
}


def splits(n: int) -> list[tuple[int, int]]:
    """(strided, contiguous) ways to give a thread n rows or columns."""
    return [(n // c, c) for c in (1, 2, 4, 8) if n % c == 0 and n // c <= 8]


def layouts(size: int) -> list[Schedule]:
    out = []
    for bm, bn, ti, tj in BLOCKS[size]:
        for (vi, ii), (vj, ij) in itertools.product(splits(bm // ti), splits(bn // tj)):
            sch = Schedule("tile_cache", ((1, 1, 1), (vi, ti, ii), (vj, tj, ij)), (16,),
                           vector=min(ij, 4), unroll=0, cache=("X", "Y"), stages=3)  # fmt: skip
            out.append(sch)
    return out


def legal(w: Workload, s: Schedule, target) -> Schedule | None:
    """`s`, or with fewer stages where its buffers do not fit; None if still not valid."""
    for stages in range(s.stages, 0, -1):
        c = replace(s, stages=stages)
        if check(w.compute, c, target) is None:
            return c
    return None


def sass_counts(cubin: bytes) -> dict:
    """Instruction counts in the kernel's SASS (cuobjdump), by opcode family."""
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(cubin)
        f.flush()
        text = subprocess.run(["cuobjdump", "-sass", f.name], capture_output=True, text=True,
                              check=False).stdout  # fmt: skip
    ops = Counter()
    for line in text.splitlines():
        if "/*" in line and ";" in line:
            ins = line.split("*/", 1)[1].strip().split()
            if ins:
                op = ins[1] if ins[0].startswith("@") and len(ins) > 1 else ins[0]
                ops[op if op.startswith("LDS") else op.split(".")[0]] += 1
    keep = ("FFMA", "LDS", "LDGSTS", "BAR", "IMAD", "IADD3")
    return {k: v for k, v in ops.items() if k.startswith(keep)} | {"total": sum(ops.values())}


class Bench:
    def __init__(self) -> None:
        self.device = next(d for d in detect_local() if d.backend == "cuda")
        self.backend = open_backend(self.device)
        self.runner = Runner(self.backend)
        self.builder = Builder(type(self.backend).compile_artifact, self.backend.build_key, 16)
        self.target = self.device.target
        self.opts = MeasureOptions(min_repeats=10, budget_s=0.03)
        self.artifacts: dict[str, bytes] = {}

    def time(self, w: Workload, schedules: list[Schedule]) -> list[tuple[float, Schedule, dict]]:
        """(seconds, schedule, resources) of each schedule that builds and checks, fastest first."""
        kernels = [(s, generate(w, s, self.target)) for s in dict.fromkeys(schedules)]
        self.builder.submit([k.source for _, k in kernels])
        out = []
        for s, k in kernels:
            try:
                self.artifacts[k.source] = art = self.builder.get(k.source, timeout=300)[0]
            except Exception as e:  # a build error is a result here
                print(f"  build failed: {s.to_json()}: {str(e)[:120]}", flush=True)
                continue
            r = self.runner.measure(MeasureInput(w, k, self.opts), art)
            if r.ok:
                out.append((r.latency_s, s, r.resources))
            else:
                print(f"  {r.status.value}: {s.to_json()}: {r.error[:120]}", flush=True)
        return sorted(out, key=lambda x: x[0])


def explore(b: Bench, size: int, top: int) -> dict:
    w = Workload.parse("matmul", f"M={size},N={size},K={size}")
    tf = lambda t: w.compute.flops / t / 1e12  # noqa: E731
    base = [s for s in (legal(w, s, b.target) for s in layouts(size)) if s]
    stage1 = b.time(w, base)
    print(f"GMM {size}: stage 1, {len(stage1)} of {len(base)} layouts timed; fastest "
          f"{tf(stage1[0][0]):.2f} TFLOP/s", flush=True)  # fmt: skip
    rows = list(stage1)
    for _, s0, _ in stage1[:top]:
        tried = {}
        for knob, values in KNOBS.items():
            variants = [legal(w, replace(s0, **{knob: v}), b.target) for v in values]
            timed = b.time(w, [v for v in variants if v])
            rows += timed
            if timed:
                tried[knob] = getattr(timed[0][1], knob)
        both = legal(w, replace(s0, **tried), b.target)
        if both:
            rows += b.time(w, [both])
    rows.sort(key=lambda x: x[0])
    best = list({r[1]: r for r in rows}.values())[:5]
    print(f"GMM {size}: stage 2 done, fastest {tf(best[0][0]):.2f} TFLOP/s", flush=True)
    # the five fastest beside cuBLAS, as gpu_vs_vendor.py times them
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    busy = protocols()["busy"]
    arrays = w.random_inputs(0)
    cublas, _ = vendor_fn(w, arrays)
    launchers, errors = [], []
    for _, s, _ in best:
        err, launch = ours_here(b.backend, w, generate(w, s, b.target))
        errors.append(err)
        launchers.append(launch)
    rounds: dict[str, list[float]] = {}
    for _ in range(3):
        rounds.setdefault("cublas", []).append(event_time(cublas, busy))
        for i, launch in enumerate(launchers):
            rounds.setdefault(str(i), []).append(event_time(launch, busy))
    vendor = statistics.median(rounds["cublas"])
    final = []
    for i, (t_flushed, s, res) in enumerate(best):
        t = statistics.median(rounds[str(i)])
        k = generate(w, s, b.target)
        sass = sass_counts(b.artifacts[k.source]) if shutil.which("cuobjdump") else {}
        final.append({"schedule": s.to_json(), "tflops": tf(t), "flushed_tflops": tf(t_flushed),
                      "vs_cublas": vendor / t, "rel_error": errors[i], "resources": res,
                      "sass": sass})  # fmt: skip
    return {
        "size": size,
        "cublas_tflops": tf(vendor),
        "best": final,
        "timed": len(rows),
        "all": [{"schedule": s.to_json(), "flushed_tflops": tf(t)} for t, s, _ in rows],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="4096,1024", help="comma-separated sizes")
    ap.add_argument("--top", type=int, default=6, help="layouts refined in stage 2")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    b = Bench()
    print(f"device: {b.device.name} ({b.device.description}, {b.device.driver})", flush=True)
    results = []
    for size in (int(x) for x in args.only.split(",")):
        results.append(explore(b, size, args.top))
        if args.out:
            Path(args.out).write_text(json.dumps(results, indent=1))
    b.builder.close()
    print()
    print(f"{b.device.description}: fastest schedules found, warm L2, busy GPU (L2 flushed in "
          "brackets), TFLOP/s")  # fmt: skip
    for r in results:
        print(f"GMM {r['size']}^3: cuBLAS {r['cublas_tflops']:.2f}; {r['timed']} variants timed")
        for x in r["best"]:
            res = x["resources"]
            print(f"  {x['tflops']:6.2f} ({x['flushed_tflops']:6.2f}) {x['vs_cublas']:5.2f}x "
                  f"err {x['rel_error']:.0e} regs {res.get('registers', 0)} "
                  f"{json.dumps(x['schedule'])} {x['sass']}")  # fmt: skip


if __name__ == "__main__":
    main()
