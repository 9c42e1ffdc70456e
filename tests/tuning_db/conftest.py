"""Databases for the tuning_db tests: a fresh SQLite file, or a fresh database on the real
PostgreSQL server that ./dev test starts ($TUNE_TEST_POSTGRES_URL)."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from tuning_db import database_url

PG = os.environ.get("TUNE_TEST_POSTGRES_URL")


@pytest.fixture
def pg_url():
    """A new, empty database on the test server, dropped afterwards."""
    if not PG:
        if os.environ.get("CI"):
            pytest.fail("TUNE_TEST_POSTGRES_URL is not set: CI runs the tests through ./dev test")
        pytest.skip("no PostgreSQL server: run through ./dev test (it sets TUNE_TEST_POSTGRES_URL)")
    name = f"tune_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(database_url(PG), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield make_url(PG).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """Each test that takes this runs on both back-ends."""
    if request.param == "sqlite":
        return str(tmp_path / "tuning.db")
    return request.getfixturevalue("pg_url")
