"""Plain records that go into and come out of the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from search_spaces import Schedule, Target, Workload

OK = "ok"  # the status of a correct, timed trial (measure's Status.OK): only these are bests


@dataclass(frozen=True)
class DeviceInfo:
    """A device as stored: catalog name, what it reported, and its generator target."""

    name: str
    target: Target
    platform: str = ""
    description: str = ""
    driver: str = ""
    compiler: str = ""

    @property
    def arch(self) -> str:
        """The architecture family (devices of one family share tuned schedules)."""
        return self.target.arch


@dataclass(frozen=True)
class TrialRecord:
    """One measured candidate, ready to store. `status` is measure's Status value.

    `uid` identifies the trial across databases (a new one is made when empty); `job` names
    the job that measured it ("" for none).
    """

    workload: Workload
    device: str
    schedule: Schedule
    status: str
    generator_version: int
    latency_s: float | None = None
    samples: tuple[float, ...] = ()
    protocol: dict = field(default_factory=dict)
    error: str = ""
    compile_s: float = 0.0
    max_rel_error: float | None = None
    job: str = ""
    details: dict = field(default_factory=dict)  # resources, worker, spread, time split
    uid: str = ""
    confirmed: bool = False
    created_at: datetime | None = None


@dataclass(frozen=True)
class Best:
    """The fastest correct trial of a workload on a device for the current generator."""

    workload: Workload
    device: DeviceInfo
    schedule: Schedule
    latency_s: float
    trial_id: int
    created_at: datetime

    @property
    def gflops(self) -> float:
        return self.workload.compute.flops / self.latency_s / 1e9


@dataclass(frozen=True)
class JobInfo:
    """A tuning job as stored: its name, spec and state."""

    name: str
    spec: dict
    status: str
    created_at: datetime
    updated_at: datetime
    priority: int = 0
    driver: str = ""  # "node:pid" of the driver that runs it, while it runs
    error: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None


@dataclass(frozen=True)
class CostModelBlob:
    """A saved cost model: the registry key of its kind, its bytes and metadata."""

    name: str
    kind: str
    blob: bytes
    meta: dict
    created_at: datetime
