"""The `tune` command on a real local Ray, PoCL and SQLite, and its errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyopencl as cl
import pytest

from search_spaces import Workload
from tuning_db import TuningDB

TUNE = [sys.executable, "-m", "tuner.cli"]
pytestmark = pytest.mark.xdist_group("e2e")


def tune(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run([*TUNE, *args], cwd=cwd, capture_output=True, text=True, env=env)


def run_from_json(doc: dict, inputs: list[np.ndarray], device) -> np.ndarray:
    """Compile and launch a looked-up kernel using nothing but its JSON description."""
    k = doc["kernel"]
    assert k["dialect"] == "opencl"
    platform = cl.get_platforms()[device.index[0]]
    ctx = cl.Context([platform.get_devices()[device.index[1]]])
    queue = cl.CommandQueue(ctx)
    program = cl.Program(ctx, k["source"]).build()
    kernel = getattr(program, k["entry"])
    *in_args, out_arg = k["args"]
    assert [tuple(a["shape"]) for a in in_args] == [x.shape for x in inputs]
    mf = cl.mem_flags
    bufs = [cl.Buffer(ctx, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=x) for x in inputs]
    out = np.empty(out_arg["shape"], np.float32)
    out_buf = cl.Buffer(ctx, mf.WRITE_ONLY, out.nbytes)
    kernel(queue, tuple(k["global_size"]), tuple(k["local_size"]), *bufs, out_buf)
    cl.enqueue_copy(queue, out, out_buf)
    return out


def conv2d_nchw(data: np.ndarray, weight: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """A plain loop over output pixels (independent of the package's reference)."""
    n, ci, h, w = data.shape
    co, _, k, _ = weight.shape
    oh, ow = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
    padded = np.zeros((n, ci, h + 2 * padding, w + 2 * padding))
    padded[:, :, padding : padding + h, padding : padding + w] = data
    out = np.zeros((n, co, oh, ow))
    for y in range(oh):
        for x in range(ow):
            win = padded[:, :, y * stride : y * stride + k, x * stride : x * stride + k]
            out[:, :, y, x] = np.einsum("nchw,ochw->no", win, weight.astype(np.float64))
    return out


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """One 16-trial matmul run and one 6-trial conv2d run (early stopping off) into the same
    database."""
    d = tmp_path_factory.mktemp("e2e")
    mm = tune("run", "--op", "matmul", "--shape", "M=24,N=20,K=12", "--device", "auto",
              "--trials", "16", "--db", "t.db", cwd=d)  # fmt: skip
    cv = tune("run", "--op", "conv2d", "--shape",
              "N=1,H=9,W=7,CI=3,CO=5,kernel=3,stride=2,padding=1,layout=NCHW",
              "--trials", "6", "--batch", "3", "--patience", "0", "--db", "t.db",
              cwd=d)  # fmt: skip
    return d, mm, cv


def test_run_stores_every_trial_and_one_best(tuned, local_device):
    d, mm, cv = tuned
    assert mm.returncode == 0, mm.stderr
    assert cv.returncode == 0, cv.stderr
    assert "GFLOP/s" in mm.stdout and "vs first valid" in mm.stdout
    assert "The search itself (proposing, learning) took" in mm.stdout
    db = TuningDB(str(d / "t.db"))
    w = Workload.parse("matmul", "M=24,N=20,K=12")
    assert db.count_trials(w, local_device.name) == 16
    assert db.count_trials() == 22
    best = db.best(w, local_device.name)
    ok = [r.latency_s for r in db.trials(w, local_device.name) if r.status == "ok"]
    assert best is not None and best.latency_s == min(ok)
    db.close()


@pytest.mark.parametrize(
    "op,shape",
    [
        ("matmul", "M=24,N=20,K=12"),
        ("conv2d", "N=1,H=9,W=7,CI=3,CO=5,kernel=3,stride=2,padding=1,layout=NCHW"),
    ],
)
def test_looked_up_kernel_runs_from_its_json_alone(tuned, local_device, op, shape):
    d, _, _ = tuned
    r = tune("lookup", "--op", op, "--shape", shape, "--device", "auto", "--format", "json",
             "--db", "t.db", cwd=d)  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    w = Workload.parse(op, shape)
    assert doc["match"] == "exact" and doc["device"] == local_device.name
    assert doc["workload"] == {
        "op": op, "shape": w.shape, "dtype": "float32", "layout": w.layout, "key": w.key,
    }  # fmt: skip
    assert doc["latency_us"] > 0 and doc["gflops"] > 0 and doc["schedule"]["sketch"]
    assert [a["name"] for a in doc["kernel"]["args"]] == [
        t.name for t in (*w.compute.inputs, w.compute.output)
    ]
    rng = np.random.default_rng(5)
    inputs = [rng.uniform(-1, 1, a["shape"]).astype(np.float32) for a in doc["kernel"]["args"][:-1]]
    if op == "matmul":
        expected = np.matmul(inputs[0].astype(np.float64), inputs[1])
    else:
        expected = conv2d_nchw(*inputs, stride=2, padding=1)
    got = run_from_json(doc, inputs, local_device)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_unknown_device_exits_2_listing_devices_and_writes_nothing(tmp_path, local_device):
    r = tune("run", "--op", "matmul", "--shape", "M=8,N=8,K=8", "--device", "rtx4090",
             "--db", "t.db", cwd=tmp_path)  # fmt: skip
    assert r.returncode == 2
    assert "rtx4090" in r.stderr and local_device.name in r.stderr
    assert not (tmp_path / "t.db").exists()


@pytest.mark.parametrize(
    "args,message",
    [
        (["--op", "matmul", "--shape", "M=8,N=8"], "needs K"),
        (["--op", "matmul", "--shape", "M=8,N=8,K=0"], "out of range"),
        (["--op", "conv2d", "--shape", "H=3,W=3,CI=1,CO=1,kernel=5"], "empty"),
        (["--op", "conv2d", "--shape", "H=8,W=8,CI=1,CO=1,kernel=3,layout=CHWN"], "no layout"),
        (["--op", "gemm", "--shape", "M=8,N=8,K=8"], "unknown operator"),
        (["--op", "matmul", "--shape", "M=8,N=8,K=8", "--trials", "0"], "trials"),
        (["--op", "matmul", "--shape", "M=8,N=8,K=8", "--build-limit", "0"], "build-limit"),
        (["--op", "matmul", "--shape", "M=8,N=8,K=8", "--patience", "-1"], "patience"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, args, message):
    r = tune("run", *args, "--db", "t.db", cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr
    assert not (tmp_path / "t.db").exists()


def test_lookup_of_an_untuned_workload_exits_1(tuned):
    d, _, _ = tuned
    r = tune("lookup", "--op", "matmul", "--shape", "M=24,N=20,K=13", "--exact", "--db", "t.db",
             cwd=d)  # fmt: skip
    assert r.returncode == 1 and "no tuned kernel" in r.stderr
    r = tune("lookup", "--op", "matmul", "--shape", "M=24,N=20,K=13", "--db", "t.db", cwd=d)
    assert r.returncode == 0 and json.loads(r.stdout)["match"] == "nearest_shape"
    r = tune("lookup", "--op", "matmul", "--shape", "M=24,N=20,K=12", "--db", "none.db", cwd=d)
    assert r.returncode == 1 and "no tuning database" in r.stderr
    assert not (d / "none.db").exists()
