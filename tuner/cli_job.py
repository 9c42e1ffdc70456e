"""`tune job`: submit, follow, cancel, resume and report fleet jobs (tuner/jobs.py).

Registered on the `tune` app at the end of tuner/cli.py. Every command but submit and resume
needs only the database: a job is followed from any machine that has its URL.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tuner.cli_db import DbOpt, _db, _eprint, _print, check_format, fail, open_db

job_app = typer.Typer(
    help="Fleet jobs: a TOML spec of workloads x devices x budget, run on the Ray cluster.",
    no_args_is_help=True,
)
ClusterOpt = Annotated[
    str | None,
    typer.Option("--cluster", help="Ray cluster address (default: $RAY_ADDRESS, else run here)"),
]
JobArg = Annotated[str | None, typer.Argument(help="job name (default: the latest job)")]
WaitOpt = Annotated[
    bool, typer.Option("--wait", help="block until the job ends; exit 1 unless done")
]


def _cluster(cluster: str | None) -> str | None:
    import tuner.cli

    return cluster if cluster is not None else tuner.cli.DEFAULT_CLUSTER


def _driver_url(db: str) -> str:
    """The URL a driver elsewhere can open: SQLite paths made absolute."""
    from tuning_db import database_url

    url = database_url(db)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return "sqlite:///" + str(Path(url[len("sqlite:///") :]).resolve())
    return url


def _job_name(store, job: str | None) -> str:
    from tuner import jobs

    name = job if job is not None else jobs.latest(store)
    if name is None:
        raise fail("there are no jobs in this database", 1)
    if store.job(name) is None:
        raise fail(f"no job named {name!r}; `tune job list` shows the jobs", 2)
    return name


def _pool(cluster: str | None):
    from measure import DevicePool
    from tuner.jobs import NAMESPACE

    pool = DevicePool(cluster, namespace=NAMESPACE)
    try:
        available = list(pool.available())
    except Exception as e:
        pool.shutdown()
        where = f"the Ray cluster at {cluster}" if cluster else "a local Ray"
        raise fail(f"cannot start or reach {where}: {e}", 2) from None
    return pool, available


def _start(store, db: str, name: str, cluster: str | None, pool, wait: bool) -> None:
    """Run job `name`: a detached driver on the cluster, or a driver in this process."""
    from tuner import jobs

    if cluster:
        try:
            jobs.start_on_cluster(_driver_url(db), name)
        except Exception as e:  # no room for the driver, a driver of that name still alive...
            pool.shutdown()
            why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise fail(f"cannot start job {name}'s driver on the cluster at {cluster}: {why}. "
                       f"The job is kept; `tune job resume {name} --db {db} --cluster {cluster}` "
                       "tries again", 1) from None  # fmt: skip
        _print(f"Job [bold]{name}[/] is running on the cluster at {cluster}.")
        _print(f"Follow it with: tune job status {name} --db {db} --watch")
        pool.shutdown()
        if wait:
            raise typer.Exit(_watch(store, name))
        return
    driver = jobs.Driver(_driver_url(db), name, pool)
    thread = threading.Thread(target=driver.run, daemon=True, name="job-driver")
    _print(f"Job [bold]{name}[/] runs here (no cluster given); Ctrl-C stops it, "
           f"`tune job resume {name}` goes on.")  # fmt: skip
    thread.start()
    try:
        code = _watch(store, name, thread)
    finally:
        thread.join(timeout=5)
        pool.shutdown()
    raise typer.Exit(code)


def _watch(store, name: str, thread: threading.Thread | None = None) -> int:
    """A progress bar until the job ends; 0 when it is done."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from tuner import jobs

    p = jobs.progress(store, name)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[state]}"), TimeElapsedColumn(),
                  console=_console()) as bar:  # fmt: skip
        task = bar.add_task(f"job {name}", total=p.total, completed=p.done, state=p.state)
        while True:
            p = jobs.progress(store, name)
            bar.update(task, completed=p.done, state=p.state)
            if p.job.status in jobs.FINAL:
                break
            if thread is not None and not thread.is_alive():
                break
            if thread is None and p.state == "lost":
                break
            time.sleep(1.0)
    _summary(store, p)
    if p.state == "lost":
        _eprint(f"the driver of job {name} is gone; `tune job resume {name}` goes on")
    if p.job.status == "failed":
        _eprint(f"job {name} failed:\n{p.job.error}")
    return 0 if p.job.status == "done" else 1


def _console():
    import tuner.cli

    return tuner.cli.out


def _summary(store, p) -> None:
    """A table of the job's workloads x devices: trials, failures and best speed."""
    table = Table(title=f"job {p.job.name}: {p.state}, {p.done}/{p.total} trials")
    for col, j in (("workload", "left"), ("device", "left"), ("trials", "right"),
                   ("failed", "right"), ("best GFLOP/s", "right")):  # fmt: skip
        table.add_column(col, justify=j, overflow="fold")
    for w in p.spec.workloads:
        for d in p.spec.devices:
            c = p.counts.get((w.key, d), {})
            n = sum(c.values())
            best = _best_gflops(store, w, d)
            table.add_row(f"{w.op} {w.label}", d, f"{n}/{p.spec.trials}", str(n - c.get("ok", 0)),
                          f"{best:.2f}" if best else "-")  # fmt: skip
    _print(table)


def _best_gflops(store, w, device: str) -> float | None:
    best = store.best(w, device)
    return w.compute.flops / best.latency_s / 1e9 if best else None


