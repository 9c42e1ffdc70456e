"""Device workers on Ray: one long-lived actor per device, found by the resource it holds.

Each node advertises its devices as custom resources `device:<name>`; a worker for a name is
an actor that claims that resource, so Ray places it on a node that has the device. Locally,
Ray is started on demand with the devices this machine has (the embedded default).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from measure.devices import LocalDevice, detect_local
from measure.records import MeasureInput, MeasureResult, Status

RESOURCE_PREFIX = "device:"


class UnknownDevice(LookupError):
    """The named device is not available; `available` lists those that are."""

    def __init__(self, name: str, available: Sequence[str]):
        self.name, self.available = name, list(available)
        have = ", ".join(self.available) or "none"
        super().__init__(f"device {name!r} is not available; devices: {have}")


def open_backend(device: LocalDevice):
    """The backend that runs kernels on `device` (one module per backend)."""
    if device.backend == "cuda":
        from measure.cuda import CUDABackend

        return CUDABackend(device)
    from measure.opencl import OpenCLBackend

    return OpenCLBackend(device)


class DeviceWorker:
    """Owns one device for its whole life (context, compiled inputs, references)."""

    def __init__(self, name: str):
        from measure.runner import Runner

        devices = {d.name: d for d in detect_local()}
        if name not in devices:
            raise UnknownDevice(name, list(devices))
        self.device = devices[name]
        self.runner = Runner(open_backend(self.device))

    def info(self) -> LocalDevice:
        return self.device

    def measure(self, inp: MeasureInput) -> MeasureResult:
        return self.runner.measure(inp)


class DevicePool:
    """Finds device workers on a Ray cluster, starting a local Ray when none is running."""

    def __init__(self, address: str | None = None):
        self.address = address
        self._workers: dict[str, object] = {}

    def start(self) -> None:
        import ray

        if ray.is_initialized():
            return
        if self.address:
            ray.init(address=self.address, log_to_driver=False)
            return
        # A single-machine Ray on loopback; this flag keeps it there (see DEVELOPERS.md).
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        # Ray's notice that it enabled token authentication (its default) is not for our users.
        logging.getLogger("ray._private.authentication").setLevel(logging.ERROR)
        resources = {RESOURCE_PREFIX + d.name: 1.0 for d in detect_local()}
        ray.init(
            _node_ip_address="127.0.0.1",
            resources=resources,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )

    def available(self) -> list[str]:
        """Device names that some node of the cluster advertises."""
        import ray

        self.start()
        return sorted(
            k[len(RESOURCE_PREFIX) :]
            for k in ray.cluster_resources()
            if k.startswith(RESOURCE_PREFIX)
        )

    def worker(self, name: str):
        """The actor that owns device `name` (created on first use)."""
        import ray

        if name in self._workers:
            return self._workers[name]
        available = self.available()
        if name not in available:
            raise UnknownDevice(name, available)
        actor = (
            ray.remote(DeviceWorker)
            .options(
                name=f"device-worker:{name}",
                get_if_exists=True,
                resources={RESOURCE_PREFIX + name: 1.0},
                num_cpus=0,
                max_restarts=-1,  # a kernel that kills the process costs only itself
                max_task_retries=0,
            )
            .remote(name)
        )
        self._workers[name] = actor
        return actor

    def info(self, name: str) -> LocalDevice:
        import ray

        return ray.get(self.worker(name).info.remote())

    def measure(self, name: str, inputs: list[MeasureInput]) -> list[MeasureResult]:
        """Measure a batch on the device's worker; results in input order.

        Each candidate is its own actor call, so when a kernel kills the worker process, that
        candidate is recorded as a runtime error, Ray restarts the actor, and the candidates
        after it are sent again.
        """
        import ray
        from ray.exceptions import RayActorError

        worker = self.worker(name)
        results: list[MeasureResult] = []
        while len(results) < len(inputs):
            pending = [worker.measure.remote(i) for i in inputs[len(results) :]]
            for ref in pending:
                try:
                    results.append(ray.get(ref))
                except RayActorError as e:
                    results.append(
                        MeasureResult(
                            Status.RUNTIME_ERROR,
                            error=f"the worker process died running this kernel: {e}"[:4000],
                        )
                    )
                    break
        return results

    def shutdown(self) -> None:
        import ray

        self._workers.clear()
        if ray.is_initialized():
            ray.shutdown()
