"""Engines for the two back-ends: a SQLite file (WAL) or a PostgreSQL server, by URL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine

# Execution option of connections that will write: on SQLite their transaction takes the write
# lock at BEGIN, so concurrent writers queue (busy_timeout) instead of failing to upgrade a read.
WRITE = "tune_write"
# Execution option of connections that run one SELECT and nothing else: no BEGIN is needed.
SINGLE = "tune_single_read"


def database_url(db: str) -> str:
    """A SQLAlchemy URL from `--db`: URLs pass through, anything else is a SQLite file path."""
    if "://" in db:
        if db.startswith(("postgresql://", "postgres://")):
            # psycopg 3 is the driver this package installs
            return "postgresql+psycopg://" + db.split("://", 1)[1]
        return db
    return f"sqlite:///{Path(db).expanduser().resolve()}"


def make_engine(url: str) -> Engine:
    """An engine for `url` (already passed through database_url)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60})
        _sqlite_setup(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get(WRITE, False):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif not options.get(SINGLE, False):
            conn.exec_driver_sql("BEGIN")
