"""Probes of what the generator could gain, timed beside the vendor and TVM on a GPU.

    python3 benchmarks/gpu_probes.py SET [SET ...] --out probes.json

Sets (each builds its kernels here, checks every one against NumPy and times it with
gpu_vs_vendor.py's protocols: CUDA events around one launch with an L2 flush queued ahead
("flushed") or a spin kernel ahead ("busy"); median of 60 samples (20 for GMM 4096^3) in 3
rounds that go through all kernels in turn; the table gives the median over the rounds):

- `dynsmem`: GMM 4096^3 tiles of 128x128, 256x128 and 128x256 at K tiles 8 to 32 and 1 to 6
  pipeline stages, plain and with the whole reduction unrolled. Tiles over 48 KB get their
  shared arrays rewritten here into views of one dynamic shared array (a probe of dynamic
  shared memory, which the generator does not emit); cuBLAS beside.
- `dep-loads`: hand-written depthwise probes (not kernels of ours): each thread 4 or 8
  outputs along a row of DEP 56x56x128, the input rows read as float4 plus one halo float each
  side, or element by element; thread blocks of 64 to 448.
- `dep-window`: depthwise tiles of ours with and without a register window (`window`).
- `dep-clamp`: our recorded 64-trial bests of C2D 56x56, C2D 14x14 and DEP, and four
  depthwise tiles, as generated and with every padded read clamped into the tensor and
  selected after the load (a rewrite tried and not kept).
- `gmm-code`: the fastest GMM 4096^3 tiles within 48 KB (and the search's 64-trial best) as
  generated, with their groups visited in bands of 8 or 16 block rows, and with warps of 4 x 8
  or 8 x 4 work-items instead of 2 x 16 (rewrites of the source, not generator options).
- `conv-bounds`: the eighth session's 64-trial C2D bests, as generated and with
  `__launch_bounds__(T, 2)` (ptxas caps registers for two resident groups).
The DEP sets add our recorded DEP bests (gpu_vs_vendor-rounds16-*, seeds 0 to 4), TVM's
recorded DEP kernels (benchmarks/data/tvm_kernels-h200.json.gz) and cuDNN.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.gpu_vs_vendor import event_time, protocols  # noqa: E402
from benchmarks.knob_ablation import tile  # noqa: E402
from benchmarks.tvm_kernels import load  # noqa: E402
from measure.catalog import CATALOG  # noqa: E402
from search_spaces import Schedule, Workload, generate  # noqa: E402
from search_spaces.codegen import render  # noqa: E402
from search_spaces.lowering import lower  # noqa: E402

GMM = "M=4096,N=4096,K=4096"
DEP = "N=1,H=56,W=56,C=128,kernel=3,stride=1,padding=1,layout=NCHW"
C2D56 = "N=1,H=56,W=56,CI=64,CO=64,kernel=3,stride=1,padding=1,layout=NCHW"
C2D14 = "N=1,H=14,W=14,CI=256,CO=256,kernel=3,stride=1,padding=1,layout=NCHW"
SEARCHES = "benchmarks/results/gpu_vs_vendor-rounds16-h200-2026-11-22-seed{}.json"
TARGET = CATALOG["h200"]
SHARED = re.compile(r"^(\s*)__shared__ __align__\(16\) float (\w+)\[(\d+)\];$", re.M)
# (label, op, shape, source, entry, parameter names ("out" the output), grid, block, dynamic
# shared bytes)
Entry = tuple[str, str, str, str, str, list[str], int, int, int]


def dynamic_shared(src: str) -> tuple[str, int]:
    """A kernel whose static shared arrays exceed 48 KB, with them as views of one dynamic
    shared array (and its size); others as they are."""
    total = sum(int(n) for _, _, n in SHARED.findall(src)) * 4
    if total <= 48 * 1024:
        return src, 0
    offset = 0

    def view(m: re.Match) -> str:
        nonlocal offset
        pad, name, n = m.groups()
        head = f"{pad}extern __shared__ __align__(16) float dyn_smem[];\n" if offset == 0 else ""
        line = f"{head}{pad}float* const {name} = dyn_smem + {offset};"
        offset += int(n)
        return line

    return SHARED.sub(view, src), total


def ours(label: str, op: str, shape: str, s: Schedule, source: str | None = None) -> Entry:
    w = Workload.parse(op, shape)
    k = generate(w, s, TARGET)
    params = [t.name for t in w.compute.inputs] + ["out"]
    grid = k.global_size[0] // k.local_size[0]
    return (label, op, shape, source or k.source, k.entry, params, grid, k.local_size[0], 0)


def dynsmem() -> list[Entry]:
    w, out = Workload.parse("matmul", GMM), []
    threads = {"128x128 t128": [(1, 1, 1), (4, 8, 4), (2, 16, 4)],
               "128x128 t256": [(1, 1, 1), (2, 16, 4), (2, 16, 4)],
               "256x128 t256": [(1, 1, 1), (4, 16, 4), (2, 16, 4)],
               "128x256 t256": [(1, 1, 1), (2, 16, 4), (4, 16, 4)]}  # fmt: skip
    for name, spatial in threads.items():
        for k, stages in ((16, 3), (16, 2), (16, 4), (32, 2), (32, 3), (32, 4), (8, 3), (8, 4),
                          (8, 6), (16, 1), (32, 1)):  # fmt: skip
            for unroll in (4, -1):
                s = tile(spatial, [k], unroll=unroll, cache=("X", "Y"), stages=stages)
                ir = lower(w.compute, s, "k")
                src, shared = dynamic_shared(render(ir, "cuda"))
                label = f"GMM {name} k{k} s{stages} u{unroll}"
                out.append((label, "matmul", GMM, src, "k", ["X", "Y", "out"], ir.groups,
                            ir.threads, shared))  # fmt: skip
    return out


GMM_TILES = {  # the fastest GMM 4096^3 tiles within 48 KB of the dynsmem probes, and the
    # search's 64-trial best of the eighth session
    "128x128 t128 k16 s2": tile([(1, 1, 1), (4, 8, 4), (2, 16, 4)], [16], unroll=-1,
                                cache=("X", "Y"), stages=2),
    "128x128 t128 k16 s2 v4": tile([(1, 1, 1), (4, 8, 4), (2, 16, 4)], [16], 4, unroll=-1,
                                   cache=("X", "Y"), stages=2),
    "128x128 t128 k16 s3": tile([(1, 1, 1), (4, 8, 4), (2, 16, 4)], [16], unroll=-1,
                                cache=("X", "Y"), stages=3),
    "256x128 t256 k16 s2": tile([(1, 1, 1), (4, 16, 4), (2, 16, 4)], [16], unroll=-1,
                                cache=("X", "Y"), stages=2),
    "256x128 t256 k8 s3": tile([(1, 1, 1), (4, 16, 4), (2, 16, 4)], [8], unroll=-1,
                               cache=("X", "Y"), stages=3),
    "128x128 t256 k16 s2": tile([(1, 1, 1), (2, 16, 4), (2, 16, 4)], [16], unroll=-1,
                                cache=("X", "Y"), stages=2),
    "128x128 t128 k16 s2 v4 X^T": tile([(1, 1, 1), (4, 8, 4), (2, 16, 4)], [16], 4, unroll=-1,
                                       cache=("X", "Y"), cache_t=("X",), stages=2),
    "search s0": tile([(1, 1, 1), (4, 16, 2), (4, 32, 2)], [32], 2, unroll=-1,
                      cache=("X", "Y"), cache_t=("X", "Y")),
}  # fmt: skip
GID = "  const int gid = (int)blockIdx.x;\n"
BOUNDS = re.compile(r"__launch_bounds__\((\d+)\)")


def swizzled(src: str, rows: int, cols: int, group: int) -> str:
    """`src` with its groups visited `group` block rows at a time (column by column within
    them), so that the groups running together share rows of X and columns of Y in L2."""
    body = (
        "  const int pid_ = (int)blockIdx.x;\n"
        f"  const int band_ = pid_ / {group * cols}, first_ = band_ * {group};\n"
        f"  const int h_ = min({rows} - first_, {group});\n"
        f"  const int gid = (first_ + (pid_ % {group * cols}) % h_) * {cols}"
        f" + (pid_ % {group * cols}) / h_;\n"
    )
    assert GID in src
    return src.replace(GID, body)


def warp_layout(src: str, ti: int, tj: int, li: int, lj: int) -> str:
    """`src` (ti x tj work-items, j fastest) with each warp holding li x lj of them (lanes
    j fastest) and the warps tiled over the group, instead of whole rows of tj."""
    old = (f"  const int thr_j = (lid % {tj});\n"
           f"  const int thr_i = ((lid / {tj}) % {ti});\n")  # fmt: skip
    assert old in src and li * lj == 32
    wj = tj // lj
    new = (f"  const int thr_j = ((lid / 32) % {wj}) * {lj} + (lid % 32) % {lj};\n"
           f"  const int thr_i = ((lid / 32) / {wj}) * {li} + (lid % 32) / {lj};\n")  # fmt: skip
    return src.replace(old, new)


def gmm_code() -> list[Entry]:
    """GMM 4096^3 tiles as generated, with groups visited in bands of block rows (8 or 16) so
    that the groups running together share rows of X and columns of Y in L2, and (128-thread
    tiles) with warps of 4 x 8 or 8 x 4 work-items instead of 2 x 16."""
    out = []
    for name, s in GMM_TILES.items():
        base = ours(f"GMM {name}", "matmul", GMM, s)
        src = base[3]
        rows = 4096 // (s.spatial[1][0] * s.spatial[1][1] * s.spatial[1][2])
        cols = 4096 // (s.spatial[2][0] * s.spatial[2][1] * s.spatial[2][2])
        out.append(base)
        for g in (8, 16):
            out.append((f"{base[0]} band{g}", *base[1:3], swizzled(src, rows, cols, g),
                        *base[4:]))  # fmt: skip
        ti, tj = s.spatial[1][1], s.spatial[2][1]
        if (ti, tj) == (8, 16):
            for li, lj in ((4, 8), (8, 4)):
                out.append((f"{base[0]} warp{li}x{lj}", *base[1:3],
                            warp_layout(src, ti, tj, li, lj), *base[4:]))  # fmt: skip
    return out


def conv_bounds() -> list[Entry]:
    """The eighth session's 64-trial bests of C2D 56x56 and C2D 14x14 (seeds 0 to 4), as
    generated and with 2 resident groups per SM asked of ptxas."""
    out = []
    shapes = {"C2D 56": C2D56, "C2D 14": C2D14}
    for seed in range(5):
        path = ROOT / f"benchmarks/results/gpu_vs_vendor-buildlimit-h200-2026-11-22-seed{seed}.json"
        for r in json.loads(path.read_text()):
            key = r["label"][:6]
            if key in shapes:
                base = ours(
                    f"{key} s{seed}", "conv2d", shapes[key], Schedule.from_json(r["schedule"])
                )
                out.append(base)
                out.append((f"{base[0]} minblocks2", *base[1:3],
                            BOUNDS.sub(lambda x: f"__launch_bounds__({x[1]}, 2)", base[3]),
                            *base[4:]))  # fmt: skip
    return out


def dep_probe(vw: int, rows: int, block: int, vector: bool) -> Entry:
    """Each thread: `vw` outputs along a row of `rows` rows of one channel."""
    nq, nh = 56 // vw, 56 // rows
    n = 128 * nh * nq
    if vector:
        fetch = (
            f"for (int j = 0; j < {vw}; j += 4) {{ float4 m = __ldg(reinterpret_cast<const "
            "float4*>(row + j)); v[j+1] = m.x; v[j+2] = m.y; v[j+3] = m.z; v[j+4] = m.w; }"
        )
    else:
        fetch = f"for (int j = 0; j < {vw}; ++j) v[j + 1] = row[j];"  # fmt: skip
    body = f"""
  int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= {n}) return;
  int q = t % {nq}, h0 = (t / {nq}) % {nh} * {rows}, c = t / ({nq} * {nh});
  const float* in = data + c * 3136;
  float w[9], acc[{rows}][{vw}];
  #pragma unroll
  for (int i = 0; i < 9; ++i) w[i] = __ldg(weight + c * 9 + i);
  #pragma unroll
  for (int r = 0; r < {rows}; ++r)
    #pragma unroll
    for (int j = 0; j < {vw}; ++j) acc[r][j] = 0.f;
  #pragma unroll
  for (int rr = 0; rr < {rows + 2}; ++rr) {{
    int hh = h0 + rr - 1;
    float v[{vw + 2}];
    if (hh >= 0 && hh < 56) {{
      const float* row = in + hh * 56 + q * {vw};
      #pragma unroll
      {fetch}
      v[0] = q > 0 ? __ldg(row - 1) : 0.f;
      v[{vw + 1}] = q < {nq - 1} ? __ldg(row + {vw}) : 0.f;
    }} else {{
      #pragma unroll
      for (int j = 0; j < {vw + 2}; ++j) v[j] = 0.f;
    }}
    #pragma unroll
    for (int r = 0; r < {rows}; ++r) {{
      int kh = rr - r;
      if (kh >= 0 && kh < 3) {{
        #pragma unroll
        for (int j = 0; j < {vw}; ++j)
          #pragma unroll
          for (int kw = 0; kw < 3; ++kw) acc[r][j] += v[j + kw] * w[kh * 3 + kw];
      }}
    }}
  }}
  #pragma unroll
  for (int r = 0; r < {rows}; ++r) {{
    float* o = out + c * 3136 + (h0 + r) * 56 + q * {vw};
    #pragma unroll
    for (int j = 0; j < {vw}; j += 4)
      *reinterpret_cast<float4*>(o + j) =
          make_float4(acc[r][j], acc[r][j + 1], acc[r][j + 2], acc[r][j + 3]);
  }}"""
    args = "const float* __restrict__ data, const float* __restrict__ weight, float* out"
    src = f'extern "C" __global__ void __launch_bounds__({block}) k({args}) {{{body}\n}}'
    label = f"DEP probe w{vw} h{rows} b{block} {'float4' if vector else 'scalar'} [probe]"
    return (label, "depthwise_conv2d", DEP, src, "k", ["data", "weight", "out"],
            -(-n // block), block, 0)  # fmt: skip


def dep_loads() -> list[Entry]:
    shapes = [(4, 1, 256), (4, 2, 256), (4, 4, 128), (8, 1, 256), (8, 2, 128), (4, 2, 128),
              (4, 1, 128), (8, 4, 64), (4, 7, 64), (4, 1, 224), (4, 1, 448)]  # fmt: skip
    out = [dep_probe(vw, rows, block, True) for vw, rows, block in shapes]
    return out + [dep_probe(4, 1, block, False) for block in (224, 256)]


def dep_tile(tc: int, ty: int, tx: int, hi: int, wi: int, vec: int, cache=(), window=0):
    return Schedule("tile_cache" if cache else "tile",
                    ((1, 1, 1), (1, tc, 1), (1, ty, hi), (1, tx, wi)), (3, 3), vec, -1, cache,
                    window=window)  # fmt: skip


def dep_window() -> list[Entry]:
    out = [dep_probe(4, 1, 256, True), dep_probe(4, 1, 256, False)]
    for tc, ty, tx, hi, wi, vec in ((1, 28, 14, 1, 4, 4), (1, 56, 14, 1, 4, 4),
                                    (1, 16, 14, 1, 4, 4), (2, 8, 14, 1, 4, 4),
                                    (2, 14, 14, 1, 4, 4), (16, 1, 14, 1, 4, 4),
                                    (1, 28, 14, 2, 4, 4), (1, 28, 7, 1, 8, 4),
                                    (1, 28, 14, 1, 4, 2), (1, 28, 28, 1, 2, 2),
                                    (4, 8, 14, 1, 4, 4), (4, 4, 14, 1, 4, 4)):  # fmt: skip
        name = f"DEP c{tc} h{ty}x{hi} w{tx}x{wi} v{vec}"
        for s in (dep_tile(tc, ty, tx, hi, wi, vec), dep_tile(tc, ty, tx, hi, wi, vec, window=1),
                  dep_tile(tc, ty, tx, hi, wi, vec, ("weight",), 1)):  # fmt: skip
            tag = f"{s.sketch} win{s.window}"
            out.append(ours(f"{name} {tag}", "depthwise_conv2d", DEP, s))
    return out


def dep_clamp() -> list[Entry]:
    """Every padded scalar read as pick(in bounds, data[index clamped into the tensor]): the
    load no longer depends on the condition, so the compiler may merge the lanes' loads."""
    import search_spaces.lowering.staging as staging
    import search_spaces.lowering.tile as tiled
    from search_spaces.expr import Bin, Call, Const, bounds
    from search_spaces.ir import Load
    from search_spaces.lowering import common

    plain = common.guarded_read

    def clamped(r, tensor, ranges, width=1, aligned=False):
        conds = common.range_checks(r.indices, tensor.shape, ranges)
        if not conds or width > 1:
            return plain(r, tensor, ranges, width, aligned)
        idx = []
        for ix, n in zip(r.indices, tensor.shape):
            lo, hi = bounds(ix, ranges)
            ix = Bin("max", ix, Const(0)) if lo < 0 else ix
            idx.append(Bin("min", ix, Const(n - 1)) if hi >= n else ix)
        load = Load(tensor.name, common.flat_index(tuple(idx), tensor.shape))
        return Call("pick", (common.all_of(conds), load))

    pick = "__device__ __forceinline__ float pick(bool c, float v) { return c ? v : 0.0f; }\n"
    cases = [(f"DEP c{tc} h{ty}", "depthwise_conv2d", DEP, dep_tile(tc, ty, 14, 1, 4, 4))
             for tc, ty in ((1, 28), (1, 56), (2, 8), (16, 1), (2, 14))]  # fmt: skip
    shapes = {
        "C2D 56": ("conv2d", C2D56),
        "C2D 14": ("conv2d", C2D14),
        "DEP": ("depthwise_conv2d", DEP),
    }
    for seed in range(5):
        for r in json.loads((ROOT / SEARCHES.format(seed)).read_text()):
            key = next((k for k in shapes if r["label"].startswith(k)), None)
            if key:
                cases.append(
                    (f"{key} ours s{seed}", *shapes[key], Schedule.from_json(r["schedule"]))
                )
    out = []
    for label, op, shape, s in cases:
        out.append(ours(label, op, shape, s))
        tiled.guarded_read = staging.guarded_read = clamped
        try:
            src = generate(Workload.parse(op, shape), s, TARGET).source
        finally:
            tiled.guarded_read = staging.guarded_read = plain
        at = src.index('extern "C"')
        out.append(ours(label + " clamp", op, shape, s, src[:at] + pick + src[at:]))
    return out


