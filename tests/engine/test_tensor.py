"""Tensor: creation, dtypes, Python numbers on either side, backward semantics, bad input."""
import gc
import math
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.engine import ops


def leaf(v):
    return cr.tensor(v, requires_grad=True)


# ---------------------------------------------------------------- the lecture's numbers
def test_lecture_circuit_x_plus_y_times_z():
    x, y, z = leaf(-2.0), leaf(5.0), leaf(-4.0)
    q = x + y
    f = q * z
    f.backward()
    assert f.item() == -12.0
    assert (x.grad, y.grad, z.grad) == (-4.0, -4.0, 3.0)
    assert q.grad == -4.0  # ∂f/∂q = z: every node holds its gradient after backward


def _sigmoid_inputs():
    return [leaf(v) for v in (2.0, -3.0, -3.0)], [leaf(v) for v in (-1.0, -2.0)]


def test_lecture_sigmoid_circuit_from_gates():
    (w0, w1, w2), (x0, x1) = _sigmoid_inputs()
    dot = w0 * x0 + w1 * x1 + w2
    f = 1 / (1 + (dot * -1).exp())  # the ·(−1), exp, +1 and 1/x gates
    f.backward()
    assert [n._op for n in cr.trace(f).nodes if n._op][-4:] == ["mul", "exp", "add", "reciprocal"]
    assert round(f.item(), 2) == 0.73
    np.testing.assert_allclose([w0.grad, w1.grad, w2.grad], [-0.20, -0.39, 0.20], atol=5e-3)
    np.testing.assert_allclose([x0.grad, x1.grad], [0.39, -0.59], atol=5e-3)


def test_lecture_sigmoid_circuit_with_the_sigmoid_op():
    (w0, w1, w2), (x0, x1) = _sigmoid_inputs()
    f = (w0 * x0 + w1 * x1 + w2).sigmoid()
    f.backward()
    assert round(f.item(), 2) == 0.73
    # dσ/dx = (1 − σ)σ = 0.2 flows back to every input of the dot product.
    np.testing.assert_allclose([w0.grad, w1.grad, w2.grad], [-0.20, -0.39, 0.20], atol=5e-3)
    np.testing.assert_allclose([x0.grad, x1.grad], [0.39, -0.59], atol=5e-3)


def test_lecture_sigmoid_circuit_on_arrays():
    w = cr.tensor([2.0, -3.0, -3.0], requires_grad=True)
    x = cr.tensor([-1.0, -2.0], requires_grad=True)
    f = (w[:2] @ x + w[2]).sigmoid()
    f.backward()
    np.testing.assert_allclose(w.grad, [-0.1966, -0.3932, 0.1966], atol=1e-4)
    np.testing.assert_allclose(x.grad, [0.3932, -0.5898], atol=1e-4)


# ---------------------------------------------------------------- creation and dtypes
def test_float_data_defaults_to_float32_and_float64_is_kept_when_asked():
    assert cr.tensor([1.0, 2.0]).dtype == np.float32
    assert cr.tensor(np.zeros(3)).dtype == np.float32
    assert cr.tensor(np.zeros(3), dtype="float64").dtype == np.float64
    assert cr.tensor([1, 2]).dtype == np.int64
    assert cr.tensor([True]).dtype == bool
    a = cr.tensor([1.0], dtype=np.float64)
    assert (a * 2).dtype == np.float64 and (a + a).exp().dtype == np.float64


def test_python_numbers_on_either_side_keep_float32():
    t = cr.tensor([1.0, 2.0, 4.0])
    for result, expected in [
        (2 * t, [2, 4, 8]), (t * 2, [2, 4, 8]), (1 - t, [0, -1, -3]), (t - 1, [0, 1, 3]),
        (t / 4, [0.25, 0.5, 1]), (4 / t, [4, 2, 1]), (t**2, [1, 4, 16]), (2**t, [2, 4, 16]),
        (1 + t, [2, 3, 5]), (-t, [-1, -2, -4]),
    ]:
        assert result.dtype == np.float32
        np.testing.assert_allclose(result.data, expected, rtol=1e-6)


