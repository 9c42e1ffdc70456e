"""Operator definitions, references, workloads and keys."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from search_spaces import ShapeError, Workload, benchmark_set, parse_shape
from search_spaces.workload import BENCHMARK_FILE
from tests.te_eval import evaluate

TINY = [
    ("matmul", "B=2,M=3,N=5,K=4"),
    ("matmul", "M=7,N=13,K=1"),
    ("conv2d", "N=2,H=5,W=6,CI=3,CO=4,kernel=3,stride=1,padding=1,layout=NHWC"),
    ("conv2d", "N=1,H=7,W=5,CI=2,CO=3,kernel=3,stride=2,padding=2,layout=NCHW"),
    ("conv2d", "N=1,H=9,W=9,CI=4,CO=6,kernel=3,padding=2,dilation=2,groups=2,layout=NHWC"),
    ("conv2d", "N=1,H=6,W=6,CI=4,CO=4,kernel=1,groups=4,layout=NCHW"),
    ("conv2d", "N=1,H=4,W=4,CI=2,CO=2,kernel=4,stride=3,padding=1,layout=NCHW"),
    ("conv1d", "N=2,L=9,CI=3,CO=4,kernel=3,stride=2,padding=1,dilation=2"),
    ("conv3d", "N=1,D=4,H=5,W=3,CI=2,CO=3,kernel=3,stride=2,padding=1"),
    ("depthwise_conv2d", "N=2,H=6,W=5,C=3,kernel=3,stride=2,padding=1,layout=NHWC"),
    ("depthwise_conv2d", "N=1,H=5,W=7,C=4,kernel=3,stride=1,padding=1,layout=NCHW"),
    ("conv2d_transpose", "N=1,H=3,W=4,CI=2,CO=3,kernel=4,stride=2,padding=1,layout=NHWC"),
    ("conv2d_transpose", "N=2,H=3,W=3,CI=2,CO=2,kernel=3,stride=3,padding=0,layout=NCHW"),
    ("conv2d_transpose", "N=1,H=4,W=3,CI=2,CO=2,kernel=3,stride=1,padding=1,layout=NHWC"),
    ("conv2d_transpose", "N=1,H=2,W=2,CI=1,CO=1,kernel=5,stride=2,padding=3,layout=NCHW"),
    ("conv2d_capsule", "N=1,H=5,W=5,CI=2,CO=3,kernel=3,stride=2,padding=1,capsule_size=2"),
    ("conv2d_bias_relu", "N=1,H=5,W=5,CI=3,CO=4,kernel=3,padding=1,layout=NHWC"),
    ("conv2d_bias_relu", "N=1,H=6,W=5,CI=4,CO=4,kernel=3,stride=2,groups=2,layout=NCHW"),
    ("norm", "B=3,M=4,N=5"),
    ("softmax", "M=3,N=7"),
]


@pytest.mark.parametrize("op,shape", TINY)
def test_reference_matches_the_tensor_expression(op, shape):
    w = Workload.parse(op, shape)
    inputs = w.random_inputs(seed=3)
    ref = w.reference(inputs)
    assert ref.shape == w.compute.output.shape
    np.testing.assert_allclose(evaluate(w.compute, inputs), ref, rtol=1e-12, atol=1e-12)


def test_conv2d_reference_matches_a_direct_loop():
    w = Workload.parse("conv2d", "N=1,H=5,W=4,CI=2,CO=3,kernel=3,stride=2,padding=1,layout=NCHW")
    data, weight = w.random_inputs(seed=1)
    d64, w64 = data.astype(np.float64), weight.astype(np.float64)
    out = np.zeros((1, 3, 3, 2))
    for co in range(3):
        for y in range(3):
            for x in range(2):
                for ci in range(2):
                    for ry in range(3):
                        for rx in range(3):
                            iy, ix = y * 2 + ry - 1, x * 2 + rx - 1
                            if 0 <= iy < 5 and 0 <= ix < 4:
                                out[0, co, y, x] += d64[0, ci, iy, ix] * w64[co, ci, ry, rx]
    np.testing.assert_allclose(w.reference([data, weight]), out, rtol=1e-12)


def test_random_inputs_have_no_zeros_and_are_reproducible():
    w = Workload.parse("matmul", "M=64,N=64,K=64")
    a = w.random_inputs(seed=7)
    assert all(np.all(x != 0) for x in a)
    assert all(np.array_equal(x, y) for x, y in zip(a, w.random_inputs(seed=7)))


def test_key_hashes_the_normalised_text_with_defaults_filled():
    w = Workload.parse("matmul", "M=512,N=512,K=512")
    assert w.text == "matmul|float32||B=1,M=512,N=512,K=512"
    assert w.key == hashlib.sha256(w.text.encode()).hexdigest()[:32]
    assert Workload.parse("matmul", "K=512, N=512 ,M=512,B=1").key == w.key
    c = Workload.parse("conv2d", "N=1,H=56,W=56,CI=64,CO=64,kernel=3,stride=1,padding=1")
    assert c.layout == "NHWC"
    assert c.text.endswith("kernel=3,stride=1,padding=1,dilation=1,groups=1")
    nchw = Workload.parse("conv2d", c.shape_text.replace("NHWC", "NCHW"))
    assert nchw.key != c.key
    assert Workload.parse(c.op, c.shape_text) == c


@pytest.mark.parametrize(
    "op,shape,message",
    [
        ("matmul", "M=4,N=4", "needs K"),
        ("matmul", "M=4,N=4,K=0", "out of range"),
        ("matmul", "M=4,N=4,K=-3", "out of range"),
        ("matmul", "M=4,N=4,K=4,Q=1", "no parameter Q"),
        ("matmul", "M=4,N=4,K=x", "not an integer"),
        ("matmul", "M=4,N=4,K=4;DROP TABLE trials", "not an integer"),
        ("matmul", "M=4,N=4,K=99999999999999999999", "out of range"),
        ("matmul", "M=4,M=5,N=4,K=4", "given twice"),
        ("matmul", "M=4,N=4,K=4,layout=NHWC", "no layout"),
        ("matmul", "M4,N=4,K=4", "NAME=VALUE"),
        ("matmul", "M=65536,N=65536,K=1", "too large"),
        ("conv2d", "H=5,W=5,CI=4,CO=4,kernel=7", "empty"),
        ("conv2d", "H=5,W=5,CI=4,CO=6,kernel=3,groups=4", "divisible"),
        ("conv2d", "H=5,W=5,CI=4,CO=4,kernel=3,layout=NCWH", "no layout"),
        ("softmax_x", "M=4", "unknown operator"),
    ],
)
def test_bad_shapes_get_clear_errors(op, shape, message):
    with pytest.raises(ShapeError, match=message):
        Workload.parse(op, shape)


def test_parse_shape_keeps_layout_apart():
    assert parse_shape("N=1,layout=NCHW") == ({"N": 1}, "NCHW")


def test_benchmark_sets_come_from_the_shipped_copy_of_the_shared_file():
    gmm = benchmark_set("matmul")
    assert [w.shape["M"] for w in gmm] == [128, 512, 512, 1024]
    c2d = benchmark_set("conv2d")
    assert len(c2d) == 4 and all(w.layout == "NHWC" for w in c2d)
    assert c2d[0].compute.output.shape == (1, 112, 112, 64)
    shared = Path(__file__).resolve().parents[3] / "shared" / "workloads" / BENCHMARK_FILE.name
    if shared.exists():
        assert shared.read_text() == BENCHMARK_FILE.read_text()


def test_definitions_with_negative_division_are_refused():
    from search_spaces.compute import Axis, ComputeDef, Tensor
    from search_spaces.expr import Read, Var

    x = Var("x")
    with pytest.raises(ValueError, match="negative"):
        ComputeDef(
            "bad", (Tensor("A", (4,)),), Tensor("B", (4,)), (Axis("x", 4),), (),
            Read("A", ((x - 2) // 2,)),
        )  # fmt: skip


def test_label_shows_what_differs_from_the_defaults():
    c = Workload.parse("conv2d", "N=1,H=7,W=7,CI=512,CO=512,kernel=3,stride=1,padding=1")
    assert c.label == "H=7,W=7,CI=512,CO=512,kernel=3,padding=1,NHWC"
    assert Workload.parse("matmul", "M=2,N=3,K=4").label == "M=2,N=3,K=4"
