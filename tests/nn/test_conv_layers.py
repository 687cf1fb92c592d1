"""The convolutional layers: Conv1d/Conv2d, pooling, BatchNorm, Flatten/Unflatten, Dropout2d, and
summary()'s counts and output shapes for them."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F


def t64(a, grad=True):
    return cr.tensor(a, dtype="float64", requires_grad=grad)


# ---------------------------------------------------------------- Conv1d / Conv2d
def test_conv2d_has_pytorchs_shapes_and_initialization_bounds():
    layer = nn.Conv2d(6, 8, (3, 5), groups=2, rng=0)
    fan_in = 3 * 3 * 5
    assert layer.weight.shape == (8, 3, 3, 5) and layer.bias.shape == (8,)
    bound = 1 / math.sqrt(fan_in)
    w = layer.weight.numpy()
    # uniform on ±1/√fan_in: inside the bound, and spread over it (not, say, He's normal)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound
    assert np.abs(layer.bias.numpy()).max() <= bound
    assert layer(cr.ones(2, 6, 9, 9)).shape == (2, 8, 7, 5)
    assert nn.Conv2d(6, 8, 3, bias=False).bias is None


def test_conv_layers_are_their_functional_form():
    rng = np.random.default_rng(0)
    layer = nn.Conv2d(2, 3, 3, stride=2, padding=1, dilation=1, rng=1)
    x = rng.standard_normal((2, 2, 7, 7)).astype(np.float32)
    np.testing.assert_array_equal(layer(x).numpy(), cr.conv2d(cr.tensor(x), layer.weight, layer.bias, 2, 1).numpy())
    layer1 = nn.Conv1d(2, 3, 3, padding="same", rng=1)
    x1 = rng.standard_normal((2, 2, 7)).astype(np.float32)
    np.testing.assert_array_equal(layer1(x1).numpy(), cr.conv1d(cr.tensor(x1), layer1.weight, layer1.bias, padding="same").numpy())


def test_conv_layers_are_seeded_and_in_state_dict():
    a, b = nn.Conv2d(1, 4, 3, rng=7), nn.Conv2d(1, 4, 3, rng=7)
    assert np.array_equal(a.weight.numpy(), b.weight.numpy())
    assert list(a.state_dict()) == ["weight", "bias"]
    assert a.get_config()["kernel_size"] == [3, 3]


@pytest.mark.parametrize("make, message", [
    (lambda: nn.Conv2d(4, 6, 3, groups=4), "groups=4 must divide in_channels=4 and out_channels=6"),
    (lambda: nn.Conv2d(0, 6, 3), "in_channels must be an int >= 1"),
    (lambda: nn.Conv2d(1, 6, (3, 0)), "kernel_size must be an int >= 1"),
    (lambda: nn.Conv2d(1, 6, 3, padding="full"), "padding must be an int, a tuple, 'same' or 'valid'"),
    (lambda: nn.Conv2d(1, 6, 3, stride=2, padding="same"), "padding='same' needs stride 1"),
    (lambda: nn.Conv2d(1, 6, 3, padding_mode="reflect"), "padding_mode='zeros'"),
    (lambda: nn.Conv1d(1, 6, (3, 3)), "kernel_size must be an int >= 1 or 1 of them"),
])
def test_conv_constructors_reject_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_conv_layer_rejects_an_input_with_the_wrong_channel_count():
    with pytest.raises(ValueError, match=r"the input has 3 channels .* expects 1"):
        nn.Conv2d(1, 4, 3)(cr.ones(2, 3, 8, 8))


def test_conv_layers_match_torch_with_copied_weights():
    torch = pytest.importorskip("torch")
    ours = nn.Conv2d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2, rng=0)
    theirs = torch.nn.Conv2d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.numpy()))
        theirs.bias.copy_(torch.from_numpy(ours.bias.numpy()))
    x = np.random.default_rng(0).standard_normal((3, 4, 11, 10)).astype(np.float32)
    np.testing.assert_allclose(ours(x).numpy(), theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- pooling, flatten, dropout
def test_pooling_layers():
    x = cr.arange(16.0).reshape(1, 1, 4, 4)
    assert nn.MaxPool2d(2)(x).tolist() == [[[[5.0, 7.0], [13.0, 15.0]]]]
    assert nn.AvgPool2d(2, stride=2)(x).tolist() == [[[[2.5, 4.5], [10.5, 12.5]]]]
    assert nn.MaxPool2d(3, stride=1, padding=1)(x).shape == (1, 1, 4, 4)
    assert nn.AdaptiveAvgPool2d((1, 2))(x).tolist() == [[[[6.5, 8.5]]]]
    assert nn.MaxPool1d(2)(cr.tensor([[[1.0, 4.0, 2.0, 3.0]]])).tolist() == [[[4.0, 3.0]]]
    assert nn.AvgPool1d(2)(cr.tensor([[[1.0, 4.0, 2.0, 3.0]]])).tolist() == [[[2.5, 2.5]]]
    assert nn.AdaptiveAvgPool1d(1)(cr.tensor([[[1.0, 4.0, 2.0, 3.0]]])).tolist() == [[[2.5]]]


def test_flatten_keeps_pytorchs_channel_major_order_and_unflatten_inverts_it():
    x = cr.arange(24.0).reshape(2, 3, 2, 2)
    flat = nn.Flatten()(x)
    assert flat.shape == (2, 12) and flat.tolist()[0] == list(range(12))
    # also after a convolution, whose result is channels-last in memory
    y = cr.conv2d(x, cr.tensor(np.eye(3).reshape(3, 3, 1, 1)))
    assert nn.Flatten()(y).tolist() == flat.tolist()
    assert nn.Unflatten(1, (3, 2, 2))(flat).tolist() == x.tolist()
    with pytest.raises(ValueError, match="has 12 entries, which is not 5 × 2"):
        nn.Unflatten(1, (5, 2))(flat)


def test_dropout2d_zeroes_whole_channels_while_training_only():
    layer = nn.Dropout2d(0.5, rng=0)
    x = cr.ones(8, 16, 3, 3)
    y = layer(x).numpy()
    per_channel = y.reshape(8, 16, 9)
    assert np.all((per_channel == 0).all(axis=2) | (per_channel == 2.0).all(axis=2))
    assert 0.25 < (per_channel[:, :, 0] == 0).mean() < 0.75
    assert np.array_equal(layer.eval()(x).numpy(), x.numpy())
    with pytest.raises(ValueError, match=r"Dropout2d probability must be a finite number in \[0, 1\); got 1.0"):
        nn.Dropout2d(1.0)


# ---------------------------------------------------------------- batch norm
@settings(max_examples=25)
@given(shape=st.sampled_from([(4, 3), (3, 2, 5), (2, 3, 3, 2), (5, 1, 2, 2)]), training=st.booleans(),
       seed=st.integers(0, 1000))
def test_batch_norm_gradients(shape, training, seed):
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal(shape), rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    mean, var = rng.standard_normal(shape[1]), rng.random(shape[1]) + 0.5

    def f(x_, w_, b_):
        return F.batch_norm(x_, mean.copy(), var.copy(), w_, b_, training=training)

    assert cr.gradcheck(f, [t64(x), t64(w), t64(b)]).ok


@settings(max_examples=25)
@given(shape=st.sampled_from([(6, 3), (4, 2, 5), (3, 4, 3, 5)]), training=st.booleans(),
       momentum=st.sampled_from([0.1, 0.5]), seed=st.integers(0, 1000))
def test_batch_norm_matches_torch_values_gradients_and_running_stats(shape, training, momentum, seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal(shape), rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    mean, var = rng.standard_normal(shape[1]), rng.random(shape[1]) + 0.5
    ours = [t64(x), t64(w), t64(b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    m1, v1, m2, v2 = mean.copy(), var.copy(), torch.tensor(mean), torch.tensor(var)
    y = F.batch_norm(ours[0], m1, v1, ours[1], ours[2], training=training, momentum=momentum)
    ty = torch.nn.functional.batch_norm(theirs[0], m2, v2, theirs[1], theirs[2], training=training, momentum=momentum)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(m1, m2.numpy(), rtol=1e-12)
    np.testing.assert_allclose(v1, v2.numpy(), rtol=1e-12)
    g = rng.standard_normal(shape)
    y.backward(g)
    ty.backward(torch.tensor(g))
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a.grad, t.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_batchnorm2d_normalizes_in_training_and_uses_running_stats_in_eval():
    bn = nn.BatchNorm2d(2, momentum=0.5)
    x = cr.randn(16, 2, 3, 3, rng=0) * 3 + 5
    y = bn(x).numpy()
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, atol=1e-3)
    batch_mean = x.numpy().mean(axis=(0, 2, 3))
    np.testing.assert_allclose(bn.running_mean, 0.5 * batch_mean, rtol=1e-5)
    assert int(bn.num_batches_tracked) == 1
    before = bn.running_mean.copy()
    z = bn.eval()(x).numpy()  # eval: the running statistics, which do not move
    np.testing.assert_array_equal(bn.running_mean, before)
    expected = (x.numpy() - before[None, :, None, None]) / np.sqrt(bn.running_var[None, :, None, None] + 1e-5)
    np.testing.assert_allclose(z, expected, rtol=1e-5, atol=1e-5)


def test_batchnorm_running_stats_are_buffers_saved_and_restored_by_state_dict():
    bn = nn.BatchNorm1d(3)
    bn(cr.randn(10, 3, rng=1))
    state = bn.state_dict()
    assert sorted(state) == ["bias", "num_batches_tracked", "running_mean", "running_var", "weight"]
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]  # optimizers never see buffers
    fresh = nn.BatchNorm1d(3)
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(fresh.running_mean, bn.running_mean)
    np.testing.assert_array_equal(fresh.running_var, bn.running_var)
    with pytest.raises(ValueError, match=r"missing keys \['running_var'\]"):
        nn.BatchNorm1d(3).load_state_dict({k: v for k, v in state.items() if k != "running_var"})
    with pytest.raises(ValueError, match=r"'running_mean' has shape \(4,\) in the state_dict but \(3,\)"):
        nn.BatchNorm1d(3).load_state_dict(dict(state, running_mean=np.zeros(4)))


def test_batchnorm_in_a_network_saves_and_loads_through_a_sequential():
    net = nn.Sequential(nn.Conv2d(1, 4, 3, rng=0), nn.BatchNorm2d(4), nn.ReLU())
    net(cr.randn(4, 1, 6, 6, rng=0))
    assert "1.running_mean" in net.state_dict()


def test_batchnorm_matches_torch_module_over_several_steps():
    torch = pytest.importorskip("torch")
    ours, theirs = nn.BatchNorm2d(3, momentum=None), torch.nn.BatchNorm2d(3, momentum=None)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.standard_normal((4, 3, 5, 5)).astype(np.float32)
        ours(x), theirs(torch.from_numpy(x))
    np.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=1e-5)
    assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked) == 3


@pytest.mark.parametrize("call, message", [
    (lambda: nn.BatchNorm2d(3)(cr.ones(2, 4, 2, 2)), r"BatchNorm2d\(3\): the input has 4 channels"),
    (lambda: nn.BatchNorm2d(3)(cr.ones(2, 3)), "expected a 4-d input"),
    (lambda: nn.BatchNorm1d(3)(cr.ones(1, 3)), "more than 1 value per channel when training"),
    (lambda: nn.BatchNorm1d(0), "BatchNorm1d num_features must be a whole number >= 1; got 0"),
    (lambda: F.batch_norm(cr.ones(2, 3), None, None), "needs running_mean and running_var"),
    (lambda: F.batch_norm(cr.ones(2, 3), None, None, training=True, momentum=None),
     r"momentum=None \(a cumulative average\) needs num_batches_tracked"),
])
def test_batchnorm_rejects_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_batch_norm_advances_a_0d_integer_counter_and_refuses_anything_else():
    count = np.zeros((), np.int64)
    mean, var = np.zeros(3, np.float32), np.ones(3, np.float32)
    for _ in range(2):
        F.batch_norm(cr.ones(2, 3), mean, var, training=True, momentum=None, num_batches_tracked=count)
    assert int(count) == 2
    for bad in (0, np.zeros(1, np.int64), np.zeros((), np.float32)):
        with pytest.raises(TypeError, match=r"batch_norm's num_batches_tracked must be a 0-d integer array "
                                            r"\(advanced in place\), or None; got"):
            F.batch_norm(cr.ones(2, 3), mean, var, training=True, num_batches_tracked=bad)


# ---------------------------------------------------------------- summary
def test_summary_counts_a_convolution_the_lectures_way_and_shows_output_shapes():
    net = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(32, 64, 3, padding=1, groups=2), nn.BatchNorm2d(64), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 8 * 8, 10))
    s = nn.summary(net, (3, 32, 32))
    rows = {r.name: r for r in s.rows}
    assert (rows["0"].weights, rows["0"].biases) == (32 * 3 * 3 * 3, 32)
    assert (rows["3"].weights, rows["3"].biases) == (64 * 16 * 3 * 3, 64)  # in/groups = 16
    assert rows["0"].output_shape == (32, 32, 32) and rows["2"].output_shape == (32, 16, 16)
    assert rows["7"].output_shape == (4096,) and rows["8"].output_shape == (10,)
    assert rows["0"].neurons == 32 * 32 * 32 and rows["4"].neurons == 0 and rows["1"].neurons == 0
    assert s.parameters == net.num_parameters()
    assert "32×16×16" in str(s)
    without = nn.summary(net)  # no input shape: only the layers with parameters, one neuron per filter
    assert [r.name for r in without.rows] == ["0", "3", "4", "8"] and without.rows[0].neurons == 32


def test_summary_with_an_input_shape_the_model_rejects_names_it():
    with pytest.raises(ValueError, match=r"does not accept inputs of shape \(2, 8, 8\)"):
        nn.summary(nn.Sequential(nn.Conv2d(1, 4, 3)), (2, 8, 8))
