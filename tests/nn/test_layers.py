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
        (lambda: nn.Linear(0, 3), "Linear in_features must be a whole number >= 1; got 0"),
        (lambda: nn.Linear(3, 2.0), r"Linear out_features must be a whole number >= 1; got 2\.0"),
        (lambda: nn.MLP(3, [4, -2], 1), r"each hidden layer size \(of \[4, -2\]\) must be a whole number >= 1; got -2"),
        (lambda: nn.MLP(3, None, 1), r"MLP hidden_sizes must be a whole number or a list of them \(\[\] for none\); got None"),
        (lambda: nn.MLP(3, "44", 1), r"MLP hidden_sizes must be .*; got '44'"),
        (lambda: nn.MLP(3, [4], 1, activation="swish"), "activation must be one of elu, gelu, identity, leaky-relu, relu, "
                                                            "sigmoid, silu, softplus, tanh; got 'swish'"),
        (lambda: nn.Linear(3, 2, init="zeros"), "init must be one of glorot, he, kaiming, small, xavier; got 'zeros'"),
        (lambda: nn.Dropout(1.0), r"Dropout probability must be a finite number in \[0, 1\); got 1.0"),
        (lambda: nn.LayerNorm(0), "each of LayerNorm's normalized_shape must be a whole number >= 1; got 0"),
        (lambda: nn.Softplus(1.0, 20.0, 3.0), r"Softplus takes the options \['beta', 'threshold'\]"),
        (lambda: nn.ModuleDict({1: nn.ReLU()}), "keys must be strings"),
        (lambda: nn.utils.clip_grad_value_([], -1.0), "clip_value must be a finite number >= 0; got -1.0"),
        (lambda: nn.Linear(3, 2)(cr.ones(4, 5)), "5 features"),
        (lambda: nn.summary("net"), "Module"),
    ],
)
def test_layer_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# ---------------------------------------------------------------- PyTorch's layers
def test_layer_norm_module_has_affine_parameters_and_normalizes():
    ln = nn.LayerNorm((2, 3))
    assert [n for n, _ in ln.named_parameters()] == ["weight", "bias"] and ln.num_parameters() == 12
    x = cr.randn(4, 2, 3, rng=0, dtype="float64")
    y = ln(x).data.reshape(4, -1)
    np.testing.assert_allclose(y.mean(axis=1), 0, atol=1e-7)
    np.testing.assert_allclose(y.std(axis=1), 1, rtol=1e-4)
    assert nn.LayerNorm(3, elementwise_affine=False).num_parameters() == 0
    assert repr(nn.LayerNorm(3)) == "LayerNorm((3,), eps=1e-05, elementwise_affine=True)"


