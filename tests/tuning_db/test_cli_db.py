"""`tune db`: export (JSON bundle, C header), import and merge (idempotent), gc, list, best,
stats and upgrade, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from search_spaces import GENERATOR_VERSION, Schedule, Target, Workload
from tuner.cli import app
from tuning_db import DeviceInfo, TrialRecord, TuningDB, lookup, schema

from . import old_schema

CPU = Target("pocl-cpu", "cpu", "opencl", 4096, 1 << 19, 128, 2, arch="cpu")
H100 = Target("h100", "gpu", "cuda", 1024, 48 << 10, 256, 132, arch="hopper")
MM = Workload.parse("matmul", "M=32,N=16,K=8")
CONV = Workload.parse("conv2d", "H=8,W=8,CI=4,CO=8,kernel=3,padding=1,layout=NCHW")


def sched(n: int, axes: int = 3, reduce: int = 1) -> Schedule:
    return Schedule("tile", ((1, 1, 1),) * (axes - 1) + ((1, n, 1),), (1,) * reduce)


def tune(*args: str):
    r = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return r


def fill(url: str, job: str = "nightly") -> TuningDB:
    db = TuningDB(url)
    db.register_device(DeviceInfo("pocl-cpu", CPU, "PoCL", "cpu", "3.1", "LLVM 15"))
    db.register_device(DeviceInfo("h100", H100, "CUDA", "H100", "580", "NVRTC 13"))
    db.add_trials(
        [
            TrialRecord(MM, "pocl-cpu", sched(2), "ok", GENERATOR_VERSION, 3e-5, (3e-5,), job=job),
            TrialRecord(MM, "pocl-cpu", sched(4), "ok", GENERATOR_VERSION, 2e-5, job=job),
            TrialRecord(MM, "pocl-cpu", sched(8), "wrong_result", GENERATOR_VERSION, 1e-9),
            TrialRecord(MM, "h100", sched(16), "ok", GENERATOR_VERSION, 1e-6),
            TrialRecord(CONV, "pocl-cpu", sched(8, 4, 3), "ok", GENERATOR_VERSION, 4e-5),
            TrialRecord(CONV, "pocl-cpu", sched(2, 4, 3), "compile_error", GENERATOR_VERSION),
        ]
    )
    return db


def snapshot(db: TuningDB) -> list:
    return sorted(
        (t.uid, t.workload.key, t.device, t.schedule.key, t.status, t.latency_s, t.job)
        for t in db.iter_trials()
    )


def test_bundle_round_trip_and_idempotent_import_and_merge(db_url, tmp_path):
    src = fill(str(tmp_path / "src.db"))
    bundle = tmp_path / "all.json"
    r = tune("db", "export", "--out", str(bundle), "--db", src.url)
    assert r.exit_code == 0, r.output
    doc = json.loads(bundle.read_text())
    assert doc["format"] == "tune-db-bundle" and len(doc["trials"]) == 6
    assert {d["name"]: d["compiler"] for d in doc["devices"]}["h100"] == "NVRTC 13"

    for _ in range(2):  # the second import adds nothing
        r = tune("db", "import", str(bundle), "--db", db_url)
        assert r.exit_code == 0, r.output
    dst = TuningDB(db_url)
    assert snapshot(dst) == snapshot(src)
    assert [j.name for j in dst.jobs()] == ["nightly"]
    assert dst.device("h100").compiler == "NVRTC 13"

    other = fill(str(tmp_path / "other.db"), job="other-job")  # new trials, new uids
    for _ in range(2):
        r = tune("db", "merge", other.url.removeprefix("sqlite:///"), "--db", db_url)
        assert r.exit_code == 0, r.output
    assert snapshot(dst) == sorted(snapshot(src) + snapshot(other))
    assert "0 trial(s) added, 6 already here" in r.output
    assert tune("db", "merge", db_url, "--db", db_url).exit_code == 2  # not into itself
    best = dst.best(MM, "pocl-cpu")
    assert best is not None and best.latency_s == 2e-5

    r = tune("db", "export", "--out", str(tmp_path / "best.json"), "--best-only", "--db", db_url)
    best_doc = json.loads((tmp_path / "best.json").read_text())
    assert sorted(t["latency_s"] for t in best_doc["trials"]) == [1e-6, 2e-5, 4e-5]
    dst.close()


def test_c_header_builds_and_holds_the_best_kernels(tmp_path):
    db = fill(str(tmp_path / "t.db"))
    header = tmp_path / "tune_kernels.h"
    r = tune("db", "export", "--out", str(header), "--db", db.url)
    assert r.exit_code == 0, r.output
    expected = lookup(db, MM, "pocl-cpu")
    (tmp_path / "main.c").write_text(
        '#include <stdio.h>\n#include "tune_kernels.h"\n'
        "int main(int argc, char **argv) {\n"
        "    if (argc != 4) return 2;\n"
        "    const tune_kernel *k = tune_find(argv[1], argv[2], argv[3]);\n"
        '    if (!k) { puts("none"); return 3; }\n'
        '    printf("%s %s %zu %zu %.3f %d\\n", k->entry, k->dialect, k->global_size[0],\n'
        "           k->local_size[0], k->latency_us, TUNE_KERNEL_COUNT);\n"
        "    fputs(k->source, stdout);\n"
        "    return 0;\n}\n"
    )
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "a C compiler is needed"
    subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-o", str(tmp_path / "m"),
                    str(tmp_path / "main.c")], check=True, cwd=tmp_path)  # fmt: skip
    run = subprocess.run([str(tmp_path / "m"), "pocl-cpu", "matmul", MM.shape_text],
                         capture_output=True, text=True, check=True)  # fmt: skip
    first, source = run.stdout.split("\n", 1)
    k = expected["kernel"]
    assert first.split() == [k["entry"], "opencl", str(k["global_size"][0]),
                             str(k["local_size"][0]), "20.000", "3"]  # fmt: skip
    assert source == k["source"]
    miss = subprocess.run([str(tmp_path / "m"), "h100", "matmul", "M=1"], capture_output=True)
    assert miss.returncode == 3
    # an empty database still gives a header that compiles
    empty = tmp_path / "empty.h"
    assert tune("db", "export", "--out", str(empty), "--db", str(tmp_path / "e.db")).exit_code == 1
    TuningDB(str(tmp_path / "e.db")).close()
    assert tune("db", "export", "--out", str(empty), "--db", str(tmp_path / "e.db")).exit_code == 0
    subprocess.run([cc, "-std=c99", "-Wall", "-Werror", "-fsyntax-only", "-x", "c", str(empty)],
                   check=True)  # fmt: skip


def test_gc_drops_superseded_trials_but_keeps_their_bests(db_url):
    db = fill(db_url)
    old = GENERATOR_VERSION - 1
    db.add_trials(
        [
            TrialRecord(MM, "pocl-cpu", sched(32), "ok", old, 1e-7),  # kept: old best
            TrialRecord(MM, "pocl-cpu", sched(64), "ok", old, 5e-7),
            TrialRecord(MM, "pocl-cpu", sched(64), "timeout", old),
            TrialRecord(MM, "h100", sched(64), "compile_error", old),
        ]
    )
    current = snapshot(db)
    assert db.best(MM, "pocl-cpu").latency_s == 2e-5  # old generator's trials never serve
    r = tune("db", "gc", "--dry-run", "--db", db_url)
    assert r.exit_code == 0 and "would delete 3" in r.output and db.count_trials() == 10
    r = tune("db", "gc", "--db", db_url)
    assert r.exit_code == 0 and "deleted 3" in r.output and "kept 1" in r.output
    left = snapshot(db)
    assert len(left) == 7 and [t for t in current if t not in left][0][5] in (5e-7, None)
    assert any(t[5] == 1e-7 for t in left)
    assert tune("db", "gc", "--db", db_url).output.startswith("deleted 0")
    db.close()


def test_list_best_stats_show_and_upgrade(db_url, tmp_path):
    db = fill(db_url)
    rows = json.loads(tune("db", "list", "--format", "json", "--db", db_url).stdout)
    assert {(r["op"], r["device"], r["trials"], r["ok"]) for r in rows} == {
        ("matmul", "pocl-cpu", 3, 2), ("matmul", "h100", 1, 1), ("conv2d", "pocl-cpu", 2, 1),
    }  # fmt: skip
    bests = json.loads(
        tune("db", "best", "--op", "matmul", "--format", "json", "--db", db_url).stdout
    )
    assert {(b["device"], b["latency_us"]) for b in bests} == {("pocl-cpu", 20.0), ("h100", 1.0)}
    stats = json.loads(tune("db", "stats", "--format", "json", "--db", db_url).stdout)
    assert stats["trials"] == 6 and stats["trials_by_status"]["ok"] == 4 and stats["bests"] == 3
    shown = json.loads(tune("db", "show", MM.key[:10], "--db", db_url).stdout)
    assert shown["devices"]["pocl-cpu"]["best"]["latency_us"] == 20.0
    assert tune("db", "list", "--db", db_url).exit_code == 0
    db.close()

    old = tmp_path / "old.db"
    old_schema.write(old)
    r = tune("db", "stats", "--db", str(old))
    assert r.exit_code == 1 and f"tune db upgrade --db {old}" in r.output
    r = tune("db", "upgrade", "--db", str(old))
    assert r.exit_code == 0 and f"from schema revision 0001 to {schema.head()}" in r.output
    assert (
        json.loads(tune("db", "stats", "--format", "json", "--db", str(old)).stdout)["trials"] == 7
    )
    assert tune("db", "upgrade", "--db", str(tmp_path / "none.db")).exit_code == 1
    assert not (tmp_path / "none.db").exists()


@pytest.mark.parametrize("command", ["list", "best", "stats", "gc"])
def test_commands_on_a_missing_database_exit_1_and_create_nothing(tmp_path, command):
    r = tune("db", command, "--db", str(tmp_path / "missing.db"))
    assert r.exit_code == 1 and "no tuning database" in r.output
    assert not (tmp_path / "missing.db").exists()
