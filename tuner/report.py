"""The morning report of a tuning job: one self-contained HTML page (`tune report JOB`).

It holds a summary table (per workload and device: trials, best GFLOP/s, against the previous
best and the vendor library, tuning time) and four kinds of plot, each a PNG drawn with
matplotlib and inlined as a data URI, so the page needs no network and opens from a file:
a tuning curve per workload, the job's best against the previous best and the vendor, the
devices side by side, and failed trials by status.

The previous best of a workload on a device is the fastest correct trial of the current code
generator that another job (or a plain `tune run`) stored before this job started. Vendor
figures come from tuner/data/vendor.json (measured with torch's cuBLAS/cuDNN, see its source).
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from search_spaces import Workload
from tuning_db import JobInfo, TuningDB

VENDOR_FILE = Path(__file__).parent / "data" / "vendor.json"
PLOTS = ("tuning-curves", "vs-previous-and-vendor", "per-device", "failures")  # section ids


class UnknownJob(LookupError):
    """The database holds no job of that name."""


@dataclass(frozen=True)
class VendorFigure:
    """A vendor library's latency for a workload on a device."""

    latency_s: float
    library: str


@dataclass
class Pair:
    """What the job did for one workload on one device."""

    workload: Workload
    device: str
    statuses: dict[str, int] = field(default_factory=dict)
    gflops: list[float | None] = field(default_factory=list)  # per trial, None when failed
    first_at: datetime | None = None
    last_at: datetime | None = None
    previous_s: float | None = None
    vendor: VendorFigure | None = None
    best_s: float | None = None

    @property
    def trials(self) -> int:
        return sum(self.statuses.values())

    @property
    def failed(self) -> int:
        return self.trials - self.statuses.get("ok", 0)

    def rate(self, latency_s: float | None) -> float | None:
        """GFLOP/s at a latency."""
        return self.workload.compute.flops / latency_s / 1e9 if latency_s else None

    @property
    def name(self) -> str:
        return f"{self.workload.op} {self.workload.label}"


@cache
def vendor_table(path: Path = VENDOR_FILE) -> tuple[str, dict[tuple[str, str], VendorFigure]]:
    """The shipped vendor figures: their source, and figures by (device, workload key)."""
    raw = json.loads(path.read_text())
    table = {
        (f["device"], Workload.parse(f["op"], f["shape"]).key): VendorFigure(
            f["latency_s"], f["library"]
        )
        for f in raw["figures"]
    }
    return raw["source"], table


def vendor_figure(device: str, w: Workload) -> VendorFigure | None:
    """The vendor's figure for `w` on `device` (the hardware's: `h100-opencl` is an `h100`)."""
    _, table = vendor_table()
    return table.get((device, w.key)) or table.get((device.removesuffix("-opencl"), w.key))


def _aware(t: datetime | None) -> datetime | None:
    return t.replace(tzinfo=UTC) if t is not None and t.tzinfo is None else t


def _spec_plan(job: JobInfo) -> tuple[list[Workload], list[str], int | None]:
    """The workloads, named devices and trial budget of the job's spec (empty when the spec
    cannot be read: a job made implicitly by trials that name it)."""
    from tuner.jobspec import JobSpec

    try:
        spec = JobSpec.from_json(job.spec)
    except (KeyError, TypeError, ValueError):
        return [], [], None
    devices = [d for d in spec.devices if d != "auto"]
    return list(spec.workloads), devices, spec.trials


