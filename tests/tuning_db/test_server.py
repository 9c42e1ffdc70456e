"""`tune serve` as a real server process on loopback: lookups, health, metrics, OpenAPI, and
writes that need the token; on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from search_spaces import GENERATOR_VERSION, Schedule, Target, Workload
from tuning_db import DeviceInfo, TrialRecord, TuningDB
from tuning_db.bundle import trial_json

ROOT = Path(__file__).resolve().parents[2]
TARGET = Target("pocl-cpu", "cpu", "opencl", 4096, 1 << 19, 128, 2, arch="cpu")
W = Workload.parse("matmul", "M=32,N=32,K=32")
S = Schedule("tile", ((1, 1, 1), (1, 4, 1), (1, 8, 1)), (4,))
TOKEN = "t0ken"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(db: str, *args: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TUNE_TOKEN", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuner.cli", "serve", "--db", db, "--port", str(port), *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited: {proc.stdout.read()}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    pytest.fail("server did not start")


@pytest.fixture
def served(db_url):
    db = TuningDB(db_url)
    db.register_device(DeviceInfo("pocl-cpu", TARGET))
    (tid,) = db.add_trials([TrialRecord(W, "pocl-cpu", S, "ok", GENERATOR_VERSION, 1e-5)])
    db.close()
    proc, base = start(db_url, "--token", TOKEN)
    yield db_url, base, tid
    proc.terminate()
    proc.wait(timeout=30)


def test_real_server_answers_lookups_and_guards_writes(served):
    db_url, base, tid = served
    with httpx.Client(base_url=base, timeout=30) as c:
        health = c.get("/health").json()
        assert health["status"] == "ok" and health["writable"] is True
        q = {"op": "matmul", "shape": "M=32,N=32,K=32", "device": "pocl-cpu"}
        doc = c.get("/lookup", params=q).json()
        assert doc["match"] == "exact" and doc["trial_id"] == tid
        assert doc["schedule"] == S.to_json() and doc["latency_us"] == pytest.approx(10.0)
        assert "__kernel" in doc["kernel"]["source"]
        near = c.get("/lookup", params={**q, "shape": "M=32,N=32,K=48"}).json()
        assert near["match"] == "nearest_shape" and near["source"]["trial_id"] == tid
        # catalog devices the database does not hold still get a kernel, by rule
        h100 = c.get("/lookup", params={**q, "device": "h100"}).json()
        assert h100["match"] == "default" and h100["kernel"]["dialect"] == "cuda"
        r = c.get("/lookup", params={**q, "exact": "true", "shape": "M=32,N=32,K=40"})
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_tuned"

        new = TrialRecord(W, "pocl-cpu", S, "ok", GENERATOR_VERSION, 5e-6, uid="e" * 32)
        body = {"trials": [trial_json(new)]}
        assert c.post("/trials", json=body).status_code == 401
        r = c.post("/trials", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 201 and r.json() == {"added": 1, "skipped": 0}
        r = c.post("/trials", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.json() == {"added": 0, "skipped": 1}  # idempotent
        assert c.get("/lookup", params=q).json()["latency_us"] == pytest.approx(5.0)

        metrics = c.get("/metrics").text
        assert 'tune_lookups_total{match="exact"} 2.0' in metrics
        assert 'tune_lookups_total{match="nearest_shape"} 1.0' in metrics
        assert "tune_trials_written_total 1.0" in metrics
        assert "tune_http_request_seconds_bucket" in metrics
        spec = c.get("/openapi.json").json()
        assert {"/lookup", "/health", "/metrics", "/trials", "/import"} <= set(spec["paths"])
        assert [b["trial_id"] for b in c.get("/bests").json()] != [tid]
        assert c.get("/devices").json()[0]["name"] == "pocl-cpu"
        assert c.get("/stats").json()["trials"] == 2
    db = TuningDB(db_url)
    assert db.count_trials() == 2
    db.close()


def test_server_without_token_is_read_only(tmp_path):
    db = str(tmp_path / "t.db")
    proc, base = start(db, "--workers", "2")
    try:
        r = httpx.post(f"{base}/trials", json={"trials": []}, timeout=30)
        assert r.status_code == 403 and r.json()["error"]["code"] == "read_only"
        assert httpx.get(f"{base}/health", timeout=30).json()["writable"] is False
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert "127.0.0.1" in base
