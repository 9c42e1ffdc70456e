"""The `tune` command line."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from search_spaces import OPS, ShapeError, Workload, benchmark_set

app = typer.Typer(
    help="Autotuning search service with a tuning database.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

# The one place that reads the environment: the database URL and the Ray cluster defaults.
DEFAULT_DB = os.environ.get("TUNE_DB", "tuning.db")
DEFAULT_CLUSTER = os.environ.get("RAY_ADDRESS") or None

OpOpt = Annotated[str, typer.Option("--op", help=f"operator: {', '.join(sorted(OPS))}")]
DeviceOpt = Annotated[
    str, typer.Option("--device", help="device name, or 'auto' for the local device")
]
DbOpt = Annotated[str, typer.Option("--db", help="database URL or SQLite file path")]
ClusterOpt = Annotated[
    str | None,
    typer.Option("--cluster", help="Ray cluster address (default: $RAY_ADDRESS, else a local Ray)"),
]


def fail(message: str, code: int) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def parse_workloads(op: str, shape: str | None) -> list[Workload]:
    try:
        if shape is None:
            return benchmark_set(op)
        return [Workload.parse(op, shape)]
    except ShapeError as e:
        raise fail(str(e), 2) from None


def resolve_local_device(name: str) -> str:
    """'auto' -> the first local device (GPUs first); a name must be present here."""
    from measure import detect_local

    names = [d.name for d in detect_local()]
    if name == "auto":
        if not names:
            raise fail("no OpenCL or CUDA device found on this machine", 2)
        return names[0]
    if name not in names:
        raise fail(f"device {name!r} is not available; devices: {', '.join(names) or 'none'}", 2)
    return name


def sqlite_path(url: str) -> Path | None:
    from tuning_db import database_url

    url = database_url(url)
    return Path(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else None


@app.command()
def run(
    op: OpOpt,
    shape: Annotated[
        str | None,
        typer.Option(help="NAME=V,... as in OPERATORS.md; omitted: the op's benchmark shapes"),
    ] = None,
    device: DeviceOpt = "auto",
    trials: Annotated[int, typer.Option(min=1, help="candidates to measure per workload")] = 32,
    db: DbOpt = DEFAULT_DB,
    seed: Annotated[int, typer.Option(help="random seed of the search")] = 0,
    batch: Annotated[int, typer.Option(min=1, help="candidates per round")] = 8,
    strategy: Annotated[
        str, typer.Option(help="search strategy: evolutionary (model-guided), random, optuna")
    ] = "evolutionary",
    patience: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="evolutionary search: model rounds in a row without a gain before it stops "
            "short of --trials (0: never stop early; default: the search's own, 5)",
        ),
    ] = None,
    build_limit: Annotated[
        float | None,
        typer.Option(
            min=0.1,
            help="seconds a candidate may take to build before it counts as "
            "a compile timeout (default: 15 on GPUs, 120 on CPUs)",
        ),
    ] = None,  # fmt: skip
    cluster: ClusterOpt = DEFAULT_CLUSTER,
) -> None:
    """Tune an operator on a device and store every trial."""
    from measure import DevicePool
    from tuner.strategies import STRATEGIES, EvolutionConfig
    from tuner.tune import TuneOptions, device_info, tune_many
    from tuning_db import SchemaError, TuningDB

    if strategy not in STRATEGIES:
        raise fail(f"unknown strategy {strategy!r}; strategies: {', '.join(STRATEGIES)}", 2)
    if op not in OPS:
        raise fail(f"unknown operator {op!r}; operators: {', '.join(sorted(OPS))}", 2)
    workloads = parse_workloads(op, shape)
    if not workloads:
        raise fail(f"no benchmark shapes for {op}: give --shape", 2)
    stop = {} if patience is None else {"patience": patience}
    if cluster:
        pool = DevicePool(cluster)
        try:
            available = pool.available()
        except Exception as e:
            raise fail(f"cannot reach the Ray cluster at {cluster}: {e}", 2) from None
        if device == "auto" or device not in available:
            pool.shutdown()
            what = "name a device" if device == "auto" else f"device {device!r} is not in it"
            raise fail(f"{what}; the cluster's devices: {', '.join(available) or 'none'}", 2)
        name = device
    else:
        name = resolve_local_device(device)
        pool = DevicePool()
    try:
        store = TuningDB(db)
    except SchemaError as e:
        pool.shutdown()
        raise fail(str(e), 2) from None
    summaries = []
    try:
        info = device_info(pool, name)
        out.print(
            f"Tuning {len(workloads)} {op} workload(s) on [bold]{name}[/] ({info.description})"
        )
        opts = TuneOptions(trials=trials, batch=batch, seed=seed, strategy=strategy,
                           evolution=EvolutionConfig(**stop),
                           build_limit=build_limit)  # fmt: skip
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[best]}"),
            TimeElapsedColumn(),
            console=out,
            transient=False,
        ) as bar:
            task = bar.add_task(f"{strategy} search", total=trials * len(workloads), best="")

            def progress(done: int, total: int, w, best: float | None) -> None:
                gflops = w.compute.flops / best / 1e9 if best else None
                label = f"{w.label}: best {gflops:.2f} GFLOP/s" if gflops else ""
                bar.update(task, completed=done, best=label)

            summaries = tune_many(workloads, info, store, pool, opts, progress)
    finally:
        pool.shutdown()
        store.close()
    print_summary(summaries, name, db)


def print_summary(summaries, device: str, db: str) -> None:
    table = Table(title=f"Best kernels found on {device}")
    table.add_column("workload", overflow="fold")
    for col in ("trials", "failed", "latency (us)", "GFLOP/s", "vs first valid"):
        table.add_column(col, justify="right")
    for s in summaries:
        failed = s.measured - s.statuses.get("ok", 0)
        if s.best_s is None:
            table.add_row(s.workload.label, str(s.measured), str(failed), "-", "-", "-")
            continue
        table.add_row(
            s.workload.label,
            str(s.measured),
            str(failed),
            f"{s.best_s * 1e6:.1f}",
            f"{s.gflops:.2f}",
            f"{s.speedup:.1f}x",
        )
    out.print(table)
    for s in summaries:
        if s.best_s is not None and not s.confirmed:
            out.print(f"[yellow]{s.workload.label}: the best is not confirmed.[/] Its figure is "
                      "from the search: re-measured, the fastest kernels ran slower every round "
                      "(is the device busy?). A later `tune run` on this database goes on "
                      "confirming.", highlight=False)  # fmt: skip
    if summaries:
        search_s = sum(s.search_s for s in summaries)
        out.print(f"The search itself (proposing, learning) took {search_s:.1f} s; measuring took "
                  "the rest.", highlight=False)  # fmt: skip
        w = summaries[0].workload
        out.print(
            f"Stored in {db}. Look a kernel up with: tune lookup --op {w.op} "
            f"--shape {w.shape_text} --device {device} --db {db}",
            highlight=False,
            soft_wrap=True,
        )


@app.command()
def lookup(
    op: OpOpt,
    shape: Annotated[str, typer.Option(help="NAME=V,... as in OPERATORS.md")],
    device: DeviceOpt = "auto",
    db: DbOpt = DEFAULT_DB,
    format: Annotated[str, typer.Option("--format", help="json or text")] = "json",
    exact: Annotated[
        bool, typer.Option("--exact", help="no fallbacks: exit 1 unless this workload was tuned")
    ] = False,
) -> None:
    """Print the kernel for a workload on a device: the tuned best, else the best fallback
    (`match`: exact, nearest_shape, device_family or default)."""
    from measure.catalog import CATALOG
    from tuning_db import NotTuned, SchemaError, TuningDB, UnknownDevice
    from tuning_db import lookup as do_lookup

    if format not in ("json", "text"):
        raise fail("--format must be json or text", 2)
    if op not in OPS:
        raise fail(f"unknown operator {op!r}; operators: {', '.join(sorted(OPS))}", 2)
    (workload,) = parse_workloads(op, shape)
    targets = dict(CATALOG)
    if device == "auto":
        from measure import detect_local

        targets.update({d.name: d.target for d in detect_local()})
    name = resolve_local_device(device) if device == "auto" else device
    path = sqlite_path(db)
    if path is not None and not path.exists():
        raise fail(f"no tuning database at {path}", 1)
    try:
        store = TuningDB(db)
    except SchemaError as e:
        raise fail(str(e), 1) from None
    try:
        result = do_lookup(store, workload, name, targets=targets, fallback=not exact)
    except NotTuned as e:
        raise fail(str(e), 1) from None
    except UnknownDevice as e:
        raise fail(str(e), 2) from None
    finally:
        store.close()
    if format == "json":
        print(json.dumps(result, indent=2))
        return
    measured = (
        f"{result['latency_us']:.1f} us, {result['gflops']:.2f} GFLOP/s"
        if result["latency_us"]
        else "not measured at this shape on this device"
    )
    out.print(f"{op} {workload.shape_text} on {name}: {measured} ({result['match']} match)")
    print(result["kernel"]["source"])


@app.command()
def space(
    op: OpOpt,
    shape: Annotated[str, typer.Option(help="NAME=V,... as in OPERATORS.md")],
    device: DeviceOpt = "auto",
    seed: Annotated[int, typer.Option(help="seed of the sample shown")] = 0,
) -> None:
    """Show the sketches of a workload, the size of its space and one sample's source."""
    import random

    from measure import detect_local
    from measure.catalog import CATALOG
    from search_spaces import generate, sample, sketches, space_size

    if op not in OPS:
        raise fail(f"unknown operator {op!r}; operators: {', '.join(sorted(OPS))}", 2)
    (workload,) = parse_workloads(op, shape)
    local = {d.name: d.target for d in detect_local()}
    if device == "auto":
        device = resolve_local_device(device)
    targets = {**CATALOG, **local}
    if device not in targets:
        raise fail(f"unknown device {device!r}; devices: {', '.join(sorted(targets))}", 2)
    target = targets[device]
    sizes = space_size(workload.compute, target)
    table = Table(title=f"{op} {workload.label} on {device} ({target.dialect})")
    table.add_column("sketch")
    table.add_column("annotations (before device limits)", justify="right")
    for sk in sketches(workload.compute, target):
        table.add_row(sk.name, f"{sizes[sk.name]:,}")
    out.print(table)
    out.print(f"total: {sum(sizes.values()):,}")
    s = sample(workload.compute, target, random.Random(seed))
    kernel = generate(workload, s, target)
    out.print(f"one sample: {s.canonical}", highlight=False, soft_wrap=True)
    out.print(f"launch: {kernel.launch_json()}", highlight=False)
    print(kernel.source)