def test_numpy_array_on_the_left_defers_to_the_tensor():
    t = cr.tensor([1.0, 2.0], requires_grad=True)
    out = np.array([3.0, 4.0]) * t
    assert isinstance(out, cr.Tensor)
    out.sum().backward()
    np.testing.assert_allclose(t.grad, [3.0, 4.0])


def test_creation_functions_are_seeded():
    np.testing.assert_array_equal(cr.randn(3, 2, rng=7).data, cr.randn((3, 2), rng=7).data)
    assert not np.array_equal(cr.randn(4, rng=1).data, cr.randn(4, rng=2).data)
    g = np.random.default_rng(3)
    first = cr.rand(5, rng=g).data
    assert np.all((first >= 0) & (first < 1)) and not np.array_equal(first, cr.rand(5, rng=g).data)
    assert cr.zeros(2, 3).shape == (2, 3) and cr.ones(4).data.sum() == 4
    assert cr.full((2, 2), 7.0).data.tolist() == [[7, 7], [7, 7]]
    assert cr.arange(4).data.tolist() == [0, 1, 2, 3]
    like = cr.tensor(np.zeros((2, 2)), dtype="float64")
    assert cr.zeros_like(like).dtype == np.float64 and cr.ones_like(like).data.sum() == 4
    assert cr.full_like(like, 2).data.sum() == 8
    assert cr.randn_like(like, rng=0).shape == (2, 2) and cr.rand_like(like, rng=0).shape == (2, 2)


def test_tensor_copies_but_constructor_shares():
    a = np.ones(3, dtype=np.float32)
    assert cr.Tensor(a).data is a
    b = cr.tensor(a)
    a[0] = 5
    assert b.data[0] == 1


def test_properties_and_conversions():
    t = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, name="w")
    assert (t.shape, t.ndim, t.size, len(t)) == ((2, 2), 2, 4, 2)
    assert t.T.data.tolist() == [[1, 3], [2, 4]]
    assert isinstance(t.numpy(), np.ndarray) and t.tolist() == [[1, 2], [3, 4]]
    d = t.detach()
    assert not d.requires_grad and d.data is t.data
    assert cr.tensor(3.5).item() == 3.5 and float(cr.tensor(2.0)) == 2.0
    assert repr(t) == "tensor([[1., 2.],\n        [3., 4.]], requires_grad=True, name='w')"
    assert repr(t * 2).endswith("op=mul)")
    assert "dtype=float64" in repr(cr.tensor(1.0, dtype="float64"))


# ---------------------------------------------------------------- backward semantics
def test_gradients_accumulate_when_a_node_is_used_twice():
    x = leaf(3.0)
    (x * x + x).backward()
    assert x.grad == 7.0  # d(x² + x)/dx = 2x + 1


def test_leaf_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [6.0, 6.0])


def test_backward_on_a_non_scalar_needs_a_gradient_and_names_the_shape():
    y = leaf([[1.0, 2.0, 3.0]]) * 2
    with pytest.raises(ValueError, match=r"shape \(1, 3\)"):
        y.backward()
    y.backward(np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"\(2,\).*\(1, 3\)"):
        (leaf([[1.0, 2.0, 3.0]]) * 2).backward(np.ones(2))


def test_second_backward_through_a_freed_graph_is_an_error():
    x = leaf(2.0)
    y = (x * x).exp()
    y.backward()
    with pytest.raises(cr.GraphFreedError, match="retain_graph=True") as info:
        y.backward()
    assert isinstance(info.value, ValueError) and isinstance(info.value, RuntimeError)


def test_retain_graph_allows_a_second_backward():
    x = leaf(2.0)
    y = x * x
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad == 8.0


def test_a_freed_graph_can_still_be_traced():
    x = leaf(2.0)
    y = x * 3
    y.backward()
    assert [n._op for n in cr.trace(y).nodes] == [None, None, "mul"]


def test_no_grad_as_context_manager_and_decorator():
    x = leaf(1.0)
    with cr.no_grad():
        assert not cr.is_grad_enabled()
        y = x * 2
        with cr.enable_grad():
            assert (x * 2).requires_grad
    assert cr.is_grad_enabled() and not y.requires_grad and y._ctx is None

    @cr.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad and cr.is_grad_enabled()


def test_backward_needs_a_tensor_that_requires_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.tensor(1.0).backward()


