"""Losses and activations: values against NumPy formulas, fused gradients against centered differences."""
import numpy as np
import pytest
from hypothesis import given
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
    if np.any(np.abs(margins) < 1e-3):
        return  # at a kink the hinge has no derivative
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
        (lambda: F.cross_entropy(cr.zeros(2, 3), [0.0, 1.0]), TypeError, "integers"),
        (lambda: F.cross_entropy(cr.zeros(2, 3), [0, 1, 2]), ValueError, r"expected 2 labels"),
        (lambda: F.cross_entropy(cr.zeros(3), [0]), ValueError, r"\(N, classes\)"),
        (lambda: F.multiclass_hinge(cr.zeros(2, 3), [-1, 0]), ValueError, "label -1"),
        (lambda: F.binary_hinge(cr.zeros(2), [0, 1]), ValueError, "not one of"),
        (lambda: F.binary_cross_entropy_with_logits(cr.zeros(2), [2, 1]), ValueError, "2"),
        (lambda: F.mse(cr.zeros(2, 1), np.zeros(3)), ValueError, r"\(3,\)"),
        (lambda: F.cross_entropy(cr.zeros(2, 3), [0, 1], reduction="avg"), ValueError, "avg"),
        (lambda: F.get_loss("hinj"), ValueError, "expected one of"),
        (lambda: F.l2([cr.ones(2)], -1.0), ValueError, "-1.0"),
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
    if np.any(np.abs(pre) < 1e-3):
        return  # relu's kink
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
