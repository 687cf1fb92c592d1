"""Convolution, pooling and padding on the fake GPU (tests/fakegpu.py): bit-identical to the CPU.

The fake computes with NumPy but refuses host arrays and implicit conversions the way CuPy
does, so a host-only call in an op (``as_strided``, ``np.asarray``) fails here instead of on a
user's GPU, and any numerical difference from the CPU is a device bug.
"""
import numpy as np
import pytest

import chainrule as cr
import fakegpu
from fakegpu import same
from chainrule import nn
from chainrule.engine import conv as conv_module
from chainrule.nn import functional as F
from chainrule.train import fit

rng = np.random.default_rng(3)
X1 = rng.standard_normal((2, 4, 11))
X2 = rng.standard_normal((2, 4, 7, 9))
GREY = rng.standard_normal((2, 1, 8, 7))
W1 = rng.standard_normal((6, 2, 3))
W2 = rng.standard_normal((6, 2, 3, 2))
WG = rng.standard_normal((3, 1, 3, 3))
B6, B3 = rng.standard_normal(6), rng.standard_normal(3)

OPS = [
    ("conv1d stride padding groups bias", lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, groups=2), [X1, W1, B6]),
    ("conv1d same dilation", lambda x, w: F.conv1d(x, w, padding="same", dilation=2, groups=2), [X1, W1]),
    ("conv2d stride dilation groups bias", lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2), dilation=(1, 2),
                                                                     groups=2), [X2, W2, B6]),
    ("conv2d one input channel", lambda x, w, b: F.conv2d(x, w, b, padding=1), [GREY, WG, B3]),
    ("conv2d_relu", lambda x, w, b: F.conv2d_relu(x, w, b, padding=1), [GREY, WG, B3]),
    ("conv2d_relu then max_pool2d (channels-last)", lambda x, w, b: F.max_pool2d(F.conv2d_relu(x, w, b, padding=1), 2),
     [GREY, WG, B3]),
    ("max_pool2d overlapping padded", lambda x: F.max_pool2d(x, 3, stride=2, padding=1), [X2]),
    ("max_pool2d dilation", lambda x: F.max_pool2d(x, 2, stride=1, dilation=2), [X2]),
    ("max_pool1d", lambda x: F.max_pool1d(x, 2), [X1]),
    ("max_pool2d ties after relu", lambda x: F.max_pool2d(x.relu(), 2), [X2]),
    ("max_pool2d_relu after conv2d (channels-last)", lambda x, w, b: F.max_pool2d_relu(F.conv2d(x, w, b, padding=1), 2),
     [GREY, WG, B3]),
    ("avg_pool2d", lambda x: F.avg_pool2d(x, 2, stride=1), [X2]),
    ("avg_pool2d padded, count_include_pad=False", lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False), [X2]),
    ("avg_pool1d", lambda x: F.avg_pool1d(x, 3, stride=2, padding=1), [X1]),
    ("adaptive_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, (3, 4)), [X2]),
    ("adaptive_avg_pool1d", lambda x: F.adaptive_avg_pool1d(x, 4), [X1]),
    ("pad", lambda x: F.pad(x, (1, 2, 0, 3), value=0.5) * 2, [X2]),
]


@pytest.mark.parametrize("name, fn, arrays", OPS, ids=[o[0] for o in OPS])
def test_every_conv_and_pool_op_on_the_fake_gpu_equals_the_cpu(fake_gpu, name, fn, arrays):
    weights = rng.standard_normal(fn(*[cr.tensor(a) for a in arrays]).shape)  # a gradient that is not all ones
    fakegpu.same_on_cpu_and_fake(fn, arrays, weights)


def test_a_cnn_trains_on_the_fake_gpu_bit_identically_to_the_cpu(fake_gpu):
    X = np.random.default_rng(0).standard_normal((24, 64)).astype(np.float32)
    y = np.arange(24) % 3
    states = []
    for dev in ("cpu", "fake"):
        # nn.CNN fuses Conv2d + ReLU; BatchNorm2d, Dropout2d and AvgPool2d run as layers.
        net = nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.CNN((1, 8, 8), 3, "c4-m2-c6", rng=0))
        extra = nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 4, 3, padding=1, rng=1), nn.BatchNorm2d(4),
                              nn.ReLU(), nn.Dropout2d(0.25, rng=2), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(64, 3, rng=3))
        for model in (net, extra):
            fit(model, X, y, epochs=2, batch_size=8, optimizer="adam", lr=0.01, device=dev)
            assert nn.module_device(model) == cr.device(dev)
        states.append([model.state_dict() for model in (net, extra)])
    for a, b in zip(*states):
        assert a.keys() == b.keys()
        for k in a:
            same(a[k], b[k])


def test_the_workspace_never_hands_out_a_buffer_still_in_use():
    conv_module.release_workspace()
    a = conv_module.workspace(np, (3, 4), np.float32)
    b = conv_module.workspace(np, (3, 4), np.float32)
    assert a is not b  # a is alive
    view, a_id = a[1:], id(a)
    del a
    c = conv_module.workspace(np, (3, 4), np.float32)
    assert c is not view.base and c is not b  # a view keeps its base in use
    c_id = id(c)
    del view, c
    d = conv_module.workspace(np, (3, 4), np.float32, fill=2.5)
    assert id(d) in (a_id, c_id) and (d == 2.5).all()  # a buffer nothing holds is reused, filled
    assert conv_module.workspace(np, (3, 4), "float64").dtype == np.float64
    assert conv_module.release_workspace() == 3 * 12 * 4 + 12 * 8  # three float32 buffers, one float64
    # A saved im2col matrix survives another forward of the same shapes (two graphs alive).
    w, w_alone = cr.tensor(W2, requires_grad=True), cr.tensor(W2, requires_grad=True)
    first = F.conv2d(cr.tensor(X2), w, groups=2)
    F.conv2d(cr.tensor(-X2), w, groups=2)
    first.sum().backward()
    F.conv2d(cr.tensor(X2), w_alone, groups=2).sum().backward()
    np.testing.assert_array_equal(w.grad, w_alone.grad)


def test_a_cnn_trains_bit_identically_with_the_captured_step():
    # The captured step replays recorded ops on their Function objects, so the workspace's buffers
    # are reused while the previous replay's saved arrays are still alive; a ragged last batch
    # (44 = 5·8 + 4) records a second batch shape.
    X = np.random.default_rng(0).standard_normal((44, 64)).astype(np.float32)
    y = np.arange(44) % 3
    states = []
    for capture in (False, True):
        net = nn.CNN((1, 8, 8), 3, "c4-m2-c6", rng=0)
        fit(net, X, y, epochs=3, batch_size=8, optimizer="adam", lr=0.01, capture=capture)
        states.append(net.state_dict())
    assert states[0].keys() == states[1].keys()
    for k in states[0]:
        same(states[0][k], states[1][k])
