"""Fleet jobs on a real 3-node Ray cluster on this machine (two device names over PoCL), with an
ONNX model built here: every workload is tuned on every device, and a driver killed with
SIGKILL mid-job is resumed with no trial repeated and totals equal to the budget."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import start_cluster
from tuner.jobspec import SpecError, load_spec, parse_spec
from tuner.onnx_import import workloads_from_onnx
from tuning_db import TuningDB

TUNE = [sys.executable, "-m", "tuner.cli"]
pytestmark = pytest.mark.xdist_group("ray-jobs")


def tune(*args, cwd, timeout=600):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run([*TUNE, *args], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=timeout)  # fmt: skip


def conv_matmul_model(path: Path) -> Path:
    """Conv(1x4x10x10, 8 filters 3x3, pad 1) -> a second, identical Conv on another branch ->
    MatMul of the flattened output with a 24x20 weight; and a Gemm (transB) on a side input."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)

    def init(name, *shape):
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("Conv", ["x", "w2"], ["c2"], pads=[1, 1, 1, 1], name="conv2"),
        helper.make_node("Add", ["c1", "c2"], ["s"]),
        helper.make_node("Reshape", ["s", "shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "wm"], ["y"], name="matmul"),
        helper.make_node("Gemm", ["z", "wg"], ["g"], transB=1, name="gemm"),
        helper.make_node("Conv", ["x", "w5"], ["c5"], pads=[0, 1, 0, 1], name="asymmetric"),
    ]
    shape = numpy_helper.from_array(np.array([32, 25], dtype=np.int64), "shape")
    graph = helper.make_graph(
        nodes,
        "conv_matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 10, 10]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, [6, 12])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [32, 20]),
         helper.make_tensor_value_info("g", TensorProto.FLOAT, [6, 16]),
         helper.make_tensor_value_info("c5", TensorProto.FLOAT, [1, 8, 8, 10])],
        [init("w1", 8, 4, 3, 3), init("w2", 8, 4, 3, 3), init("wm", 25, 20),
         init("wg", 16, 12), init("w5", 8, 4, 3, 3), shape],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def test_onnx_nodes_become_deduplicated_workloads(tmp_path):
    got = workloads_from_onnx(conv_matmul_model(tmp_path / "m.onnx"))
    assert [(w.op, w.shape_text) for w in got.workloads] == [
        ("conv2d", "N=1,H=10,W=10,CI=4,CO=8,kernel=3,stride=1,padding=1,dilation=1,groups=1,"
                   "layout=NCHW"),
        ("matmul", "B=1,M=32,N=20,K=25"),
        ("matmul", "B=1,M=6,N=16,K=12"),
    ]  # fmt: skip
    assert len(got.skipped) == 1 and "asymmetric" in got.skipped[0]


def test_the_minimal_spec_parses_and_bad_specs_say_what_is_wrong(tmp_path):
    spec = tmp_path / "nightly.toml"
    spec.write_text(MINIMAL)
    s = load_spec(spec)
    assert (s.name, s.devices, s.trials, len(s.workloads)) == ("nightly", ("auto",), 8, 2)
    base = {"name": "j", "trials": 4, "workloads": [{"op": "matmul", "shape": "M=8,N=8,K=8"}]}
    for bad, why in [
        ({**base, "trials": 0}, "trials"),
        ({**base, "trials": "8"}, "trials"),
        ({**base, "name": "a b; drop table jobs"}, "name"),
        ({**base, "workloads": []}, "workloads"),
        ({**base, "workloads": [{"op": "nosuch", "shape": "M=1"}]}, "unknown operator"),
        ({**base, "workloads": [{"op": "matmul", "shape": "M=-1,N=8,K=8"}]}, "M"),
        ({**base, "workloads": [{"onnx": "missing.onnx"}]}, "no such ONNX model"),
        ({**base, "workloads": [{"set": "ansor_single_op", "families": ["XYZ"]}]}, "XYZ"),
        ({**base, "time": "soon"}, "time"),
        ({**base, "colour": "red"}, "unknown keys"),
        ({k: v for k, v in base.items() if k != "trials"}, "budget"),
    ]:
        with pytest.raises(SpecError, match=why):
            parse_spec(bad, tmp_path)
    r = tune("job", "submit", str(tmp_path / "missing.toml"), "--db", "t.db", cwd=tmp_path)
    assert r.returncode == 2 and "no such job spec" in r.stderr
    assert not (tmp_path / "t.db").exists()


MINIMAL = """
name = "nightly"
devices = ["auto"]          # or ["h100", "rtx4090"], names from the catalog
trials = 8                  # per workload and device
[[workloads]]
op = "matmul"
shape = "M=96,N=80,K=64"
[[workloads]]
op = "conv2d"
shape = "N=1,H=12,W=12,CI=8,CO=8,kernel=3,stride=1,padding=1"
"""


@pytest.fixture(scope="module")
def cluster(local_device):
    c, _ = start_cluster(local_device, {"alpha": "alpha", "beta": "beta"})
    yield c
    c.shutdown()


def test_a_job_on_three_nodes_survives_kill_9_of_its_driver(cluster, tmp_path):
    conv_matmul_model(tmp_path / "model.onnx")
    trials = 6
    (tmp_path / "job.toml").write_text(f"""
name = "fleet"
devices = ["alpha", "beta"]
trials = {trials}
[[workloads]]
onnx = "model.onnx"
""")
    db = tmp_path / "jobs.db"
    r = tune("job", "submit", "job.toml", "--db", str(db), "--cluster", cluster.address,
             cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "skipped model.onnx: asymmetric" in r.stderr
    store = TuningDB(str(db))
    job = store.job("fleet")
    spec = job.spec
    total = trials * len(spec["workloads"]) * len(spec["devices"])
    assert len(spec["workloads"]) == 3 and total == 36

    # let it measure a little, then kill its driver (a detached actor) with SIGKILL
    deadline = time.monotonic() + 300
    while True:
        done = sum(sum(c.values()) for c in store.job_counts("fleet").values())
        if done >= 4:
            break
        assert time.monotonic() < deadline, "the job measured nothing in 300 s"
        time.sleep(0.2)
    pid = int(store.job("fleet").driver.rpartition(":")[2])
    os.kill(pid, signal.SIGKILL)
    killed_at = sum(sum(c.values()) for c in store.job_counts("fleet").values())
    assert killed_at < total, "the job ended before its driver could be killed"

    status = json.loads(tune("job", "status", "--db", str(db), "--format", "json",
                             cwd=tmp_path).stdout)  # fmt: skip
    assert status["status"] in ("running", "lost") and status["done"] < total

    r = tune("job", "resume", "fleet", "--db", str(db), "--cluster", cluster.address, "--wait",
             cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    job = store.job("fleet")
    assert job.status == "done" and job.driver != f"{job.driver.rpartition(':')[0]}:{pid}"

    # totals equal to the budget; no schedule measured twice; each device did its own work
    counts = store.job_counts("fleet")
    assert len(counts) == 6 and all(sum(c.values()) == trials for c in counts.values()), counts
    rows = [t for t in store.iter_trials(job="fleet")]
    assert len(rows) == total
    keys = [(t.workload.key, t.device, t.schedule.key) for t in rows]
    assert len(set(keys)) == total
    nodes = {d: {t.details["worker"].split(":")[0] for t in rows if t.device == d}
             for d in ("alpha", "beta")}  # fmt: skip
    assert all(len(n) == 1 for n in nodes.values()) and nodes["alpha"] != nodes["beta"], nodes
    assert sum(t.status == "ok" for t in rows) >= total - 2
    store.close()


class Squatter:
    """A live actor holding a job driver's name."""

    def where(self) -> str:
        return "squatter"


def test_a_driver_that_cannot_start_is_one_clear_error_and_the_job_is_kept(cluster, tmp_path):
    import ray

    from tuner.jobs import NAMESPACE, actor_name

    db = tmp_path / "jobs.db"
    store = TuningDB(str(db))
    (tmp_path / "job.toml").write_text(MINIMAL.replace("auto", "alpha"))
    name = store.create_job("blocked", load_spec(tmp_path / "job.toml").to_json())
    ray.init(address=cluster.address, namespace=NAMESPACE, _node_ip_address="127.0.0.1",
             log_to_driver=False)  # fmt: skip
    try:
        squatter = ray.remote(Squatter).options(name=actor_name(name), lifetime="detached",
                                                num_cpus=0).remote()  # fmt: skip
        ray.get(squatter.where.remote())
        r = tune("job", "resume", name, "--db", str(db), "--cluster", cluster.address,
                 cwd=tmp_path)  # fmt: skip
        ray.kill(squatter)
    finally:
        ray.shutdown()
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"cannot start job {name}'s driver" in r.stderr and "Traceback" not in r.stderr
    assert store.job(name) is not None and store.job(name).status == "queued"
    store.close()