@app.command()
def devices(cluster: ClusterOpt = DEFAULT_CLUSTER) -> None:
    """List the devices of this machine, and of the Ray cluster when one is given."""
    from measure import DevicePool, detect_local

    table = Table(title="Local devices")
    for col in ("name", "kind", "arch", "backend", "description", "compute units"):
        table.add_column(col)
    for d in detect_local():
        t = d.target
        table.add_row(d.name, t.kind, t.arch, d.backend, d.description, str(t.compute_units))
    out.print(table)
    if cluster:
        pool = DevicePool(cluster)
        try:
            available = pool.available()
        except Exception as e:
            raise fail(f"cannot reach the Ray cluster at {cluster}: {e}", 2) from None
        finally:
            pool.shutdown()
        table = Table(title=f"Devices of the Ray cluster at {cluster}")
        table.add_column("name")
        table.add_column("nodes", justify="right")
        for name, nodes in available.items():
            table.add_row(name, str(nodes))
        out.print(table)


@app.command()
def report(
    job: Annotated[str, typer.Argument(help="the job's name (tune job list shows them)")],
    output: Annotated[
        Path | None, typer.Option("--out", help="HTML file to write (default: report-JOB.html)")
    ] = None,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Write a job's report: one HTML page with plots and a summary table; prints its path."""
    import re

    from tuner.cli_db import open_db
    from tuner.report import UnknownJob, write_report

    store = open_db(db)
    try:
        path = write_report(
            store, job, output or Path(f"report-{re.sub(r'[^A-Za-z0-9_.-]', '_', job)}.html")
        )
    except UnknownJob as e:
        raise fail(str(e), 2) from None
    finally:
        store.close()
    out.print(str(path), highlight=False, soft_wrap=True)


# `tune db ...` and `tune serve` live in their own module (it uses the helpers above)
from tuner.cli_db import db_app, serve  # noqa: E402

app.add_typer(db_app, name="db")
app.command()(serve)

from tuner.cli_job import job_app  # noqa: E402

app.add_typer(job_app, name="job")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