def dep_references() -> list[Entry]:
    out = []
    for seed in range(5):
        for r in json.loads((ROOT / SEARCHES.format(seed)).read_text()):
            if r["label"].startswith("DEP"):
                s = Schedule.from_json(r["schedule"])
                out.append(ours(f"DEP ours s{seed} (64 trials)", "depthwise_conv2d", DEP, s))
    for e in load(str(ROOT / "benchmarks/data/tvm_kernels-h200.json.gz")):
        if e["label"].startswith("DEP"):
            inputs = {t.name for t in Workload.parse(e["op"], e["shape"]).compute.inputs}
            params = [p if p in inputs else "out" for p in e["params"]]
            out.append((f"DEP TVM s{e['seed']}", e["op"], e["shape"], e["source"], e["entry"],
                        params, e["grid"], e["block"], 0))  # fmt: skip
    return out


SETS = {"dynsmem": dynsmem, "dep-loads": dep_loads, "dep-window": dep_window,
        "dep-clamp": dep_clamp, "gmm-code": gmm_code, "conv-bounds": conv_bounds}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sets", nargs="+", choices=sorted(SETS))
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    entries = [e for name in args.sets for e in SETS[name]()]
    if any(name.startswith("dep") for name in args.sets):
        entries += dep_references()
    time_entries(entries, args.out)