def test_module_list_and_dict_register_their_modules():
    layers = nn.ModuleList([nn.Linear(2, 2, rng=i) for i in range(2)])
    layers.append(nn.Linear(2, 1, rng=3))
    assert [n for n, _ in layers.named_parameters()][-2:] == ["2.weight", "2.bias"]
    assert len(layers[1:]) == 2 and layers[-1].out_features == 1
    heads = nn.ModuleDict({"a": nn.Linear(2, 1, rng=0)})
    heads["b"] = nn.Tanh()
    assert list(heads.keys()) == ["a", "b"] and "b" in heads and len(heads) == 2
    del heads["a"]
    assert list(heads) == ["b"] and heads.num_parameters() == 0

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(3, 3, rng=0), nn.Linear(3, 2, rng=1)])

        def forward(self, x):
            for block in self.blocks:
                x = block(x).relu()
            return x

    net = Net()
    assert net.num_parameters() == 12 + 8 and net(cr.ones(5, 3)).shape == (5, 2)
    assert set(net.state_dict()) == {"blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "blocks.1.bias"}


@pytest.mark.parametrize("module, fn", [
    (nn.Softplus(2.0), lambda x: nn.functional.softplus(x, beta=2.0)),
    (nn.GELU("tanh"), lambda x: nn.functional.gelu(x, "tanh")),
    (nn.ELU(0.5), lambda x: nn.functional.elu(x, 0.5)),
    (nn.SiLU(), nn.functional.silu),
    (nn.Softmax(dim=0), lambda x: x.softmax(0)),
    (nn.LogSoftmax(), lambda x: x.log_softmax(-1)),
], ids=lambda v: type(v).__name__)
def test_activation_modules_apply_their_functions(module, fn):
    x = cr.randn(3, 4, rng=0)
    np.testing.assert_array_equal(module(x).data, fn(x).data)


def test_mlp_takes_every_registered_activation():
    for name in nn.ACTIVATIONS:
        net = nn.MLP(3, [4], 2, activation=name, rng=0)
        assert net(cr.ones(2, 3)).shape == (2, 2), name
    assert repr(nn.Softplus(beta=2.0)) == "Softplus(beta=2.0)"


@pytest.mark.parametrize("module, fn", [
    (nn.L1Loss(), nn.functional.l1_loss),
    (nn.HuberLoss(delta=0.5), lambda p, t: nn.functional.huber_loss(p, t, delta=0.5)),
    (nn.SmoothL1Loss(beta=0.5), lambda p, t: nn.functional.smooth_l1_loss(p, t, beta=0.5)),
], ids=lambda v: type(v).__name__)
def test_regression_loss_modules(module, fn):
    p, t = cr.randn(4, 2, rng=0), np.zeros((4, 2), np.float32)
    assert module(p, t).item() == fn(p, t).item()


def test_classification_loss_modules_pass_their_options():
    s, y = cr.randn(5, 3, rng=0), np.array([0, 1, 2, 1, 0])
    w = np.array([1.0, 2.0, 0.5], np.float32)
    assert nn.CrossEntropyLoss(weight=w, label_smoothing=0.1)(s, y).item() == \
        nn.functional.cross_entropy(s, y, weight=w, label_smoothing=0.1).item()
    assert nn.CrossEntropyLoss("sum")(s, y).item() == nn.functional.cross_entropy(s, y, reduction="sum").item()
    logp = s.log_softmax(1)
    assert nn.NLLLoss(ignore_index=0)(logp, y).item() == nn.functional.nll_loss(logp, y, ignore_index=0).item()
    probs = s.sigmoid()
    assert nn.BCELoss()(probs, np.ones((5, 3))).item() == nn.functional.binary_cross_entropy(probs, np.ones((5, 3))).item()
    assert nn.BCEWithLogitsLoss(pos_weight=np.full(3, 2.0))(s, np.ones((5, 3))).item() == pytest.approx(
        2 * nn.functional.binary_cross_entropy_with_logits(s, np.ones((5, 3))).item(), rel=1e-6)


def test_clip_grad_norm_scales_every_gradient_by_one_factor():
    a, b = cr.tensor([3.0, 0.0], requires_grad=True), cr.tensor([[0.0, 4.0]], requires_grad=True)
    a.grad, b.grad = np.array([3.0, 0.0], np.float32), np.array([[0.0, 4.0]], np.float32)
    before = a.grad
    total = nn.utils.clip_grad_norm_([a, b], max_norm=1.0)
    assert total.item() == pytest.approx(5.0)
    np.testing.assert_allclose(a.grad, [0.6, 0.0], rtol=1e-5)
    np.testing.assert_allclose(b.grad, [[0.0, 0.8]], rtol=1e-5)
    assert before.tolist() == [3.0, 0.0]  # a new array: gradients may be shared, so never in place
    assert nn.utils.clip_grad_norm_([a, b], max_norm=10.0).item() == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(a.grad, [0.6, 0.0], rtol=1e-5)  # under the limit: unchanged
    assert nn.utils.clip_grad_norm_([a, b], 1.0, norm_type=float("inf")).item() == pytest.approx(0.8, rel=1e-5)
    a.grad = np.array([np.nan, 0.0], np.float32)
    with pytest.raises(RuntimeError, match="total norm of order 2.0 of the gradients is nan"):
        nn.utils.clip_grad_norm_([a], 1.0, error_if_nonfinite=True)


def test_clip_grad_value_clips_each_entry():
    w = cr.tensor([3.0, -4.0, 0.5], requires_grad=True)
    (w * w).sum().backward()
    nn.utils.clip_grad_value_(w, 1.0)
    assert w.grad.tolist() == [1.0, -1.0, 1.0]


@pytest.mark.parametrize("bad, error, match", [
    (None, TypeError, "load_state_dict needs a mapping of parameter names to arrays .*; got NoneType"),
    ({"0.weight": [[1.0, 2.0], [3.0]]}, ValueError, "state_dict entry '0.weight' is not a rectangular array"),
    ({"0.weight": np.full((4, 3), np.nan)}, ValueError, r"state_dict entry '0.weight' has 12 non-finite value\(s\)"),
    ({"0.weight": np.full((4, 3), "a")}, TypeError, "state_dict entry '0.weight' has non-numeric dtype"),
])
def test_load_state_dict_refuses_bad_entries_naming_them_and_changes_nothing(bad, error, match):
    net = nn.MLP(3, [4], 2, rng=0)
    before = {k: v.copy() for k, v in net.state_dict().items()}
    with pytest.raises(error, match=match):
        net.load_state_dict(bad, strict=False)
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
