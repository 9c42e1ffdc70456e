"""Shared fixtures: the local OpenCL device (PoCL in CI) and a real local Ray."""

from __future__ import annotations

import os

# Tests use Ray on loopback only. Ray reads this flag when first imported (see measure/pool.py).
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

import pytest  # noqa: E402

from measure import detect_local  # noqa: E402


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


@pytest.fixture(scope="session")
def runner(local_device):
    from measure.opencl import OpenCLBackend
    from measure.runner import Runner

    return Runner(OpenCLBackend(local_device))
