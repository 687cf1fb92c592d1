"""Every primitive op, gradient-checked against centered differences in float64.

Inputs are drawn by Hypothesis, broadcasting pairs included. Entries are kept away from the
points where an op is not differentiable (0 for relu and abs, ties for max/min, the clip bounds).
"""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from strategies import arrays, broadcast_pair, shapes


def t64(a):
    return cr.tensor(a, dtype="float64", requires_grad=True)


def check(fn, *arrays_):
    result = cr.gradcheck(fn, [t64(a) for a in arrays_])
    assert result.ok and result.checked == sum(np.size(a) for a in arrays_)


# ---------------------------------------------------------------- unary
UNARY = {
    "neg": (lambda x: -x, dict()),
    "exp": (lambda x: x.exp(), dict()),
    "log": (lambda x: x.log(), dict(low=0.2)),
    "sqrt": (lambda x: x.sqrt(), dict(low=0.2)),
    "reciprocal": (lambda x: x.reciprocal(), dict(low=0.3)),
    "abs": (lambda x: x.abs(), dict(away_from=0.0)),
    "relu": (lambda x: x.relu(), dict(away_from=0.0)),
    "sigmoid": (lambda x: x.sigmoid(), dict()),
    "tanh": (lambda x: x.tanh(), dict()),
    "pow2": (lambda x: x**2, dict()),
    "pow3": (lambda x: x**3, dict()),
    "pow-1.5": (lambda x: x**-1.5, dict(low=0.3)),
    "pow0.5": (lambda x: x**0.5, dict(low=0.3)),
    "clip": (lambda x: x.clip(-1.0, 1.0), dict()),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_gradients(name, data):
    fn, kw = UNARY[name]
    x = data.draw(arrays(data.draw(shapes), **kw))
    if name == "clip":
        assume(np.all(np.abs(np.abs(x) - 1.0) > 1e-2))
    check(fn, x)


# ---------------------------------------------------------------- binary, broadcasting
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b.abs() + 0.5),  # keep the divisor away from 0
    "maximum": lambda a, b: cr.maximum(a, b),
    "minimum": lambda a, b: cr.minimum(a, b),
    "where": lambda a, b: cr.where(a.data > 0.3, a, b),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(pair=broadcast_pair())
def test_binary_gradients_with_broadcasting(name, pair):
    a, b = pair
    if name in ("maximum", "minimum"):
        assume(np.all(np.abs(a - b) > 1e-2))  # ties are not differentiable
    if name == "div":
        assume(np.all(np.abs(b) > 1e-2))  # |b| has a kink at 0
    check(BINARY[name], a, b)


@given(pair=broadcast_pair())
def test_div_gradient_for_both_operands(pair):
    a, b = pair
    assume(np.all(np.abs(b) > 0.3))
    check(lambda x, y: x / y, a, b)


def test_binary_result_shape_is_numpys_broadcast():
    a, b = cr.ones(4, 1, 3), cr.ones(2, 1)
    assert (a * b).shape == np.broadcast_shapes((4, 1, 3), (2, 1)) == (4, 2, 3)


# ---------------------------------------------------------------- matmul
@st.composite
def matmul_operands(draw):
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    batch = draw(st.sampled_from([(), (2,), (3, 1), (1,)]))
    kind = draw(st.sampled_from(["2d", "1d-left", "1d-right", "1d-both", "batched", "batched-broadcast"]))
    shapes_ = {
        "2d": ((n, k), (k, m)),
        "1d-left": ((k,), (k, m)),
        "1d-right": ((n, k), (k,)),
        "1d-both": ((k,), (k,)),
        "batched": (batch + (n, k), batch + (k, m)),
        "batched-broadcast": ((2,) + (n, k), (k, m)),
    }[kind]
    return draw(arrays(shapes_[0])), draw(arrays(shapes_[1]))


@given(ops_=matmul_operands())
def test_matmul_gradients(ops_):
    a, b = ops_
    np.testing.assert_allclose((t64(a) @ t64(b)).data, a @ b)
    check(lambda x, y: x @ y, a, b)


@given(data=st.data())
def test_linear_gradients(data):
    n, i, o = (data.draw(st.integers(1, 4)) for _ in range(3))
    lead = data.draw(st.sampled_from([(n,), (2, n)]))
    x, w, b = data.draw(arrays(lead + (i,))), data.draw(arrays((o, i))), data.draw(arrays((o,)))
    np.testing.assert_allclose(cr.linear(t64(x), t64(w), t64(b)).data, x @ w.T + b)
    check(lambda x_, w_, b_: cr.linear(x_, w_, b_), x, w, b)
    check(lambda x_, w_: cr.linear(x_, w_), x, w)


# ---------------------------------------------------------------- reductions
axes_for = st.sampled_from([None, 0, -1, (0, -1)])


