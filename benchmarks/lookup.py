"""Lookup speed against a tuning database of 1 million trials: in-process p50/p99 of
`tuning_db.lookup` and HTTP requests/s against `tune serve`.

    .venv/bin/python benchmarks/lookup.py --trials 1000000 --seconds 20 --workers 2

The database (SQLite, in a temporary directory unless --db is given) holds matmul and conv2d
workloads on every catalog device, 50 trials per (workload, device) with mixed statuses and
two generator versions. It is filled by bulk inserts straight into the tables.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from measure.catalog import CATALOG  # noqa: E402
from search_spaces import GENERATOR_VERSION, Schedule, Workload  # noqa: E402
from tuning_db import DeviceInfo, TuningDB, lookup  # noqa: E402
from tuning_db.models import TrialRow, WorkloadRow  # noqa: E402

PER_PAIR = 50
STATUSES = ["ok"] * 7 + ["wrong_result", "compile_error", "timeout"]


def workloads(n: int) -> list[Workload]:
    rng = random.Random(0)
    out: dict[str, Workload] = {}
    sizes = [2**i for i in range(4, 12)] + [48, 96, 192, 384, 768, 1536, 3072]
    while len(out) < n:
        if rng.random() < 0.6:
            m, nn, k = (rng.choice(sizes) for _ in range(3))
            w = Workload.parse("matmul", f"M={m},N={nn},K={k}")
        else:
            hw, ci, co = (
                rng.choice([7, 14, 28, 56, 112]),
                rng.choice(sizes[:5]),
                rng.choice(sizes[:5]),
            )
            w = Workload.parse("conv2d", f"H={hw},W={hw},CI={ci},CO={co},kernel=3,padding=1")
        out[w.key] = w
    return list(out.values())


def schedules(w: Workload) -> list[Schedule]:
    axes, red = len(w.compute.spatial), len(w.compute.reduce)
    return [
        Schedule("tile", ((1, 1, 1),) * (axes - 2) + ((1, a, 1), (1, b, 2)), (1,) * red)
        for a in (1, 2, 4, 8) for b in (4, 8, 16, 32)
    ]  # fmt: skip


def build(url: str, n_trials: int) -> tuple[TuningDB, list[tuple[Workload, str]]]:
    db = TuningDB(url)
    devices = sorted(CATALOG)
    for name in devices:
        db.register_device(DeviceInfo(name, CATALOG[name]))
    n_workloads = max(1, n_trials // (PER_PAIR * len(devices)))
    ws = workloads(n_workloads)
    rng = random.Random(1)
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    with db.session() as s:
        s.execute(
            insert(WorkloadRow),
            [dict(key=w.key, op=w.op, layout=w.layout, dtype=w.dtype,
                  params=json.dumps(dict(w.params)), text=w.text) for w in ws],
        )  # fmt: skip
    with db.session(write=False) as s:
        wid = dict(s.execute(WorkloadRow.__table__.select().with_only_columns(
            WorkloadRow.key, WorkloadRow.id)).all())  # fmt: skip
        from tuning_db.models import DeviceRow

        did = dict(s.execute(DeviceRow.__table__.select().with_only_columns(
            DeviceRow.name, DeviceRow.id)).all())  # fmt: skip
    pairs, rows, written = [], [], 0
    for w in ws:
        options = schedules(w)
        for d in devices:
            pairs.append((w, d))
            for i in range(PER_PAIR):
                s = options[i % len(options)]
                status = rng.choice(STATUSES)
                lat = rng.uniform(1e-6, 1e-2) if status == "ok" else None
                rows.append(dict(
                    uid=uuid.uuid4().hex, workload_id=wid[w.key], device_id=did[d], job_id=None,
                    schedule=s.canonical, schedule_key=s.key,
                    generator_version=GENERATOR_VERSION - (i % 10 == 0), status=status,
                    latency_s=lat, samples=json.dumps([lat] * 5 if lat else []),
                    protocol='{"min_repeats": 5}', error="" if lat else "failed",
                    compile_s=0.1, max_rel_error=1e-7 if lat else None, details="{}",
                    confirmed=False, created_at=now,
                ))  # fmt: skip
            if len(rows) >= 20000:
                with db.session() as s:
                    s.execute(insert(TrialRow), rows)
                written += len(rows)
                rows = []
    if rows:
        with db.session() as s:
            s.execute(insert(TrialRow), rows)
        written += len(rows)
    print(f"built {written:,} trials of {len(ws):,} workloads on {len(devices)} devices "
          f"in {time.perf_counter() - t0:.1f} s", flush=True)  # fmt: skip
    return db, pairs


def percentile(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def in_process(db: TuningDB, pairs, n: int, hot: int) -> None:
    rng = random.Random(2)
    hot_set = rng.sample(pairs, min(hot, len(pairs)))
    for label, picks in (
        (f"cold (each of {n:,} lookups a different pair; the kernel is generated)",
         rng.sample(pairs, min(n, len(pairs)))),
        (f"warm (a build's {len(hot_set)} kernels asked again and again)",
         [rng.choice(hot_set) for _ in range(n)]),
    ):  # fmt: skip
        if "warm" in label:
            for w, d in hot_set:
                lookup(db, w, d)
        times, matches = [], {}
        for w, d in picks:
            t = time.perf_counter()
            doc = lookup(db, w, d)
            times.append(time.perf_counter() - t)
            matches[doc["match"]] = matches.get(doc["match"], 0) + 1
        print(f"in-process {label}: p50 {percentile(times, 50) * 1e3:.3f} ms, "
              f"p99 {percentile(times, 99) * 1e3:.3f} ms, mean "
              f"{statistics.mean(times) * 1e3:.3f} ms; matches {matches}", flush=True)  # fmt: skip
    w, d = pairs[0]
    asked = Workload.create(
        w.op, {**w.shape, "B" if w.op == "matmul" else "N": 3}, w.layout or None
    )
    times = []
    for _ in range(50):
        t = time.perf_counter()
        doc = lookup(db, asked, d)
        times.append(time.perf_counter() - t)
    print(f"in-process nearest_shape fallback ({doc['match']}): p50 "
          f"{percentile(times, 50) * 1e3:.1f} ms, p99 {percentile(times, 99) * 1e3:.1f} ms",
          flush=True)  # fmt: skip


async def load(host: str, port: int, paths: list[str], seconds: float, conns: int) -> tuple:
    """Keep-alive HTTP/1.1 GETs from `conns` connections for `seconds`; (requests, errors)."""
    done = errors = 0
    stop = time.perf_counter() + seconds
    lat: list[float] = []

    async def client(i: int) -> None:
        nonlocal done, errors
        reader, writer = await asyncio.open_connection(host, port)
        k = i
        while time.perf_counter() < stop:
            path = paths[k % len(paths)]
            k += conns
            t = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            lat.append(time.perf_counter() - t)
            if head.startswith(b"HTTP/1.1 200"):
                done += 1
            else:
                errors += 1
        writer.close()

    await asyncio.gather(*(client(i) for i in range(conns)))
    return done, errors, lat


def http(db_url: str, pairs, seconds: float, workers: int, conns: int, hot: int) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-m", "tuner.cli", "serve", "--db", db_url, "--port", str(port),
         "--workers", str(workers)], env=env,
    )  # fmt: skip
    try:
        import httpx

        for _ in range(200):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        rng = random.Random(3)
        paths = [
            "/lookup?" + urlencode({"op": w.op, "shape": w.shape_text, "device": d})
            for w, d in rng.sample(pairs, min(hot, len(pairs)))
        ]
        asyncio.run(load("127.0.0.1", port, paths, 3, conns))  # warm every worker's caches
        done, errors, lat = asyncio.run(load("127.0.0.1", port, paths, seconds, conns))
        print(f"HTTP: {done / seconds:,.0f} lookups/s over {seconds:.0f} s ({workers} server "
              f"worker(s), {conns} keep-alive connections, {len(paths)} distinct lookups, "
              f"{errors} errors); latency p50 {percentile(lat, 50) * 1e3:.2f} ms, "
              f"p99 {percentile(lat, 99) * 1e3:.2f} ms", flush=True)  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=1_000_000)
    ap.add_argument("--db", help="database (default: a new SQLite file in a temporary dir)")
    ap.add_argument("--lookups", type=int, default=5000)
    ap.add_argument("--hot", type=int, default=500, help="distinct lookups of the warm runs")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--connections", type=int, default=32)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or str(Path(tmp) / "bench.db")
        db, pairs = build(url, args.trials)
        print(f"database: {db.url} ({db.count_trials():,} trials)", flush=True)
        in_process(db, pairs, args.lookups, args.hot)
        db.close()
        http(url, pairs, args.seconds, args.workers, args.connections, args.hot)


if __name__ == "__main__":
    main()
