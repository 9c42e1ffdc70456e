"""Fleet jobs: a spec's workloads tuned on its devices, driven on the Ray cluster, with all state
in the database so that any machine with its URL can follow, cancel or resume the job.

On a cluster the driver is a detached Ray actor (`tune-job:<name>` in the `tune` namespace): it
lives on when the submitting command exits. Without a cluster the driver runs in the submitting
process. Either way the driver:
- marks the job running and beats a heartbeat into its row (with "host:pid" of its process);
- tunes every workload on every device (a thread per device), each pair up to `trials` trials of
  this job: what the database already holds for the job counts, so a resumed job measures only
  what is left and never a schedule it measured before;
- before every round, stops when the job was cancelled or its time is up, and waits while a job
  of higher priority runs on the same device;
- waits out a lost database connection (PatientDB) rather than failing the job;
- ends the job as done, cancelled or failed (with the error).

A driver that dies (kill -9, its node lost) leaves the job "running" with a stale heartbeat or a
dead process: `tune job resume` starts a new driver, which goes on from the stored trials.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tuner.jobspec import JobSpec, SpecError
from tuning_db import JobInfo, TuningDB

NAMESPACE = "tune"
HEARTBEAT_S = 2.0
LOST_AFTER_S = 30.0  # a heartbeat older than this: the driver is gone
PRIORITY_POLL_S = 2.0
FINAL = ("done", "cancelled", "failed")

log = logging.getLogger(__name__)


def now() -> datetime:
    return datetime.now(UTC)


def actor_name(job: str) -> str:
    return f"tune-job:{job}"


# --- submission --------------------------------------------------------------------------
def resolve_devices(spec: JobSpec, available: list[str]) -> list[str]:
    """The spec's device names against those the fleet has ("auto": all of them)."""
    if "auto" in spec.devices:
        if not available:
            raise SpecError("devices: auto, but no device is available")
        return sorted(set(available) | (set(spec.devices) - {"auto"}))
    missing = [d for d in spec.devices if d not in available]
    if missing:
        have = ", ".join(available) or "none"
        raise SpecError(f"devices {missing} are not in the fleet; its devices: {have}")
    return list(spec.devices)


def create(db: TuningDB, spec: JobSpec, available: list[str]) -> str:
    """Store a queued job with its devices resolved; returns the job's name."""
    devices = resolve_devices(spec, available)
    resolved = JobSpec(**{**spec.__dict__, "devices": tuple(devices)})
    return db.create_job(spec.name, resolved.to_json(), spec.priority)


# --- state that anyone can read -------------------------------------------------------------
@dataclass(frozen=True)
class JobProgress:
    job: JobInfo
    spec: JobSpec
    counts: dict[tuple[str, str], dict[str, int]]  # (workload key, device) -> status -> n

    @property
    def done(self) -> int:
        return sum(min(sum(c.values()), self.spec.trials) for c in self.counts.values())

    @property
    def total(self) -> int:
        return self.spec.trials * len(self.spec.workloads) * len(self.spec.devices)

    @property
    def state(self) -> str:
        """The stored status, with "lost" for a running job whose driver is gone."""
        if self.job.status == "running" and driver_lost(self.job):
            return "lost"
        return self.job.status


def progress(db: TuningDB, name: str) -> JobProgress:
    job = db.job(name)
    if job is None:
        raise KeyError(name)
    return JobProgress(job, JobSpec.from_json(job.spec), db.job_counts(name))


def driver_lost(job: JobInfo) -> bool:
    """The driver's heartbeat is stale, or its process (on this host) is gone."""
    if job.heartbeat_at is None or now() - job.heartbeat_at > timedelta(seconds=LOST_AFTER_S):
        return True
    host, _, pid = job.driver.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
    return False


def latest(db: TuningDB) -> str | None:
    jobs = db.jobs()
    return jobs[-1].name if jobs else None


# --- the driver --------------------------------------------------------------------------
class PatientDB:
    """A TuningDB whose calls wait out a lost connection or a locked file (retrying with backoff
    for up to `patience_s`) instead of failing the job. Trials carry their uid from the start, so
    a retried insert whose first attempt did commit adds nothing twice."""

    def __init__(self, db: TuningDB, patience_s: float = 600.0):
        self._db, self._patience = db, patience_s

    def __getattr__(self, name):
        from sqlalchemy.exc import DBAPIError

        attr = getattr(self._db, name)
        if not callable(attr):
            return attr

        def patient(*args, **kwargs):
            deadline, delay, call = time.monotonic() + self._patience, 0.5, attr
            while True:
                try:
                    return call(*args, **kwargs)
                except DBAPIError as e:
                    if name == "add_trials":  # the lost attempt may have committed
                        call = self._db.import_trials
                    if not (e.connection_invalidated or _transient(e)):
                        raise
                    if time.monotonic() > deadline:
                        raise
                    log.warning("database unavailable (%s); retrying in %.1f s", e.orig, delay)
                    time.sleep(delay)
                    delay = min(delay * 2, 15.0)

        return patient


def _transient(e) -> bool:
    from sqlalchemy.exc import InterfaceError, OperationalError

    return isinstance(e, OperationalError | InterfaceError)


