"""Where the time goes in our code for TVM's best C2D 14x14 tile: hand-edited variants of the
generated kernel, timed on the GPU. An experiment that pointed at the whole-row fetch
(BENCHMARKS.md, issue 8), not a way of making kernels.

    git checkout 5334664 -- search_spaces   # the generator before the whole-row fetch
    python3 benchmarks/fetch_experiment.py

Variants of the kernel for knob_ablation.py's "C2D14 TVM tile rc8" base: as generated; weights
fetched 16 bytes a copy (the loop rewritten by hand); no weight fetch, no data fetch or no fetch
at all (wrong results: an upper bound on what the fetch costs); every reduction loop fully
unrolled; both. Each is built with NVRTC, its relative error printed, and timed by CUDA events
around single launches on an idle GPU (median of 200, inputs warm; lower figures than
knob_ablation.py's, whose flush queued ahead hides the host's launch time). On a generator with
the whole-row fetch the weight loop is already 16-byte copies and the edits that look for the
old one stop with an AssertionError.
"""

from __future__ import annotations

import re
import statistics
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.knob_ablation import SPLIT_BASES  # noqa: E402
from measure import detect_local  # noqa: E402
from measure.pool import open_backend  # noqa: E402
from measure.runner import relative_error  # noqa: E402
from search_spaces import Workload, generate  # noqa: E402

WEIGHT_LOOP = re.compile(
    r"      for \(int e_weight = lid; e_weight < 1152; e_weight \+= 56\) \{.*?\n      \}\n", re.S
)
DATA_LOOP = re.compile(
    r"      for \(int e_data = lid; e_data < 384; e_data \+= 56\) \{.*?\n      \}\n", re.S
)
# the [16 co][8 rc][3][3] weight box is 16 rows of 72 contiguous floats in both places
VEC_WEIGHT = """      for (int e_weight = lid; e_weight < 288; e_weight += 56) {
        const int c0_weight = e_weight / 18;
        const int q_weight = (e_weight % 18) * 4;
        cp_async<16>((sm_weight + ((sbuf * 1152) + c0_weight * 72 + q_weight)),
                     (weight + ((((blk_co * 16) + c0_weight) * 2304) + ko_rc * 72 + q_weight)),
                     true);
      }
"""


def unrolled(src: str) -> str:
    """Every inner reduction loop fully unrolled (`#pragma unroll` on each)."""
    src = src.replace("#pragma unroll 16\n", "").replace("#pragma unroll 4\n", "")
    return re.sub(
        r"\n(\s*)for \(int (ki|kj)_(ry|rx|rc) = ",
        lambda m: (
            f"\n{m.group(1)}#pragma unroll\n{m.group(1)}for (int {m.group(2)}_{m.group(3)} = "
        ),
        src,
    )


def main() -> None:
    dev = next(d for d in detect_local() if d.backend == "cuda")
    be = open_backend(dev)
    bases = {label: (op, shape, s) for label, op, shape, s in SPLIT_BASES}
    op, shape, tile = bases["C2D14 TVM tile rc8"]
    w = Workload.parse(op, shape)
    arrays = w.random_inputs(5)
    ref = w.reference(arrays)
    bufs = [be.upload(a) for a in arrays]

    def run(label, schedule, edit=None) -> None:
        kernel = generate(w, schedule, dev.target)
        if edit:
            source = edit(kernel.source)
            assert source != kernel.source, f"{label}: the edit found nothing to change"
            kernel = replace(kernel, source=source)
        f = be.build(kernel)
        out = be.poisoned(ref.shape)
        args = [*bufs, out]
        be.launch(f, kernel, args)
        err = relative_error(be.download(out, ref.shape), ref)
        for _ in range(5):
            be.launch(f, kernel, args)
        t = statistics.median(be.launch(f, kernel, args) for _ in range(200))
        regs = be.resources(f)["registers"]
        print(f"{label:50s} {w.compute.flops / t / 1e12:6.2f} TFLOP/s  err {err:.1e}  "
              f"regs {regs}", flush=True)  # fmt: skip

    vec = lambda src: WEIGHT_LOOP.sub(VEC_WEIGHT, src)  # noqa: E731
    run("rc8 rsplit 1 as generated", tile)
    run("rc8 rsplit 1 weight fetch 16-byte (hand edit)", tile, vec)
    run("rc8 rsplit 1 no weight fetch (wrong)", tile, lambda src: WEIGHT_LOOP.sub("", src))
    run("rc8 rsplit 1 no data fetch (wrong)", tile, lambda src: DATA_LOOP.sub("", src))
    run("rc8 rsplit 1 no fetch at all (wrong)", tile,
        lambda src: DATA_LOOP.sub("", WEIGHT_LOOP.sub("", src)))  # fmt: skip
    run("rc8 rsplit 1 reduction fully unrolled", tile, unrolled)
    run("rc8 rsplit 1 unrolled + 16-byte weights", tile, lambda src: unrolled(vec(src)))
    run("rc8 rsplit 4 as generated", replace(tile, rsplit=4))
    run("rc8 rsplit 4 reduction fully unrolled", replace(tile, rsplit=4), unrolled)
    ours = bases["C2D14 h200 s0 best"][2]
    run("ours s0 best rsplit 16", replace(ours, rsplit=16))
    run("ours s0 best rsplit 16 fully unrolled", replace(ours, rsplit=16), unrolled)
    run("ours s0 best rsplit 1 fully unrolled", replace(ours, rsplit=1), unrolled)


if __name__ == "__main__":
    main()
