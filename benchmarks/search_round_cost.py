"""Host cost of the evolutionary search's rounds, without a device.

    python benchmarks/search_round_cost.py [--op conv2d --shape N=1,H=56,...] [--target h200]
        [--rounds 2] [--round-size 16] [--seed 0]

Runs the default evolutionary search (Ansor's population and generations) on a catalog
target: one random warm-up round, then `--rounds` model rounds, answering each proposal with a
made-up latency from a seeded generator (the search's cost does not depend on the device).
Prints the CPU and wall time of the model rounds, featurisation and model fits included (in
one process), and a digest of every proposal: two commits that print the same digest proposed
the same schedules, so a change meant only to make the search cheaper can be checked to be
one. Compare commits alternately in one sitting: the figure is as noisy as the machine.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from costmodel import XGBoostModel  # noqa: E402
from measure.catalog import CATALOG  # noqa: E402
from search_spaces import Workload  # noqa: E402
from tuner.learner import Learner  # noqa: E402
from tuner.strategies import Evolutionary, EvolutionConfig  # noqa: E402

C2D56 = "N=1,H=56,W=56,CI=64,CO=64,kernel=3,stride=1,padding=1,layout=NCHW"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--op", default="conv2d")
    ap.add_argument("--shape", default=C2D56)
    ap.add_argument("--target", default="h200", choices=sorted(CATALOG))
    ap.add_argument("--rounds", type=int, default=2, help="model rounds timed")
    ap.add_argument("--round-size", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    w = Workload.parse(args.op, args.shape)
    learner = Learner(XGBoostModel(seed=args.seed), workers=1)
    policy = Evolutionary(w.compute, CATALOG[args.target], args.seed, set(), learner=learner,
                          workload_key=w.key,
                          config=EvolutionConfig(round_size=args.round_size))  # fmt: skip
    rng, digest = random.Random(args.seed + 1), hashlib.sha256()
    cpu = wall = 0.0
    try:
        for r in range(args.rounds + 1):
            c0, w0 = time.process_time(), time.perf_counter()
            got = policy.propose(args.round_size)
            if r:  # round 0 is the random warm-up
                cpu += time.process_time() - c0
                wall += time.perf_counter() - w0
            for s in got:
                digest.update(s.key.encode())
            policy.update(got, [rng.uniform(1e-5, 1e-4) for _ in got])
    finally:
        learner.close()
    print(f"{w.label} on {args.target}: {args.rounds} model rounds of {args.round_size}: "
          f"CPU {cpu:.1f} s, wall {wall:.1f} s; proposals {digest.hexdigest()[:16]}")  # fmt: skip


if __name__ == "__main__":
    main()
