"""Generated kernels as plain records: everything a compiler needs to run one."""

from __future__ import annotations

from dataclasses import dataclass

from search_spaces.codegen import render
from search_spaces.lowering import lower
from search_spaces.schedule import Schedule
from search_spaces.sketch import check
from search_spaces.target import Target
from search_spaces.workload import Workload

# Bump when a change to lowering or printing alters generated kernels: stored bests made by an
# older generator are then no longer served as they are.
GENERATOR_VERSION = 3


@dataclass(frozen=True)
class KernelArg:
    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"


@dataclass(frozen=True)
class KernelSource:
    """Source plus launch configuration. Arguments: inputs in OPERATORS.md order, output last.

    `global_size`/`local_size` are in work-items (OpenCL's NDRange); CUDA's grid and block
    are derived from them.
    """

    dialect: str
    source: str
    entry: str
    args: tuple[KernelArg, ...]
    global_size: tuple[int, ...]
    local_size: tuple[int, ...]

    def launch_json(self) -> dict:
        if self.dialect == "cuda":
            grid = tuple(g // b for g, b in zip(self.global_size, self.local_size))
            return {"grid": list(grid), "block": list(self.local_size)}
        return {"global_size": list(self.global_size), "local_size": list(self.local_size)}

    def to_json(self) -> dict:
        return {
            "dialect": self.dialect,
            "source": self.source,
            "entry": self.entry,
            "args": [{"name": a.name, "shape": list(a.shape), "dtype": a.dtype} for a in self.args],
            **self.launch_json(),
        }


class InvalidSchedule(ValueError):
    """The schedule does not fit the computation or the target's limits."""


def generate(workload: Workload, schedule: Schedule, target: Target) -> KernelSource:
    """The kernel for `schedule` on `workload`, in the target's dialect."""
    compute = workload.compute
    why = check(compute, schedule, target)
    if why:
        raise InvalidSchedule(why)
    entry = f"{workload.op}_kernel"
    ir = lower(compute, schedule, entry)
    return KernelSource(
        dialect=target.dialect,
        source=render(ir, target.dialect),
        entry=entry,
        args=tuple(KernelArg(p.name, p.shape) for p in ir.params),
        global_size=(ir.groups * ir.threads,),
        local_size=(ir.threads,),
    )
