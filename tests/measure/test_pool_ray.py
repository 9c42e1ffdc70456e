"""Device workers on a real local Ray, measuring real kernels on PoCL."""

from __future__ import annotations

import pytest

from measure import DevicePool, MeasureInput, MeasureOptions, Status, UnknownDevice
from search_spaces import Workload, generate, naive

pytestmark = pytest.mark.xdist_group("ray-in-process")


@pytest.fixture(scope="module")
def pool():
    import ray

    p = DevicePool()
    was_running = ray.is_initialized()
    p.start()
    yield p
    if not was_running:
        p.shutdown()


def test_local_ray_advertises_the_local_device_and_its_actor_measures(pool, local_device):
    assert local_device.name in pool.available()
    info = pool.info(local_device.name)
    assert info.name == local_device.name and info.target == local_device.target
    w = Workload.parse("matmul", "M=33,N=17,K=9")
    k = generate(w, naive(w.compute, info.target), info.target)
    broken = type(k)(**{**k.__dict__, "source": k.source + "\n#error broken"})
    results = pool.measure(local_device.name, [MeasureInput(w, k), MeasureInput(w, broken)])
    assert [r.status for r in results] == [Status.OK, Status.COMPILE_ERROR]
    ok = results[0]
    assert ok.latency_s > 0 and len(ok.samples) >= MeasureOptions().min_repeats
    assert min(ok.samples) <= ok.latency_s <= max(ok.samples)
    # one long-lived actor per device
    assert pool.worker(local_device.name) is pool.worker(local_device.name)


def test_unknown_device_lists_the_available_ones(pool, local_device):
    with pytest.raises(UnknownDevice) as e:
        pool.worker("rtx4090")
    assert local_device.name in str(e.value)


def test_a_kernel_that_kills_the_worker_costs_only_itself(pool, local_device):
    info = pool.info(local_device.name)
    w = Workload.parse("matmul", "M=16,N=16,K=16")
    good = generate(w, naive(w.compute, info.target), info.target)
    # a store 8 GB past the output buffer: the worker process dies with SIGSEGV
    crash = type(good)(
        **{**good.__dict__, "source": good.source.replace("    Z[", "    Z[2000000000 + ")}
    )
    assert crash.source != good.source
    inputs = [MeasureInput(w, good), MeasureInput(w, crash), MeasureInput(w, good)]
    results = pool.measure(local_device.name, inputs)
    assert [r.status for r in results] == [Status.OK, Status.RUNTIME_ERROR, Status.OK]
    assert "died" in results[1].error
    assert pool.measure(local_device.name, [MeasureInput(w, good)])[0].ok  # worker replaced
