"""Module, Parameter, the layers, MLP and summary."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


def test_lecture_networks_neurons_and_parameters():
    first = nn.summary(nn.MLP(3, [4], 2))
    assert (first.neurons, first.weights, first.biases, first.parameters) == (6, 20, 6, 26)
    second = nn.summary(nn.MLP(3, [4, 4], 1))
    assert (second.neurons, second.weights, second.biases, second.parameters) == (9, 32, 9, 41)
    text = str(second)
    assert text.splitlines()[-1].split() == ["total", "9", "32", "9", "41"]
    assert second.to_dict()["parameters"] == 41


def test_registration_and_dotted_names():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(nn.Linear(2, 3, rng=0), nn.ReLU())
            self.head = nn.Linear(3, 1, rng=1)
            self.shared = self.head  # the same module twice: its parameters appear once
            self.scale = 2.0

        def forward(self, x):
            return self.head(self.encoder(x)) * self.scale

    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["encoder.0.weight", "encoder.0.bias", "head.weight", "head.bias"]
    assert net.num_parameters() == 6 + 3 + 3 + 1
    assert net(cr.ones(4, 2)).shape == (4, 1)
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'missing'"):
        net.missing
    assert net.train() is net and net.eval() is net and not net.encoder[1].training
    assert "(encoder): Sequential(" in repr(net) and "Linear(in_features=2, out_features=3, bias=True)" in repr(net)


def test_assigning_before_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter([1.0])

    with pytest.raises(AttributeError, match="super\\(\\).__init__\\(\\)"):
        Bad()


def test_state_dict_round_trip_and_strict_loading():
    a, b = nn.MLP(3, [5], 2, rng=0), nn.MLP(3, [5], 2, rng=1)
    weight_before = b[0].weight
    b.load_state_dict(a.state_dict())
    assert b[0].weight is weight_before  # loaded in place: optimizers keep their references
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert na == nb and np.array_equal(pa.data, pb.data)
    state = a.state_dict()
    state["0.weight"][:] = 99  # a copy: changing it leaves the model alone
    assert not np.any(a[0].weight.data == 99)
    with pytest.raises(ValueError, match=r"missing keys \['2.bias'\], unexpected keys \['extra'\]"):
        bad = dict(a.state_dict())
        del bad["2.bias"]
        bad["extra"] = np.zeros(1)
        b.load_state_dict(bad)
    keys = b.load_state_dict({"0.bias": np.ones(5, dtype=np.float32)}, strict=False)
    assert "2.weight" in keys.missing_keys and np.all(b[0].bias.data == 1)
    with pytest.raises(ValueError, match=r"'0.weight' has shape \(2, 2\).*\(5, 3\)"):
        b.load_state_dict({**a.state_dict(), "0.weight": np.zeros((2, 2))})


def test_zero_grad_and_backward_through_an_mlp():
    net = nn.MLP(4, [8, 8], 3, rng=0)
    loss = nn.functional.cross_entropy(net(cr.randn(6, 4, rng=1)), np.array([0, 1, 2, 0, 1, 2]))
    loss.backward()
    assert all(p.grad is not None and p.grad.shape == p.shape and p.grad.dtype == np.float32 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_mlp_gradients_match_numerical_ones():
    net = nn.MLP(3, [4], 2, activation="tanh", rng=0)
    for p in net.parameters():
        p.data = p.data.astype(np.float64)
    x = cr.randn(5, 3, rng=2, dtype="float64")
    y = np.array([0, 1, 1, 0, 1])
    nn.functional.cross_entropy(net(x), y).backward()
    for name, p in net.named_parameters():
        numeric = cr.numerical_gradient(lambda _: nn.functional.cross_entropy(net(x), y).item(), p.data)
        np.testing.assert_allclose(p.grad, numeric, rtol=1e-5, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("name, init_std", [("he", np.sqrt(2 / 400)), ("xavier", np.sqrt(2 / 600)), ("small", 0.01)])
def test_initializations_are_seeded_and_scaled(name, init_std):
    a = nn.Linear(400, 200, init=name, rng=3).weight.data
    assert np.array_equal(a, nn.Linear(400, 200, init=name, rng=3).weight.data)
    assert not np.array_equal(a, nn.Linear(400, 200, init=name, rng=4).weight.data)
    assert a.dtype == np.float32 and abs(a.std() - init_std) / init_std < 0.05


def test_mlp_is_seeded():
    assert all(np.array_equal(p.data, q.data) for p, q in zip(nn.MLP(2, [3], 2, rng=5).parameters(), nn.MLP(2, [3], 2, rng=5).parameters()))


def test_activations():
    x = cr.tensor([-1.0, 0.5])
    np.testing.assert_allclose(nn.ReLU()(x).data, [0, 0.5])
    np.testing.assert_allclose(nn.LeakyReLU(0.1)(x).data, [-0.1, 0.5])
    np.testing.assert_allclose(nn.Sigmoid()(x).data, 1 / (1 + np.exp([1.0, -0.5])), rtol=1e-6)
    np.testing.assert_allclose(nn.Tanh()(x).data, np.tanh([-1.0, 0.5]), rtol=1e-6)
    assert nn.Identity()(x) is x


def test_dropout_trains_and_evaluates():
    drop = nn.Dropout(0.5, rng=0)
    x = cr.ones(1000)
    out = drop(x).data
    assert set(np.unique(out)) == {0.0, 2.0} and 400 < (out == 0).sum() < 600
    drop.eval()
    assert drop(x) is x


def test_loss_modules_match_functional():
    s, y = cr.randn(4, 3, rng=0), np.array([0, 2, 1, 1])
    assert nn.CrossEntropyLoss()(s, y).item() == nn.functional.cross_entropy(s, y).item()
    assert nn.MulticlassHingeLoss(margin=2.0)(s, y).item() == nn.functional.multiclass_hinge(s, y, margin=2.0).item()
    assert nn.MSELoss(reduction="sum")(s, np.zeros((4, 3))).item() == pytest.approx(float((s.data ** 2).sum()), rel=1e-6)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: nn.Linear(0, 3), "in_features must be a positive integer; got 0"),
        (lambda: nn.MLP(3, [4, -2], 1), r"got -2"),
        (lambda: nn.MLP(3, [4], 1, activation="swish"), "expected one of"),
        (lambda: nn.Linear(3, 2, init="zeros"), "unknown init 'zeros'"),
        (lambda: nn.Dropout(1.0), "1.0"),
        (lambda: nn.Linear(3, 2)(cr.ones(4, 5)), "5 features"),
        (lambda: nn.summary("net"), "Module"),
    ],
)
def test_layer_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