def test_gradient_dtype_matches_the_input():
    x = leaf(np.ones(3, dtype=np.float32))
    y = cr.tensor(np.ones(3), dtype="float64")
    (x * y).sum().backward()
    assert x.grad.dtype == np.float32


def test_leaf_grad_of_a_broadcast_is_a_real_writable_array():
    x = leaf(np.zeros((2, 3)))
    x.sum().backward()
    assert x.grad.flags.writeable and 0 not in x.grad.strides


def test_a_chain_of_a_million_ops_back_propagates():
    x = leaf(0.0)
    y = x
    for _ in range(1_000_000):
        y = y + 1.0
    y.backward()
    assert y.item() == 1_000_000.0 and x.grad == 1.0
    del y
    gc.collect()


def test_backward_frees_saved_arrays():
    x = leaf(np.ones(1000))
    y = x.exp()
    ctx = y._ctx
    assert ctx.saved
    y.sum().backward()
    assert not isinstance(ctx.saved, tuple)


def test_custom_function_extends_the_engine():
    class Cube(cr.Function):
        name = "cube"

        def forward(self, x):
            self.save(x)
            return x**3

        def backward(self, grad):
            (x,) = self.saved
            return 3 * x**2 * grad

    x = cr.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    assert cr.gradcheck(lambda t: Cube.apply(t), [x])
    assert Cube.apply(x)._op == "cube"


def test_an_op_returning_a_wrong_shape_gradient_is_caught():
    class Bad(cr.Function):
        def forward(self, x):
            return x.sum()

        def backward(self, grad):
            return np.ones(7)

    with pytest.raises(ValueError, match=r"\(7,\).*\(3,\)"):
        Bad.apply(leaf([1.0, 2.0, 3.0])).backward()


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("bad", ["abc", ["1", "2"], {"a": 1}, None, object()])
def test_non_numeric_data_is_a_type_error_naming_the_value(bad):
    with pytest.raises(TypeError, match="numeric"):
        cr.tensor(bad)


def test_ragged_data_is_a_value_error():
    with pytest.raises(ValueError, match="ragged"):
        cr.tensor([[1.0, 2.0], [3.0]])


def test_shapes_that_cannot_broadcast_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(2,3\).*\(4,\)|\(2, ?3\).*\(4,?\)"):
        cr.ones(2, 3) + cr.ones(4)


def test_shapes_that_cannot_multiply_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\)"):
        cr.ones(2, 3) @ cr.ones(4, 5)
    with pytest.raises(ValueError, match="matmul needs operands with at least 1 dimension; got a 0-d tensor"):
        cr.tensor(2.0) @ cr.ones(3)


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="int64"):
        cr.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(TypeError, match="int64"):
        cr.arange(3).requires_grad_()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: cr.ones(2, 3).reshape(4, 2), r"shape \(2, 3\).*\(4, 2\)"),
        (lambda: cr.ones(2, 3).sum(axis=2), "axis 2 is out of range"),
        (lambda: cr.ones(2, 3).transpose(0, 0), r"axes \(0, 0\) are not a permutation of the 2 axes"),
        (lambda: cr.ones(2) ** "2", "exponent"),
        (lambda: cr.ones(2)[5], r"index 5 is invalid for a tensor of shape \(2,\)"),
        (lambda: cr.concatenate([cr.ones(2, 3), cr.ones(3, 3)], axis=1), r"\(2, 3\) and \(3, 3\)"),
        (lambda: cr.stack([cr.ones(2), cr.ones(3)]), r"\(2,\) and \(3,\)"),
        (lambda: cr.where(cr.ones(2), cr.ones(2), cr.ones(2)), "where\\(\\) needs a boolean condition; got dtype float32"),
        (lambda: cr.ones(3).item(), r"shape \(3,\)"),
        (lambda: cr.zeros(-1), "shape entries must be non-negative integers; got -1"),
        (lambda: cr.tensor(1.0, dtype="nope"), "unknown dtype 'nope'"),
        (lambda: cr.randn(2, rng="seed"), "rng must be None, an int seed or a numpy Generator; got 'seed'"),
        (lambda: bool(cr.ones(2)), "ambiguous"),
    ],
)
def test_bad_calls_raise_clear_errors(call, match):
    with pytest.raises((ValueError, TypeError, IndexError), match=match):
        call()