class Driver:
    """Runs one job to its end (or until cancelled, out of time, or killed)."""

    def __init__(self, db_url: str, name: str, pool):
        self.db = PatientDB(TuningDB(db_url))
        self.name, self.pool = name, pool
        self.stop = threading.Event()
        self.cancelled = False
        job = self.db.job(name)
        if job is None:
            raise KeyError(f"no job named {name!r}")
        self.spec = JobSpec.from_json(job.spec)
        self.started = job.started_at or now()
        budget = self.spec.time_s
        self.deadline = self.started + timedelta(seconds=budget) if budget else None

    def run(self) -> str:
        """Drive the job; returns its final status ("done", "cancelled", "failed")."""
        me = f"{socket.gethostname()}:{os.getpid()}"
        self.db.update_job(self.name, status="running", driver=me, error="", finished_at=None,
                           started_at=self.started, heartbeat_at=now())  # fmt: skip
        beat = threading.Thread(target=self._heartbeat, daemon=True)
        beat.start()
        errors: list[str] = []
        threads = [
            threading.Thread(target=self._device, args=(d, errors), name=f"job-{d}")
            for d in self.spec.devices
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.stop.set()
        beat.join()
        status = "cancelled" if self.cancelled else "failed" if errors else "done"
        self.db.update_job(self.name, status=status, error="\n\n".join(errors)[-8000:],
                           finished_at=now(), heartbeat_at=now())  # fmt: skip
        self.db.close()
        return status

    def _device(self, device: str, errors: list[str]) -> None:
        from tuner.tune import TuneOptions, device_info, tune_many

        try:
            counts = self.db.job_counts(self.name)
            budgets = [
                max(0, self.spec.trials - sum(counts.get((w.key, device), {}).values()))
                for w in self.spec.workloads
            ]
            if not any(budgets):
                return
            info = device_info(self.pool, device)
            opts = TuneOptions(trials=self.spec.trials, seed=self.spec.seed,
                               strategy=self.spec.strategy, job=self.name)  # fmt: skip
            tune_many(list(self.spec.workloads), info, self.db, self.pool, opts,
                      budgets=budgets, keep_going=lambda: self._keep_going(device))  # fmt: skip
        except Exception:
            errors.append(f"{device}: {traceback.format_exc()}")

    def _keep_going(self, device: str) -> bool:
        """Asked before every round: False when cancelled or out of time; waits while a job of
        higher priority is running on `device`."""
        while True:
            if self.stop.is_set() or self.cancelled:
                return False
            if self.deadline and now() >= self.deadline:
                return False
            if not self._outranked(device):
                return True
            time.sleep(PRIORITY_POLL_S)

    def _outranked(self, device: str) -> bool:
        for other in self.db.jobs():
            if (other.name != self.name and other.status == "running"
                    and other.priority > self.spec.priority
                    and device in other.spec.get("devices", ())
                    and not driver_lost(other)):  # fmt: skip
                return True
        return False

    def _heartbeat(self) -> None:
        while not self.stop.wait(HEARTBEAT_S):
            try:
                job = self.db.job(self.name)
                if job is not None and job.status == "cancelled":
                    self.cancelled = True
                self.db.update_job(self.name, heartbeat_at=now())
            except Exception as e:  # a beat missed is not a failure
                log.warning("heartbeat of job %s failed: %s", self.name, e)


class JobActor:
    """The driver as a detached Ray actor on the cluster."""

    def where(self) -> str:
        return f"{socket.gethostname()}:{os.getpid()}"

    def run(self, db_url: str, name: str) -> str:
        import ray

        from measure import DevicePool

        pool = DevicePool(namespace=NAMESPACE, detached=True)  # Ray is up: this joins it
        try:
            return Driver(db_url, name, pool).run()
        finally:
            ray.actor.exit_actor()


def start_on_cluster(db_url: str, name: str) -> None:
    """Start job `name`'s driver as a detached actor (Ray must be initialised, in NAMESPACE)."""
    import ray

    deadline = time.monotonic() + 60
    while True:
        try:
            actor = (
                ray.remote(JobActor)
                .options(
                    name=actor_name(name),
                    namespace=NAMESPACE,
                    lifetime="detached",
                    num_cpus=0,
                    max_restarts=0,
                )
                .remote()
            )
            break
        except ValueError:  # the name is taken: a killed driver not yet known to be dead
            if time.monotonic() > deadline or live_driver(name):
                raise
            time.sleep(1.0)
    ray.get(actor.where.remote(), timeout=120)
    actor.run.remote(db_url, name)


def live_driver(name: str) -> bool:
    """Whether the cluster has a live driver actor for job `name`."""
    import ray

    try:
        actor = ray.get_actor(actor_name(name), namespace=NAMESPACE)
        ray.get(actor.where.remote(), timeout=10)
        return True
    except Exception:  # no such actor, or it died
        return False


def cancel(db: TuningDB, name: str) -> str:
    """Mark a job cancelled; its driver stops before its next round. Returns the old status."""
    job = db.job(name)
    if job is None:
        raise KeyError(name)
    if job.status not in FINAL:
        db.update_job(name, status="cancelled", finished_at=now() if driver_lost(job) else None)
    return job.status
