"""Records that cross the boundary between the search driver and the device workers."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from search_spaces import KernelSource, Workload


class Status(StrEnum):
    """Outcome of one trial. Only OK trials have a latency and can become a best."""

    OK = "ok"
    COMPILE_ERROR = "compile_error"
    COMPILE_TIMEOUT = "compile_timeout"
    OUT_OF_RESOURCES = "out_of_resources"
    RUNTIME_ERROR = "runtime_error"
    TIMEOUT = "timeout"
    WRONG_RESULT = "wrong_result"


@dataclass(frozen=True)
class MeasureOptions:
    """The measurement protocol; stored with every trial.

    After one checked run into a poisoned output buffer, `warmup` untimed runs, then timed runs
    (each after an L2 flush on GPUs when `flush`) until at least `min_repeats` samples and
    `budget_s` seconds of kernel time with a relative spread (interquartile range / median) of
    at most `noise`, or `max_budget_s` seconds, or `max_repeats` samples. Timing stops early
    for a kernel slower than `cutoff_s` per run: one whose checked run already took longer is
    not run again, that run being its one sample. A candidate that takes longer than
    `compile_timeout_s` to build is a compile timeout; one whose measurement outlasts
    `timeout_s` after building is a timeout (its worker is replaced).
    """

    warmup: int = 1
    min_repeats: int = 3
    max_repeats: int = 100
    budget_s: float = 0.05
    max_budget_s: float = 1.0
    noise: float = 0.03
    flush: bool = True
    cutoff_s: float = float("inf")
    rtol: float = 1e-4
    seed: int = 0
    timeout_s: float = 60.0
    compile_timeout_s: float = 120.0

    def to_json(self) -> dict:
        d = dict(self.__dict__)
        d["cutoff_s"] = None if d["cutoff_s"] == float("inf") else d["cutoff_s"]
        return d


@dataclass(frozen=True)
class MeasureInput:
    """One candidate: the workload (for the reference) and its generated kernel."""

    workload: Workload
    kernel: KernelSource
    options: MeasureOptions = field(default_factory=MeasureOptions)


@dataclass(frozen=True)
class MeasureResult:
    """What a worker reports for one candidate. Failures are results, not exceptions."""

    status: Status
    latency_s: float | None = None  # median of samples
    samples: tuple[float, ...] = ()
    error: str = ""
    max_rel_error: float | None = None
    compile_s: float = 0.0
    check_s: float = 0.0  # wall time of the checked run and the comparison
    time_s: float = 0.0  # wall time of warm-up and timed runs
    spread: float | None = None  # interquartile range / median of the samples
    resources: dict = field(default_factory=dict)  # registers, shared / local / private bytes
    worker: str = ""  # node id and process that measured it
    worker_broken: bool = False  # the device context cannot be trusted after this candidate

    @property
    def ok(self) -> bool:
        return self.status is Status.OK
