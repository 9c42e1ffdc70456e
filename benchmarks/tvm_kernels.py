"""TVM MetaSchedule's best CUDA kernels as sources, rebuilt from the traces tvm_gpu.py recorded.

    python benchmarks/tvm_kernels.py benchmarks/results/tvm_gpu-h200-2026-11-22-seed*.json \
        --out benchmarks/data/tvm_kernels-h200.json.gz

Each trace (`tvm_trace` in tvm_gpu.py's results: MetaSchedule's best schedule of a 64-trial
run) is applied to tvm_gpu.py's tensor expression of the workload and compiled for the same
target (cuda sm_90); the CUDA source TVM generates is stored with its launch size, parameter
order, and the tuning time and trial count of the run that found it. TVM is needed here
(apache-tvm 0.27; the CPU machine's install is enough: CUDA source is generated without a GPU),
not on the GPU machine: `gpu_vs_vendor.py --tvm-kernels FILE` builds these sources with NVRTC
and times them beside our kernels and the vendor's in one process, under one protocol.

The only edit to TVM's source: its `#ifdef __CUDACC_RTC__` prelude includes CUDA C++ standard
headers that NVRTC cannot find without an include path; it is replaced by the fixed-width
integer typedefs it provided.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from search_spaces import KernelArg, KernelSource, Workload  # noqa: E402

INTS = (
    "typedef signed char int8_t; typedef unsigned char uint8_t; typedef short int16_t;\n"
    "typedef unsigned short uint16_t; typedef int int32_t; typedef unsigned int uint32_t;\n"
    "typedef long long int64_t; typedef unsigned long long uint64_t;\n"
)


def for_nvrtc(source: str) -> str:
    """TVM's source with its header prelude (#ifdef __CUDACC_RTC__ ... #endif) made include-free."""
    start = source.index("#ifdef __CUDACC_RTC__")
    end = source.index("#endif\n", source.index("#include <cuda.h>", start)) + len("#endif\n")
    out = INTS + source[:start] + source[end:]
    if "#include" in out:
        raise ValueError("TVM's source still includes headers")
    return out


def rebuild(row: dict) -> dict:
    """One recorded run's best kernel: source, launch and parameter order."""
    import tvm
    from tvm import s_tir

    from benchmarks.gpu_vs_vendor import ISSUE
    from benchmarks.tvm_gpu import cuda_target, te_func

    label, op, shape = next((x[0], x[1], x[2]) for x in ISSUE if x[0] == row["label"])
    w = Workload.parse(op, shape)
    sch = s_tir.Schedule(te_func(w))
    scope = {"s_tir": s_tir}
    exec(row["tvm_trace"], scope)  # defines apply_trace(sch)
    scope["apply_trace"](sch)
    text = str(sch.mod)
    dims = dict(
        (axis, int(n))
        for n, axis in re.findall(
            r'T\.thread_binding\((\d+), thread="(blockIdx\.x|threadIdx\.x)"', text
        )
    )
    if set(dims) != {"blockIdx.x", "threadIdx.x"} or "blockIdx.y" in text or "threadIdx.y" in text:
        raise ValueError(f"{label}: not a 1-D launch: {dims}")
    lib = tvm.compile(sch.mod, target=cuda_target())
    modules = [m for m in lib.mod.imports if m.kind == "cuda"]
    source = modules[0].inspect_source("cuda")
    entries = re.findall(
        r'extern "C" __global__ void __launch_bounds__\(\d+\) (\w+)\(([^)]*)\)', source
    )
    if len({name for name, _ in entries}) != 1:
        raise ValueError(f"{label}: expected one kernel, found {entries}")
    name, params = entries[0]
    return {
        "label": label, "op": op, "shape": shape, "seed": row["seed"],
        "entry": name, "params": [p.split()[-1].removesuffix("_ptr") for p in params.split(",")],
        "grid": dims["blockIdx.x"], "block": dims["threadIdx.x"],
        "tvm_trials": row["tvm_measured"], "tvm_tuning_s": row["tvm_tuning_s"],
        "tvm_tflops_then": row.get("tvm_tflops"), "source": for_nvrtc(source),
    }  # fmt: skip


def load(path: str) -> list[dict]:
    """A --out file (gzipped where the name ends in .gz)."""
    data = Path(path).read_bytes()
    return json.loads(gzip.decompress(data) if path.endswith(".gz") else data)


def kernel_of(entry: dict) -> tuple[KernelSource, list[str]]:
    """A stored TVM kernel as a KernelSource, and its parameters' tensor names in order (the
    output, TVM's `compute`, as "out")."""
    w = Workload.parse(entry["op"], entry["shape"])
    inputs = {t.name: t for t in w.compute.inputs}
    order = [p if p in inputs else "out" for p in entry["params"]]
    args = tuple(
        KernelArg(n, (inputs[n] if n in inputs else w.compute.output).shape) for n in order
    )
    launch = (entry["grid"] * entry["block"],), (entry["block"],)
    return KernelSource("cuda", entry["source"], entry["entry"], args, *launch), order


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", nargs="+", help="tvm_gpu.py --out files")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    kernels = []
    for path in args.results:
        for row in json.loads(Path(path).read_text()):
            if row.get("tvm_trace"):
                kernels.append(rebuild(row))
                k = kernels[-1]
                print(f"{k['label']} seed {k['seed']}: {k['grid']} x {k['block']}, {k['params']}")
    text = json.dumps(kernels, indent=1).encode()
    Path(args.out).write_bytes(gzip.compress(text) if args.out.endswith(".gz") else text)


if __name__ == "__main__":
    main()
