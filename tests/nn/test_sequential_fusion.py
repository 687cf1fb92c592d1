"""nn.Sequential runs Linear + ReLU as the fused linear_relu, and Conv2d + ReLU (+ MaxPool2d) as
conv2d_relu (conv then max_pool2d_relu): the same values and gradients bit for bit as the modules
applied one after the other."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


def ops(t):
    return [node._op for node in cr.topological_order(t) if node._op is not None]


def by_hand(modules, x):
    for m in modules:
        x = m(x)
    return x


def fused_and_by_hand(net, x):
    """The outputs of ``net`` (fused) and of its modules applied one by one, after checking that
    the values and every gradient (the input's, each parameter's) are equal bit for bit."""
    results = []
    for run in (net, lambda t: by_hand(list(net), t)):
        xt = cr.tensor(x, requires_grad=True)
        out = run(xt)
        (out * out).sum().backward()
        results.append((out, xt.grad.copy(), [p.grad.copy() for p in net.parameters()]))
        net.zero_grad()
    (a, ga, pa), (b, gb, pb) = results
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(ga, gb)
    for u, v in zip(pa, pb):
        np.testing.assert_array_equal(u, v)
    return a, b


@pytest.mark.parametrize("bias", [True, False])
def test_a_linear_relu_pair_is_one_fused_node_with_the_unfused_values_and_gradients(bias):
    x = np.random.default_rng(0).standard_normal((7, 5)).astype(np.float32)
    net = nn.Sequential(nn.Linear(5, 6, bias=bias, rng=1), nn.ReLU(), nn.Linear(6, 3, bias=bias, rng=2),
                        nn.ReLU(), nn.Linear(3, 2, rng=3))
    a, b = fused_and_by_hand(net, x)
    assert ops(a) == ["linear_relu", "linear_relu", "linear"] and ops(b) == ["linear", "relu"] * 2 + ["linear"]


def test_an_array_input_and_other_pairs_run_as_before():
    x = np.ones((2, 4), np.float32)
    net = nn.Sequential(nn.Linear(4, 3, rng=0), nn.ReLU())
    np.testing.assert_array_equal(net(x).data, by_hand(list(net), cr.tensor(x)).data)  # ndarray in: converted
    tanh = nn.Sequential(nn.Linear(4, 3, rng=0), nn.Tanh())
    assert ops(tanh(x)) == ["linear", "tanh"]  # only Linear + ReLU is fused

    class Scaled(nn.Linear):  # a subclass may change forward: it is never fused
        def forward(self, x):
            return super().forward(x) * 2.0

    scaled = nn.Sequential(Scaled(4, 3, rng=0), nn.ReLU())
    np.testing.assert_array_equal(scaled(x).data, by_hand(list(scaled), cr.tensor(x)).data)
    assert ops(scaled(x))[-1] == "relu"


def test_conv_relu_maxpool_and_conv_relu_are_fused_with_the_unfused_values_and_gradients():
    # Integers: ties inside the pooling windows, and windows whose largest entry is <= 0.
    x = np.random.default_rng(0).integers(-2, 3, (3, 2, 8, 8)).astype(np.float32)
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, rng=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(4, 5, 3, padding=1, rng=2), nn.ReLU(), nn.Flatten(), nn.Linear(80, 3, rng=3))
    a, b = fused_and_by_hand(net, x)
    assert ops(a) == ["conv", "max_pool_relu", "conv_relu", "reshape", "linear"]
    assert ops(b) == ["conv", "relu", "max_pool", "conv", "relu", "reshape", "linear"]


def test_a_relu_before_a_max_pool_is_fused_after_other_layers_and_cnn_uses_the_same_fusions():
    x = np.random.default_rng(1).standard_normal((2, 1, 8, 8)).astype(np.float32)
    net = nn.Sequential(nn.Conv2d(1, 3, 3, rng=0), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2, stride=1))
    np.testing.assert_array_equal(net(x).data, by_hand(list(net), cr.tensor(x)).data)
    assert ops(net(x))[-1] == "max_pool_relu"
    cnn = nn.CNN((1, 8, 8), 3, "c4-m2-c4", rng=0)
    assert ops(cnn(x)) == ["conv", "max_pool_relu", "conv_relu", "reshape", "linear"]
