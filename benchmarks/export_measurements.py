"""Export a database's measurements as a compact dataset (for cost-model benchmarks, replay
and tests): one entry per (workload, device) with the device's target and every trial of the
current generator as (schedule, latency in seconds or null for a failure).

    python benchmarks/export_measurements.py DB OUT.json.gz
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from search_spaces import Workload  # noqa: E402
from tuner.replay import stored  # noqa: E402
from tuning_db import TuningDB  # noqa: E402
from tuning_db.models import WorkloadRow  # noqa: E402
from tuning_db.store import workload_from_row  # noqa: E402


def main() -> None:
    db = TuningDB(sys.argv[1])
    with db.session() as s:
        workloads: list[Workload] = [workload_from_row(r) for r in s.query(WorkloadRow).all()]
    out = []
    for dev in db.devices():
        for w in workloads:
            trials = stored(db, w, dev.name)
            if trials:
                out.append({
                    "op": w.op, "shape": w.shape_text, "layout": w.layout, "device": dev.name,
                    "target": dev.target.to_json(),
                    "trials": [[s.to_json(), lat] for s, lat in trials.values()],
                })  # fmt: skip
    with gzip.open(sys.argv[2], "wt") as f:
        json.dump(out, f, separators=(",", ":"))
    print(f"{sum(len(e['trials']) for e in out)} trials of {len(out)} workloads")


if __name__ == "__main__":
    main()
