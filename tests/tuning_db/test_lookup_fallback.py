"""A compiler always gets a correct kernel for the shape it asked: for every op, a lookup of a
never-tuned shape compiles on the local OpenCL device and matches NumPy, from a stored
neighbour (`nearest_shape`), a device of the same family (`device_family`), or by rule
(`default`)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from measure import MeasureInput, MeasureOptions, Status
from search_spaces import GENERATOR_VERSION, KernelArg, KernelSource, Workload, check, sample
from tests.search_spaces.shapes import CASES
from tuning_db import DeviceInfo, TrialRecord, TuningDB, lookup

QUICK = MeasureOptions(budget_s=0.0, min_repeats=1, warmup=0)


def kernel_from_doc(doc: dict) -> KernelSource:
    """The kernel exactly as the lookup's JSON describes it (nothing else is used)."""
    k = doc["kernel"]
    return KernelSource(
        dialect=k["dialect"],
        source=k["source"],
        entry=k["entry"],
        args=tuple(KernelArg(a["name"], tuple(a["shape"]), a["dtype"]) for a in k["args"]),
        global_size=tuple(k["global_size"]),
        local_size=tuple(k["local_size"]),
    )


def assert_runs_correctly(runner, w: Workload, doc: dict) -> None:
    assert doc["workload"]["key"] == w.key
    r = runner.measure(MeasureInput(w, kernel_from_doc(doc), QUICK))
    assert r.status is Status.OK, f"{doc['match']}: {r.status} {r.error[:300]}"
    assert r.max_rel_error <= 1e-4


def stored(w: Workload, device: str, schedule, latency: float = 1e-5) -> TrialRecord:
    return TrialRecord(w, device, schedule, "ok", GENERATOR_VERSION, latency, (latency,))


def shared_schedule(tuned: Workload, asked: Workload, target, seed: int):
    """A random schedule of the tuned shape that is also valid at the asked shape."""
    rng = random.Random(seed)
    for _ in range(2000):
        s = sample(tuned.compute, target, rng)
        if check(asked.compute, s, target) is None:
            return s
    pytest.fail(f"no schedule of {tuned.label} is valid for {asked.label}")


def full(shape: str, layout: str) -> str:
    return shape + (f",layout={layout}" if layout else "")


@pytest.fixture
def db(tmp_path, local_device):
    store = TuningDB(str(tmp_path / "t.db"))
    store.register_device(DeviceInfo(local_device.name, local_device.target))
    yield store
    store.close()


@pytest.mark.parametrize(
    "op,layout,tuned,asked", [pytest.param(*c, id=f"{c[0]}-{c[1] or 'default'}") for c in CASES]
)
def test_untuned_shape_gets_a_correct_kernel(db, runner, local_device, op, layout, tuned, asked):
    name, target = local_device.name, local_device.target
    asked_w = Workload.parse(op, full(asked, layout))
    # nothing of this op stored yet: a default schedule, still correct
    doc = lookup(db, asked_w, name)
    assert doc["match"] == "default" and doc["latency_us"] is None and doc["source"] is None
    assert_runs_correctly(runner, asked_w, doc)

    tuned_w = Workload.parse(op, full(tuned, layout))
    s = shared_schedule(tuned_w, asked_w, target, seed=3)
    ids = db.add_trials([stored(tuned_w, name, s, 2e-5)])
    doc = lookup(db, asked_w, name)
    assert doc["match"] == "nearest_shape"
    assert doc["schedule"] == s.to_json() and doc["source"]["trial_id"] == ids[0]
    assert doc["source"]["workload"]["key"] == tuned_w.key and doc["latency_us"] is None
    assert [a["shape"] for a in doc["kernel"]["args"]] == [
        list(t.shape) for t in (*asked_w.compute.inputs, asked_w.compute.output)
    ]
    assert_runs_correctly(runner, asked_w, doc)

    # once the asked shape itself is tuned, that wins
    own = shared_schedule(asked_w, asked_w, target, seed=4)
    (own_id,) = db.add_trials([stored(asked_w, name, own, 3e-5)])
    doc = lookup(db, asked_w, name)
    assert doc["match"] == "exact" and doc["trial_id"] == own_id
    assert doc["latency_us"] == pytest.approx(30.0)


def test_nearest_shape_is_the_closest_valid_one(db, local_device):
    name, target = local_device.name, local_device.target
    asked = Workload.parse("matmul", "M=64,N=64,K=64")
    near, far = (Workload.parse("matmul", s) for s in ("M=64,N=64,K=32", "M=512,N=8,K=1024"))
    s_near = shared_schedule(near, asked, target, 1)
    s_far = shared_schedule(far, asked, target, 2)
    db.add_trials([stored(far, name, s_far, 1e-9), stored(near, name, s_near, 1.0)])
    assert lookup(db, asked, name)["schedule"] == s_near.to_json()
    # a schedule that is invalid for the asked shape is skipped for the next closest
    bad = replace(s_near, sketch="no_such_sketch")
    closer = Workload.parse("matmul", "M=64,N=64,K=48")
    db.add_trials([stored(closer, name, bad)])
    assert check(asked.compute, bad, target) is not None
    assert lookup(db, asked, name)["schedule"] == s_near.to_json()


def test_device_family_then_default(db, runner, local_device):
    """A workload tuned on another device of the same architecture family serves this one,
    regenerated for this device's target; another family's best never does."""
    name, target = local_device.name, local_device.target
    assert target.arch
    sibling = replace(target, name="sibling", max_threads=target.max_threads * 2)
    alien = replace(target, name="alien", arch="other-arch")
    db.register_device(DeviceInfo("sibling", sibling))
    db.register_device(DeviceInfo("alien", alien))
    w = Workload.parse("conv2d", "H=9,W=9,CI=4,CO=8,kernel=3,padding=1,layout=NHWC")
    s = shared_schedule(w, w, target, 5)
    db.add_trials([stored(w, "alien", s, 1e-9)])
    assert lookup(db, w, name)["match"] == "default"
    (tid,) = db.add_trials([stored(w, "sibling", s, 1e-6)])
    doc = lookup(db, w, name)
    assert doc["match"] == "device_family" and doc["source"]["device"] == "sibling"
    assert doc["source"]["trial_id"] == tid and doc["device"] == name
    assert_runs_correctly(runner, w, doc)
    # a device the database does not hold is described by the caller's targets
    doc = lookup(db, w, "twin", targets={"twin": replace(target, name="twin")})
    assert doc["match"] == "device_family"


def test_exact_only_and_unknown_device(db, local_device):
    from tuning_db import NotTuned, UnknownDevice

    w = Workload.parse("softmax", "M=8,N=8")
    with pytest.raises(NotTuned, match="no tuned kernel"):
        lookup(db, w, local_device.name, fallback=False)
    with pytest.raises(UnknownDevice, match="unknown device 'nope'.*" + local_device.name):
        lookup(db, w, "nope")