def test_ops_module_has_one_class_per_primitive():
    names = {cls.name for cls in vars(ops).values() if isinstance(cls, type) and issubclass(cls, cr.Function) and cls is not cr.Function}
    assert {"add", "sub", "neg", "mul", "div", "pow", "reciprocal", "exp", "log", "sqrt", "abs", "maximum",
            "minimum", "relu", "sigmoid", "tanh", "matmul", "linear", "sum", "mean", "max", "min",
            "reshape", "transpose", "getitem", "concatenate", "stack", "where", "clip"} <= names
    assert sys.getrecursionlimit() < 1_000_000  # the million-op chain above did not rely on recursion


def test_keep_grads_false_releases_intermediate_gradients_only():
    def run(keep):
        w = cr.tensor([[1.0, -2.0], [0.5, 3.0]], requires_grad=True)
        x = cr.tensor([[2.0, 1.0]])
        h = (x @ w).relu()
        loss = (h * h).sum()
        loss.backward(keep_grads=keep)
        return w.grad, h.grad

    kept_w, kept_h = run(True)
    lean_w, lean_h = run(False)
    np.testing.assert_array_equal(kept_w, lean_w)
    np.testing.assert_array_equal(kept_h, [[5.0, 0.0]])  # 2h where h = relu([2.5, -1])
    assert lean_h is None


# ---------------------------------------------------------------- the defects of issue #12
def t64(a):
    return cr.tensor(a, dtype="float64", requires_grad=True)


def test_x_to_the_power_0_has_gradient_0_at_0_and_nothing_spreads():
    x = t64([0.0, 2.0])
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])
    w = t64([1.0, 3.0])  # an upstream leaf: a NaN would have spread to it
    ((w * 0.0) ** 0 * w).sum().backward()
    np.testing.assert_array_equal(w.grad, [1.0, 1.0])
    y, p = t64([0.0, 2.0]), t64([0.0, 0.0])  # a tensor exponent of 0 too
    (y**p).sum().backward()
    np.testing.assert_array_equal(y.grad, [0.0, 0.0])
    np.testing.assert_array_equal(p.grad, [0.0, np.log(2.0)])


def test_zero_size_tensors_reduce_normalize_flatten_and_average_like_torch():
    assert t64(np.zeros((0, 3))).max(axis=1).shape == (0,)
    assert t64(np.zeros((0, 3))).min(axis=1).shape == (0,)
    with pytest.raises(ValueError, match=r"max\(\) over an axis of length 0"):
        t64(np.zeros((2, 0))).max(axis=1)
    for op in ("softmax", "log_softmax"):
        out = getattr(t64(np.zeros((2, 0))), op)(axis=1)
        assert out.shape == (2, 0)
    assert t64(np.zeros((0, 2, 3))).flatten(1).shape == (0, 6)
    assert np.isnan(t64(np.zeros((0, 3))).mean().item())
    loss = cr.nn.functional.cross_entropy(t64(np.zeros((0, 3))), np.zeros(0, dtype=np.int64))
    assert np.isnan(loss.item())


@pytest.mark.parametrize("fn", [cr.linear, cr.linear_relu])
@pytest.mark.parametrize("lead", [(), (2, 3)], ids=str)
def test_linear_backward_with_zero_input_features(fn, lead):
    x, w, b = t64(np.zeros(lead + (0,))), t64(np.zeros((4, 0))), t64(np.ones(4))
    fn(x, w, b).sum().backward()
    assert x.grad.shape == lead + (0,) and w.grad.shape == (4, 0)
    np.testing.assert_array_equal(b.grad, np.full(4, max(1, int(np.prod(lead))) * (1.0 if fn is cr.linear else 1.0)))


@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "prod", "logsumexp"])
@pytest.mark.parametrize("axis", [0, -1, (0,)])
def test_reductions_of_a_0d_tensor_over_axis_0_or_minus_1_return_the_value(op, axis):
    x = t64(1.5)
    out = getattr(x, op)(axis=axis)
    assert out.shape == () and out.item() == pytest.approx(1.5)
    out.backward()
    assert x.grad.item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="axis 1 is out of range"):
        getattr(x, op)(axis=1)


