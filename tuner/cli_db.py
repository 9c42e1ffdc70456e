"""`tune db` (inspect and maintain the tuning database) and `tune serve` (the HTTP service).

Registered on the `tune` app at the end of tuner/cli.py, whose helpers it uses.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

db_app = typer.Typer(
    help="Inspect and maintain the tuning database (SQLite file or PostgreSQL URL).",
    no_args_is_help=True,
)
FormatOpt = Annotated[str, typer.Option("--format", help="text or json")]
DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="database URL or SQLite file path [default: $TUNE_DB or tuning.db]"),
]


def _cli():
    """tuner.cli, imported when a command runs (it imports this module to register it)."""
    import tuner.cli

    return tuner.cli


def fail(message: str, code: int) -> typer.Exit:
    return _cli().fail(message, code)


def _db(db: str | None) -> str:
    return db if db is not None else _cli().DEFAULT_DB


def _print(message, **kwargs) -> None:
    if isinstance(message, str):  # messages stay on one line; tables fit the terminal
        kwargs = {"highlight": False, "soft_wrap": True, **kwargs}
    _cli().out.print(message, **kwargs)


def _eprint(message: str) -> None:
    _cli().err.print(message, highlight=False, soft_wrap=True)


def open_db(db: str, must_exist: bool = True):
    """The database, or exit: 1 when there is none or its schema is old, 2 for a bad URL."""
    from tuning_db import SchemaError, TuningDB

    path = _cli().sqlite_path(db)
    if must_exist and path is not None and not path.exists():
        raise fail(f"no tuning database at {path}", 1)
    try:
        return TuningDB(db)
    except SchemaError as e:
        raise fail(str(e), 1) from None
    except Exception as e:  # a malformed URL or an unreachable server
        raise fail(f"cannot open the database {db!r}: {type(e).__name__}: {e}", 2) from None


def check_format(format: str) -> None:
    if format not in ("text", "json"):
        raise fail("--format must be text or json", 2)


def check_op(op: str | None) -> None:
    from search_spaces import OPS

    if op is not None and op not in OPS:
        raise fail(f"unknown operator {op!r}; operators: {', '.join(sorted(OPS))}", 2)


def shape_of(params: str) -> str:
    return ",".join(f"{k}={v}" for k, v in json.loads(params).items())


@db_app.command("list")
def list_(
    op: Annotated[str | None, typer.Option(help="only this operator")] = None,
    device: Annotated[str | None, typer.Option(help="only this device")] = None,
    db: DbOpt = None,
    format: FormatOpt = "text",
) -> None:
    """Workloads and devices with trials: counts and the current best."""
    db = _db(db)
    from tuning_db.maintenance import summaries

    check_format(format)
    check_op(op)
    store = open_db(db)
    try:
        rows = summaries(store, op, device)
    finally:
        store.close()
    if format == "json":
        print(json.dumps([
            {"key": r.workload_key, "op": r.op, "shape": shape_of(r.params), "layout": r.layout,
             "device": r.device, "trials": r.trials, "ok": r.ok,
             "best_us": r.best_s * 1e6 if r.best_s else None}
            for r in rows
        ], indent=2))  # fmt: skip
        return
    table = Table(title=f"Tuned workloads in {db}")
    for col in ("key", "op", "shape", "device", "trials", "ok", "best (us)"):
        table.add_column(col, overflow="fold")
    for r in rows:
        shape = shape_of(r.params) + (f",layout={r.layout}" if r.layout else "")
        best = f"{r.best_s * 1e6:.2f}" if r.best_s else "-"
        table.add_row(r.workload_key[:12], r.op, shape, r.device, str(r.trials), str(r.ok), best)
    _print(table)


@db_app.command()
def show(
    what: Annotated[str, typer.Argument(help="a trial id, or a workload key (or its prefix)")],
    db: DbOpt = None,
) -> None:
    """One trial in full, or one workload's trials per device and its bests (JSON)."""
    db = _db(db)
    from sqlalchemy import select

    from tuning_db import bundle
    from tuning_db.models import WorkloadRow
    from tuning_db.store import workload_from_row

    if not what or len(what) > 64 or not what.isalnum():
        raise fail(f"{what[:80]!r} is neither a trial id nor a workload key", 2)
    store = open_db(db)
    try:
        if what.isdigit():
            found = list(store.iter_trials(ids=[int(what)])) if len(what) < 18 else []
            if not found:
                raise fail(f"no trial {what}", 1)
            print(json.dumps({"id": int(what), **bundle.trial_json(found[0])}, indent=2))
            return
        with store.session(write=False) as s:
            rows = list(s.scalars(select(WorkloadRow).where(WorkloadRow.key.startswith(what))))
        if len(rows) != 1:
            raise fail(f"{len(rows)} workloads have a key starting {what!r}", 1 if not rows else 2)
        w = workload_from_row(rows[0])
        devices = {}
        for d in store.devices():
            trials = store.trials(w, d.name)
            if not trials:
                continue
            best = store.best(w, d.name)
            statuses: dict[str, int] = {}
            for t in trials:
                statuses[t.status] = statuses.get(t.status, 0) + 1
            devices[d.name] = {
                "trials": len(trials), "statuses": statuses,
                "best": None if best is None else {
                    "trial_id": best.trial_id, "latency_us": best.latency_s * 1e6,
                    "gflops": best.gflops, "schedule": best.schedule.to_json()},
            }  # fmt: skip
        doc = {"key": w.key, "op": w.op, "shape": w.shape_text, "text": w.text,
               "devices": devices}  # fmt: skip
        print(json.dumps(doc, indent=2))
    finally:
        store.close()


