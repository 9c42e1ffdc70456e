"""Schema versions: create the newest schema on an empty database, refuse an older one with
the command that upgrades it, and run the Alembic migrations shipped in this package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from tuning_db.engine import WRITE
from tuning_db.models import Base

MIGRATIONS = Path(__file__).parent / "migrations"
FIRST = "0001"  # the schema of databases made before migrations existed


class SchemaError(RuntimeError):
    """The database's schema is not the one this version of the package reads."""


def _config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision this package knows."""
    return ScriptDirectory.from_config(_config()).get_current_head() or ""


def known_revisions() -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory.from_config(_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def current(conn: Connection) -> str | None:
    """The database's revision: None when empty, FIRST for a database made before Alembic."""
    # Tables first: a schema that another process creates appears with its version at once,
    # so seeing `trials` means the version (if any) is visible too.
    has_trials = inspect(conn).has_table("trials")
    rev = MigrationContext.configure(conn).get_current_revision()
    if rev is None and has_trials:
        return FIRST
    return rev


def _lock(conn: Connection) -> None:
    """Serialise schema work between processes that open a new database at the same time
    (SQLite: the connection's transaction holds the write lock, see engine.WRITE)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(7420001)"))


def ensure(engine: Engine, url: str) -> None:
    """Create the newest schema in an empty database; refuse any other revision but the head."""
    with engine.connect() as conn:
        rev = current(conn)
        conn.rollback()
    if rev is None:
        with engine.connect() as conn:
            conn.execution_options(**{WRITE: True})
            _create(conn)
            rev = current(conn)
    if rev != head():
        raise SchemaError(_why(rev, url))


def _create(conn: Connection) -> None:
    _lock(conn)
    if current(conn) is None:  # nobody created it while we waited for the lock
        Base.metadata.create_all(conn)
        MigrationContext.configure(conn).stamp(ScriptDirectory.from_config(_config()), head())
    conn.commit()


def _why(rev: str | None, url: str) -> str:
    shown = _shown(url)
    if rev in known_revisions():
        return (
            f"the tuning database {shown} has schema revision {rev}, older than this "
            f"version's {head()}; upgrade it (back it up first) with: tune db upgrade --db {shown}"
        )
    return (
        f"the tuning database {shown} has schema revision {rev!r}, which this version of tune "
        f"does not know (newest known: {head()}); upgrade the tune package"
    )


def _shown(url: str) -> str:
    """The URL as a user would pass it to --db, without a password."""
    from sqlalchemy.engine import make_url

    if "://" not in url:
        return url
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///") :]
    return make_url(url).render_as_string(hide_password=True)


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Migrate the database to the newest schema; returns (revision before, revision after)."""
    with engine.connect() as conn:
        conn.execution_options(**{WRITE: True})
        _lock(conn)
        before = current(conn)
        if before is None:
            _create(conn)
            return None, head()
        if before not in known_revisions():
            raise SchemaError(_why(before, str(engine.url)))
        cfg = _config(conn)
        if MigrationContext.configure(conn).get_current_revision() is None:
            command.stamp(cfg, FIRST)
        command.upgrade(cfg, "head")
        conn.commit()
        return before, current(conn) or ""