@pytest.mark.parametrize("make", [lambda p: p.sum(), lambda p: p.mean(), lambda p: p.reshape(1).sum(),
                                  lambda p: p.reshape(()), lambda p: p + p], ids=["sum", "mean", "reshape", "reshape-0d", "add"])
def test_a_leafs_grad_is_writable_so_in_place_clipping_works(make):
    p = t64(2.0)
    make(p).backward()
    before = float(p.grad)
    p.grad *= 0.5
    assert float(p.grad) == before * 0.5


def test_backward_copies_the_callers_gradient_and_leaves_never_share_an_array():
    x = t64([1.0, 2.0])
    g = np.array([3.0, 4.0])
    x.reshape(2).backward(g)
    g[:] = 0.0
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])
    a, b = t64([1.0]), t64([2.0])
    (a + b).sum().backward()
    a.grad *= 10
    np.testing.assert_array_equal(b.grad, [1.0])  # the add gate gave both the same array


def test_sigmoid_is_accurate_in_both_tails():
    x32 = cr.tensor([-20.0, -40.0, 20.0])
    np.testing.assert_allclose(x32.sigmoid().data, [2.0611537e-9, 4.2483543e-18, 1.0], rtol=1e-6)
    x = t64([-40.0, -100.0, -700.0])
    y = x.sigmoid().log()
    np.testing.assert_allclose(y.data, [-40.0, -100.0, -700.0], rtol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 1.0 - np.exp([-40.0, -100.0, -700.0]) / (1 + np.exp([-40.0, -100.0, -700.0])))
    assert cr.nn.functional.logsigmoid(t64(-1000.0)).item() == -1000.0


def test_functional_forms_promote_float64_arrays_like_their_operators():
    a = np.full((2, 2), 1 + 1e-12)  # float64: rounding it to float32 would lose the 1e-12
    x = cr.tensor(np.eye(2), dtype="float64")
    for ours, operator in ((cr.matmul(a, x), a @ x), (cr.maximum(a, x), x.maximum(a)),
                           (cr.linear(a, x), x.__rmatmul__(a).T), (cr.where(np.eye(2) > 0, a, x), a * 0 + a)):
        assert ours.dtype == np.float64 and operator.dtype == np.float64
    np.testing.assert_array_equal(cr.matmul(a, x).data, a)
    np.testing.assert_array_equal(cr.concatenate([a, x]).data[:2], a)
    np.testing.assert_array_equal(cr.stack([a, x]).data[0], a)
    np.testing.assert_array_equal(cr.linear(a, x).data, a @ np.eye(2).T)


def test_linear_relu_accepts_and_rejects_what_linear_does():
    x, w, b = np.ones((2, 3)), cr.ones(4, 3), cr.zeros(4)
    np.testing.assert_array_equal(cr.linear_relu(x, w, b).data, cr.linear(x, w, b).relu().data)
    for bad_bias in (cr.zeros(1, 4), cr.zeros(3)):
        for fn in (cr.linear, cr.linear_relu, cr.nn.functional.linear_relu):
            with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
                fn(x, w, bad_bias)
    for fn in (cr.linear, cr.linear_relu):
        with pytest.raises(ValueError, match=r"input has 2 features \(shape \(2, 2\)\) but the weight expects 3"):
            fn(np.ones((2, 2)), w, b)
        with pytest.raises(ValueError, match=r"weight must be 2-D \(out, in\); got shape \(3,\)"):
            fn(x, cr.ones(3))