@db_app.command()
def best(
    op: Annotated[str | None, typer.Option(help="only this operator")] = None,
    device: Annotated[str | None, typer.Option(help="only this device")] = None,
    db: DbOpt = None,
    format: FormatOpt = "text",
) -> None:
    """The best schedule of every workload on every device (current generator only)."""
    db = _db(db)
    check_format(format)
    check_op(op)
    store = open_db(db)
    try:
        bests = store.bests(op=op, device=device)
    finally:
        store.close()
    if format == "json":
        print(json.dumps([
            {"op": b.workload.op, "shape": b.workload.shape_text, "key": b.workload.key,
             "device": b.device.name, "latency_us": b.latency_s * 1e6, "gflops": b.gflops,
             "trial_id": b.trial_id, "schedule": b.schedule.to_json()}
            for b in bests
        ], indent=2))  # fmt: skip
        return
    table = Table(title=f"Best kernels in {db}")
    for col in ("op", "shape", "device", "latency (us)", "GFLOP/s", "trial"):
        table.add_column(col, overflow="fold")
    for b in bests:
        table.add_row(b.workload.op, b.workload.shape_text, b.device.name,
                      f"{b.latency_s * 1e6:.2f}", f"{b.gflops:.2f}", str(b.trial_id))  # fmt: skip
    _print(table)


@db_app.command()
def export(
    out_file: Annotated[Path, typer.Option("--out", help="file to write (.json or .h)")],
    format: Annotated[
        str | None,
        typer.Option("--format", help="json (a bundle) or header (C); default: by --out"),
    ] = None,
    best_only: Annotated[bool, typer.Option("--best-only", help="bundle only the bests")] = False,
    db: DbOpt = None,
) -> None:
    """Write a JSON bundle (for import elsewhere) or a C header with the best kernel per
    device and shape (for builds without Python)."""
    db = _db(db)
    from tuning_db.bundle import export_bundle
    from tuning_db.header import render_header

    kind = format or ("header" if out_file.suffix in (".h", ".hpp") else "json")
    if kind not in ("json", "header"):
        raise fail("--format must be json or header", 2)
    store = open_db(db)
    tmp = out_file.with_name(out_file.name + ".tmp")
    try:
        if kind == "header":
            text, n = render_header(store)
            tmp.write_text(text)
            what = f"{n} kernel(s)"
        else:
            with open(tmp, "w") as f:
                n = export_bundle(store, f, best_only)
            what = f"{n} trial(s)"
        tmp.replace(out_file)
    except OSError as e:
        raise fail(f"cannot write {out_file}: {e}", 2) from None
    finally:
        tmp.unlink(missing_ok=True)
        store.close()
    _eprint(f"wrote {what} to {out_file}")


def _sources_into(store, sources: list[str]) -> list[dict]:
    from tuning_db import SchemaError, TuningDB
    from tuning_db.bundle import BundleError, import_bundle, merge_database, read_bundle

    done = []
    for src in sources:
        path = Path(src)
        is_bundle = "://" not in src and path.suffix == ".json"
        if "://" not in src and not path.exists():
            raise fail(f"no such file: {src}", 2)
        try:
            if is_bundle:
                result = import_bundle(store, read_bundle(path))
            else:
                other = TuningDB(src)
                try:
                    result = merge_database(store, other)
                finally:
                    other.close()
        except BundleError as e:
            raise fail(f"{src}: {e}", 2) from None
        except SchemaError as e:
            raise fail(f"{src}: {e}", 1) from None
        done.append({"source": src, "added": result.trials_added,
                     "skipped": result.trials_skipped, "devices": result.devices})  # fmt: skip
    return done