def collect(db: TuningDB, job: JobInfo) -> list[Pair]:
    """Every (workload, device) of the job, from its spec and its trials: workloads in spec
    order, then as first measured, each with its devices side by side."""
    workloads, devices, _ = _spec_plan(job)
    pairs = {(w.key, d): Pair(w, d) for w in workloads for d in devices}
    for t in db.iter_trials(job=job.name):
        p = pairs.setdefault((t.workload.key, t.device), Pair(t.workload, t.device))
        p.statuses[t.status] = p.statuses.get(t.status, 0) + 1
        ok = t.status == "ok" and t.latency_s
        p.gflops.append(p.rate(t.latency_s) if ok else None)
        if ok and (p.best_s is None or t.latency_s < p.best_s):
            p.best_s = t.latency_s
        at = _aware(t.created_at)
        if at is not None:
            p.first_at = at if p.first_at is None else min(p.first_at, at)
            p.last_at = at if p.last_at is None else max(p.last_at, at)
    start = job.started_at or job.created_at
    for p in pairs.values():
        p.vendor = vendor_figure(p.device, p.workload)
        if db.device(p.device) is not None:
            p.previous_s = db.best_before(p.workload, p.device, start, exclude_job=job.name)
    order = {k: i for i, k in enumerate(dict.fromkeys(w for w, _ in pairs))}
    rank = {d: i for i, d in enumerate(dict.fromkeys([*devices, *(d for _, d in pairs)]))}
    return sorted(pairs.values(), key=lambda p: (order[p.workload.key], rank[p.device]))


def render_report(db: TuningDB, job: str) -> str:
    """The job's report as one self-contained HTML page (plots inlined, no network)."""
    from tuner import report_plots as plots

    info = db.job(job)
    if info is None:
        names = [j.name for j in db.jobs()][-10:]
        raise UnknownJob(f"no job named {job!r}; recent jobs: {', '.join(names) or 'none'}")
    pairs = collect(db, info)
    measured = [p for p in pairs if p.trials]
    source, _ = vendor_table()
    parts = [_head(info), _state(info, pairs), _summary(info, pairs)]
    if measured:
        figures = {
            "tuning-curves": [(f"tuning curve: {w}", png) for w, png in plots.curves(measured)],
            "vs-previous-and-vendor": [
                ("best against previous best and vendor", plots.versus(measured))
            ],
            "per-device": [("best GFLOP/s per device", plots.per_device(measured))],
            "failures": [("failed trials by status", plots.failures(measured))],
        }
        for section in PLOTS:
            parts.append(_section(section, figures[section]))
    parts.append(
        f"<footer><p>Vendor figures: {_e(source)}.</p><p>Generated "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M UTC} by <code>tune report</code>.</p></footer>"
    )
    return "\n".join(parts) + "\n</body>\n</html>\n"


def write_report(db: TuningDB, job: str, out: Path) -> Path:
    """Render the job's report into `out` (an HTML file); returns its path."""
    out = Path(out)
    text = render_report(db, job)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out


# --- HTML ----------------------------------------------------------------------------------------
TITLES = {
    "tuning-curves": "Tuning curves",
    "vs-previous-and-vendor": "Best against the previous best and the vendor",
    "per-device": "Devices compared",
    "failures": "Failed trials by status",
}
NOTES = {
    "tuning-curves": "Best GFLOP/s so far after each trial (dots: each correct trial). Dashed: "
    "the previous best; dotted: the vendor library, where known.",
    "vs-previous-and-vendor": "Higher is better. A missing bar is a figure that is not known.",
    "per-device": "The job's best of each workload on each device.",
    "failures": "Trials that did not give a correct kernel, by status and device.",
}
CSS = """
body { font-family: DejaVu Sans, Helvetica, Arial, sans-serif; margin: 2em; color: #222; }
h1 { margin-bottom: 0.2em; } .meta { color: #555; margin-top: 0; }
.note { padding: 0.6em 1em; border-left: 4px solid #d9822b; background: #fdf3e7; }
.note.failed { border-color: #c0392b; background: #fbeaea; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
td { white-space: nowrap; } td.name:first-child { white-space: normal; }
th { background: #f0f0f0; } th:nth-child(-n+2), td.name { text-align: left; }
td.name { font-family: monospace; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; }
.plots img { max-width: 100%; border: 1px solid #eee; }
footer { margin-top: 2em; color: #666; font-size: 0.85em; }
"""


def _e(x) -> str:
    return html.escape(str(x))


def _when(t: datetime | None) -> str:
    return f"{t:%Y-%m-%d %H:%M:%S UTC}" if t else "-"


