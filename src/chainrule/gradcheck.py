"""Numerical gradients by centered differences, and gradcheck() against the engine's backward.

The derivative is a limit, df/dx = lim_{h→0} (f(x+h) − f(x)) / h. The centered difference
(f(x+h) − f(x−h)) / 2h makes an error of order h² instead of h, which is why it is used here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chainrule.engine import Tensor, no_grad


class GradcheckError(AssertionError):
    """The analytic and numerical gradients disagree."""


def numerical_gradient(f, x, eps=1e-6, indices=None):
    """Centered-difference gradient of the scalar function ``f`` at the array ``x``.

    ``∂f/∂x_i ≈ (f(x + h·e_i) − f(x − h·e_i)) / 2h`` with h = ``eps``. ``x`` is perturbed in
    place and restored. ``indices`` (an iterable of multi-indices) limits the work to those
    entries; the others are left at 0.

    >>> import numpy as np
    >>> g = numerical_gradient(lambda a: float((a ** 2).sum()), np.array([1.0, -3.0]))
    >>> np.round(g, 6)
    array([ 2., -6.])
    """
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise TypeError(f"numerical_gradient needs a floating array; got dtype {x.dtype}")
    grad = np.zeros(x.shape, dtype=np.float64)
    it = np.ndindex(x.shape) if indices is None else indices
    for idx in it:
        old = x[idx]
        x[idx] = old + eps
        f_plus = float(f(x))
        x[idx] = old - eps
        f_minus = float(f(x))
        x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2 * eps)
    return grad


def relative_error(a, b):
    """Elementwise |a − b| / max(|a|, |b|), taken as 0 where both are 0."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    denom = np.maximum(np.abs(a), np.abs(b))
    diff = np.abs(a - b)
    return np.divide(diff, denom, out=np.zeros_like(diff), where=denom > 0)


@dataclass
class GradcheckResult:
    """What :func:`gradcheck` found: ``ok``, the worst relative error and where it occurred."""

    ok: bool
    max_rel_error: float
    max_abs_error: float
    input_index: int | None
    element: tuple | None
    analytic: float | None
    numerical: float | None
    checked: int

    def __bool__(self):
        return self.ok

    def __str__(self):
        where = "" if self.element is None else (
            f" at input {self.input_index}, element {self.element}: analytic {self.analytic:.6g}, "
            f"numerical {self.numerical:.6g}"
        )
        return (
            f"gradcheck {'passed' if self.ok else 'FAILED'}: {self.checked} entries, worst relative "
            f"error {self.max_rel_error:.3g}{where}"
        )


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, samples=None, seed=0, raise_exception=True):
    """Compare ``fn``'s backward-pass gradients with centered differences, in float64.

    ``fn(*inputs)`` must return a Tensor. A non-scalar output is reduced to the scalar
    ``L = Σ v ⊙ fn(*inputs)`` with a fixed random ``v``, so every vector-Jacobian product the
    backward pass computes is exercised. Each floating tensor input with ``requires_grad=True``
    is checked (copied to float64); other inputs are passed through unchanged. An entry passes
    when ``|analytic − numerical| ≤ atol + rtol·|numerical|`` (PyTorch's defaults).

    Parameters
    ----------
    samples : int, optional
        Check only this many randomly chosen entries of each input (a sparse spot check for
        large arrays) instead of all of them.

    Returns
    -------
    GradcheckResult
        Truthy when every entry passed; it reports the worst relative error
        ``|a − n| / max(|a|, |n|)`` and where it occurred.

    Raises
    ------
    GradcheckError
        When an entry fails and ``raise_exception`` is true.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.randn(3, 4, rng=0, requires_grad=True)
    >>> bool(cr.gradcheck(lambda t: (t.tanh() * t).sum(axis=1), [x]))
    True
    """
    if isinstance(inputs, Tensor):
        inputs = [inputs]
    inputs = list(inputs)
    checked = [
        i for i, t in enumerate(inputs)
        if isinstance(t, Tensor) and t.requires_grad and t.dtype.kind == "f"
    ]
    if not checked:
        raise ValueError("gradcheck needs at least one floating Tensor input with requires_grad=True")
    inputs = [
        Tensor(t.data, dtype=np.float64, requires_grad=True) if i in checked else t
        for i, t in enumerate(inputs)
    ]
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor; it returned {type(out).__name__}")
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(out.shape) if out.ndim else np.array(1.0)
    # A 0-d output is seeded with 1; otherwise the projection v picks a random combination.
    out.backward(v.astype(out.dtype) if out.dtype.kind == "f" else v)

    def scalar(*args):
        with no_grad():
            res = fn(*args)
        return float((np.asarray(res.data, dtype=np.float64) * v).sum())

    worst, worst_key = GradcheckResult(True, 0.0, 0.0, None, None, None, None, 0), None
    for i in checked:
        x = inputs[i]
        analytic = np.zeros(x.shape) if x.grad is None else np.asarray(x.grad, dtype=np.float64)
        if samples is None:
            idx = list(np.ndindex(x.shape))
        else:
            flat = rng.integers(0, max(x.size, 1), size=min(samples, x.size))
            idx = [np.unravel_index(int(k), x.shape) for k in flat]

        def f(arr, i=i):
            return scalar(*[Tensor(arr, dtype=np.float64) if j == i else t for j, t in enumerate(inputs)])

        numeric = numerical_gradient(f, x.data, eps=eps, indices=idx)
        for e in idx:
            a, n = float(analytic[e]), float(numeric[e])
            passed = abs(a - n) <= atol + rtol * abs(n)
            key = (not passed, float(relative_error(a, n)))
            worst.checked += 1
            worst.ok = worst.ok and passed
            if worst_key is None or key > worst_key:
                worst_key = key
                worst.max_rel_error, worst.max_abs_error = key[1], abs(a - n)
                worst.input_index, worst.element = i, tuple(int(k) for k in e)
                worst.analytic, worst.numerical = a, n
    if not worst.ok and raise_exception:
        raise GradcheckError(str(worst))
    return worst
