"""How often random sampling lands near the best depthwise tiles, without a device.

    python benchmarks/window_samples.py [--target h200] [--per-sketch 3000] [--seed 0]

Draws `--per-sketch` samples of every sketch of DEP 56x56x128 3x3 NCHW on a catalog target,
keeps the valid ones, and prints the share that look like the best tiles measured on the H200
(BENCHMARKS.md, issue 8, seventh session): a register window, a register tile of at least 4
along the row with vectors of 2 or more, at most 2 channels and at least 8 rows of work-items
per group. Run it from a worktree of another commit to compare samplers.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from measure.catalog import CATALOG  # noqa: E402
from search_spaces import Workload  # noqa: E402
from search_spaces.sketch import sketch_rules  # noqa: E402

DEP = "N=1,H=56,W=56,C=128,kernel=3,stride=1,padding=1,layout=NCHW"


def near_best(s) -> bool:
    channels, rows, row = s.spatial[1], s.spatial[2], s.spatial[3]
    window = getattr(s, "window", 0)  # older commits have no such knob
    return bool(window) and row[2] >= 4 and s.vector >= 2 and channels[1] <= 2 and rows[1] >= 8


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default="h200", choices=sorted(CATALOG))
    ap.add_argument("--per-sketch", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    w, target = Workload.parse("depthwise_conv2d", DEP), CATALOG[args.target]
    rng = random.Random(args.seed)
    valid = near = windowed = 0
    for rule, sk in sketch_rules(w.compute, target):
        for _ in range(args.per_sketch):
            s = rule.sample(w.compute, target, rng, sk)
            if rule.check(w.compute, s, target, sk) is None:
                valid += 1
                windowed += bool(getattr(s, "window", 0))
                near += near_best(s)
    share = f"{windowed / valid:.1%} with a window, {near / valid:.1%} near the best tiles"
    print(f"DEP 56x56x128 NCHW on {args.target}: {valid} valid samples, {share}")


if __name__ == "__main__":
    main()