# ---------------------------------------------------------------- PyTorch's Tensor methods
def test_shape_methods():
    x = cr.arange(24.0).reshape(2, 3, 4)
    assert x.numel() == 24 and x.dim() == 3
    assert x.view(6, 4).shape == (6, 4) and x.view(-1).shape == (24,)
    assert x[:, :1].squeeze().shape == (2, 4) and x[:, :1].squeeze(dim=1).shape == (2, 4)
    assert x.squeeze(0).shape == (2, 3, 4)  # an axis of length 2 stays, as in PyTorch
    assert x.unsqueeze(0).shape == (1, 2, 3, 4) and x.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert x.expand(5, 2, 3, 4).shape == (5, 2, 3, 4) and x[:1].expand(3, -1, -1).shape == (3, 3, 4)
    np.testing.assert_array_equal(x.repeat(1, 2, 1).data, np.tile(x.data, (1, 2, 1)))
    np.testing.assert_array_equal(x.flip(dims=(0,)).data, x.data[::-1])
    np.testing.assert_array_equal(x[0].t().data, x.data[0].T)
    np.testing.assert_array_equal(x.swapaxes(0, 2).data, np.swapaxes(x.data, 0, 2))
    assert [p.shape for p in x.split(3, dim=2)] == [(2, 3, 3), (2, 3, 1)]
    assert [p.shape for p in x.chunk(2, dim=1)] == [(2, 2, 4), (2, 1, 4)]
    assert x.flatten(0, 1).shape == (6, 4)
    with pytest.raises(ValueError, match=r"expand: cannot broadcast shape \(2, 3, 4\) to \(2, 2, 4\)"):
        x.expand(2, 2, 4)
    with pytest.raises(ValueError, match=r"t\(\) needs at most 2 dimensions"):
        x.t()
    # counts are chainrule.validation's whole numbers: the same wording as everywhere else
    with pytest.raises(ValueError, match=r"^split's split_size must be a whole number >= 1; got 0$"):
        x.split(0, dim=2)
    with pytest.raises(ValueError, match=r"^chunk's chunks must be a whole number >= 1; got -1$"):
        x.chunk(-1)
    with pytest.raises(TypeError, match=r"^chunk's chunks must be a whole number >= 1; got 2.0$"):
        x.chunk(2.0)
    assert [p.shape for p in x.chunk(np.int64(3), dim=1)] == [(2, 1, 4)] * 3
    with pytest.raises(ValueError, match=r"^norm's p must be 'fro', inf or a finite number >= 1; got 0.5$"):
        x.norm(0.5)
    with pytest.raises(TypeError, match=r"^norm's p must be 'fro', inf or a finite number >= 1; got 'l2'$"):
        x.norm("l2")
    assert x.norm("fro").item() == pytest.approx(x.norm(2).item()) and x.norm(math.inf).item() == 23.0


def test_clamp_with_tensor_bounds_routes_the_gradient():
    x, lo, hi = t64([-2.0, 0.5, 3.0]), t64([0.0, 0.0, 0.0]), t64([1.0, 1.0, 1.0])
    out = x.clamp(min=lo, max=hi)
    np.testing.assert_array_equal(out.data, [0.0, 0.5, 1.0])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(lo.grad, [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(hi.grad, [0.0, 0.0, 1.0])


def test_dim_and_keepdim_are_accepted_beside_axis_and_keepdims():
    x = cr.arange(6.0).reshape(2, 3)
    assert x.sum(dim=1, keepdim=True).shape == (2, 1) == x.sum(axis=1, keepdims=True).shape
    assert x.argmax(dim=1).tolist() == [2, 2] and x.argmin(dim=0, keepdim=True).tolist() == [[0, 0, 0]]
    with pytest.raises(TypeError, match="both a NumPy-style and a PyTorch-style"):
        x.sum(axis=0, dim=1)


def test_tensor_exponent_and_masked_fill_and_gather():
    x, y = t64([2.0, 3.0]), t64([3.0, 0.5])
    np.testing.assert_allclose((x**y).data, [8.0, np.sqrt(3.0)])
    np.testing.assert_allclose((2.0**y).data, [8.0, np.sqrt(2.0)])
    m = x.masked_fill(np.array([True, False]), -1.0)
    np.testing.assert_array_equal(m.data, [-1.0, 3.0])
    g = cr.tensor([[1.0, 2.0], [3.0, 4.0]]).gather(1, np.array([[0, 0], [1, 0]]))
    np.testing.assert_array_equal(g.data, [[1.0, 1.0], [4.0, 3.0]])


def test_every_public_tensor_method_and_property_has_a_docstring():
    import inspect

    missing = []
    for name, member in inspect.getmembers(cr.Tensor):
        if name.startswith("_"):
            continue
        doc = inspect.getdoc(member)
        if not doc or doc.startswith("-") or doc == inspect.getdoc(object):
            missing.append(name)
    assert missing == []