@job_app.command()
def submit(
    spec: Annotated[Path, typer.Argument(help="the job spec (TOML)")],
    db: DbOpt = None,
    cluster: ClusterOpt = None,
    wait: WaitOpt = False,
) -> None:
    """Submit a job. On a cluster its driver runs there (detached); without one, here."""
    from tuner import jobs
    from tuner.jobspec import SpecError, load_spec

    try:
        parsed = load_spec(spec)
    except SpecError as e:
        raise fail(f"{spec}: {e}", 2) from None
    db, cluster = _db(db), _cluster(cluster)
    url = _driver_url(db)
    if cluster and url.startswith("sqlite") and not _on_this_machine(cluster):
        raise fail("a job on a remote cluster needs a database every node can reach: "
                   "give --db postgresql://...", 2)  # fmt: skip
    store = open_db(db, must_exist=False)
    pool, available = _pool(cluster)
    try:
        name = jobs.create(store, parsed, available)
    except SpecError as e:
        pool.shutdown()
        raise fail(f"{spec}: {e}", 2) from None
    for s in parsed.skipped:
        _eprint(f"skipped {s}")
    p = jobs.progress(store, name)
    _print(f"Submitted job [bold]{name}[/]: {len(p.spec.workloads)} workload(s) x "
           f"{len(p.spec.devices)} device(s) ({', '.join(p.spec.devices)}) x "
           f"{p.spec.trials} trials, priority {p.spec.priority}")  # fmt: skip
    _start(store, db, name, cluster, pool, wait or not cluster)


def _on_this_machine(cluster: str) -> bool:
    from measure import DevicePool

    return DevicePool(cluster).on_this_machine


@job_app.command()
def resume(job: JobArg = None, db: DbOpt = None, cluster: ClusterOpt = None,
           wait: WaitOpt = False) -> None:  # fmt: skip
    """Go on with a job whose driver died or that was cancelled: only what is left is tuned."""
    from tuner import jobs

    db, cluster = _db(db), _cluster(cluster)
    store = open_db(db)
    name = _job_name(store, job)
    p = jobs.progress(store, name)
    if p.job.status == "done":
        _summary(store, p)
        _print(f"Job {name} is done: nothing to resume.")
        return
    pool, _ = _pool(cluster)
    if p.state == "running" and (not cluster or jobs.live_driver(name)):
        pool.shutdown()
        raise fail(f"job {name} is running (driver {p.job.driver}); nothing to resume", 1)
    store.update_job(name, status="queued")
    _start(store, db, name, cluster, pool, wait or not cluster)


@job_app.command()
def status(
    job: JobArg = None,
    db: DbOpt = None,
    watch: Annotated[bool, typer.Option("--watch", help="follow until the job ends")] = False,
    format: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """A job's state and its progress per workload and device."""
    from tuner import jobs

    check_format(format)
    store = open_db(_db(db))
    name = _job_name(store, job)
    if watch:
        raise typer.Exit(_watch(store, name))
    p = jobs.progress(store, name)
    if format == "json":
        rows = [{"workload": w.key, "op": w.op, "shape": w.shape_text, "device": d,
                 "trials": sum(p.counts.get((w.key, d), {}).values()),
                 "statuses": p.counts.get((w.key, d), {}), "best_gflops": _best_gflops(store, w, d)}
                for w in p.spec.workloads for d in p.spec.devices]  # fmt: skip
        j = p.job
        _print(json.dumps({"name": j.name, "status": p.state, "priority": j.priority,
                           "driver": j.driver, "error": j.error, "done": p.done,
                           "total": p.total, "rows": rows}, indent=2))  # fmt: skip
        return
    _summary(store, p)
    j = p.job
    _print(f"status {p.state}; priority {j.priority}; driver {j.driver or '-'}; "
           f"started {j.started_at or '-'}; finished {j.finished_at or '-'}")  # fmt: skip
    if p.state == "lost":
        _print(f"The driver is gone: `tune job resume {name}` goes on.")
    if j.error:
        _eprint(j.error)


@job_app.command("list")
def list_jobs(db: DbOpt = None) -> None:
    """Every job, oldest first."""
    from tuner import jobs

    store = open_db(_db(db))
    table = Table(title="jobs")
    for col in ("name", "status", "priority", "trials", "created", "driver"):
        table.add_column(col)
    for j in store.jobs():
        if not j.spec.get("workloads"):  # a job name on trials from `tune run --job`
            table.add_row(j.name, j.status or "-", str(j.priority), "-", str(j.created_at), "")
            continue
        p = jobs.progress(store, j.name)
        table.add_row(j.name, p.state, str(j.priority), f"{p.done}/{p.total}",
                      j.created_at.strftime("%Y-%m-%d %H:%M"), j.driver or "-")  # fmt: skip
    _print(table)


@job_app.command()
def cancel(job: Annotated[str, typer.Argument(help="job name")], db: DbOpt = None) -> None:
    """Cancel a job: its driver stops before its next round; trials measured so far stay."""
    from tuner import jobs

    store = open_db(_db(db))
    name = _job_name(store, job)
    before = jobs.cancel(store, name)
    if before in jobs.FINAL:
        raise fail(f"job {name} has already ended ({before})", 1)
    _print(f"Job {name} cancelled (was {before}).")


@job_app.command()
def report(
    job: JobArg = None,
    db: DbOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="HTML file to write")] = None,
) -> None:
    """The morning report of a job (the latest by default) as an HTML page."""
    from tuner.report import write_report

    store = open_db(_db(db))
    name = _job_name(store, job)
    path = write_report(store, name, out or Path(f"report-{name}.html"))
    _print(f"Report of job {name}: {path}")
