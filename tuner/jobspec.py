"""Job specs: a TOML file naming workloads, devices, a budget and a priority.

    name = "nightly"
    devices = ["auto"]          # or catalog names: ["h100", "rtx4090"]; auto: every device
    trials = 8                  # per workload and device
    time = "6h"                 # optional: stop by then, whatever trials are left
    priority = 0                # higher runs first where jobs share a device
    strategy = "evolutionary"   # optional, as `tune run --strategy`
    [[workloads]]               # one shape
    op = "matmul"
    shape = "M=96,N=80,K=64"
    [[workloads]]               # a named set of ../shared/workloads (or a .toml path),
    set = "ansor_single_op"     #   optionally only some of its families
    families = ["C2D", "GMM"]
    [[workloads]]               # an ONNX model: its Conv, MatMul and Gemm nodes
    onnx = "resnet18.onnx"      #   (relative to the spec file)

The spec is resolved once, at submission: its workloads become explicit shapes (deduplicated),
so the job's record in the database says exactly what it tunes, and a driver on any node can run
it without the spec's files.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from search_spaces import OPS, ShapeError, Workload
from search_spaces.workload import BENCHMARK_FILE

KNOWN_KEYS = {"name", "devices", "trials", "time", "priority", "strategy", "seed", "workloads"}
TIME_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class SpecError(ValueError):
    """A job spec that cannot be run, with what to change."""


@dataclass(frozen=True)
class JobSpec:
    name: str
    devices: tuple[str, ...]
    workloads: tuple[Workload, ...]
    trials: int
    time_s: float | None = None
    priority: int = 0
    strategy: str = "evolutionary"
    seed: int = 0
    skipped: tuple[str, ...] = field(default=(), compare=False)  # model nodes left out

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "devices": list(self.devices),
            "workloads": [{"op": w.op, "shape": w.shape_text} for w in self.workloads],
            "trials": self.trials,
            "time_s": self.time_s,
            "priority": self.priority,
            "strategy": self.strategy,
            "seed": self.seed,
            "skipped": list(self.skipped),
        }

    @staticmethod
    def from_json(d: dict) -> JobSpec:
        return JobSpec(
            name=d["name"], devices=tuple(d["devices"]),
            workloads=tuple(Workload.parse(w["op"], w["shape"]) for w in d["workloads"]),
            trials=d["trials"], time_s=d.get("time_s"), priority=d.get("priority", 0),
            strategy=d.get("strategy", "evolutionary"), seed=d.get("seed", 0),
            skipped=tuple(d.get("skipped", ())),
        )  # fmt: skip


def load_spec(path: str | Path) -> JobSpec:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SpecError(f"no such job spec: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SpecError(f"{path} is not valid TOML: {e}") from None
    return parse_spec(raw, path.parent)


def parse_spec(raw: dict, base: Path = Path(".")) -> JobSpec:
    from tuner.strategies import STRATEGIES

    unknown = set(raw) - KNOWN_KEYS
    if unknown:
        raise SpecError(f"unknown keys {sorted(unknown)}; a spec has {sorted(KNOWN_KEYS)}")
    name = raw.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,100}", name):
        raise SpecError("name: letters, digits, '_', '.' or '-', at most 101 characters")
    devices = raw.get("devices", ["auto"])
    if (not isinstance(devices, list) or not devices
            or not all(isinstance(d, str) and d for d in devices)):  # fmt: skip
        raise SpecError('devices: a non-empty list of device names, or ["auto"]')
    trials = _int(raw, "trials", None, lo=1, hi=1_000_000)
    time_s = _duration(raw["time"]) if "time" in raw else None
    if trials is None and time_s is None:
        raise SpecError("give a budget: trials (per workload and device), time, or both")
    strategy = raw.get("strategy", "evolutionary")
    if strategy not in STRATEGIES:
        raise SpecError(f"strategy {strategy!r}: one of {', '.join(STRATEGIES)}")
    items = raw.get("workloads")
    if not isinstance(items, list) or not items:
        raise SpecError("workloads: at least one [[workloads]] table")
    workloads: dict[str, Workload] = {}
    skipped: list[str] = []
    for i, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise SpecError(f"workloads #{i}: a table")
        try:
            found, left = _workloads(item, base)
        except (ShapeError, SpecError) as e:
            raise SpecError(f"workloads #{i}: {e}") from None
        for w in found:
            workloads.setdefault(w.key, w)
        skipped += left
    if not workloads:
        raise SpecError("the workloads give no shape to tune: " + "; ".join(skipped))
    return JobSpec(
        name=name, devices=tuple(dict.fromkeys(devices)), workloads=tuple(workloads.values()),
        trials=trials or 1_000_000, time_s=time_s,
        priority=_int(raw, "priority", 0, lo=-1000, hi=1000), strategy=strategy,
        seed=_int(raw, "seed", 0, lo=0, hi=2**31 - 1), skipped=tuple(skipped),
    )  # fmt: skip


def _workloads(item: dict, base: Path) -> tuple[list[Workload], list[str]]:
    kinds = [k for k in ("op", "set", "onnx") if k in item]
    if len(kinds) != 1:
        raise SpecError("give exactly one of op (with shape), set, or onnx")
    if kinds == ["op"]:
        extra = set(item) - {"op", "shape"}
        if extra:
            raise SpecError(f"unknown keys {sorted(extra)}")
        op, shape = item["op"], item.get("shape")
        if op not in OPS:
            raise SpecError(f"unknown operator {op!r}; operators: {', '.join(sorted(OPS))}")
        if not isinstance(shape, str):
            raise SpecError('shape: a string like "M=96,N=80,K=64"')
        return [Workload.parse(op, shape)], []
    if kinds == ["set"]:
        extra = set(item) - {"set", "families"}
        if extra:
            raise SpecError(f"unknown keys {sorted(extra)}")
        return _named_set(item["set"], item.get("families"), base), []
    extra = set(item) - {"onnx"}
    if extra:
        raise SpecError(f"unknown keys {sorted(extra)}")
    from tuner.onnx_import import ModelError, workloads_from_onnx

    path = base / str(item["onnx"])
    try:
        got = workloads_from_onnx(path)
    except ModelError as e:
        raise SpecError(str(e)) from None
    if not got.workloads:
        raise SpecError(f"{path} has no Conv, MatMul or Gemm node that can be tuned")
    return list(got.workloads), [f"{path.name}: {s}" for s in got.skipped]


def _named_set(name: str, families, base: Path) -> list[Workload]:
    """A set by name (a .toml file of ../shared/workloads or the one shipped with the package)
    or by path."""
    candidates = [base / name, BENCHMARK_FILE.parent / f"{name}.toml"]
    shared = Path(__file__).resolve().parents[2] / "shared" / "workloads" / f"{name}.toml"
    candidates.append(shared)
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise SpecError(f"no workload set {name!r} (looked for {', '.join(map(str, candidates))})")
    table = tomllib.loads(path.read_text())
    chosen = list(table) if families is None else families
    if not isinstance(chosen, list) or not all(isinstance(f, str) for f in chosen):
        raise SpecError("families: a list of family names")
    missing = [f for f in chosen if f not in table]
    if missing:
        raise SpecError(f"set {name} has no families {missing}; it has {', '.join(table)}")
    out = []
    for fam in chosen:
        entry = table[fam]
        for shape in entry["shapes"]:
            out.append(Workload.create(entry["op"], dict(zip(entry["params"], shape)),
                                       entry.get("layout")))  # fmt: skip
    return out


def _int(raw: dict, key: str, default, lo: int, hi: int):
    v = raw.get(key, default)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise SpecError(f"{key}: an integer from {lo} to {hi} (got {v!r})")
    return v


def _duration(v) -> float:
    """'90s', '30m', '6h', '1d', '1h30m' or a number of seconds."""
    if isinstance(v, int | float) and not isinstance(v, bool) and v > 0:
        return float(v)
    if isinstance(v, str):
        parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smhd])", v.strip().lower())
        if parts and re.fullmatch(r"(\s*\d+(?:\.\d+)?\s*[smhd])+\s*", v.strip().lower()):
            total = sum(float(n) * TIME_UNITS[u] for n, u in parts)
            if total > 0:
                return total
    raise SpecError(f'time: a duration like "90s", "30m", "6h" or "1h30m" (got {v!r})')