def time_entries(entries: list[Entry], out_path: str, samples: int = 0) -> None:
    """Build each entry, check it against NumPy, and time it beside the vendor (cuBLAS where
    GMM 4096^3 is among them, cuDNN where DEP is) in 3 rounds through all kernels in turn, under
    both protocols; `samples` a round (0: 20 for matmul, 60 for the rest). Prints a table and
    writes the rows to `out_path`."""
    import pycuda.driver as cuda
    import torch

    from measure import detect_local
    from measure.pool import open_backend
    from measure.runner import relative_error
    from search_spaces import KernelSource

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = next(d for d in detect_local() if d.backend == "cuda")
    be, before = open_backend(dev), protocols()
    print(f"device: {dev.name} ({dev.description}, {dev.driver})", flush=True)
    data: dict = {}
    kernels = []
    for label, op, shape, src, entry, params, grid, block, shared in entries:
        w = Workload.parse(op, shape)
        if (op, shape) not in data:
            arrays = w.random_inputs(11)
            bufs = {t.name: be.upload(a) for t, a in zip(w.compute.inputs, arrays)}
            tensors = [torch.from_numpy(a).cuda() for a in arrays]
            data[op, shape] = (w.reference(arrays), bufs, tensors)
        ref, bufs, _ = data[op, shape]
        k = KernelSource("cuda", src, entry, (), (1,), (1,))
        f = be.load(k, be.compile_artifact(src, be.build_key))
        if shared:
            f.set_attribute(cuda.function_attribute.MAX_DYNAMIC_SHARED_SIZE_BYTES, shared)
        out = be.poisoned(ref.shape)
        args = [bufs.get(p, out) for p in params]

        def launch(f=f, args=args, grid=grid, block=block, shared=shared) -> None:
            f(*args, grid=(grid, 1, 1), block=(block, 1, 1), shared=shared)

        launch()
        err = relative_error(be.download(out, ref.shape), ref)
        kernels.append({"label": label, "w": w, "launch": launch, "err": err, "shared": shared,
                        **be.resources(f)})  # fmt: skip
    vendor = {"registers": 0, "local_bytes": 0, "shared": 0, "err": 0.0}
    if ("matmul", GMM) in data:
        x, y = data["matmul", GMM][2]
        w = Workload.parse("matmul", GMM)
        kernels.append({"label": "cuBLAS", "w": w, "launch": lambda: torch.matmul(x, y), **vendor})
    if ("depthwise_conv2d", DEP) in data:
        d, wt = data["depthwise_conv2d", DEP][2]
        w, wt4 = Workload.parse("depthwise_conv2d", DEP), wt.reshape(128, 1, 3, 3)
        conv = torch.nn.functional.conv2d
        kernels.append({"label": "cuDNN", "w": w, **vendor,
                        "launch": lambda: conv(d, wt4, padding=1, groups=128)})  # fmt: skip
    for _ in range(3):
        for k in kernels:
            n = samples or (20 if k["w"].op == "matmul" else 60)
            for name, ahead in before.items():
                k.setdefault(name, []).append(event_time(k["launch"], ahead, n))
    rows = []
    head = f"{'kernel':48s} {'rel err':>8s} {'regs':>4s} {'spill':>5s} {'smem':>6s}"
    print(f"\n{head} {'dyn smem':>8s} {'flushed':>8s} {'busy':>6s}")
    for k in kernels:
        tf = {n: k["w"].compute.flops / statistics.median(k[n]) / 1e12 for n in before}
        rows.append({"label": k["label"], "err": k["err"], "registers": k["registers"],
                     "spill_bytes": k["local_bytes"], "dynamic_shared": k["shared"],
                     "shared_bytes": k.get("shared_bytes", 0),
                     **{f"{n}_tflops": v for n, v in tf.items()},
                     **{f"{n}_rounds_s": k[n] for n in before}})  # fmt: skip
        print(f"{k['label']:48s} {k['err']:8.1e} {k['registers']:4d} {k['local_bytes']:5d} "
              f"{k.get('shared_bytes', 0):6d} {k['shared']:8d} "
              f"{tf['flushed']:8.2f} {tf['busy']:6.2f}")  # fmt: skip
    if out_path:
        Path(out_path).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
