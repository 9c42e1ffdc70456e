"""Two generators (or TVM's kernels) on the same schedules, side by side on a GPU.

    # on any machine: each generator writes its kernels for the cases below
    git worktree add /tmp/before <commit>
    python3 benchmarks/generator_ab.py emit --generator /tmp/before --tag before --out before.json
    python3 benchmarks/generator_ab.py emit --tag after --out after.json
    # on the GPU machine: build, check and time them all in one process
    python3 benchmarks/generator_ab.py time before.json after.json \
        [benchmarks/data/tvm_kernels-h200.json.gz] [--out results.json]

`emit` generates, with the search_spaces package under --generator (default: this checkout),
the kernels of fixed schedules for the H200 target: TVM's best C2D 56x56 and DEP tiles and two
GMM tiles written as our schedules (knob_ablation.py's), each plain, with 3 stages and with the
whole reduction nest unrolled; and the bests of the 64-trial searches recorded in
benchmarks/results (seeds 0 to 2 of the four issue-8 workloads, GMM 4096³ seed 0).
`time` builds every kernel of the given files (ours or tvm_kernels.py's: label, op, shape,
source, entry, params, grid, block) with NVRTC, checks it against NumPy on fresh inputs and
times it with gpu_vs_vendor.py's protocols: CUDA events around one launch, with an L2 flush
queued ahead (flushed) or a spin kernel queued ahead instead (busy: warm L2, host launch time
hidden); median of 60 samples, in 3 rounds that go through all kernels in turn; the table
gives each kernel's median round, with cuBLAS where GMM 4096³ kernels are among them and cuDNN
where DEP kernels are (gpu_probes.py's harness). Prints the table last.

    python3 benchmarks/generator_ab.py sweep ours-0.json ... --out sweep.json   # then `time`
    python3 benchmarks/generator_ab.py floor --out floor.json   # then `time floor.json ...`

    python3 benchmarks/generator_ab.py heavy --out heavy.json   # then emit ... --heavy heavy.json

`heavy` picks 12 random plain tile_cache GMM 1024³ schedules whose unrolled fetch holds at
least 48 floats per work-item in registers (with this checkout's generator); `emit --heavy`
adds them to the cases. `sweep` writes the best kernel of each workload of gpu_vs_vendor.py
--out files with each unroll value (0, 1, 4, 16 and -1, the whole nest), the one the search
found marked. `floor` writes probes of what the protocol itself costs at the
depthwise workload's size, not kernels of ours: an empty kernel (448 groups of 448, and one
group of 32), a float4 copy of the input to the output, and a one-tap scale (out = data x one
weight per channel). Their relative error is of course not small.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SEARCHES = [f"gpu_vs_vendor-unrollall-h200-2026-11-22-seed{s}.json" for s in (0, 1, 2)]
GMM4096 = "gpu_vs_vendor-h200-2026-11-22-gmm4096-seed0.json"
FIXED = (
    "C2D56 TVM s1",
    "C2D56 TVM s0",
    "DEP TVM s2",
    "GMM1024 64x64 k32 s3",
    "GMM4096 128x128 k16",
)


def entry_of(label: str, op: str, shape: str, k) -> dict:
    """A generated kernel as an entry of the files `time` reads (the output named "out")."""
    names = [a.name for a in k.args]
    return {"label": label, "op": op, "shape": shape, "source": k.source, "entry": k.entry,
            "params": names[:-1] + ["out"], "grid": k.global_size[0] // k.local_size[0],
            "block": k.local_size[0]}  # fmt: skip


def cases(knob_bases) -> list[tuple]:
    """(label, op, shape, schedule) of every case."""
    from benchmarks.gpu_vs_vendor import ISSUE
    from search_spaces import Schedule

    out = []
    for label, op, shape, s in knob_bases:
        if label.startswith(FIXED):
            for tag, v in (("", s), (" st3", replace(s, stages=3)), (" ua", replace(s, unroll=-1))):
                out.append((label + tag, op, shape, v))
    for name in [*SEARCHES, GMM4096]:
        seed = name.split("seed")[-1].removesuffix(".json")
        for r in json.loads((RESULTS / name).read_text()):
            spec = next(x for x in ISSUE if x[0] == r["label"])
            if r.get("schedule") and (name == GMM4096 or spec[0] != "GMM 4096^3"):
                out.append((f"best s{seed} {spec[0]}", spec[1], spec[2],
                            Schedule.from_json(r["schedule"])))  # fmt: skip
    return out


def heavy(n: int, target) -> list[tuple]:
    """n random GMM 1024³ schedules (seed 1) of the plain tile_cache sketch (one stage) whose
    cooperative fetch holds at least 48 floats per work-item in registers with the unrolled
    fetch: the cases where holding every load at once could cost registers."""
    import random

    from search_spaces import Workload
    from search_spaces.ir import ArrayDecl
    from search_spaces.lowering.tile import TileLowering
    from search_spaces.sketch import sample

    shape = "M=1024,N=1024,K=1024"
    w, rng, out = Workload.parse("matmul", shape), random.Random(1), []
    while len(out) < n:
        s = sample(w.compute, target, rng)
        if s.sketch != "tile_cache" or s.stages > 1:
            continue
        low = TileLowering(w.compute, s, "k")
        held = sum(st.size * st.width for r in low.regions for st in low.stage(r)[0]
                   if isinstance(st, ArrayDecl))  # fmt: skip
        if held >= 48:
            out.append((f"random GMM 1024 #{len(out)} holds {held}", "matmul", shape, s))
    return out


def emit(args) -> None:
    if args.generator:
        sys.path.insert(0, str(Path(args.generator).resolve()))
    sys.path.insert(1, str(ROOT))
    import search_spaces  # --generator's package, before knob_ablation puts ROOT first
    from measure.catalog import CATALOG
    from search_spaces import Schedule, Workload, check, generate

    # isort: split
    from benchmarks.knob_ablation import BASES, SPLIT_BASES

    print(f"generator: {Path(search_spaces.__file__).parent}", flush=True)
    target = CATALOG["h200"]
    entries = []
    extra = []
    if args.heavy:  # chosen with this checkout's generator, then generated by --generator's
        extra = json.loads(Path(args.heavy).read_text())
    todo = [(label, op, shape, Schedule.from_json(s)) for label, op, shape, s in extra]
    for label, op, shape, s in cases(BASES + SPLIT_BASES) + todo:
        w = Workload.parse(op, shape)
        why = check(w.compute, s, target)
        if why:
            print(f"{label}: not valid ({why})")
            continue
        entries.append(entry_of(f"{label} [{args.tag}]", op, shape, generate(w, s, target)))
    Path(args.out).write_text(json.dumps(entries, indent=1))
    print(f"{len(entries)} kernels in {args.out}")


DEP = "N=1,H=56,W=56,C=128,kernel=3,stride=1,padding=1,layout=NCHW"
ARGS = "const float* __restrict__ data, const float* __restrict__ weight, float* __restrict__ out"
PROBES = [  # (label, body, grid, block)
    ("empty 448x448", "", 448, 448),
    ("empty 1x32", "", 1, 32),
    ("float4 copy 392x256", "int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < 100352) "
     "reinterpret_cast<float4*>(out)[i] = reinterpret_cast<const float4*>(data)[i];", 392, 256),
    ("scale 1568x256", "int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < 401408) "
     "out[i] = data[i] * weight[(i / 3136) * 9 + 4];", 1568, 256),
]  # fmt: skip


def sweep(args) -> None:
    """The best schedule of each gpu_vs_vendor.py --out file's workloads with every unroll."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.gpu_vs_vendor import ISSUE
    from measure.catalog import CATALOG
    from search_spaces import Schedule, Workload, check, generate

    target, entries = CATALOG["h200"], []
    for path in args.files:
        seed = json.loads(Path(path).read_text())[0].get("seed", Path(path).stem[-1])
        for r in json.loads(Path(path).read_text()):
            label, op, shape = next(x[:3] for x in ISSUE if x[0] == r["label"])
            w, found = Workload.parse(op, shape), Schedule.from_json(r["schedule"])
            for u in (0, 1, 4, 16, -1):
                s = replace(found, unroll=u)
                if check(w.compute, s, target):
                    continue
                tag = "found" if u == found.unroll else "alt"
                k = generate(w, s, target)
                entries.append(entry_of(f"s{seed} {label[:8]} u{u} [{tag}]", op, shape, k))
    Path(args.out).write_text(json.dumps(entries, indent=1))


