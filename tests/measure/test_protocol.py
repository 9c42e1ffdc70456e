"""The sampling protocol, device naming and the catalog."""

from __future__ import annotations

import pytest

from measure import MeasureInput, MeasureOptions, Status
from measure.catalog import CATALOG, with_catalog
from measure.devices import catalog_name, gpu_name
from measure.runner import enough, spread
from search_spaces import Target, Workload, generate, naive


def test_spread_is_the_interquartile_range_over_the_median():
    assert spread([1.0, 1.0, 1.0, 1.0]) == 0.0
    assert spread([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx((4 - 2) / 3)


def test_sampling_stops_on_budget_and_noise_or_at_the_caps():
    opts = MeasureOptions(min_repeats=3, budget_s=0.01, noise=0.05, max_budget_s=1.0)
    assert not enough([0.01, 0.01], opts)  # too few
    assert enough([0.01, 0.01, 0.01], opts)  # quiet and over budget
    noisy = [0.004, 0.01, 0.004, 0.01]
    assert not enough(noisy, opts)  # over budget but too noisy: keep sampling
    assert enough(noisy * 100, opts)  # until max_budget_s
    assert enough([1e-6] * 100, opts)  # or max_repeats
    assert enough([0.5], MeasureOptions(cutoff_s=0.1))  # hopelessly slow: one sample


def test_runner_keeps_every_sample_and_records_resources(runner, local_device):
    w = Workload.parse("matmul", "M=32,N=32,K=32")
    k = generate(w, naive(w.compute, local_device.target), local_device.target)
    opts = MeasureOptions(min_repeats=5, budget_s=0.001, noise=1.0)
    r = runner.measure(MeasureInput(w, k, opts))
    assert r.status is Status.OK and len(r.samples) >= 5
    assert r.spread is not None and r.check_s > 0 and r.time_s > 0
    assert "private_bytes" in r.resources


@pytest.mark.parametrize(
    "vendor,name",
    [
        ("NVIDIA H100 80GB HBM3", "h100"),
        ("NVIDIA H100 PCIe", "h100"),
        ("NVIDIA H200", "h200"),
        ("NVIDIA A100-SXM4-40GB", "a100"),
        ("NVIDIA L4", "l4"),
        ("NVIDIA GeForce RTX 4090", "rtx4090"),
        ("NVIDIA GeForce RTX  3090", "rtx3090"),
        ("Tesla V100-SXM2-16GB", "v100"),
        ("Some Future GPU X1", "some-future-gpu-x1"),
    ],
)
def test_vendor_strings_map_to_catalog_names(vendor, name):
    assert gpu_name(vendor) == name


def test_opencl_names_say_the_platform():
    assert (
        catalog_name("pthread-haswell-AMD EPYC", "Portable Computing Language", True) == "pocl-cpu"
    )
    assert catalog_name("NVIDIA H100 80GB HBM3", "NVIDIA CUDA", False) == "h100-opencl"


def test_detected_devices_take_the_catalog_figures_and_unknown_ones_stay_generic():
    detected = Target("h100", "gpu", "cuda", 1024, 49152, 256, 132)
    merged = with_catalog(detected)
    assert merged.arch == "hopper" and merged.peak_gflops == CATALOG["h100"].peak_gflops
    assert merged.compute_units == 132  # limits stay as queried
    unknown = Target("mystery-gpu", "gpu", "cuda", 512, 16384, 256, 7)
    assert with_catalog(unknown) == unknown


def test_a_kernel_slower_than_the_cutoff_is_not_run_again_after_its_check(runner, local_device):
    w = Workload.parse("matmul", "M=64,N=64,K=64")
    k = generate(w, naive(w.compute, local_device.target), local_device.target)
    hopeless = runner.measure(MeasureInput(w, k, MeasureOptions(cutoff_s=1e-12, min_repeats=5)))
    assert hopeless.status is Status.OK and hopeless.max_rel_error <= 1e-4
    assert len(hopeless.samples) == 1 and hopeless.latency_s == hopeless.samples[0]
    timed = runner.measure(MeasureInput(w, k, MeasureOptions(min_repeats=5, budget_s=0.001)))
    assert len(timed.samples) >= 5
