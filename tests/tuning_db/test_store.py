"""The tuning database on a real SQLite file."""

from __future__ import annotations

import json

import pytest

from search_spaces import GENERATOR_VERSION, Schedule, Target, Workload
from tuning_db import DeviceInfo, TrialRecord, TuningDB, database_url

TARGET = Target("pocl-cpu", "cpu", "opencl", 4096, 1 << 19, 256, 2)


def sched(n: int) -> Schedule:
    return Schedule("tile", ((1, 1, 1), (1, n, 1), (1, 1, 1)), (1,))


def trial(w, n, status="ok", latency=None, device="pocl-cpu", version=GENERATOR_VERSION):
    return TrialRecord(
        workload=w,
        device=device,
        schedule=sched(n),
        status=status,
        generator_version=version,
        latency_s=latency,
        samples=(latency,) * 3 if latency else (),
        protocol={"min_repeats": 3},
        error="" if status == "ok" else "boom",
    )


@pytest.fixture
def db(tmp_path):
    store = TuningDB(str(tmp_path / "t.db"))
    store.register_device(DeviceInfo("pocl-cpu", TARGET, "PoCL", "cpu", "3.1"))
    store.register_device(DeviceInfo("other", TARGET, "PoCL", "cpu", "3.1"))
    yield store
    store.close()


def test_every_trial_is_stored_and_best_is_the_fastest_correct_one(db):
    w = Workload.parse("matmul", "M=8,N=8,K=8")
    ids = db.add_trials(
        [
            trial(w, 1, latency=3e-6),
            trial(w, 2, "wrong_result", latency=1e-9),  # never a best, however fast
            trial(w, 3, latency=2e-6),
            trial(w, 4, "compile_error"),
            trial(w, 5, latency=1e-9, version=GENERATOR_VERSION - 1),  # retired generator
            trial(w, 6, latency=1e-9, device="other"),
        ]
    )
    assert len(ids) == 6 and db.count_trials() == 6
    assert db.count_trials(w, "pocl-cpu") == 5
    best = db.best(w, "pocl-cpu")
    assert best is not None and best.schedule == sched(3) and best.latency_s == 2e-6
    assert best.device.target == TARGET
    assert best.gflops == pytest.approx(2 * 8**3 / 2e-6 / 1e9)
    rows = db.trials(w, "pocl-cpu")
    assert [r.status for r in rows] == ["ok", "wrong_result", "ok", "compile_error", "ok"]
    assert json.loads(rows[0].samples) == [3e-6] * 3
    assert db.measured_keys(w, "pocl-cpu") == {sched(n).key for n in (1, 2, 3, 4)}
    assert db.best(Workload.parse("matmul", "M=8,N=8,K=9"), "pocl-cpu") is None


def test_data_survives_reopening(tmp_path):
    path = str(tmp_path / "t.db")
    a = TuningDB(path)
    a.register_device(DeviceInfo("pocl-cpu", TARGET))
    w = Workload.parse("conv2d", "N=1,H=4,W=4,CI=2,CO=2,kernel=3,padding=1,layout=NCHW")
    a.add_trials([trial(w, 2, latency=5e-6)])
    a.close()
    b = TuningDB(path)
    best = b.best(w, "pocl-cpu")
    assert best is not None and best.workload == w and best.schedule == sched(2)
    b.close()


def test_unknown_device_is_refused_and_nothing_is_written(db):
    w = Workload.parse("matmul", "M=8,N=8,K=8")
    with pytest.raises(KeyError):
        db.add_trials([trial(w, 1, latency=1e-6), trial(w, 2, latency=1e-6, device="nope")])
    assert db.count_trials() == 0


def test_database_url_accepts_paths_and_urls(tmp_path):
    assert database_url("postgresql://u@localhost/db") == "postgresql+psycopg://u@localhost/db"
    assert database_url("sqlite:///x.db") == "sqlite:///x.db"
    assert database_url(str(tmp_path / "x.db")) == f"sqlite:///{tmp_path / 'x.db'}"


def test_jobs_and_cost_models(db):
    w = Workload.parse("matmul", "M=8,N=8,K=8")
    db.add_trials([trial(w, 1, latency=1e-6)])
    db.add_trials([TrialRecord(w, "pocl-cpu", sched(2), "ok", GENERATOR_VERSION, 2e-6, job="n1")])
    db.save_job("n1", {"workloads": ["matmul"], "budget": 64}, "running")
    job = db.job("n1")
    assert job is not None and job.spec["budget"] == 64 and job.status == "running"
    assert [t.job for t in db.iter_trials()] == ["", "n1"]
    assert db.cost_model("xgb-main") is None
    db.save_cost_model("xgb-main", "xgb", b"\x00old", {"trained_on": 10})
    db.save_cost_model("xgb-main", "xgb", b"\x00\x01new", {"trained_on": 20})
    m = db.cost_model("xgb-main")
    assert m is not None and m.blob == b"\x00\x01new" and m.meta == {"trained_on": 20}
