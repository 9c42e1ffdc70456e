"""Shared fixtures: the local OpenCL device (PoCL in CI) and a real local Ray."""

from __future__ import annotations

import os

# Tests use Ray on loopback only. Ray reads this flag when first imported (see measure/pool.py).
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

import uuid  # noqa: E402

import pytest  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from measure import detect_local  # noqa: E402
from tuning_db import database_url  # noqa: E402


def pytest_collection_modifyitems(config, items):
    try:
        import pycuda.driver  # noqa: F401

        has_gpu = True
    except Exception:
        has_gpu = False
    skip = pytest.mark.skip(reason="needs an NVIDIA GPU and pycuda")
    for item in items:
        if "gpu" in item.keywords and not has_gpu:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def local_device():
    devices = [d for d in detect_local() if d.backend == "opencl"]
    if not devices:
        pytest.fail("no OpenCL device: run ./dev setup (it installs PoCL)")
    cpus = [d for d in devices if d.target.kind == "cpu"]
    return (cpus or devices)[0]


def start_cluster(local_device, nodes: dict[str, str]):
    """A real Ray cluster on 127.0.0.1: a head without devices and one node per `nodes` entry
    (key -> device name), each advertising its name as an alias of the local OpenCL device.
    Returns the cluster and its nodes by key."""
    import ray
    from ray.cluster_utils import Cluster

    from measure.pool import ALIAS_LABEL

    if ray.is_initialized():
        ray.shutdown()
    c = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "node_ip_address": "127.0.0.1", "include_dashboard": False},
    )
    added = {
        key: c.add_node(
            num_cpus=1,
            resources={f"device:{name}": 1},
            labels={ALIAS_LABEL + name: local_device.name},
            node_ip_address="127.0.0.1",
        )  # fmt: skip
        for key, name in nodes.items()
    }
    c.wait_for_nodes()
    return c, added


@pytest.fixture(scope="session")
def runner(local_device):
    from measure.opencl import OpenCLBackend
    from measure.runner import Runner

    return Runner(OpenCLBackend(local_device))


# Databases: a fresh SQLite file, or a fresh database on the real PostgreSQL server that
# ./dev test starts ($TUNE_TEST_POSTGRES_URL).
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
