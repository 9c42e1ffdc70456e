"""Injected faults in a real tuning run on PoCL through a real local Ray: each bad kernel is
recorded with its status and the good candidates after it are still measured."""

from __future__ import annotations

from dataclasses import replace

import pytest

from measure import DevicePool, MeasureOptions, Status
from search_spaces import Workload
from tuner.tune import TuneOptions, device_info, tune
from tuning_db import TuningDB

pytestmark = pytest.mark.xdist_group("ray-in-process")

SIGNATURE = (
    "__kernel void matmul_kernel(__global const float* X, __global const float* Y, "
    "__global float* Z) "
)
FAULTS = {
    # never ends: the loop condition holds for any input and the body has a side effect
    1: ("timeout", SIGNATURE + "{ while (X[0] == X[0]) { Z[get_global_id(0)] += 1.0f; } }"),
    # a store 8 GB past the output: the worker process dies
    2: ("runtime_error", SIGNATURE + "{ Z[2000000000 + get_global_id(0)] = 1.0f; }"),
    3: ("compile_error", SIGNATURE + "{ this is not OpenCL }"),
    4: (
        "wrong_result",
        SIGNATURE + "{ if (get_global_id(0) < 16 * 16) Z[get_global_id(0)] = 1.0f; }",
    ),
}


class FaultyPool:
    """A real pool whose n-th candidate (over the whole run) gets an injected kernel."""

    def __init__(self, pool: DevicePool):
        self.pool, self.seen = pool, 0
        self.injected: dict[str, str] = {}  # schedule-free: kernel source -> expected status

    def measure(self, name, inputs):
        changed = []
        for inp in inputs:
            fault = FAULTS.get(self.seen)
            self.seen += 1
            if fault:
                kernel = replace(inp.kernel, source=fault[1])
                self.injected[inp.kernel.source] = fault[0]
                inp = replace(inp, kernel=kernel)
            changed.append(inp)
        return self.pool.measure(name, changed)

    def __getattr__(self, attr):
        return getattr(self.pool, attr)


def test_a_tuning_run_survives_every_kind_of_bad_kernel(tmp_path, local_device):
    import ray

    pool = DevicePool()
    was_running = ray.is_initialized()
    pool.start()
    try:
        db = TuningDB(str(tmp_path / "t.db"))
        w = Workload.parse("matmul", "M=16,N=16,K=16")
        info = device_info(pool, local_device.name)
        opts = TuneOptions(
            trials=10,
            batch=10,
            seed=3,
            measure=MeasureOptions(timeout_s=8, compile_timeout_s=60),
            confirm_top=2,
        )
        faulty = FaultyPool(pool)
        summary = tune(w, info, db, faulty, opts)
        rows = db.trials(w, local_device.name)
        assert len(rows) == 10 and summary.measured == 10
        statuses = [r.status for r in rows]
        assert statuses[1:5] == [FAULTS[i][0] for i in range(1, 5)], [r.error[:300] for r in rows]
        assert statuses[0] == "ok" and statuses[5:] == ["ok"] * 5  # good ones after the faults
        assert "no result within" in rows[1].error and "died" in rows[2].error
        assert rows[4].max_rel_error > 1e-4
        best = db.best(w, local_device.name)
        assert best is not None and best.trial_id not in [r.id for r in rows[1:5]]
        db.close()
    finally:
        if not was_running:
            pool.shutdown()


def test_status_values_are_the_documented_ones():
    assert {s.value for s in Status} == {
        "ok", "compile_error", "compile_timeout", "out_of_resources", "runtime_error",
        "timeout", "wrong_result",
    }  # fmt: skip


class BusyAtConfirmationPool:
    """A real pool whose re-measurements (the confirmation's strict protocol) come out 100
    times slower, as on a device that turned busy after the search."""

    def __init__(self, pool: DevicePool):
        self.pool = pool

    def measure(self, name, inputs):
        results = self.pool.measure(name, inputs)
        strict = [inp.options.min_repeats == 10 for inp in inputs]
        return [replace(r, latency_s=r.latency_s * 100) if busy and r.latency_s else r
                for r, busy in zip(results, strict)]  # fmt: skip

    def __getattr__(self, attr):
        return getattr(self.pool, attr)


def test_a_best_whose_re_measurements_all_run_slower_is_reported_unconfirmed(
    tmp_path, local_device
):
    import ray

    pool = DevicePool()
    was_running = ray.is_initialized()
    pool.start()
    try:
        w = Workload.parse("matmul", "M=16,N=16,K=16")
        info = device_info(pool, local_device.name)
        opts = TuneOptions(trials=6, batch=6, seed=1, confirm_top=2, confirm_rounds=2)
        # quiet: 3 rounds of 2 re-measure all 6, so the best is a confirmed one
        quiet = tune(w, info, TuningDB(str(tmp_path / "quiet.db")), pool,
                     replace(opts, confirm_rounds=3))  # fmt: skip
        db = TuningDB(str(tmp_path / "busy.db"))
        busy = tune(w, info, db, BusyAtConfirmationPool(pool), opts)
        assert quiet.best_s is not None and quiet.confirmed
        # busy: 2 rounds of 2 leave the 4 re-measured the slowest; the best is a first
        # measurement
        rows = db.trials(w, local_device.name)
        assert sum(r.confirmed for r in rows) == 4 and not busy.confirmed
        best = db.best(w, local_device.name)
        assert busy.best_s == best.latency_s
        assert not next(r for r in rows if r.id == best.trial_id).confirmed
        db.close()
    finally:
        if not was_running:
            pool.shutdown()
