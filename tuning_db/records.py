"""Plain records that go into and come out of the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from search_spaces import Schedule, Target, Workload


@dataclass(frozen=True)
class DeviceInfo:
    """A device as stored: catalog name, what it reported, and its generator target."""

    name: str
    target: Target
    platform: str = ""
    description: str = ""
    driver: str = ""


@dataclass(frozen=True)
class TrialRecord:
    """One measured candidate, ready to store. `status` is measure's Status value."""

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