def _head(job: JobInfo) -> str:
    times = f"submitted {_when(job.created_at)}"
    if job.started_at:
        times += f", started {_when(job.started_at)}"
    if job.finished_at:
        times += f", finished {_when(job.finished_at)}"
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>Tuning report: {_e(job.name)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<h1>Tuning report: {_e(job.name)}</h1>\n"
        f'<p class="meta">Status <b id="job-status">{_e(job.status or "unknown")}</b>; '
        f"{_e(times)}.</p>"
    )


def _state(job: JobInfo, pairs: list[Pair]) -> str:
    """Notes for a job that is not a finished success: empty, running, failed or cancelled."""
    notes = []
    if job.status in ("queued", "running", ""):
        seen = f"; last heartbeat {_when(job.heartbeat_at)}" if job.heartbeat_at else ""
        notes.append(("", f"The job is {job.status or 'not started'}: these figures are as of "
                      f"{_when(datetime.now(UTC))}{seen}."))  # fmt: skip
    if job.status in ("failed", "cancelled"):
        why = f": {job.error}" if job.error else "."
        notes.append(("failed", f"The job {job.status}{why}"))
    if not any(p.trials for p in pairs):
        notes.append(("", "No trials have been measured for this job yet, so there are no plots."))
    return "\n".join(f'<p class="note {cls}" id="note-{i}">{_e(text)}</p>'
                     for i, (cls, text) in enumerate(notes))  # fmt: skip


def _fmt(x: float | None, spec: str = ".2f", none: str = "n/a") -> str:
    return none if x is None else format(x, spec)


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "n/a"


def _summary(job: JobInfo, pairs: list[Pair]) -> str:
    _, _, budget = _spec_plan(job)
    head = ("workload", "device", "trials", "ok", "failed", "best (µs)", "best GFLOP/s",
            "previous best GFLOP/s", "vs previous", "vendor GFLOP/s", "vs vendor",
            "tuning time")  # fmt: skip
    rows = []
    for p in pairs:
        best, prev = p.rate(p.best_s), p.rate(p.previous_s)
        vendor = p.rate(p.vendor.latency_s) if p.vendor else None
        trials = f"{p.trials} / {budget}" if budget and budget < 1_000_000 else str(p.trials)
        span = (p.last_at - p.first_at).total_seconds() if p.first_at and p.last_at else None
        cells = (
            trials, p.statuses.get("ok", 0), p.failed,
            _fmt(p.best_s and p.best_s * 1e6, ".1f", "-"), _fmt(best, ".2f", "-"), _fmt(prev),
            _ratio(best, prev),
            _fmt(vendor) + (f" ({_e(p.vendor.library)})" if p.vendor else ""),
            _ratio(best, vendor), _duration(span) if p.trials else "-",
        )  # fmt: skip
        rows.append(
            f'<tr><td class="name">{_e(p.name)}</td><td class="name">{_e(p.device)}</td>'
            + "".join(f"<td>{c}</td>" for c in cells)
            + "</tr>"
        )
    if not rows:
        rows.append(f'<tr><td colspan="{len(head)}">no workloads</td></tr>')
    return (
        '<section id="summary">\n<h2>Summary</h2>\n<table>\n<thead><tr>'
        + "".join(f"<th>{_e(h)}</th>" for h in head)
        + "</tr></thead>\n<tbody>\n"
        + "\n".join(rows)
        + "\n</tbody>\n</table>\n<p>vs previous: the job's best over the fastest earlier trial "
        "(other jobs, before this one started); vs vendor: the job's best over the vendor "
        "library's. Tuning time: first to last trial of the workload on the device.</p>\n"
        "</section>"
    )


def _duration(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def _section(section: str, images: list[tuple[str, bytes]]) -> str:
    imgs = "\n".join(
        f'<img class="plot" data-plot="{section}" alt="{_e(alt)}" '
        f'src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        for alt, png in images
    )
    return (
        f'<section id="{section}">\n<h2>{_e(TITLES[section])}</h2>\n<p>{_e(NOTES[section])}</p>\n'
        f'<div class="plots">\n{imgs}\n</div>\n</section>'
    )
