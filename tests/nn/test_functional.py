"""Losses and activations: values against NumPy formulas, fused gradients against centered differences."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule.nn import functional as F


def t64(a):
    return cr.tensor(a, dtype="float64", requires_grad=True)


@st.composite
def scores_and_labels(draw):
    n, k = draw(st.integers(1, 6)), draw(st.integers(2, 5))
    s = draw(hnp.arrays(np.float64, (n, k), elements=st.floats(-4, 4)))
    y = np.asarray(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)), dtype=np.int64)
    return s, y


def ref_cross_entropy(s, y):
    shifted = s - s.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(y)), y]


def ref_hinge(s, y, delta=1.0):
    margins = np.maximum(0, s - s[np.arange(len(y)), y][:, None] + delta)
    margins[np.arange(len(y)), y] = 0
    return margins.sum(axis=1)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(data=scores_and_labels())
def test_cross_entropy_value_and_gradient(reduction, data):
    s, y = data
    per = ref_cross_entropy(s, y)
    expected = {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]
    np.testing.assert_allclose(F.cross_entropy(t64(s), y, reduction=reduction).data, expected, rtol=1e-10)
    assert cr.gradcheck(lambda t: F.cross_entropy(t, y, reduction=reduction), [t64(s)])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(data=scores_and_labels())
def test_multiclass_hinge_value_and_gradient(reduction, data):
    s, y = data
    margins = s - s[np.arange(len(y)), y][:, None] + 1.0
    margins[np.arange(len(y)), y] = 5.0
    assume(np.all(np.abs(margins) >= 1e-3))  # at a kink the hinge has no derivative
    per = ref_hinge(s, y)
    expected = {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]
    np.testing.assert_allclose(F.multiclass_hinge(t64(s), y, reduction=reduction).data, expected, rtol=1e-10)
    assert cr.gradcheck(lambda t: F.multiclass_hinge(t, y, reduction=reduction), [t64(s)])


def test_multiclass_hinge_gradient_is_the_lectures_formula():
    s = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
    y = np.array([0, 1, 2])
    t = t64(s)
    F.multiclass_hinge(t, y, reduction="sum").backward()
    # Row 0: classes 1 and 2 miss the margin? 5.1-3.2+1 > 0 yes, -1.7-3.2+1 < 0 no → [-1, 1, 0].
    np.testing.assert_array_equal(t.grad, [[-1, 1, 0], [0, 0, 0], [1, 1, -2]])
    np.testing.assert_allclose(ref_hinge(s, y), [2.9, 0.0, 12.9])  # cs231n's cat, car, frog


def test_multiclass_hinge_is_not_divided_by_the_number_of_classes():
    s = cr.zeros(2, 10)
    assert F.multiclass_hinge(s, [0, 1]).item() == pytest.approx(9.0)  # (K − 1)·Δ


@given(s=hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 5)), elements=st.floats(-5, 5)),
       axis=st.sampled_from([0, -1]))
def test_softmax_and_log_softmax(s, axis):
    e = np.exp(s - s.max(axis=axis, keepdims=True))
    ref = e / e.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(F.softmax(t64(s), axis=axis).data, ref, rtol=1e-10)
    np.testing.assert_allclose(F.log_softmax(t64(s), axis=axis).data, np.log(ref), rtol=1e-8, atol=1e-12)
    assert cr.gradcheck(lambda t: F.softmax(t, axis=axis), [t64(s)])
    assert cr.gradcheck(lambda t: F.log_softmax(t, axis=axis), [t64(s)])


def test_losses_are_stable_for_huge_logits():
    s = cr.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], requires_grad=True)
    loss = F.cross_entropy(s, [0, 0])
    loss.backward()
    assert loss.item() == pytest.approx(1e4, rel=1e-6)  # the second row pays 2e4, the first 0
    assert np.all(np.isfinite(s.grad))
    np.testing.assert_allclose(F.softmax(s).data[0], [1, 0, 0])
    b = cr.tensor([1e4, -1e4], requires_grad=True)
    bce = F.binary_cross_entropy_with_logits(b, [0, 1])
    bce.backward()
    assert bce.item() == pytest.approx(1e4) and np.all(np.isfinite(b.grad))


@given(x=hnp.arrays(np.float64, st.integers(1, 6), elements=st.floats(-6, 6)), data=st.data())
def test_binary_losses(x, data):
    t01 = np.asarray(data.draw(st.lists(st.integers(0, 1), min_size=len(x), max_size=len(x))))
    p = 1 / (1 + np.exp(-x))
    ref = -(t01 * np.log(p) + (1 - t01) * np.log(1 - p))
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(t64(x), t01).data, ref.mean(), rtol=1e-9)
    assert cr.gradcheck(lambda t: F.binary_cross_entropy_with_logits(t, t01, reduction="sum"), [t64(x)])
    pm = 2 * t01 - 1
    np.testing.assert_allclose(F.binary_hinge(t64(x), pm).data, np.maximum(0, 1 - pm * x).mean())
    if np.all(np.abs(1 - pm * x) > 1e-3):
        assert cr.gradcheck(lambda t: F.binary_hinge(t, pm), [t64(x)])


def test_mse_is_the_lectures_squared_error():
    pred = t64([[1.0], [2.0], [4.0]])
    y = np.array([[0.0], [2.0], [2.0]])
    assert F.mse(pred, y, reduction="sum").item() == 5.0  # E(w) = Σ (y − f(x))²
    assert F.mse(pred, y).item() == pytest.approx(5.0 / 3)
    assert cr.gradcheck(lambda t: F.mse(t, y, reduction="sum"), [pred])


def test_l2_penalizes_weights_only_by_default():
    net = cr.nn.Linear(2, 2, rng=0)
    net.bias.data[:] = 10.0
    expected = 0.5 * float((net.weight.data.astype(np.float64) ** 2).sum())
    assert F.l2(net, 0.5).item() == pytest.approx(expected, rel=1e-6)
    assert F.l2(net, 0.5, include_bias=True).item() == pytest.approx(expected + 0.5 * 200, rel=1e-6)
    w = t64([[1.0, -2.0]])
    assert F.l2([w], 0.1).item() == pytest.approx(0.5)
    assert cr.gradcheck(lambda t: F.l2([t], 0.1), [w])


def test_leaky_relu():
    x = t64([-2.0, 3.0])
    np.testing.assert_allclose(F.leaky_relu(x, 0.1).data, [-0.2, 3.0])
    assert cr.gradcheck(lambda t: F.leaky_relu(t, 0.1), [x])


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: F.cross_entropy(cr.zeros(2, 3), [0, 3]), ValueError, "label 3 is out of range for 3 classes"),
        (lambda: F.cross_entropy(cr.zeros(2, 3), [0.0, 1.0]), TypeError, "class labels must be integers 0..2"),
        (lambda: F.cross_entropy(cr.zeros(2, 3), [0, 1, 2]), ValueError, r"expected 2 labels"),
        (lambda: F.cross_entropy(cr.zeros(3), [0]), ValueError, r"\(N, classes\)"),
        (lambda: F.multiclass_hinge(cr.zeros(2, 3), [-1, 0]), ValueError, "label -1"),
        (lambda: F.binary_hinge(cr.zeros(2), [0, 1]), ValueError, "not one of"),
        (lambda: F.binary_cross_entropy_with_logits(cr.zeros(2), [2, 1]), ValueError, r"target value 2 is outside \[0, 1\]"),
        (lambda: F.mse(cr.zeros(2, 1), np.zeros(3)), ValueError, r"\(3,\)"),
        (lambda: F.cross_entropy(cr.zeros(2, 3), [0, 1], reduction="avg"), ValueError, "reduction must be one of mean, sum, none; got 'avg'"),
        (lambda: F.mse(cr.zeros(2), np.zeros(2), reduction=None), TypeError, "reduction must be one of mean, sum, none; got None"),
        (lambda: F.get_loss("hinj"), ValueError, "loss must be one of binary-hinge, cross-entropy, hinge, logistic, mse, "
                                                  "softmax, svm; got 'hinj'"),
        (lambda: F.l2([cr.ones(2)], -1.0), ValueError, "the L2 strength lam must be a finite number >= 0; got -1.0"),
        (lambda: F.l1([cr.ones(2)], float("nan")), ValueError, "the L1 strength lam must be a finite number >= 0; got nan"),
        (lambda: F.cross_entropy(cr.zeros(2, 3), [0, 1], weight=[1.0, 2.0]), ValueError, r"weight must have one entry per class, shape \(3,\)"),
        (lambda: F.cross_entropy(cr.zeros(2, 3), np.zeros((2, 2))), ValueError, r"probability targets must have the logits' shape \(2, 3\)"),
        (lambda: F.cross_entropy(cr.zeros(2, 3), [0, 1], label_smoothing=1.5), ValueError,
         r"cross_entropy's label_smoothing must be a finite number in \[0, 1\]; got 1.5"),
        (lambda: F.binary_cross_entropy(cr.tensor([0.5, 1.5]), [0, 1]), ValueError, "probabilities in"),
        (lambda: F.binary_cross_entropy_with_logits(cr.zeros(2, 3), np.ones((2, 3)), pos_weight=np.ones(2)), ValueError,
         r"pos_weight of shape \(2,\) does not broadcast"),
        (lambda: F.nll_loss(cr.zeros(2, 3), [0, 5]), ValueError, "label 5 is out of range for 3 classes"),
        (lambda: F.one_hot([0, 3], 3), ValueError, r"labels must be in 0..2; got 0..3"),
        (lambda: F.one_hot([0.5]), TypeError, "labels must be integers"),
        (lambda: F.layer_norm(cr.zeros(2, 3), 4), ValueError, r"does not end in normalized_shape \(4,\)"),
        (lambda: F.gelu(cr.zeros(2), "fast"), ValueError, "gelu's approximate must be one of none, tanh; got 'fast'"),
        (lambda: F.dropout(cr.zeros(2), 1.5), ValueError, r"dropout probability must be a finite number in \[0, 1\]; got 1.5"),
        (lambda: F.smooth_l1_loss(cr.zeros(2), np.zeros(2), beta=-1), ValueError,
         "smooth_l1_loss's beta must be a finite number >= 0; got -1"),
        (lambda: F.huber_loss(cr.zeros(2), np.zeros(2), delta=0.0), ValueError, "huber_loss's delta must be a finite number > 0; got 0.0"),
    ],
)
def test_loss_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


@given(data=st.data())
def test_fused_linear_relu_matches_linear_then_relu(data):
    n, i, o = (data.draw(st.integers(1, 5)) for _ in range(3))
    elements = st.floats(-3, 3).filter(lambda v: abs(v) > 1e-2)
    x = data.draw(hnp.arrays(np.float64, (n, i), elements=elements))
    w = data.draw(hnp.arrays(np.float64, (o, i), elements=elements))
    b = data.draw(hnp.arrays(np.float64, (o,), elements=elements))
    pre = x @ w.T + b
    assume(np.all(np.abs(pre) >= 1e-3) and np.all(np.abs(x @ w.T) >= 1e-3))  # relu's kink, with and without b
    np.testing.assert_allclose(F.linear_relu(t64(x), t64(w), t64(b)).data, np.maximum(pre, 0))
    assert cr.gradcheck(lambda x_, w_, b_: F.linear_relu(x_, w_, b_), [t64(x), t64(w), t64(b)])
    assert cr.gradcheck(lambda x_, w_: F.linear_relu(x_, w_), [t64(x), t64(w)])
    # Column-major weights (nn.Linear's layout) take the other products: same values, same gradients.
    wf = cr.Tensor(np.asfortranarray(w), dtype="float64", requires_grad=True)  # shares, keeps the layout
    assert wf.data.flags.f_contiguous
    assert cr.gradcheck(lambda x_, w_, b_: F.linear_relu(x_, w_, b_), [t64(x), wf, t64(b)])


def test_mlp_fuses_linear_and_relu_with_identical_results():
    net = cr.nn.MLP(4, [8, 8], 3, rng=0)
    plain = cr.nn.Sequential(*net)  # the same layers, run one by one
    x = cr.randn(6, 4, rng=1)
    y = np.array([0, 1, 2, 0, 1, 2])
    fused_out, plain_out = net(x), plain(x)
    assert [n._op for n in cr.trace(fused_out).nodes if n._op] == ["linear_relu", "linear_relu", "linear"]
    np.testing.assert_allclose(fused_out.data, plain_out.data, rtol=1e-6)
    F.cross_entropy(fused_out, y).backward()
    fused_grads = [p.grad.copy() for p in net.parameters()]
    net.zero_grad()
    F.cross_entropy(plain(x), y).backward()
    for g, p in zip(fused_grads, net.parameters()):
        np.testing.assert_allclose(g, p.grad, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- PyTorch's functional API
ACTIVATION_REFS = {
    "softplus": (F.softplus, lambda x: np.log1p(np.exp(x))),
    "logsigmoid": (F.logsigmoid, lambda x: -np.log1p(np.exp(-x))),
    "elu": (lambda t: F.elu(t, 0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
    "silu": (F.silu, lambda x: x / (1 + np.exp(-x))),
    "gelu": (F.gelu, lambda x: 0.5 * x * (1 + np.vectorize(__import__("math").erf, otypes=[float])(x / np.sqrt(2)))),
    "gelu-tanh": (lambda t: F.gelu(t, "tanh"),
                  lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))),
}


@pytest.mark.parametrize("name", sorted(ACTIVATION_REFS))
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=4),
                    elements=st.floats(-5, 5).filter(lambda v: abs(v) > 1e-2)))
def test_new_activations_values_and_gradients(name, x):
    ours, ref = ACTIVATION_REFS[name]
    np.testing.assert_allclose(ours(t64(x)).data, ref(x), rtol=1e-10, atol=1e-12)
    assert cr.gradcheck(lambda t: ours(t), [t64(x)])


def ref_log_softmax(s):
    shifted = s - s.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(data=scores_and_labels(), smoothing=st.sampled_from([0.0, 0.25]), ignore=st.sampled_from([-100, 0]),
       weighted=st.booleans())
def test_cross_entropy_options_value_and_gradient(reduction, data, smoothing, ignore, weighted):
    s, y = data
    k = s.shape[1]
    w = np.linspace(0.5, 2.0, k) if weighted else np.ones(k)
    logp, valid = ref_log_softmax(s), (y != ignore)
    target = (1 - smoothing) * np.eye(k)[y] + smoothing / k
    per = -(target * w * logp).sum(axis=1) * valid
    expected = {"sum": per.sum(), "none": per,
                "mean": per.sum() / (w[y] * valid).sum() if valid.any() else np.nan}[reduction]
    kw = dict(weight=w if weighted else None, ignore_index=ignore, reduction=reduction, label_smoothing=smoothing)
    np.testing.assert_allclose(F.cross_entropy(t64(s), y, **kw).data, expected, rtol=1e-10)
    assume(reduction != "mean" or valid.any())
    assert cr.gradcheck(lambda t: F.cross_entropy(t, y, **kw), [t64(s)])


@given(data=scores_and_labels())
def test_cross_entropy_with_probability_targets_and_nll(data):
    s, y = data
    q = np.exp(ref_log_softmax(s[::-1]))  # some rows of probabilities
    np.testing.assert_allclose(F.cross_entropy(t64(s), q).data, -(q * ref_log_softmax(s)).sum(axis=1).mean(), rtol=1e-10)
    assert cr.gradcheck(lambda t: F.cross_entropy(t, q), [t64(s)])
    # one-hot probabilities are the labels; nll_loss of log_softmax is cross_entropy
    np.testing.assert_allclose(F.cross_entropy(t64(s), np.eye(s.shape[1])[y]).data, F.cross_entropy(t64(s), y).data, rtol=1e-12)
    np.testing.assert_allclose(F.nll_loss(t64(s).log_softmax(1), y).data, F.cross_entropy(t64(s), y).data, rtol=1e-12)
    assert cr.gradcheck(lambda t: F.nll_loss(t, y, weight=np.arange(1.0, s.shape[1] + 1)), [t64(s)])


@given(x=hnp.arrays(np.float64, (4, 3), elements=st.floats(-6, 6)),
       t=hnp.arrays(np.float64, (4, 3), elements=st.floats(0, 1)),
       pw=hnp.arrays(np.float64, (3,), elements=st.floats(0.1, 4)))
def test_bce_with_logits_soft_targets_and_pos_weight(x, t, pw):
    p = 1 / (1 + np.exp(-x))
    ref = -(pw * t * np.log(p) + (1 - t) * np.log(1 - p))
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(t64(x), t, pos_weight=pw).data, ref.mean(), rtol=1e-8)
    assert cr.gradcheck(lambda a: F.binary_cross_entropy_with_logits(a, t, pos_weight=pw, reduction="sum"), [t64(x)])
    probs = np.clip(p, 0.05, 0.95)
    ref = -(t * np.log(probs) + (1 - t) * np.log(1 - probs))
    np.testing.assert_allclose(F.binary_cross_entropy(t64(probs), t).data, ref.mean(), rtol=1e-10)
    assert cr.gradcheck(lambda a: F.binary_cross_entropy(a, t), [t64(probs)])


def test_binary_cross_entropy_clamps_its_logs_at_minus_100():
    assert F.binary_cross_entropy(t64([0.0, 1.0]), [1.0, 0.0], reduction="sum").item() == 200.0


@given(d=hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=4),
                    elements=st.floats(-3, 3).filter(lambda v: abs(abs(v) - 1.0) > 1e-2 and abs(v) > 1e-2)))
def test_regression_losses_values_and_gradients(d):
    y = np.zeros(d.shape)
    refs = {
        "l1": (lambda t: F.l1_loss(t, y, "sum"), np.abs(d).sum()),
        "huber": (lambda t: F.huber_loss(t, y, "sum", delta=1.0), np.where(np.abs(d) < 1, 0.5 * d * d, np.abs(d) - 0.5).sum()),
        "smooth_l1": (lambda t: F.smooth_l1_loss(t, y, "sum", beta=2.0),
                      np.where(np.abs(d) < 2, 0.25 * d * d, np.abs(d) - 1.0).sum()),
        "mse": (lambda t: F.mse_loss(t, y, "sum"), (d * d).sum()),
    }
    for fn, expected in refs.values():
        np.testing.assert_allclose(fn(t64(d)).item(), expected, rtol=1e-12, atol=1e-12)
        assert cr.gradcheck(fn, [t64(d)])


@given(x=hnp.arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(2, 4)), elements=st.floats(-3, 3)))
def test_layer_norm_value_and_gradient(x):
    assume(np.all(x.std(axis=-1) > 0.1))
    w, b = np.linspace(0.5, 1.5, x.shape[1]), np.linspace(-1, 1, x.shape[1])
    ref = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * w + b
    np.testing.assert_allclose(F.layer_norm(t64(x), x.shape[1], w, b).data, ref, rtol=1e-10)
    assert cr.gradcheck(lambda a, w_, b_: F.layer_norm(a, x.shape[1], w_, b_), [t64(x), t64(w), t64(b)])


def test_dropout_and_one_hot():
    x = cr.ones(1000)
    y = F.dropout(x, 0.25, rng=0)
    kept = y.data != 0
    assert 0.7 < kept.mean() < 0.8 and np.all(y.data[kept] == pytest.approx(1 / 0.75))
    assert F.dropout(x, 0.25, training=False) is x and np.all(F.dropout(x, 1.0).data == 0)
    assert F.one_hot(np.array([[1], [0]])).tolist() == [[[0, 1]], [[1, 0]]]
    assert F.one_hot(np.zeros(0, dtype=np.int64), 3).shape == (0, 3)
