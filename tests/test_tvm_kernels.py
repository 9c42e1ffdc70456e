"""The stored TVM kernels that gpu_vs_vendor.py --tvm-kernels times beside ours (no GPU here):
each is a single include-free CUDA kernel whose parameters are its workload's tensors."""

from __future__ import annotations

from pathlib import Path

from benchmarks.tvm_kernels import for_nvrtc, kernel_of, load
from search_spaces import Workload

DATA = Path(__file__).resolve().parents[1] / "benchmarks/data/tvm_kernels-h200.json.gz"


def test_stored_tvm_kernels_match_their_workloads():
    kernels = load(str(DATA))
    assert {(k["label"], k["seed"]) for k in kernels} >= {("GMM 1024^3", s) for s in range(5)}
    for entry in kernels:
        w = Workload.parse(entry["op"], entry["shape"])
        kernel, order = kernel_of(entry)
        assert sorted(order) == sorted([t.name for t in w.compute.inputs] + ["out"])
        shapes = {t.name: t.shape for t in w.compute.inputs} | {"out": w.compute.output.shape}
        assert [a.shape for a in kernel.args] == [shapes[n] for n in order]
        assert "#include" not in kernel.source
        assert kernel.source.count(f"void __launch_bounds__({entry['block']}) {kernel.entry}(") == 2
        assert entry["grid"] * entry["block"] == kernel.global_size[0]


def test_tvm_prelude_is_made_include_free():
    src = (
        "\n#ifdef __CUDACC_RTC__\n  #include <cuda/std/cstdint>\n#else\n  #include <cstdint>\n"
        '  #include <cuda.h>\n#endif\nextern "C" __global__ void k() {}\n'
    )
    out = for_nvrtc(src)
    assert "#include" not in out and "typedef long long int64_t;" in out
    assert out.endswith('extern "C" __global__ void k() {}\n')
