"""Build helpers: parallel builds, a CPU worker that times only once its builds are done, and
a helper that dies costing nothing but a local build."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from measure import MeasureInput, MeasureOptions, Status
from measure.builder import Builder, HelperCrashed
from measure.pool import DeviceWorker
from search_spaces import Workload, generate, naive


def slow_build(source: str, key: object) -> tuple[str, int]:
    time.sleep(0.3)
    return f"{key}:{source}", os.getpid()


def crash_on_boom(source: str, key: object) -> str:
    if source == "boom":
        os._exit(3)  # a compiler that takes its process down
    return source


def mark_build(source: str, key: str) -> str:
    """Leaves a file named after the helper and the source in the directory `key`."""
    if source == "bad":
        raise ValueError("this kernel does not build")
    Path(key, f"{os.getpid()}-{source}").touch()
    return source.upper()


def built(where: Path, source: str) -> set[str]:
    return {p.name.split("-")[0] for p in where.glob(f"*-{source}")}


def test_warm_starts_every_helper_and_builds_the_warm_item_in_each_first(tmp_path):
    builder = Builder(mark_build, str(tmp_path), workers=3, warm_item="warm")
    try:
        builder.warm()
        deadline = time.time() + 60
        while len(built(tmp_path, "warm")) < 3 and time.time() < deadline:
            time.sleep(0.05)
        assert len(built(tmp_path, "warm")) == 3  # three helpers started without a build asked
        assert not builder._jobs  # the warming is no job of anyone's
        assert builder.settle(timeout=60) < 1.0
        assert [builder.get(s, timeout=60)[0] for s in "abc"] == ["A", "B", "C"]
        assert built(tmp_path, "a") | built(tmp_path, "b") <= built(tmp_path, "warm")
    finally:
        builder.close()


def test_a_warm_item_that_does_not_build_leaves_the_helpers_building(tmp_path):
    builder = Builder(mark_build, str(tmp_path), workers=2, warm_item="bad")
    try:
        builder.warm()
        assert builder.get("fine", timeout=60)[0] == "FINE"
        with pytest.raises(ValueError, match="does not build"):
            builder.get("bad", timeout=60)  # a real build still reports its own error
    finally:
        builder.close()


def test_builds_run_in_parallel_and_settle_waits_for_all_of_them():
    builder = Builder(slow_build, "k", workers=2)
    try:
        builder.submit(["a", "b", "c", "d"])
        builder.settle(timeout=60)
        assert all(job.done() for _, job in builder._jobs.values())
        built = [builder.get(s, timeout=60)[0] for s in "abcd"]
        assert [name for name, _ in built] == ["k:a", "k:b", "k:c", "k:d"]
        assert len({pid for _, pid in built}) == 2  # both helpers built
    finally:
        builder.close()


def test_a_helper_that_dies_raises_helper_crashed_and_the_builder_goes_on():
    builder = Builder(crash_on_boom, None, workers=2)
    try:
        with pytest.raises(HelperCrashed):
            builder.get("boom", timeout=60)
        assert builder.get("fine", timeout=60)[0] == "fine"
    finally:
        builder.close()


@pytest.fixture
def cpu_worker(local_device):
    if local_device.target.kind != "cpu":
        pytest.skip("the CPU build phase needs a CPU OpenCL device")
    worker = DeviceWorker(local_device.name)  # no Ray running: a plain local worker
    yield worker
    worker.builder.close()


def kernels(local_device, n: int):
    """`n` distinct small matmul kernels and their workloads."""
    out = []
    for m in range(8, 8 + 8 * n, 8):
        w = Workload.parse("matmul", f"M={m},N=16,K=16")
        out.append((w, generate(w, naive(w.compute, local_device.target), local_device.target)))
    return out


def test_a_cpu_worker_times_a_candidate_only_after_every_pending_build(cpu_worker, local_device):
    batch = kernels(local_device, 4)
    cpu_worker.prepare([k for _, k in batch])
    w, k = batch[0]
    r = cpu_worker.measure(MeasureInput(w, k, MeasureOptions(min_repeats=3, budget_s=0.001)))
    assert r.status is Status.OK
    jobs = cpu_worker.builder._jobs
    assert len(jobs) == 3 and all(f.done() for _, f in jobs.values())  # built, none running
    for w, k in batch[1:]:
        assert cpu_worker.measure(MeasureInput(w, k)).status is Status.OK


def test_when_a_build_helper_dies_the_worker_builds_the_kernel_itself(cpu_worker, local_device):
    cpu_worker.builder.close()
    cpu_worker.builder = Builder(crash_on_boom, None, workers=1)
    w, k = kernels(local_device, 1)[0]
    crashing = MeasureInput(w, replace(k, source="boom"))
    r = cpu_worker.measure(crashing)  # the helper dies; the worker's own build fails cleanly
    assert r.status is Status.COMPILE_ERROR
    r = cpu_worker.measure(MeasureInput(w, k))
    assert r.status is Status.OK and r.max_rel_error <= 1e-4
