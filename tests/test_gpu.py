"""On an NVIDIA GPU (skipped elsewhere): generated kernels of every op, layout and sketch match
the NumPy reference in CUDA (pycuda) and in OpenCL on NVIDIA's driver. Run on the GPU machine:
    python -m pytest tests/test_gpu.py -m gpu -n 0
"""

from __future__ import annotations

import pytest

from measure import MeasureInput, MeasureOptions, Status, detect_local
from measure.builder import Builder
from search_spaces import Workload, generate
from tests.search_spaces.test_codegen_pocl import case_params, random_schedules, split_schedules

pytestmark = pytest.mark.gpu
QUICK = MeasureOptions(budget_s=0.0, min_repeats=1, warmup=0)


def runner_for(backend: str):
    from measure.pool import open_backend
    from measure.runner import Runner

    devices = [d for d in detect_local() if d.backend == backend and d.target.kind == "gpu"]
    if not devices:
        pytest.skip(f"no GPU through {backend}")
    return devices[0], Runner(open_backend(devices[0]))


@pytest.fixture(scope="module")
def cuda_runner():
    return runner_for("cuda")


@pytest.fixture(scope="module")
def opencl_runner():
    return runner_for("opencl")


def check_all(device, runner, op, shape, per_sketch, split=False):
    w = Workload.parse(op, shape)
    if split:
        schedules = split_schedules(w, device.target, seed=21)
    else:
        schedules = random_schedules(w, device.target, per_sketch, seed=21)
    kernels = [generate(w, s, device.target) for s in schedules]
    builder = Builder(type(runner.backend).compile_artifact, runner.backend.build_key, 16)
    builder.submit([k.source for k in kernels])
    for s, k in zip(schedules, kernels):
        artifact, _ = builder.get(k.source, timeout=120)
        r = runner.measure(MeasureInput(w, k, QUICK), artifact)
        assert r.status is Status.OK, f"{s.canonical}: {r.status} {r.error[:400]}"


@pytest.mark.parametrize("op,shape", list(case_params()))
def test_cuda_kernels_match_reference(cuda_runner, op, shape):
    check_all(*cuda_runner, op, shape, per_sketch=6)


@pytest.mark.parametrize("op,shape", list(case_params()))
def test_nvidia_opencl_kernels_match_reference(opencl_runner, op, shape):
    check_all(*opencl_runner, op, shape, per_sketch=3)


@pytest.mark.parametrize("op,shape", list(case_params()))
def test_cuda_split_reductions_match_reference(cuda_runner, op, shape):
    """rsplit > 1 (2, 4 and 8 slices, pipelined or not)."""
    check_all(*cuda_runner, op, shape, per_sketch=0, split=True)


@pytest.mark.parametrize("op,shape", list(case_params()))
def test_nvidia_opencl_split_reductions_match_reference(opencl_runner, op, shape):
    check_all(*opencl_runner, op, shape, per_sketch=0, split=True)