def pick_heavy(args) -> None:
    sys.path.insert(0, str(ROOT))
    from measure.catalog import CATALOG

    picked = [(lb, op, sh, s.to_json()) for lb, op, sh, s in heavy(args.n, CATALOG["h200"])]
    Path(args.out).write_text(json.dumps(picked, indent=1))


def floor(args) -> None:
    entries = [
        {"label": f"floor: {label} [probe]", "op": "depthwise_conv2d", "shape": DEP, "entry": "k",
         "source": f'extern "C" __global__ void k({ARGS}) {{ {body} }}',
         "params": ["data", "weight", "out"], "grid": grid, "block": block}
        for label, body, grid, block in PROBES
    ]  # fmt: skip
    Path(args.out).write_text(json.dumps(entries, indent=1))


def time_all(args) -> None:
    """Build, check and time the kernels of `emit` / `floor` / TVM files (gpu_probes.py's
    harness, 60 samples a round)."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.gpu_probes import time_entries
    from benchmarks.tvm_kernels import load

    entries = []
    for e in (e for path in args.files for e in load(path)):
        label = e["label"] if "[" in e["label"] else f"TVM s{e['seed']} {e['label']}"
        entries.append((label, e["op"], e["shape"], e["source"], e["entry"], e["params"],
                        e["grid"], e["block"], 0))  # fmt: skip
    time_entries(entries, args.out, samples=60)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("emit", help="write this generator's kernels for the cases")
    e.add_argument("--generator", default="", help="a checkout whose search_spaces to use")
    e.add_argument("--tag", required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--heavy", default="", help="a `heavy` file: its schedules too")
    h = sub.add_parser("heavy", help="pick random schedules whose fetch holds many floats")
    h.add_argument("--n", type=int, default=12)
    h.add_argument("--out", required=True)
    u = sub.add_parser("sweep", help="the bests of gpu_vs_vendor.py files with every unroll")
    u.add_argument("files", nargs="+")
    u.add_argument("--out", required=True)
    f = sub.add_parser("floor", help="write the protocol-floor probes")
    f.add_argument("--out", required=True)
    t = sub.add_parser("time", help="build, check and time kernels on the GPU")
    t.add_argument("files", nargs="+")
    t.add_argument("--out", default="")
    args = ap.parse_args()
    cmds = {"emit": emit, "heavy": pick_heavy, "sweep": sweep, "floor": floor, "time": time_all}
    cmds[args.cmd](args)


if __name__ == "__main__":
    main()
