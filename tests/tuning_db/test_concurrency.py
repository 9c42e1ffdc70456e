"""16 writer processes insert trials at once, into one SQLite file and into PostgreSQL, all
starting on a database that does not exist yet: none is lost, none is duplicated."""

from __future__ import annotations

import multiprocessing as mp
import traceback
from collections import Counter

import pytest

from search_spaces import GENERATOR_VERSION, Schedule, Target, Workload
from tuning_db import DeviceInfo, TrialRecord, TuningDB

WRITERS, BATCHES, PER_BATCH = 16, 8, 5
TARGET = Target("pocl-cpu", "cpu", "opencl", 4096, 1 << 19, 256, 2, arch="cpu")
SHAPES = ["M=8,N=8,K=8", "M=16,N=8,K=8", "M=8,N=16,K=8"]  # shared: get-or-create races


def writer(url: str, index: int, start, errors) -> None:
    try:
        start.wait(timeout=120)  # all imported: now everyone at once
        db = TuningDB(url)  # every writer may be the one that creates the schema
        db.register_device(DeviceInfo("pocl-cpu", TARGET))
        for b in range(BATCHES):
            batch = []
            for k in range(PER_BATCH):
                n = b * PER_BATCH + k
                w = Workload.parse("matmul", SHAPES[n % len(SHAPES)])
                s = Schedule("tile", ((1, 1, 1), (1, 1 + n, 1), (1, 1, index + 1)), (1,))
                batch.append(
                    TrialRecord(
                        w,
                        "pocl-cpu",
                        s,
                        "ok",
                        GENERATOR_VERSION,
                        1e-6 * (n + 1),
                        job=f"job-{n % 2}",
                        details={"writer": index, "n": n},
                    )  # fmt: skip
                )
            db.add_trials(batch)
        db.close()
    except BaseException:
        errors.put(f"writer {index}: {traceback.format_exc()}")


def test_concurrent_writers_lose_and_duplicate_nothing(db_url):
    ctx = mp.get_context("spawn")
    errors, start = ctx.Queue(), ctx.Barrier(WRITERS)
    procs = [ctx.Process(target=writer, args=(db_url, i, start, errors)) for i in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    assert errors.empty(), errors.get()

    db = TuningDB(db_url)
    records = list(db.iter_trials())
    tags = Counter((t.details["writer"], t.details["n"]) for t in records)
    expected = {(i, n) for i in range(WRITERS) for n in range(BATCHES * PER_BATCH)}
    assert set(tags) == expected  # none lost
    assert max(tags.values()) == 1 and len(records) == len(expected)  # none duplicated
    assert len({t.uid for t in records}) == len(records)
    assert sorted(j.name for j in db.jobs()) == ["job-0", "job-1"]
    assert [d.name for d in db.devices()] == ["pocl-cpu"]
    for shape in SHAPES:
        best = db.best(Workload.parse("matmul", shape), "pocl-cpu")
        assert best is not None and best.latency_s == pytest.approx(
            1e-6 * (SHAPES.index(shape) + 1)
        )
    db.close()
