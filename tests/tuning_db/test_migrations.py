"""Schema versions: a database of the previous schema is refused, then upgraded in place with
its data; the migrations and the models agree; a new database gets the newest schema."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from search_spaces import GENERATOR_VERSION, Workload
from tuning_db import SchemaError, TuningDB, database_url, schema
from tuning_db.engine import make_engine
from tuning_db.models import Base

from . import old_schema

TABLES = ("workloads", "devices", "trials")


def old_rows() -> dict[str, list[dict]]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{old_schema.write(Path(tmp) / 'old.db')}")
        with engine.connect() as c:
            rows = {
                t: [dict(r._mapping) for r in c.execute(text(f"SELECT * FROM {t}"))] for t in TABLES
            }
        engine.dispose()
    return rows


def make_old_database(url: str) -> None:
    """The previous schema with the old database's rows: the old file itself (SQLite), or
    revision 0001 made by the migrations and filled row by row (PostgreSQL)."""
    if "://" not in url:
        old_schema.write(url)
        return
    engine = make_engine(database_url(url))
    with engine.connect() as conn:
        cfg = schema._config(conn)
        command.upgrade(cfg, schema.FIRST)
        conn.exec_driver_sql("DROP TABLE alembic_version")  # as old databases had none
        for table, rows in old_rows().items():
            for r in rows:
                if "confirmed" in r:
                    r["confirmed"] = bool(r["confirmed"])
                cols = ", ".join(f'"{k}"' for k in r)
                conn.execute(text(f"INSERT INTO {table} ({cols}) VALUES "
                                  f"({', '.join(':' + k for k in r)})"), r)  # fmt: skip
        conn.commit()
    engine.dispose()


def test_previous_schema_is_refused_then_upgraded_with_its_data(db_url):
    make_old_database(db_url)
    with pytest.raises(SchemaError, match=r"revision 0001.*tune db upgrade --db "):
        TuningDB(db_url)
    engine = make_engine(database_url(db_url))
    assert schema.upgrade(engine) == ("0001", schema.head())
    assert schema.upgrade(engine) == (schema.head(), schema.head())  # a no-op the second time
    engine.dispose()

    db = TuningDB(db_url)
    old = old_rows()
    assert db.count_trials() == len(old["trials"]) == 7
    assert {d.name: d.arch for d in db.devices()} == {"pocl-cpu": "cpu", "h100": "hopper"}
    assert sorted(j.name for j in db.jobs()) == sorted({r["job"] for r in old["trials"]} - {""})
    w = Workload.parse("matmul", "M=64,N=32,K=64")
    rows = db.trials(w, "pocl-cpu")
    by_id = {r["id"]: r for r in old["trials"]}
    for r in rows:
        o = by_id[r.id]
        assert (r.status, r.latency_s, r.schedule, r.error) == (
            o["status"],
            o["latency_s"],
            o["schedule"],
            o["error"],
        )
        assert json.loads(r.samples) == json.loads(o["samples"])
        assert len(r.uid) == 32
    jobs = {j.name for j in db.jobs()}
    assert "nightly-1" in jobs
    assert len({r.uid for r in rows}) == len(rows)
    ok = [r.latency_s for r in rows if r.status == "ok"]
    assert min(ok) == 20e-6  # the fastest correct trial, not the faster wrong result
    # made by generator 1: kept, but a later generator's lookups no longer serve them
    assert GENERATOR_VERSION > 1 and db.best(w, "pocl-cpu") is None
    db.close()


def test_migrations_build_exactly_the_models(db_url):
    """Running every migration on an empty database gives the schema the models describe."""
    engine = make_engine(database_url(db_url))
    with engine.connect() as conn:
        command.upgrade(schema._config(conn), "head")
        conn.commit()
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_new_database_is_created_at_the_newest_revision(db_url):
    TuningDB(db_url).close()
    engine = make_engine(database_url(db_url))
    with engine.connect() as conn:
        assert schema.current(conn) == schema.head() == schema.known_revisions()[-1]
    engine.dispose()


def test_unknown_revision_is_refused(db_url):
    TuningDB(db_url).close()
    engine = make_engine(database_url(db_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(SchemaError, match="does not know"):
        TuningDB(db_url)
