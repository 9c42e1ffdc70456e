"""The job report (`tune report JOB`): its figures from a real SQLite database, its states
(empty, running, failed), the CLI, and the page as headless Chromium renders it."""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread
from typer.testing import CliRunner

from measure.catalog import CATALOG
from search_spaces import GENERATOR_VERSION, Workload, sample
from tuner.cli import app
from tuner.jobspec import JobSpec
from tuner.report import PLOTS, UnknownJob, render_report, vendor_table, write_report
from tuning_db import DeviceInfo, TrialRecord, TuningDB

MM = Workload.parse("matmul", "M=1024,N=1024,K=1024")  # the vendor's figure is known on h100
CONV = Workload.parse("conv2d", "N=1,H=12,W=12,CI=8,CO=8,kernel=3,stride=1,padding=1")
DEVICES = ("pocl-cpu", "h100")
T0 = datetime(2026, 11, 21, 22, 0, tzinfo=UTC)  # the job starts; it runs for an hour
BROWSER = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
# (workload, device) -> the job's latencies in seconds, None for a failed trial
JOB_TRIALS = {
    (MM, "pocl-cpu"): [0.9, None, 0.5, 0.6, 0.25, None, 0.3, 0.2],
    (MM, "h100"): [4e-4, 2e-4, None, 1.5e-4, 1e-4, 1.2e-4, 9e-5, 1e-4],
    (CONV, "pocl-cpu"): [2e-4, 1e-4, 1.5e-4, None, 8e-5, 9e-5, 1e-4, 1.1e-4],
    (CONV, "h100"): [5e-6, 4e-6, 6e-6, 3e-6, None, 4e-6, 5e-6, 3.5e-6],
}
FAILED = ("compile_error", "wrong_result", "timeout")


def schedules(w: Workload, device: str, n: int, seed: int) -> list:
    """`n` distinct real schedules of `w` for the device."""
    rng, found = random.Random(seed), {}
    while len(found) < n:
        s = sample(w.compute, CATALOG[device], rng)
        found.setdefault(s.key, s)
    return list(found.values())


def trial(w, device, s, latency, at: datetime, job: str = "", i: int = 0) -> TrialRecord:
    status = "ok" if latency else FAILED[i % len(FAILED)]
    return TrialRecord(w, device, s, status, GENERATOR_VERSION, latency,
                       (latency,) if latency else (), job=job, created_at=at)  # fmt: skip


def make_db(path: Path) -> TuningDB:
    """A database with earlier trials, a finished job 'nightly' and a later job's trials."""
    db = TuningDB(str(path))
    for name in DEVICES:
        db.register_device(DeviceInfo(name, CATALOG[name], "test", name))
    spec = JobSpec("nightly", DEVICES, (MM, CONV), trials=8)
    name = db.create_job("nightly", spec.to_json(), priority=1)
    db.update_job(name, status="done", started_at=T0, finished_at=T0 + timedelta(hours=1))
    trials = []
    for k, ((w, device), latencies) in enumerate(JOB_TRIALS.items()):
        drawn = schedules(w, device, 10, seed=k)
        old, mine, later = drawn[:1], drawn[1:9], drawn[9:]
        # before the job: the previous best (MM only; CONV is new); an old generator's and a
        # wrong result's figures never count
        if w is MM:
            before = T0 - timedelta(days=1)
            prev = 0.4 if device == "pocl-cpu" else 1.25e-4
            trials.append(trial(w, device, old[0], prev, before, job="last-night"))
            trials.append(TrialRecord(w, device, old[0], "ok", GENERATOR_VERSION - 1, prev / 10,
                                      created_at=before))  # fmt: skip
            trials.append(TrialRecord(w, device, old[0], "wrong_result", GENERATOR_VERSION,
                                      prev / 100, created_at=before))  # fmt: skip
        for i, (s, latency) in enumerate(zip(mine, latencies)):
            at = T0 + timedelta(minutes=5 + 6 * i + k)
            trials.append(trial(w, device, s, latency, at, job=name, i=i))
        # another job's trial after this one started is not a "previous" best
        trials.append(trial(w, device, later[0], 1e-9, T0 + timedelta(minutes=30), job="other"))
    db.add_trials(trials)
    return db