@pytest.mark.parametrize("op", ["sum", "mean", "max", "min"])
@given(data=st.data())
def test_reduction_gradients(op, data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    if op in ("max", "min"):  # distinct entries 0.1 apart: no ties, no near-ties
        x = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(-40, 40), unique=True)) / 10.0
    else:
        x = data.draw(arrays(shape))
    axis = data.draw(axes_for)
    if isinstance(axis, tuple) and x.ndim == 1:
        axis = 0  # (0, -1) names one axis twice in 1-D
    keepdims = data.draw(st.booleans())
    out = getattr(t64(x), op)(axis=axis, keepdims=keepdims)
    expected = getattr(np, {"max": "amax", "min": "amin"}.get(op, op))(x, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(out.data, expected)
    check(lambda t: getattr(t, op)(axis=axis, keepdims=keepdims), x)


def test_max_shares_the_gradient_among_ties():
    x = cr.tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad, [0, 0.5, 0.5, 0])


# ---------------------------------------------------------------- movement
@given(data=st.data())
def test_reshape_and_transpose_gradients(data):
    x = data.draw(arrays(data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))))
    check(lambda t: t.reshape(-1) * t.reshape(-1).exp(), x)
    perm = data.draw(st.permutations(range(x.ndim)))
    check(lambda t: t.permute(*perm) * 2.0, x)
    check(lambda t: t.T * t.T, x)


@given(data=st.data())
def test_indexing_gradients(data):
    n, k = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 4))
    x = data.draw(arrays((n, k)))
    rows = np.arange(n)
    cols = np.asarray(data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    check(lambda t: t[rows, cols], x)  # each row's correct-class score
    check(lambda t: t[1:, ::2], x)  # basic slicing
    check(lambda t: t[np.array([0, 0, n - 1])], x)  # repeated rows accumulate
    check(lambda t: t[x > 0], x)  # boolean mask


def test_repeated_indices_accumulate():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[np.array([0, 0, 2])].sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 0.0, 1.0])


@given(data=st.data())
def test_concatenate_and_stack_gradients(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3))
    a, b = data.draw(arrays(shape)), data.draw(arrays(shape))
    axis = data.draw(st.integers(0, len(shape) - 1))
    np.testing.assert_allclose(cr.concatenate([t64(a), t64(b)], axis=axis).data, np.concatenate([a, b], axis=axis))
    check(lambda x, y: cr.concatenate([x, y * 2.0], axis=axis), a, b)
    check(lambda x, y: cr.stack([x, y.exp()], axis=axis), a, b)


def test_comparisons_carry_no_gradient():
    x = cr.tensor([1.0, -1.0], requires_grad=True)
    for result in (x > 0, x >= 0, x < 0, x <= 0, x == 1.0, x != 1.0):
        assert result.dtype == bool and not result.requires_grad
    np.testing.assert_array_equal((x > 0).data, [True, False])


def test_lecture_gates_add_distributes_mul_swaps_max_routes():
    x, y = cr.tensor(3.0, requires_grad=True), cr.tensor(-4.0, requires_grad=True)
    (x + y).backward()
    assert (x.grad, y.grad) == (1.0, 1.0)
    x.grad = y.grad = None
    (x * y).backward()
    assert (x.grad, y.grad) == (-4.0, 3.0)
    x.grad = y.grad = None
    cr.maximum(x, y).backward()
    assert (x.grad, y.grad) == (1.0, 0.0)


def test_max_gate_at_a_tie_follows_the_lecture_rule():
    # ∂/∂x = 1(x ≥ y) and ∂/∂y = 1(y ≥ x): at a tie both inputs get the gradient.
    x, y = cr.tensor(2.0, requires_grad=True), cr.tensor(2.0, requires_grad=True)
    cr.maximum(x, y).backward()
    assert (x.grad, y.grad) == (1.0, 1.0)
    a, b = cr.tensor(2.0, requires_grad=True), cr.tensor(2.0, requires_grad=True)
    cr.minimum(a, b).backward()
    assert (a.grad, b.grad) == (1.0, 1.0)


def test_relu_and_abs_have_zero_gradient_at_zero():
    x = cr.tensor([0.0, 0.0], requires_grad=True)
    (x.relu() + x.abs()).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])


def test_sigmoid_is_stable_for_large_inputs():
    x = cr.tensor([-1e4, 0.0, 1e4], requires_grad=True)
    y = x.sigmoid()
    np.testing.assert_allclose(y.data, [0.0, 0.5, 1.0])
    y.sum().backward()
    assert np.all(np.isfinite(x.grad))


@given(x=arrays(st.just((3,))))
def test_cast_gradient(x):
    # float64 → float64 exercises Cast's backward at full precision; float32 → float64 checks
    # that the gradient comes back in the input's dtype.
    check(lambda t: t.astype("float64") * t, x)
    t = cr.tensor(x, requires_grad=True)  # float32
    (t.astype("float64") * 2.0).sum().backward()
    assert t.grad.dtype == np.float32 and np.all(t.grad == 2.0)