@db_app.command("import")
def import_(
    source: Annotated[str, typer.Argument(help="a bundle (.json) or another database")],
    db: DbOpt = None,
) -> None:
    """Add what a bundle or another database holds and this one does not (idempotent)."""
    db = _db(db)
    _merge([source], db)


@db_app.command()
def merge(
    sources: Annotated[list[str], typer.Argument(help="databases (URL or file) or bundles")],
    db: DbOpt = None,
) -> None:
    """Merge other databases or bundles into this one; trials already here are skipped."""
    db = _db(db)
    _merge(sources, db)


def _merge(sources: list[str], db: str) -> None:
    if any(database_key(s) == database_key(db) for s in sources):
        raise fail("a database cannot be merged into itself", 2)
    store = open_db(db, must_exist=False)
    try:
        done = _sources_into(store, sources)
    finally:
        store.close()
    for d in done:
        _print(f"{d['source']}: {d['added']} trial(s) added, {d['skipped']} already here")


def database_key(db: str) -> str:
    from tuning_db import database_url

    return database_url(db)


@db_app.command("stats")
def stats_(db: DbOpt = None, format: FormatOpt = "text") -> None:
    """Counts by table, trial status and generator version."""
    db = _db(db)
    from tuning_db.maintenance import stats

    check_format(format)
    store = open_db(db)
    try:
        doc = stats(store)
    finally:
        store.close()
    if format == "json":
        print(json.dumps(doc, indent=2))
        return
    table = Table(title=f"{db}")
    table.add_column("what")
    table.add_column("count", justify="right")
    for k, v in doc.items():
        if isinstance(v, dict):
            for kk, vv in v.items():
                table.add_row(f"{k}: {kk}", str(vv))
        else:
            table.add_row(k, str(v))
    _print(table)


@db_app.command()
def gc(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only count")] = False,
    db: DbOpt = None,
) -> None:
    """Drop trials of superseded generator versions, keeping each old (workload, device)'s
    fastest correct trial."""
    db = _db(db)
    from tuning_db.maintenance import gc as collect

    store = open_db(db)
    try:
        doc = collect(store, dry_run)
    finally:
        store.close()
    verb = "would delete" if dry_run else "deleted"
    _print(f"{verb} {doc['would_delete']} trial(s) of superseded generator versions; kept "
              f"{doc['kept_old_bests']} old best(s)")  # fmt: skip


@db_app.command()
def upgrade(db: DbOpt = None) -> None:
    """Migrate the database to this version's schema in place (back it up first)."""
    db = _db(db)
    from tuning_db import SchemaError
    from tuning_db.engine import database_url, make_engine
    from tuning_db.schema import upgrade as migrate

    path = _cli().sqlite_path(db)
    if path is not None and not path.exists():
        raise fail(f"no tuning database at {path}", 1)
    try:
        engine = make_engine(database_url(db))
    except Exception as e:
        raise fail(f"cannot open the database {db!r}: {e}", 2) from None
    try:
        before, after = migrate(engine)
    except SchemaError as e:
        raise fail(str(e), 1) from None
    finally:
        engine.dispose()
    if before == after:
        _print(f"{db} is already at schema revision {after}")
    else:
        _print(f"upgraded {db} from schema revision {before} to {after}")


# --- tune serve ----------------------------------------------------------------------------------
SERVE_ENV = "TUNE_SERVE_CONFIG"  # how `tune serve --workers N` hands its options to the workers


def serve(
    db: DbOpt = None,
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="port (0: any free one)")] = 8080,
    token: Annotated[
        str | None,
        typer.Option(envvar="TUNE_TOKEN", help="enable writes for this bearer token"),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="server processes")] = 1,
    max_body: Annotated[int, typer.Option(min=1, help="largest request body, bytes")] = 16 << 20,
) -> None:
    """Serve lookups over HTTP (read-only unless started with --token)."""
    db = _db(db)
    import uvicorn

    store = open_db(db, must_exist=False)  # creates an empty database, checks the schema
    store.close()
    os.environ[SERVE_ENV] = json.dumps({"db": db, "token": token, "max_body": max_body})
    _eprint(f"serving {db} on http://{host}:{port} ({'writable' if token else 'read-only'}, "
              f"{workers} worker(s))")  # fmt: skip
    uvicorn.run("tuner.cli_db:serve_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning", access_log=False)  # fmt: skip


def serve_app():
    """The app of one `tune serve` worker process (a uvicorn factory)."""
    from measure.catalog import CATALOG
    from tuning_db.server import create_app

    cfg = json.loads(os.environ[SERVE_ENV])
    return create_app(cfg["db"], token=cfg["token"], targets=CATALOG, max_body=cfg["max_body"])


__all__ = ["db_app", "serve", "serve_app"]
