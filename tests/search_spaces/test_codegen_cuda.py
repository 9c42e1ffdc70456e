"""Every generated CUDA kernel compiles with NVRTC (no GPU needed; the GPU runs are marked)."""

from __future__ import annotations

import pytest

from measure import nvrtc
from measure.catalog import CATALOG
from search_spaces import Workload, generate
from tests.search_spaces.shapes import CASES
from tests.search_spaces.test_codegen_pocl import case_params, random_schedules

pytestmark = pytest.mark.skipif(not nvrtc.available(), reason="NVRTC is not installed")
H100 = CATALOG["h100"]


@pytest.mark.parametrize("op,shape", list(case_params()))
def test_every_sketch_of_every_op_compiles_as_cuda(op, shape):
    w = Workload.parse(op, shape)
    schedules = random_schedules(w, H100, per_sketch=3, seed=5)
    for s in schedules:
        kernel = generate(w, s, H100)
        assert kernel.dialect == "cuda" and "void __launch_bounds__" in kernel.source
        cubin = nvrtc.compile_cubin(kernel.source, "sm_90")
        assert len(cubin) > 0, s.canonical


def test_cuda_compile_errors_carry_the_log():
    from measure.backend import BuildError

    with pytest.raises(BuildError, match="identifier"):
        nvrtc.compile_cubin('extern "C" __global__ void k() { undefined_thing = 1; }', "sm_90")


def test_every_op_is_covered():
    from search_spaces import OPS

    assert {op for op, *_ in CASES} == set(OPS)


def test_the_warm_up_kernel_of_the_cuda_build_helpers_compiles():
    from measure.cuda import CUDABackend

    cubin = CUDABackend.prebuild(CUDABackend.warm_kernel, "sm_90")
    assert CUDABackend.warm_kernel.entry.encode() in cubin
