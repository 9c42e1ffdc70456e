"""Device workers on Ray: one long-lived actor per physical device, found by the resource its
node advertises.

Each node advertises its devices as custom resources `device:<name>` (a node may advertise a
device under another name, with the label `tune.alias.<name>` naming the local device it
stands for). For a name, the pool starts one actor on every node that has it, pinned to that
node, and spreads a batch over them. Locally, Ray is started on demand with the devices this
machine has (the embedded default).

Isolation: each candidate is its own actor call with a deadline. A call that outlives it is a
timeout and the actor is killed and restarted; a kernel that kills its process or leaves the
device context unusable costs that candidate only; a candidate whose worker died (a crash, or
its node leaving) is tried once more, on whichever worker is free.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import replace

from measure.devices import LocalDevice, detect_local
from measure.records import MeasureInput, MeasureResult, Status
from search_spaces import KernelSource

RESOURCE_PREFIX = "device:"
ALIAS_LABEL = "tune.alias."
CHUNK = 4  # candidates a worker takes at a time
LOOKAHEAD = 16  # queued candidates whose builds a worker starts beside its own


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


def resolve(name: str, labels: dict[str, str]) -> LocalDevice:
    """The local device called `name`, directly or through this node's alias label."""
    devices = {d.name: d for d in detect_local()}
    if name in devices:
        return devices[name]
    physical = labels.get(ALIAS_LABEL + name)
    if physical in devices:
        d = devices[physical]
        return replace(d, name=name, target=replace(d.target, name=name))
    raise UnknownDevice(name, list(devices))


class DeviceWorker:
    """Owns one device for its whole life: context, inputs, references, a build pool."""

    def __init__(self, name: str):
        import ray

        from measure.builder import Builder
        from measure.runner import Runner

        labels = {}
        if ray.is_initialized():
            ctx = ray.get_runtime_context()
            labels = {k: v for k, v in ctx.get_node_labels().items() if isinstance(v, str)}
            self.where = f"{ctx.get_node_id()[:12]}:{os.getpid()}"
        else:
            self.where = f"local:{os.getpid()}"
        self.device = resolve(name, labels)
        backend = open_backend(self.device)
        self.runner = Runner(backend)
        # builds run in helper processes, one per core: on GPUs while the device times; on
        # CPUs only between timings (a build beside a timed run would share the cores being
        # measured), so a batch is built on every core, then timed alone
        self.gpu = self.device.target.kind == "gpu"
        warm = backend.warm_kernel if self.gpu else None
        self.builder = Builder(type(backend).prebuild, backend.build_key, os.cpu_count() or 2,
                               warm)  # fmt: skip
        if warm is not None:  # the helpers start while the search draws its first candidates
            self.builder.warm()

    def info(self) -> LocalDevice:
        return self.device

    def prepare(self, kernels: list[KernelSource]) -> None:
        """Start building these kernels."""
        self.builder.submit(kernels)

    def measure(self, inp: MeasureInput) -> MeasureResult:
        from measure.backend import BuildError
        from measure.builder import CompileTimeout, HelperCrashed

        timeout = inp.options.compile_timeout_s
        try:
            artifact, waited = self.builder.get(inp.kernel, timeout)
        except CompileTimeout as e:
            return MeasureResult(Status.COMPILE_TIMEOUT, error=str(e), worker=self.where)
        except BuildError as e:
            status = Status.OUT_OF_RESOURCES if e.out_of_resources else Status.COMPILE_ERROR
            return MeasureResult(status, error=str(e)[-4000:], worker=self.where)
        except HelperCrashed:  # build it here: if it crashes this process, the pool retries
            return replace(self.runner.measure(inp), worker=self.where)
        if not self.gpu:
            self.builder.settle(timeout)
        result = self.runner.measure(inp, artifact, compile_s=waited)
        return replace(result, worker=self.where)


