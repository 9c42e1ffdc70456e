"""Hostile input: malformed shapes, SQL-looking strings, huge and negative numbers, unknown
ops and devices, bad bundles and oversized bodies get clear errors (4xx over HTTP, exit code 1
or 2 on the command line) and change nothing in the database (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect, text
from typer.testing import CliRunner

from search_spaces import GENERATOR_VERSION, Schedule, Target, Workload
from tuner.cli import app as cli_app
from tuning_db import DeviceInfo, TrialRecord, TuningDB, database_url
from tuning_db.bundle import FORMAT, trial_json
from tuning_db.server import create_app

TARGET = Target("pocl-cpu", "cpu", "opencl", 4096, 1 << 19, 128, 2, arch="cpu")
TOKEN = "s3cret-token"
W = Workload.parse("matmul", "M=16,N=16,K=16")
S = Schedule("tile", ((1, 1, 1), (1, 4, 1), (1, 4, 1)), (1,))

SHAPES = [
    "M=1;DROP TABLE trials",
    "M=1,N=1,K=1' OR '1'='1",
    "M=16,N=16,K=16; DELETE FROM trials; --",
    "M=-5,N=8,K=8",
    "M=0,N=8,K=8",
    "M=99999999999999999999999999,N=8,K=8",
    "M=65536,N=65536,K=65536",  # tensors too large
    "M=1e9,N=8,K=8",
    "M=0x10,N=8,K=8",
    "M=8,N=8",
    "M=8,,N=8,K=8=3",
    "M=8,N=8,K=8,M=9",
    "M=8,N=8,K=8,Q=1",
    "M=8,N=8,K=8,layout=NHWC",
    "=,=,=",
    "M=８,N=8,K=8",
    "M=+8,N=1_0,K=8",
    "",
    "M=" + "9" * 1500,
]
OPS = ["gemm", "matmul;DROP TABLE workloads", "", "../../etc/passwd", "MATMUL", "x" * 300]
DEVICES = ["nope", "pocl-cpu'; DROP TABLE devices; --", "", "d" * 300]


def checksum(url: str) -> str:
    """Every row of every table, in a stable order."""
    engine = create_engine(database_url(url))
    h = hashlib.sha256()
    with engine.connect() as c:
        for table in sorted(inspect(c).get_table_names()):
            rows = c.execute(text(f"SELECT * FROM {table}")).all()
            h.update(table.encode())
            for r in sorted(repr(tuple(r)) for r in rows):
                h.update(r.encode())
    engine.dispose()
    return h.hexdigest()


@pytest.fixture
def filled(db_url):
    db = TuningDB(db_url)
    db.register_device(DeviceInfo("pocl-cpu", TARGET))
    db.add_trials([TrialRecord(W, "pocl-cpu", S, "ok", GENERATOR_VERSION, 1e-5, job="j")])
    yield db_url, db
    db.close()


def good_trial(**changes) -> dict:
    t = trial_json(TrialRecord(W, "pocl-cpu", S, "ok", GENERATOR_VERSION, 2e-5, uid="a" * 32))
    return {**t, **changes}


BAD_TRIALS = [
    ("negative latency", good_trial(latency_s=-1.0)),
    ("infinite latency", good_trial(latency_s=float("inf"))),
    ("NaN sample", good_trial(samples=[float("nan")])),
    ("huge number", good_trial(compile_s=10**400)),
    ("unknown status", good_trial(status="ok'; DROP TABLE trials; --")),
    ("uid not hex", good_trial(uid="' OR 1=1 --" + "x" * 21)),
    ("bad shape", good_trial(workload={"op": "matmul", "shape": {"M": -1, "N": 1, "K": 1}})),
    ("unknown op", good_trial(workload={"op": "gemm", "shape": {"M": 1}})),
    ("unknown device", good_trial(device="nope")),
    ("bad schedule", good_trial(schedule={"sketch": "tile", "spatial": "DROP"})),
    ("version not int", good_trial(generator_version="1; DROP TABLE trials")),
    ("not an object", "DROP TABLE trials"),
]


def test_http_hostile_input_is_4xx_and_changes_nothing(filled):
    url, db = filled
    before = checksum(url)
    client = TestClient(create_app(db, token=TOKEN, max_body=64 << 10))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    q = {"op": "matmul", "shape": "M=16,N=16,K=16", "device": "pocl-cpu"}
    assert client.get("/lookup", params=q).json()["match"] == "exact"  # the good request works

    def expect(r, status: int) -> None:
        assert r.status_code == status, (r.status_code, r.text[:300])
        err = r.json()["error"]
        assert err["code"] and err["message"]

    for shape in SHAPES:
        expect(
            client.get("/lookup", params={**q, "shape": shape}), 414 if len(shape) > 2048 else 400
        )
    for op in OPS:
        expect(client.get("/lookup", params={**q, "op": op}), 400)
    for device in DEVICES:
        expect(client.get("/lookup", params={**q, "device": device}), 404)
    expect(client.get("/lookup", params={"op": "matmul"}), 400)  # missing parameters
    expect(client.get("/lookup", params={**q, "exact": "maybe"}), 400)
    expect(client.get("/no/such/path"), 404)

    for why, t in BAD_TRIALS:
        body = json.dumps({"trials": [good_trial(uid="b" * 32), t]})
        r = client.post("/trials", content=body, headers=auth)
        assert r.status_code == 400, (why, r.text)
    bundle = {"format": FORMAT, "version": 1, "devices": [], "jobs": [], "trials": [good_trial()]}
    expect(client.post("/import", json=bundle), 401)  # no token
    expect(client.post("/import", json=bundle, headers={"Authorization": "Bearer wrong"}), 401)
    expect(client.post("/import", json={**bundle, "format": "x"}, headers=auth), 400)
    expect(client.post("/import", json={**bundle, "version": 99}, headers=auth), 400)
    expect(client.post("/import", content=b"{not json", headers=auth), 400)
    expect(client.post("/import", content=b"\xff\xfe", headers=auth), 400)
    expect(client.post("/import", json=[1, 2], headers=auth), 400)
    huge = json.dumps({**bundle, "pad": "x" * (65 << 10)})
    expect(client.post("/import", content=huge, headers=auth), 413)

    def chunks():  # no Content-Length: the limit holds while streaming
        for _ in range(100):
            yield b"x" * 4096

    expect(client.post("/import", content=chunks(), headers=auth), 413)
    expect(client.post("/import", json=bundle, headers={**auth, "Content-Length": "-1"}), 413)
    readonly = TestClient(create_app(db))
    expect(readonly.post("/trials", json={"trials": [good_trial()]}, headers=auth), 403)
    assert checksum(url) == before


def test_python_api_refuses_bad_bundles_and_writes_nothing(filled):
    from tuning_db.bundle import BundleError, import_bundle

    url, db = filled
    before = checksum(url)
    for _why, t in BAD_TRIALS:
        doc = {"format": FORMAT, "version": 1, "trials": [good_trial(uid="c" * 32), t]}
        with pytest.raises(BundleError):
            import_bundle(db, doc)
    with pytest.raises(KeyError):
        db.add_trials([TrialRecord(W, "pocl-cpu", S, "ok", 1), TrialRecord(W, "nope", S, "ok", 1)])
    assert checksum(url) == before


def cli(*args: str):
    return CliRunner().invoke(cli_app, list(args), catch_exceptions=False)


def test_cli_hostile_input_exits_1_or_2_and_changes_nothing(filled, tmp_path):
    url, db = filled
    before = checksum(url)
    ok = cli("lookup", "--op", "matmul", "--shape", "M=16,N=16,K=16", "--device", "pocl-cpu",
             "--db", url)  # fmt: skip
    assert ok.exit_code == 0 and json.loads(ok.stdout)["match"] == "exact"
    cases = []
    cases += [(("lookup", "--op", "matmul", "--shape", s, "--device", "pocl-cpu"), 2)
              for s in SHAPES]  # fmt: skip
    cases += [(("lookup", "--op", o, "--shape", "M=8,N=8,K=8", "--device", "pocl-cpu"), 2)
              for o in OPS]  # fmt: skip
    cases += [(("lookup", "--op", "matmul", "--shape", "M=8,N=8,K=8", "--device", d), 2)
              for d in DEVICES]  # fmt: skip
    cases += [
        (("lookup", "--op", "matmul", "--shape", "M=8,N=8,K=9", "--device", "pocl-cpu",
          "--exact"), 1),
        (("db", "show", "1;DROP TABLE trials"), 2),
        (("db", "show", "99999999"), 1),
        (("db", "show", "ffffffffff"), 1),
        (("db", "list", "--op", "gemm'--"), 2),
        (("db", "best", "--format", "xml"), 2),
        (("db", "export", "--out", str(tmp_path / "x.out"), "--format", "xml"), 2),
        (("db", "import", str(tmp_path / "missing.json")), 2),
    ]  # fmt: skip
    for _why, t in BAD_TRIALS:
        path = tmp_path / "bad.json"
        path.write_text(json.dumps({"format": FORMAT, "version": 1, "trials": [t]}))
        cases.append((("db", "import", str(path)), 2))
    (tmp_path / "junk.json").write_text("{{{ not json")
    cases.append((("db", "import", str(tmp_path / "junk.json")), 2))
    for args, code in cases:
        r = cli(*args, "--db", url)
        assert r.exit_code == code, (args, r.exit_code, r.output[-300:])
        assert "error" in r.output.lower() or "usage" in r.output.lower(), (args, r.output)
    assert checksum(url) == before
