"""A database of the first schema, as the tuning_db of commit 5945c03 (the walking skeleton)
wrote it before migrations existed: 7 trials of two workloads on two devices, two of them in
jobs named by a string column. Kept as its SQL dump (`data/revision_0001.sql`, from sqlite3's
iterdump) rather than as a binary file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

DUMP = Path(__file__).parent / "data" / "revision_0001.sql"


def write(path: str | Path) -> Path:
    """The old database as a SQLite file at `path`."""
    conn = sqlite3.connect(path)
    conn.executescript(DUMP.read_text())
    conn.close()
    return Path(path)