class DevicePool:
    """Finds device workers on a Ray cluster, starting a local Ray when none is running."""

    def __init__(self, address: str | None = None, namespace: str | None = None,
                 detached: bool = False):  # fmt: skip
        """`namespace`: the Ray namespace to join; `detached`: workers outlive this pool (fleet
        jobs share them: a job's driver may end while another job measures on them)."""
        self.address = address
        self.namespace = namespace
        self.detached = detached
        self.owns_ray = False  # True when start() connected or started Ray itself
        self._workers: dict[str, dict[str, object]] = {}  # name -> node id -> actor

    @property
    def on_this_machine(self) -> bool:
        """A local Ray, or a cluster whose address is on loopback."""
        host = (self.address or "127.0.0.1").removeprefix("ray://").rsplit(":", 1)[0]
        return host in ("127.0.0.1", "localhost")

    def start(self) -> None:
        if self.on_this_machine:
            # Keep Ray on loopback: without this flag it swaps 127.0.0.1 for the machine's
            # network address. Ray reads it when first imported, so it is set before that.
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        import ray

        if ray.is_initialized():
            return
        self.owns_ray = True
        if self.address:
            local = {"_node_ip_address": "127.0.0.1"} if self.on_this_machine else {}
            ray.init(address=self.address, log_to_driver=False, configure_logging=False,
                     namespace=self.namespace, **local)  # fmt: skip
            return
        # Ray's notice that it enabled token authentication (its default) is not for our users.
        logging.getLogger("ray._private.authentication").setLevel(logging.ERROR)
        resources = {RESOURCE_PREFIX + d.name: 1.0 for d in detect_local()}
        ray.init(
            _node_ip_address="127.0.0.1",
            namespace=self.namespace,
            resources=resources,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )

    def nodes_with(self, name: str) -> list[str]:
        """Ids of the live nodes that advertise device `name`."""
        import ray

        self.start()
        key = RESOURCE_PREFIX + name
        return [n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get(key)]

    def available(self) -> dict[str, int]:
        """Device names that live nodes advertise, with how many nodes have each."""
        import ray

        self.start()
        out: dict[str, int] = {}
        for n in ray.nodes():
            if not n["Alive"]:
                continue
            for k in n["Resources"]:
                if k.startswith(RESOURCE_PREFIX):
                    out[k[len(RESOURCE_PREFIX) :]] = out.get(k[len(RESOURCE_PREFIX) :], 0) + 1
        return dict(sorted(out.items()))

    def workers(self, name: str) -> dict[str, object]:
        """One actor per live node with device `name` (created and started on first use)."""
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        nodes = self.nodes_with(name)
        if not nodes:
            raise UnknownDevice(name, list(self.available()))
        known = self._workers.setdefault(name, {})
        for node in nodes:
            if node in known:
                continue
            known[node] = (
                ray.remote(DeviceWorker)
                .options(
                    name=f"device-worker:{name}:{node[:12]}",
                    get_if_exists=True,
                    resources={RESOURCE_PREFIX + name: 1.0},
                    num_cpus=0,
                    max_restarts=-1,  # a kernel that kills the process costs only itself
                    max_task_retries=0,
                    lifetime="detached" if self.detached else None,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False),
                )
                .remote(name)
            )
            ray.get(known[node].info.remote())  # started, so deadlines count kernels only
        for node in list(known):
            if node not in nodes:
                del known[node]
        return known

    def worker(self, name: str):
        """An actor that owns device `name` (the first node's)."""
        return next(iter(self.workers(name).values()))

    def info(self, name: str) -> LocalDevice:
        import ray

        return ray.get(self.worker(name).info.remote())

    def measure(self, name: str, inputs: list[MeasureInput]) -> list[MeasureResult]:
        """Measure a batch over every worker of device `name`; results in input order."""
        workers = self.workers(name)
        todo: queue.Queue[int] = queue.Queue()
        for i in range(len(inputs)):
            todo.put(i)
        results: list[MeasureResult | None] = [None] * len(inputs)
        retried: set[int] = set()
        lock = threading.Lock()

        def drive(node: str, actor) -> None:
            self._drive(name, node, actor, inputs, todo, results, retried, lock)

        threads = [threading.Thread(target=drive, args=item) for item in workers.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i, r in enumerate(results):
            if r is None:  # every worker is gone
                results[i] = MeasureResult(Status.RUNTIME_ERROR, error="no worker left")
        return results  # type: ignore[return-value]

    def _drive(self, name, node, actor, inputs, todo, results, retried, lock) -> None:
        """One worker's loop: take a few candidates, start their builds, measure each."""
        import ray
        from ray.exceptions import RayError

        def recover() -> bool:
            """After a kill or a crash: False when this worker's node is gone."""
            return node in self.nodes_with(name) and self._wait_ready(actor)

        while None in results:
            chunk = []
            while len(chunk) < CHUNK:
                try:
                    chunk.append(todo.get_nowait())
                except queue.Empty:
                    break
            if not chunk:
                if todo.empty() and all(r is not None for r in results):
                    return
                time.sleep(0.05)  # others may hand back work; wait for them
                continue
            ahead = list(todo.queue)[:LOOKAHEAD]  # builds overlap this chunk's timing
            actor.prepare.remote([inputs[i].kernel for i in chunk + ahead])
            for pos, i in enumerate(chunk):
                inp = inputs[i]
                ref = actor.measure.remote(inp)
                deadline = inp.options.compile_timeout_s + inp.options.timeout_s
                ready, _ = ray.wait([ref], timeout=deadline)
                if not ready:
                    results[i] = MeasureResult(
                        Status.TIMEOUT,
                        error=f"no result within {deadline:.0f} s: the worker was replaced",
                    )
                    ray.kill(actor, no_restart=False)
                    for j in chunk[pos + 1 :]:
                        todo.put(j)
                    if not recover():
                        return
                    break
                try:
                    r = ray.get(ref)
                except RayError as e:  # the process or its node died
                    with lock:
                        again = i not in retried
                        retried.add(i)
                    if again:  # its process or node died: once more, on any worker
                        todo.put(i)
                    else:
                        results[i] = MeasureResult(
                            Status.RUNTIME_ERROR,
                            error=f"the worker process died running this kernel: {e}"[:4000],
                        )
                    for j in chunk[pos + 1 :]:
                        todo.put(j)
                    if not recover():
                        return  # the node is gone: the other workers finish the batch
                    break
                results[i] = r
                if r.worker_broken:  # the device context cannot be trusted: a fresh process
                    ray.kill(actor, no_restart=False)
                    for j in chunk[pos + 1 :]:
                        todo.put(j)
                    if not recover():
                        return
                    break

    @staticmethod
    def _wait_ready(actor, timeout: float = 120.0) -> bool:
        """Wait for a restarted actor; False when it does not come back (its node is gone)."""
        import ray
        from ray.exceptions import ActorUnavailableError, GetTimeoutError, RayError

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                ray.get(actor.info.remote(), timeout=max(1.0, deadline - time.monotonic()))
                return True
            except ActorUnavailableError:  # still restarting
                time.sleep(0.5)
            except (RayError, GetTimeoutError):
                return False
        return False

    def __enter__(self) -> DevicePool:
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        import ray

        self._workers.clear()
        if ray.is_initialized() and self.owns_ray:
            ray.shutdown()