@pytest.fixture
def db(tmp_path):
    d = make_db(tmp_path / "tuning.db")
    yield d
    d.close()


def summary_row(page: str, workload: Workload, device: str) -> list[str]:
    name = re.escape(f"{workload.op} {workload.label}")
    row = re.search(rf'<tr><td class="name">{name}</td><td class="name">{device}</td>(.*?)</tr>',
                    page)  # fmt: skip
    assert row, f"no summary row for {workload.label} on {device}"
    return re.findall(r"<td>(.*?)</td>", row.group(1))


def test_report_figures_come_from_the_database(db):
    page = render_report(db, "nightly")
    for section in ("summary", *PLOTS):
        assert f'<section id="{section}">' in page
    imgs = re.findall(r'<img class="plot" data-plot="([a-z-]+)" alt="([^"]+)" '
                      r'src="data:image/png;base64,', page)  # fmt: skip
    assert [s for s, _ in imgs].count("tuning-curves") == 2  # one per workload
    assert {s for s, _ in imgs} == set(PLOTS) and len(imgs) == 5
    assert all(alt for _, alt in imgs)
    assert "http://" not in page and "https://" not in page  # self-contained
    cols = ["trials", "ok", "failed", "best_us", "best", "prev", "vs_prev", "vendor", "vs_vendor",
            "time"]  # fmt: skip
    mm_gpu = dict(zip(cols, summary_row(page, MM, "h100")))
    flops = MM.compute.flops
    assert mm_gpu["trials"] == "8 / 8" and mm_gpu["ok"] == "7" and mm_gpu["failed"] == "1"
    assert mm_gpu["best_us"] == "90.0" and mm_gpu["best"] == f"{flops / 9e-5 / 1e9:.2f}"
    # the previous best is last night's 125 us: not the old generator's, a wrong result's, this
    # job's own or a later job's figure
    assert mm_gpu["prev"] == f"{flops / 1.25e-4 / 1e9:.2f}" and mm_gpu["vs_prev"] == "1.39x"
    _, vendor = vendor_table()
    cublas = vendor[("h100", MM.key)]
    assert mm_gpu["vendor"] == f"{flops / cublas.latency_s / 1e9:.2f} (cuBLAS)"
    assert mm_gpu["vs_vendor"] == f"{cublas.latency_s / 9e-5:.2f}x"
    assert mm_gpu["time"] == "42.0 min"  # first to last trial: 7 gaps of 6 minutes
    mm_cpu = dict(zip(cols, summary_row(page, MM, "pocl-cpu")))
    assert mm_cpu["vs_prev"] == "2.00x" and mm_cpu["vendor"] == "n/a"  # 0.4 s -> 0.2 s
    conv = dict(zip(cols, summary_row(page, CONV, "h100")))
    assert conv["prev"] == "n/a" and conv["vs_prev"] == "n/a" and conv["vendor"] == "n/a"


def test_empty_running_and_failed_jobs_still_render(db, tmp_path):
    spec = JobSpec("queued", ("h100",), (CONV,), trials=4).to_json()
    name = db.create_job("queued", spec)
    page = render_report(db, name)
    assert "No trials have been measured" in page and "The job is queued" in page
    assert "<img" not in page and "0 / 4" in page  # the summary lists the planned workload
    db.update_job(name, status="failed", error="driver lost: node-2 died")
    db.add_trials([trial(CONV, "h100", schedules(CONV, "h100", 1, 7)[0], 5e-6,
                         datetime.now(UTC), job=name)])  # fmt: skip
    page = render_report(db, name)
    assert "The job failed: driver lost: node-2 died" in page
    assert page.count('<img class="plot"') == 4 and "1 / 4" in page
    db.update_job(name, status="running", heartbeat_at=datetime.now(UTC))
    assert "The job is running" in render_report(db, name)
    with pytest.raises(UnknownJob, match="no job named 'nope'"):
        render_report(db, "nope")
    assert write_report(db, name, tmp_path / "a" / "r.html").read_text().startswith("<!DOCTYPE")


