"""The job driver's logic on a fake device, with real SQLite and a real PostgreSQL server:
priorities on a shared device, cancel and resume, a time budget, and a database whose
connections are killed mid-job. (Real devices and a real cluster: tests/tuner/test_jobs.py.)"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import replace
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine

from measure import MeasureResult, Status
from search_spaces import Target
from tuner import jobs
from tuner.jobspec import parse_spec
from tuning_db import TuningDB, database_url

TARGET = Target("fake", "gpu", "opencl", 256, 1 << 15, 64, 4)


class FakePool:
    """Every candidate is correct; latency is a function of the kernel; `delay` s each."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay

    def info(self, name):
        return SimpleNamespace(name=name, target=replace(TARGET, name=name), platform="fake",
                               description="a fake device", driver="")  # fmt: skip

    def measure(self, name, inputs):
        time.sleep(self.delay * len(inputs))
        return [
            MeasureResult(
                Status.OK, latency_s=(hash(i.kernel.source) % 1000 + 1) * 1e-6, samples=(1e-6,)
            )  # fmt: skip
            for i in inputs
        ]


def submit(db: TuningDB, name: str, trials: int = 12, **extra) -> str:
    shapes = ["M=32,N=32,K=32", "M=64,N=32,K=16"]
    workloads = [{"op": "matmul", "shape": s} for s in shapes]
    raw = {"name": name, "devices": ["fake"], "trials": trials, "strategy": "random"}
    spec = parse_spec({**raw, "workloads": workloads, **extra})
    return jobs.create(db, spec, ["fake"])


def trials_of(db: TuningDB, name: str) -> int:
    return sum(sum(c.values()) for c in db.job_counts(name).values())


def run_driver(url: str, name: str, pool=None) -> threading.Thread:
    t = threading.Thread(target=lambda: jobs.Driver(url, name, pool or FakePool(0.01)).run())
    t.start()
    return t


def test_a_job_of_higher_priority_goes_first_on_a_shared_device(tmp_path):
    url = str(tmp_path / "t.db")
    db = TuningDB(url)
    low, high = submit(db, "low"), submit(db, "high", priority=5)
    assert (low, high) == ("low", "high") and submit(db, "low") == "low-2"
    # `high` is running (its driver is this process) when `low` starts: low waits
    db.update_job(high, status="running", driver=f"{socket.gethostname()}:{os.getpid()}",
                  heartbeat_at=jobs.now())  # fmt: skip
    waiting = run_driver(url, low)
    time.sleep(3 * jobs.PRIORITY_POLL_S)
    assert trials_of(db, low) == 0 and waiting.is_alive()
    assert jobs.Driver(url, high, FakePool(0.01)).run() == "done"
    waiting.join(timeout=120)
    assert db.job(low).status == db.job(high).status == "done"
    ids_low, ids_high = db.job_trial_ids(low), db.job_trial_ids(high)
    assert len(ids_low) == len(ids_high) == 24 and min(ids_low) > max(ids_high)
    db.close()


def test_cancel_stops_a_job_and_resume_finishes_it_without_repeats(tmp_path):
    url = str(tmp_path / "t.db")
    db = TuningDB(url)
    name = submit(db, "nightly", trials=40)
    t = run_driver(url, name, FakePool(0.05))
    while trials_of(db, name) < 8:
        time.sleep(0.05)
    assert jobs.cancel(db, name) == "running"
    t.join(timeout=60)
    assert not t.is_alive() and db.job(name).status == "cancelled"
    stopped = trials_of(db, name)
    assert 8 <= stopped < 80
    assert jobs.Driver(url, name, FakePool()).run() == "done"
    counts = db.job_counts(name)
    assert [sum(c.values()) for c in counts.values()] == [40, 40]
    rows = list(db.iter_trials(job=name))
    assert len({(t.workload.key, t.schedule.key) for t in rows}) == 80
    db.close()


def test_a_time_budget_ends_the_job(tmp_path):
    url = str(tmp_path / "t.db")
    db = TuningDB(url)
    name = submit(db, "short", trials=1000, time="2s")
    t0 = time.monotonic()
    assert jobs.Driver(url, name, FakePool(0.05)).run() == "done"
    assert time.monotonic() - t0 < 30
    assert 0 < trials_of(db, name) < 2000
    db.close()


def test_a_job_survives_its_database_connections_being_killed(pg_url):
    db = TuningDB(pg_url)
    name = submit(db, "flaky", trials=40)
    admin = create_engine(database_url(pg_url), isolation_level="AUTOCOMMIT")
    kills = []

    def kill_connections() -> None:
        for _ in range(6):
            time.sleep(0.4)
            with admin.connect() as c:
                n = c.exec_driver_sql(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ).scalar()
            kills.append(n)

    killer = threading.Thread(target=kill_connections)
    killer.start()
    status = jobs.Driver(pg_url, name, FakePool(0.02)).run()
    killer.join()
    admin.dispose()
    assert sum(kills) > 0, "no connection was killed: the test proved nothing"
    assert status == "done", db.job(name).error
    counts = db.job_counts(name)
    assert [sum(c.values()) for c in counts.values()] == [40, 40]
    rows = list(db.iter_trials(job=name))
    assert len({t.uid for t in rows}) == len({(t.workload.key, t.schedule.key) for t in rows}) == 80
    db.close()


@pytest.mark.parametrize("status", ["done", "cancelled"])
def test_cancel_of_an_ended_job_changes_nothing(tmp_path, status):
    db = TuningDB(str(tmp_path / "t.db"))
    name = submit(db, "j")
    db.update_job(name, status=status)
    assert jobs.cancel(db, name) == status and db.job(name).status == status
    db.close()
