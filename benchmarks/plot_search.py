"""Plot and tabulate search_compare.py results: best TFLOP/s against trials per strategy.

    python benchmarks/plot_search.py RESULTS.json [--png OUT.png]

The first table gives, per workload and strategy, the mean best GFLOP/s at 64 trials and at
the end, and the trials each run needed to reach 95% of the best kernel found by any run; the
second, per run, its trials (and how many of them a resumed run had already), wall time and
best GFLOP/s at 64, 128, 256 and 512 trials and at the end; the third, per workload and seed,
the trials each strategy of that seed needed to reach 95% of the best that seed's runs found
(">N": not within its N trials). With --seen, every figure is the trial's first measurement,
as the search saw it (`seen_latencies`; reconfirm.py's rows have it for every run).

Random search's trials are independent draws from the space, so the trials it needs to reach a
goal are geometric: pooling every random run of a workload, a trial reaches 95% of the best with
probability p = hits / trials, and random search needs 1/p trials on average. At 95% confidence
p is below the Poisson limit u(hits) / n (u = 3.00 for no hit, the rule of three; 4.74 for one,
6.30 for two), so it needs more than n / u(hits). The last table gives both figures (only
the bound where no trial got there), so that "in a third of the trials random search needs"
has a number even when no random run got there, per seed (95% of the seed's best) and for the
best of all runs, beside each other strategy's trials to the same goal. Random runs of seeds
that no other strategy ran only add draws to the pool.

A run with early stopping off (`evolutionary-nostop`) is the default search until the round
where the default's patience would have stopped it: the stop changes nothing before it. The
last table gives, for such runs, that round's trial and the best found by then, so one run
shows both what the default search found and what the rounds after its stop added. The rounds
are replayed from the latencies the search saw (`seen_latencies`; the end's confirmation
re-measures the fastest trials, often slower); the best by then is from the stored latencies,
so a trial confirmed at the end counts at its confirmed figure.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict

import numpy as np


def best_curve(flops: float, lats) -> list[float]:
    out, best = [], 0.0
    for lat in lats:
        if lat:
            best = max(best, flops / lat / 1e12)
        out.append(best)
    return out


def workload_of(row: dict):
    """The workload of a search_compare.py row (its layout as the row gives it)."""
    from search_spaces import Workload

    w = Workload.parse(row["op"], row["shape"])
    if row["layout"] and w.layout != row["layout"]:
        w = Workload.create(row["op"], w.shape, row["layout"])
    return w


def reach(curve: list[float], goal: float) -> int | None:
    """Trials until `curve` first reaches `goal` (None: never)."""
    return next((i + 1 for i, v in enumerate(curve) if v >= goal), None)


def default_stop(lats, start: int = 0, cfg=None, budget: int = 1000) -> int | None:
    """The trial after which the evolutionary search with `cfg` (EvolutionConfig's defaults)
    would have stopped a run of `budget` trials measured with patience off (None: it would not
    have stopped). A fresh run measures `warmup` random kernels (at least the model's minimum
    of samples), then model rounds of `round_size` (sized for the budget); a run resumed from
    `start` trials starts its rounds there, its model ready. A model round is stale when the
    best latency did not drop by `min_gain`; `patience` stale rounds in a row stop the search."""
    from tuner.strategies import EvolutionConfig

    cfg = (cfg or EvolutionConfig()).for_budget(budget)
    bounds = list(range(start or cfg.warmup, len(lats) + 1, cfg.round_size))
    best = [min((x for x in lats[:n] if x), default=None) for n in bounds]
    stale = 0
    for at, before, now in zip(bounds[1:], best, best[1:]):
        gained = now is not None and (before is None or now < before * (1 - cfg.min_gain))
        stale = 0 if gained else stale + 1
        if stale >= cfg.patience:
            return at
    return None


def poisson_upper(hits: int, level: float = 0.95) -> float:
    """The one-sided upper confidence limit of a Poisson mean after `hits` events: the mean
    under which `hits` or fewer would happen with probability 1 - level (3.00 for 0 hits)."""

    def cdf(lam: float) -> float:
        term = total = math.exp(-lam)
        for k in range(1, hits + 1):
            term *= lam / k
            total += term
        return total

    lo, hi = float(hits), hits + 10.0 * math.sqrt(hits + 1) + 10.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) > 1 - level else (lo, mid)
    return (lo + hi) / 2


def random_need(runs: list[dict], goal: float, flops: float) -> str:
    """The mean trials random search needs to reach `goal` TFLOP/s, from all its `runs`
    pooled (a trial's chance is hits / trials), and its 95%-confidence lower bound."""
    lats = [lat for r in runs for lat in r["latencies"]]
    hits = sum(1 for lat in lats if lat and flops / lat / 1e12 >= goal)
    if not lats:
        return "-"
    bound = f">{len(lats) / poisson_upper(hits):.0f}"
    return f"{len(lats) / hits:.0f} {bound} ({hits} of {len(lats)})" if hits else bound


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--png", default=None)
    ap.add_argument(
        "--seen",
        action="store_true",
        help="use each trial's figure as the search saw it (`seen_latencies`), before the "
        "end's confirmation re-measured the fastest",
    )
    args = ap.parse_args()
    rows = json.load(open(args.results))
    by_w: dict[str, list] = defaultdict(list)
    for r in rows:
        w = workload_of(r)
        r["flops"] = w.compute.flops
        if args.seen:
            if "seen_latencies" not in r:
                ap.error(f"--seen: {r['strategy']} seed {r['seed']} has no seen_latencies")
            r["latencies"] = r["seen_latencies"]
        r["curve"] = best_curve(w.compute.flops, r["latencies"])
        by_w[f"{r['op']} {r['workload']}"].append(r)
    print(f"{'workload':58s} {'strategy':21s} {'@64':>7s} {'@end':>7s}  trials to 95% of best")
    for name, runs in by_w.items():
        top = max(max(r["curve"]) for r in runs)
        for strategy in dict.fromkeys(r["strategy"] for r in runs):
            rs = [r for r in runs if r["strategy"] == strategy]
            reached_at = [reach(r["curve"], 0.95 * top) for r in rs]
            at64 = np.mean([r["curve"][min(63, len(r["curve"]) - 1)] for r in rs])
            end = np.mean([r["curve"][-1] for r in rs])
            reached = ", ".join(
                str(x) if x else f">{len(r['curve'])}" for x, r in zip(reached_at, rs)
            )
            print(f"{name:58s} {strategy:21s} {at64 * 1e3:7.1f} {end * 1e3:7.1f}  {reached}")
    budgets = (64, 128, 256, 512)
    print(f"\n{'workload':58s} {'strategy':21s} {'seed':>4s} {'trials':>6s} {'resumed':>7s} "
          f"{'wall s':>7s}  best GFLOP/s at {' / '.join(map(str, budgets))} / end")  # fmt: skip
    for name, runs in by_w.items():
        for r in sorted(runs, key=lambda r: r["seed"]):
            c = r["curve"]
            bests = [f"{c[n - 1] * 1e3:.1f}" if len(c) >= n else "-" for n in budgets]
            print(f"{name:58s} {r['strategy']:21s} {r['seed']:4d} {len(c):6d} "
                  f"{r.get('resumed_from', 0):7d} {r['wall_s']:7.0f}  "
                  f"{' / '.join(bests + [f'{c[-1] * 1e3:.1f}'])}"
                  f"{'' if r.get('confirmed', True) or args.seen else ' (best unconfirmed)'}"
                  + (f" (confirmed again; {r['before'] * 1e3:.1f} before)"
                     if r.get("before") and not args.seen else ""))  # fmt: skip
    print(f"\n{'workload':58s} {'seed':>4s} {'best':>7s}  trials to 95% of the seed's best")
    for name, runs in by_w.items():
        for seed in sorted({r["seed"] for r in runs}):
            rs = [r for r in runs if r["seed"] == seed]
            top = max(max(r["curve"]) for r in rs)
            cells = []
            for r in rs:
                x = reach(r["curve"], 0.95 * top)
                cells.append(f"{r['strategy']} {x if x else '>' + str(len(r['curve']))}")
            print(f"{name:58s} {seed:4d} {top:7.3f}  {', '.join(cells)}")
    print(f"\n{'workload':58s} {'goal of':>8s} {'goal':>7s}  random search's mean trials to the "
          "goal, pooled; the others' trials to it")  # fmt: skip
    for name, runs in by_w.items():
        rs = [r for r in runs if r["strategy"] == "random"]
        if not rs:
            continue
        seeds = sorted({r["seed"] for r in runs if r["strategy"] != "random"})
        goals = [(f"seed {seed}", [r for r in runs if r["seed"] == seed]) for seed in seeds]
        for label, group in goals + [("all runs", runs)]:
            goal = 0.95 * max(max(r["curve"]) for r in group)
            need = random_need(rs, goal, runs[0]["flops"])
            cells = ", ".join(
                f"{r['strategy']} s{r['seed']} {reach(r['curve'], goal) or f'>{n}'}"
                for r in group
                if r["strategy"] != "random"
                for n in [len(r["curve"])]
            )
            print(f"{name:58s} {label:>8s} {goal:7.3f}  {need:24s} {cells}")
    nostop = [(name, r) for name, runs in by_w.items() for r in runs
              if r["strategy"].endswith("-nostop")]  # fmt: skip
    if nostop:
        print(f"\n{'workload':58s} {'strategy':21s} {'seed':>4s}  the default patience would "
              "have stopped it after: trial, best GFLOP/s then; best at the end")  # fmt: skip
    for name, r in nostop:
        if "seen_latencies" not in r:
            print(f"{name:58s} {r['strategy']:21s} {r['seed']:4d}  - (no seen_latencies)")
            continue
        at = default_stop(r["seen_latencies"], r.get("resumed_from", 0))
        then = f"{at:5d} {r['curve'][at - 1] * 1e3:7.1f}" if at else f"{'never':>5s} {'':7s}"
        print(f"{name:58s} {r['strategy']:21s} {r['seed']:4d}  {then}; "
              f"{r['curve'][-1] * 1e3:.1f}")  # fmt: skip
    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(by_w), figsize=(6 * len(by_w), 4.2), squeeze=False)
        colors = {"evolutionary": "tab:blue", "random": "tab:orange", "optuna": "tab:green",
                  "evolutionary-fixedeps": "tab:purple",
                  "evolutionary-spread": "tab:gray",
                  "evolutionary-nostop": "tab:red"}  # fmt: skip
        for ax, (name, runs) in zip(axes[0], by_w.items()):
            for strategy in dict.fromkeys(r["strategy"] for r in runs):
                rs = [r for r in runs if r["strategy"] == strategy]
                color = colors.get(strategy)
                for r in rs:
                    ax.plot(range(1, len(r["curve"]) + 1), r["curve"], color=color, alpha=0.35,
                            linewidth=0.8)  # fmt: skip
                # the mean over seeds; a run that stopped early keeps its best to the end
                n = max(len(r["curve"]) for r in rs)
                mean = np.mean([r["curve"] + r["curve"][-1:] * (n - len(r["curve"])) for r in rs],
                               axis=0)  # fmt: skip
                ax.plot(range(1, n + 1), mean, color=color, linewidth=2.2,
                        label=f"{strategy} (mean of {len(rs)} seeds; thin: each seed)")  # fmt: skip
            ax.set_title(name, fontsize=9)
            ax.set_xlabel("trials")
            ax.set_ylabel("best TFLOP/s")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="lower right")
        fig.tight_layout()
        fig.savefig(args.png, dpi=110)
        print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
