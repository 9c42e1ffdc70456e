"""Does unrolling the whole inner reduction nest pay? Hand-edited variants of generated kernels,
timed on the GPU: an experiment to decide whether the generator should do it, not a way of
making kernels.

    python3 benchmarks/unroll_experiment.py [--rounds 3] [--out results.json]

The `unroll` knob puts its pragma on the innermost reduction loop only; the other inner
reduction loops (a convolution's window, for instance) get none, and their shared-memory reads
are repeated for every step of them. For each schedule below (knob_ablation.py's bases and
earlier searches' bests) the kernel is built as generated, with every inner reduction loop
fully unrolled (`#pragma unroll` on each `ki_`/`kj_` loop that has no pragma: "window"), and
with all of them fully unrolled ("all": the innermost one's pragma made full too). Each variant
is checked against NumPy and timed by the tuner's runner (L2 flushed, median of at least 20),
alternating over the rounds; the median round is shown with the SASS counts of shared loads
and FMAs (with `cuobjdump` on the PATH). Prints the table last.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.gmm_space import sass_counts  # noqa: E402
from benchmarks.knob_ablation import BASES, SPLIT_BASES, tile  # noqa: E402
from measure import MeasureInput, MeasureOptions, detect_local  # noqa: E402
from measure.pool import open_backend  # noqa: E402
from measure.runner import Runner  # noqa: E402
from search_spaces import Workload, generate  # noqa: E402

DEP56 = "N=1,H=56,W=56,C=128,kernel=3,stride=1,padding=1,layout=NCHW"
NAMED = {label: (op, shape, s) for label, op, shape, s in BASES + SPLIT_BASES}


def base(label: str, **knobs):
    op, shape, s = NAMED[label]
    return (f"{label} {knobs}" if knobs else label, op, shape, replace(s, **knobs))


def plain(spatial, reduce, unroll):
    return replace(tile(spatial, reduce, unroll=unroll), sketch="tile")


CASES = [
    base("C2D56 TVM s1 11.0"),
    base("C2D56 TVM s1 11.0", stages=2, rsplit=4),
    base("C2D56 s1 best", rsplit=4),
    base("C2D56 s0 best", rsplit=4),
    base("C2D14 TVM tile rc8", rsplit=4),
    base("C2D14 h200 s0 best", rsplit=16),
    base("DEP TVM s2 1.44", stages=3),
    # the 64-trial DEP bests of seeds 0 and 1 (gpu_vs_vendor-depweight-h200-2026-11-22-seed*.json)
    ("DEP s0 best", "depthwise_conv2d", DEP56,
     plain([(1, 1, 1), (1, 4, 2), (2, 2, 1), (1, 56, 1)], [3, 3], unroll=16)),
    ("DEP s1 best", "depthwise_conv2d", DEP56,
     plain([(1, 1, 1), (1, 8, 2), (1, 4, 1), (1, 28, 1)], [1, 1], unroll=1)),
    base("GMM1024 64x64 k32 s3"),
]  # fmt: skip

BARE_LOOP = re.compile(r"^(\s*)(for \(int k[ij]_\w+ = )", re.M)


def unroll_window(source: str) -> str:
    """`#pragma unroll` on each inner reduction loop that has no pragma of its own."""
    lines, out = source.split("\n"), []
    for i, line in enumerate(lines):
        m = BARE_LOOP.match(line)
        if m and not (i and lines[i - 1].strip().startswith("#pragma unroll")):
            out.append(f"{m.group(1)}#pragma unroll")
        out.append(line)
    return "\n".join(out)


def unroll_all(source: str) -> str:
    """As unroll_window, and the innermost reduction loop's pragma made a full unroll."""
    src = unroll_window(source)
    return re.sub(r"#pragma unroll \d+(\n\s*for \(int k[ij]_)", r"#pragma unroll\1", src)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    device = next(d for d in detect_local() if d.backend == "cuda")
    backend = open_backend(device)
    runner = Runner(backend)
    print(f"device: {device.name} ({device.description}, {device.driver})", flush=True)
    opts = MeasureOptions(min_repeats=20, budget_s=0.1)
    variants = []
    for label, op, shape, s in CASES:
        w = Workload.parse(op, shape)
        k = generate(w, s, device.target)
        for name, edit in (("generated", None), ("window", unroll_window), ("all", unroll_all)):
            src = edit(k.source) if edit else k.source
            if edit and src == k.source:
                continue  # nothing to unroll
            art = type(backend).compile_artifact(src, backend.build_key)
            sass = sass_counts(art) if shutil.which("cuobjdump") else {}
            variants.append((label, name, w, replace(k, source=src), art, sass))
    times: dict[tuple[str, str], list[float]] = {}
    info: dict[tuple[str, str], dict] = {}
    for _ in range(args.rounds):
        for label, name, w, k, art, sass in variants:
            r = runner.measure(MeasureInput(w, k, opts), art)
            info[(label, name)] = {"status": r.status.value, "error": r.max_rel_error,
                                   "resources": r.resources, "sass": sass}  # fmt: skip
            if r.ok:
                times.setdefault((label, name), []).append(r.latency_s)
    rows = []
    for label, name, w, *_ in variants:
        t = statistics.median(times[(label, name)]) if (label, name) in times else None
        tf = w.compute.flops / t / 1e12 if t else None
        rows.append({"label": label, "variant": name, "tflops": tf, **info[(label, name)]})
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))
    print()
    print(f"{'schedule':44s} {'variant':9s} {'TFLOP/s':>7s} {'vs gen':>6s} {'regs':>4s} "
          f"{'LDS':>5s} {'FFMA':>5s}  status")  # fmt: skip
    gen = {r["label"]: r["tflops"] for r in rows if r["variant"] == "generated"}
    for r in rows:
        sass, tf, g = r["sass"], r["tflops"], gen.get(r["label"])
        lds = sum(v for k, v in sass.items() if k.startswith("LDS"))
        print(f"{r['label'][:44]:44s} {r['variant']:9s} {tf or 0:7.2f} "
              f"{(tf / g if tf and g else 0):5.2f}x {r['resources'].get('registers', 0):4d} "
              f"{lds:5d} {sass.get('FFMA', 0):5d}  {r['status']}")  # fmt: skip


if __name__ == "__main__":
    main()