def test_cli_writes_the_report_and_refuses_an_unknown_job(db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = db.url
    r = CliRunner().invoke(app, ["report", "nightly", "--db", url, "--out", "x/n.html"])
    assert r.exit_code == 0, r.output
    assert r.output.strip() == "x/n.html"
    assert Path("x/n.html").read_text().count('<img class="plot"') == 5
    db.create_job("empty", JobSpec("empty", ("h100",), (MM,), trials=2).to_json())
    r = CliRunner().invoke(app, ["report", "empty", "--db", url], catch_exceptions=False)
    assert r.exit_code == 0 and r.output.strip() == "report-empty.html"
    assert "No trials have been measured" in Path("report-empty.html").read_text()
    r = CliRunner().invoke(app, ["report", "nope", "--db", url])
    assert r.exit_code == 2 and "no job named 'nope'" in r.output
    assert not Path("report-nope.html").exists()


# Counts the plots that the browser decoded, per section, into attributes of <body>.
PROBE = """<script>
window.addEventListener("load", () => {
  for (const s of document.querySelectorAll("section")) {
    const imgs = [...s.querySelectorAll("img.plot")];
    const shown = imgs.filter((i) => i.complete && i.naturalWidth > 100 && i.naturalHeight > 100
                                     && i.getBoundingClientRect().width > 100);
    document.body.setAttribute("data-shown-" + s.id, shown.length + "/" + imgs.length);
  }
});
</script>"""


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    # --no-sandbox: Chromium's sandbox refuses root (CI) and needs user namespaces; the page
    # is our own file
    cmd = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
           f"--user-data-dir={tmp_path / 'profile'}", *args]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


@pytest.mark.skipif(BROWSER is None, reason="no Chromium (chromium, chromium-browser or "
                    "google-chrome) on PATH; ./dev test installs Debian's chromium")  # fmt: skip
def test_report_opens_in_headless_chromium_with_its_plots(db, tmp_path):
    page = write_report(db, "nightly", tmp_path / "report.html")
    started = time.monotonic()
    shot = tmp_path / "report.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri())
    pixels = imread(shot)[..., :3]
    assert pixels.shape[:2] == (2400, 1280)
    rgb = (pixels * 255).round().astype(np.uint32)
    colours = np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2])
    assert len(colours) > 200, f"a near-blank screenshot: {len(colours)} colours"
    # the plots' blue (this job's series, the first device's line) is on the screen
    blue = np.abs(pixels - np.array([0x1F, 0x77, 0xB4]) / 255).max(axis=-1) < 0.02
    assert blue.sum() > 500, f"{blue.sum()} pixels of the plots' blue"

    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text().replace("</body>", PROBE + "\n</body>"))
    dom = chromium(tmp_path, "--dump-dom", "--virtual-time-budget=10000", probed.as_uri()).stdout
    shown = dict(re.findall(r'data-shown-([a-z-]+)="(\d+/\d+)"', dom))
    assert shown == {"summary": "0/0", "tuning-curves": "2/2", "vs-previous-and-vendor": "1/1",
                     "per-device": "1/1", "failures": "1/1"}, shown  # fmt: skip
    assert "Tuning report: nightly" in dom
    print(
        f"headless Chromium: screenshot and DOM in {time.monotonic() - started:.1f} s "
        f"({os.path.getsize(page) // 1024} KiB page)"
    )
