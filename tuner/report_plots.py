"""The job report's plots, drawn with matplotlib's Agg canvas (no display, no pyplot state) and
returned as PNG bytes. Each takes the report's per-(workload, device) Pairs."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TYPE_CHECKING

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from measure.records import Status

if TYPE_CHECKING:
    from tuner.report import Pair

COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
STATUS_ORDER = {s.value: i for i, s in enumerate(Status)}
SERIES = {"this job": "#1f77b4", "previous best": "#7f7f7f", "vendor": "#d62728"}


def png(fig: Figure) -> bytes:
    """A figure as PNG bytes."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def _log_if_wide(ax, values, axis: str = "y") -> None:
    """Log scale where the figures span more than 30x (a GPU and a CPU on one chart)."""
    values = [v for v in values if v]
    if values and max(values) / min(values) > 30:
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")


def _device_colors(pairs: list[Pair]) -> dict[str, str]:
    devices = list(dict.fromkeys(p.device for p in pairs))
    return {d: COLORS[i % len(COLORS)] for i, d in enumerate(devices)}


def curves(pairs: list[Pair]) -> Iterator[tuple[str, bytes]]:
    """One tuning curve per workload: best GFLOP/s so far after each trial, a line per device,
    with the previous best (dashed) and the vendor (dotted) in the device's colour."""
    colors = _device_colors(pairs)
    by_workload: dict[str, list[Pair]] = {}
    for p in pairs:
        by_workload.setdefault(p.workload.key, []).append(p)
    for group in by_workload.values():
        fig = Figure(figsize=(4.6, 3.0))
        ax = fig.add_subplot()
        shown = []
        for p in group:
            c = colors[p.device]
            best, ys = None, []
            for g in p.gflops:
                best = best if g is None else max(best or 0.0, g)
                ys.append(best)
            xs = range(1, len(ys) + 1)
            ok = [(i, g) for i, g in zip(xs, p.gflops) if g is not None]
            if ok:
                ax.plot(*zip(*ok), ".", color=c, alpha=0.35, markersize=4)
            ax.step(xs, [y if y is not None else float("nan") for y in ys], where="post",
                    color=c, label=p.device)  # fmt: skip
            shown += [y for y in ys if y]
            vendor = p.vendor.latency_s if p.vendor else None
            for latency, style, what in ((p.previous_s, "--", "previous"), (vendor, ":", "vendor")):
                rate = p.rate(latency)
                if rate:
                    ax.axhline(rate, color=c, linestyle=style, linewidth=1,
                               label=f"{p.device} {what}")  # fmt: skip
                    shown.append(rate)
        _log_if_wide(ax, shown)
        ax.set_xlabel("trial")
        ax.set_ylabel("best GFLOP/s so far")
        name = group[0].name
        ax.set_title(name if len(name) < 60 else name[:57] + "...", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
        yield name, png(fig)


def versus(pairs: list[Pair]) -> bytes:
    """Horizontal grouped bars per (workload, device): this job's best, the previous best, the
    vendor's, in GFLOP/s."""
    fig = Figure(figsize=(8, 1.2 + 0.55 * len(pairs)))
    ax = fig.add_subplot()
    height = 0.8 / len(SERIES)
    values = []
    for j, (label, color) in enumerate(SERIES.items()):
        rates = []
        for p in pairs:
            latency = {"this job": p.best_s, "previous best": p.previous_s,
                       "vendor": p.vendor.latency_s if p.vendor else None}[label]  # fmt: skip
            rates.append(p.rate(latency) or 0.0)
        ys = [i + (j - 1) * height for i in range(len(pairs))]
        ax.barh(ys, rates, height=height, color=color, label=label)
        values += rates
    ax.set_yticks(range(len(pairs)), [f"{p.name} @ {p.device}" for p in pairs], fontsize=7)
    ax.invert_yaxis()
    _log_if_wide(ax, values, axis="x")
    ax.set_xlabel("GFLOP/s")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8)
    return png(fig)


def per_device(pairs: list[Pair]) -> bytes:
    """Grouped bars: each workload's best GFLOP/s on each device of the job."""
    colors = _device_colors(pairs)
    workloads = list(dict.fromkeys(p.workload.key for p in pairs))
    names = {p.workload.key: p.name for p in pairs}
    fig = Figure(figsize=(max(6, 1.2 + 0.9 * len(workloads)), 4))
    ax = fig.add_subplot()
    width = 0.8 / len(colors)
    values = []
    for j, device in enumerate(colors):
        rate = {p.workload.key: p.rate(p.best_s) or 0.0 for p in pairs if p.device == device}
        xs = [i + (j - (len(colors) - 1) / 2) * width for i in range(len(workloads))]
        ys = [rate.get(k, 0.0) for k in workloads]
        ax.bar(xs, ys, width=width, color=colors[device], label=device)
        values += ys
    ax.set_xticks(range(len(workloads)), [names[k] for k in workloads], rotation=30,
                  ha="right", fontsize=7)  # fmt: skip
    _log_if_wide(ax, values)
    ax.set_ylabel("best GFLOP/s")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return png(fig)


def failures(pairs: list[Pair]) -> bytes:
    """Failed trials by status, a bar per device (a chart that says so when none failed)."""
    colors = _device_colors(pairs)
    counts: dict[str, dict[str, int]] = {}
    for p in pairs:
        for status, n in p.statuses.items():
            if status != "ok":
                row = counts.setdefault(status, {})
                row[p.device] = row.get(p.device, 0) + n
    statuses = sorted(counts, key=lambda s: (STATUS_ORDER.get(s, len(STATUS_ORDER)), s))
    fig = Figure(figsize=(6, 3.2))
    ax = fig.add_subplot()
    if not statuses:
        total = sum(p.trials for p in pairs)
        ax.text(0.5, 0.5, f"no failed trials (of {total})", ha="center", va="center", fontsize=12)
        ax.set_axis_off()
        return png(fig)
    width = 0.8 / len(colors)
    for j, device in enumerate(colors):
        xs = [i + (j - (len(colors) - 1) / 2) * width for i in range(len(statuses))]
        ys = [counts[s].get(device, 0) for s in statuses]
        bars = ax.bar(xs, ys, width=width, color=colors[device], label=device)
        ax.bar_label(bars, [str(y) if y else "" for y in ys], fontsize=7)
    ax.set_xticks(range(len(statuses)), statuses, fontsize=8)
    ax.set_ylabel("trials")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, max(max(row.values()) for row in counts.values()) * 1.2)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.grid(axis="y", alpha=0.3)
    return png(fig)
