"""Test shapes for every operator and layout: each benchmark family's shapes scaled down for a
CPU (same kernel, stride, padding, dilation, groups), and odd shapes with prime extents."""

# (op, layout, scaled-down benchmark shape, odd shape)
CASES = [
    ("matmul", "", "M=64,N=32,K=64", "B=2,M=13,N=7,K=100"),
    (
        "conv1d",
        "NLC",
        "L=32,CI=8,CO=16,kernel=3,stride=2,padding=1",
        "N=2,L=13,CI=5,CO=7,kernel=5,stride=1,padding=2,dilation=2",
    ),
    (
        "conv2d",
        "NHWC",
        "H=28,W=28,CI=3,CO=16,kernel=7,stride=2,padding=3",
        "N=2,H=13,W=7,CI=5,CO=7,kernel=3,stride=2,padding=1,dilation=2",
    ),
    (
        "conv2d",
        "NCHW",
        "H=14,W=14,CI=16,CO=16,kernel=3,stride=1,padding=1",
        "H=13,W=11,CI=6,CO=9,kernel=3,stride=1,padding=1,groups=3",
    ),
    (
        "conv2d_bias_relu",
        "NHWC",
        "H=14,W=14,CI=8,CO=16,kernel=3,stride=2,padding=1",
        "H=7,W=13,CI=3,CO=5,kernel=1,stride=1,padding=0",
    ),
    (
        "conv2d_bias_relu",
        "NCHW",
        "H=7,W=7,CI=32,CO=32,kernel=3,stride=1,padding=1",
        "N=2,H=11,W=7,CI=4,CO=6,kernel=3,stride=2,padding=1,groups=2",
    ),
    (
        "conv3d",
        "NDHWC",
        "D=4,H=14,W=14,CI=3,CO=8,kernel=3,stride=2,padding=1",
        "D=5,H=7,W=3,CI=2,CO=5,kernel=3,stride=1,padding=1",
    ),
    (
        "depthwise_conv2d",
        "NHWC",
        "H=28,W=28,C=16,kernel=3,stride=1,padding=1",
        "N=2,H=13,W=7,C=5,kernel=3,stride=2,padding=1",
    ),
    (
        "depthwise_conv2d",
        "NCHW",
        "H=14,W=14,C=32,kernel=3,stride=2,padding=1",
        "H=11,W=13,C=3,kernel=5,stride=1,padding=2",
    ),
    (
        "conv2d_transpose",
        "NHWC",
        "H=4,W=4,CI=32,CO=16,kernel=4,stride=2,padding=1",
        "H=5,W=3,CI=3,CO=7,kernel=3,stride=3,padding=1",
    ),
    (
        "conv2d_transpose",
        "NCHW",
        "H=8,W=8,CI=16,CO=8,kernel=4,stride=2,padding=1",
        "N=2,H=3,W=5,CI=5,CO=3,kernel=5,stride=2,padding=3",
    ),
    (
        "conv2d_capsule",
        "NHWIJC",
        "H=8,W=8,CI=4,CO=4,kernel=3,stride=2,padding=1",
        "H=5,W=7,CI=3,CO=5,kernel=3,stride=1,padding=1,capsule_size=3",
    ),
    ("norm", "", "M=64,N=64", "B=3,M=13,N=7"),
    ("softmax", "", "M=32,N=64", "M=13,N=101"),
]
