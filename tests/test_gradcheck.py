"""gradcheck and numerical_gradient: the limit definition of the derivative, made runnable."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.gradcheck import relative_error


def test_numerical_gradient_of_a_known_function():
    x = np.array([1.0, -2.0, 0.5])
    g = cr.numerical_gradient(lambda a: float(np.sum(a**3)), x)
    np.testing.assert_allclose(g, 3 * x**2, rtol=1e-6)
    np.testing.assert_array_equal(x, [1.0, -2.0, 0.5])  # restored after perturbing


def test_centered_difference_is_more_accurate_than_the_forward_difference():
    f, x, h = np.exp, 1.0, 1e-4
    forward = (f(x + h) - f(x)) / h
    centered = cr.numerical_gradient(lambda a: float(f(a[0])), np.array([x]), eps=h)[0]
    assert abs(centered - np.e) < abs(forward - np.e) / 100


def test_relative_error_definition():
    np.testing.assert_allclose(relative_error([1.0, 0.0, -2.0], [1.1, 0.0, -1.0]), [0.1 / 1.1, 0.0, 0.5])


def test_gradcheck_passes_and_reports_the_worst_entry():
    x = cr.tensor(np.linspace(-1, 1, 6).reshape(2, 3), dtype="float64", requires_grad=True)
    result = cr.gradcheck(lambda t: (t * t.exp()).sum(axis=1), [x])
    assert result.ok and result.checked == 6 and result.max_rel_error < 1e-6
    assert result.input_index == 0 and len(result.element) == 2


def test_gradcheck_catches_a_wrong_backward():
    class WrongSquare(cr.Function):
        def forward(self, x):
            self.save(x)
            return x * x

        def backward(self, grad):
            (x,) = self.saved
            return grad * x  # should be 2x

    x = cr.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    result = cr.gradcheck(lambda t: WrongSquare.apply(t), [x], raise_exception=False)
    assert not result.ok and abs(result.max_rel_error - 0.5) < 1e-6
    assert "FAILED" in str(result) and "analytic" in str(result)
    with pytest.raises(cr.GradcheckError, match="worst relative error 0.5"):
        cr.gradcheck(lambda t: WrongSquare.apply(t), [x])


def test_sparse_spot_check_on_a_large_input():
    x = cr.randn(200, 50, rng=0, dtype="float64", requires_grad=True)
    result = cr.gradcheck(lambda t: (t.tanh() ** 2).sum(), [x], samples=20)
    assert result.ok and result.checked == 20


def test_gradcheck_works_from_float32_inputs_in_float64():
    x = cr.randn(3, rng=1, requires_grad=True)  # float32
    assert cr.gradcheck(lambda t: t.sigmoid(), [x]).max_rel_error < 1e-6


def test_gradcheck_passes_constants_through():
    x = cr.randn(3, rng=1, dtype="float64", requires_grad=True)
    c = np.array([1.0, 2.0, 3.0])
    assert cr.gradcheck(lambda t, k: t * k, [x, c])


def test_gradcheck_bad_input():
    with pytest.raises(ValueError, match="requires_grad=True"):
        cr.gradcheck(lambda t: t, [cr.ones(2)])
    with pytest.raises(TypeError, match="float"):
        cr.gradcheck(lambda t: 3.0, [cr.ones(2, requires_grad=True)])
    with pytest.raises(TypeError, match="floating"):
        cr.numerical_gradient(lambda a: 0.0, np.array([1, 2]))
