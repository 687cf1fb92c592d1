"""The primitive ops: one small Function each, forward and backward side by side.

``backward`` returns one gradient per tensor input in the *output's* broadcast shape (or
``None`` where ``self.needs`` says the input needs none); the backward pass reduces it to the
input's shape. Ops that can express their derivative through their output save the output.
Array-module functions come from ``array_module`` so the same code runs on NumPy and CuPy.
Elementwise ops carry the :func:`elementwise` decorator, which publishes them to the Tensor
methods, ``nn``'s activations and the expression language (docs/architecture.md, "Adding an op").
"""
from __future__ import annotations

import math

import numpy as np

from chainrule.engine.backend import array_module
from chainrule.engine.function import Function, elementwise


def sigmoid_array(x):
    """σ(x) on an array, accurate in both tails: 1/(1 + e^-x) for x ≥ 0, e^x/(1 + e^x) below.

    Both forms divide by a number in [1, 2], so neither overflows, and the left tail keeps its
    relative accuracy (σ(−40) = 4.2e-18 in float64, σ(−20) = 2.1e-9 in float32).
    """
    xp = array_module(x)
    e = xp.abs(x, out=xp.empty(x.shape, x.dtype))  # row-major, as in ReLU
    xp.negative(e, out=e)
    xp.exp(e, out=e)
    out = xp.where(x >= 0, e.dtype.type(1), e)
    e += 1
    out /= e
    return out


def _erf(x):
    if array_module(x) is np:
        from scipy.special import erf  # scikit-learn's dependency; imported when first needed
    else:
        from cupyx.scipy.special import erf
    return erf(x)


# ====================================================================== unary
class Neg(Function):
    name = "neg"
    symbol = "*-1"

    def forward(self, x):
        return -x

    def backward(self, grad):
        return -grad


class Reciprocal(Function):
    """1/x; d/dx = -1/x² = -out²."""

    name = "reciprocal"
    symbol = "1/x"

    def forward(self, x):
        out = 1.0 / x
        self.save(out)
        return out

    def backward(self, grad):
        (out,) = self.saved
        return -grad * out * out


class Pow(Function):
    """x**p for a number p; d/dx = p·x**(p-1)."""

    name = "pow"
    symbol = "**"

    def forward(self, x, exponent):
        self.exponent = exponent
        self.save(x)
        return x**exponent

    def backward(self, grad):
        (x,) = self.saved
        p = self.exponent
        if p == 2:
            return grad * (2 * x)
        if p == 0:  # x**0 is constant: 0, not 0·x**-1 (NaN at x = 0)
            return array_module(grad).zeros_like(grad)
        return grad * (p * x ** (p - 1))

    def describe(self):
        return f"{self.exponent:g}"


@elementwise()
class Exp(Function):
    """e**x; d/dx = e**x = out."""

    name = "exp"

    def forward(self, x):
        out = array_module(x).exp(x)
        self.save(out)
        return out

    def backward(self, grad):
        (out,) = self.saved
        return grad * out


@elementwise()
class Log(Function):
    """Natural log; d/dx = 1/x."""

    name = "log"

    def forward(self, x):
        self.save(x)
        return array_module(x).log(x)

    def backward(self, grad):
        (x,) = self.saved
        return grad / x


@elementwise(symbol="\u221a")
class Sqrt(Function):
    """√x; d/dx = 1/(2√x) = 0.5/out."""

    name = "sqrt"

    def forward(self, x):
        out = array_module(x).sqrt(x)
        self.save(out)
        return out

    def backward(self, grad):
        (out,) = self.saved
        return grad * 0.5 / out


@elementwise()
class Abs(Function):
    """|x|; d/dx = sign(x), taken as 0 at x = 0."""

    name = "abs"

    def forward(self, x):
        self.save(x)
        return abs(x)

    def backward(self, grad):
        (x,) = self.saved
        return grad * array_module(x).sign(x)


@elementwise(activation="ReLU", init="he")
class ReLU(Function):
    """max(x, 0); d/dx = 1(x > 0), so 0 at x = 0 (the usual convention)."""

    name = "relu"

    def forward(self, x):
        xp = array_module(x)
        # A row-major result even for a column-major matrix (Linear may return one): the
        # gradients that meet it in backward are row-major, and mixed layouts are slow. Images
        # keep their memory order (channels-last after a convolution), so the pooling and the
        # convolution after the ReLU read memory in order (PERFORMANCE_LOG.md, entry 18).
        out = xp.maximum(x, 0, out=xp.empty(x.shape, x.dtype)) if x.ndim <= 2 else xp.maximum(x, 0)
        self.save(out)
        return out

    def backward(self, grad):
        (out,) = self.saved
        return grad * (out > 0)


@elementwise(symbol="\u03c3", activation="Sigmoid")
class Sigmoid(Function):
    """σ(x) = 1/(1+e^-x); dσ/dx = σ(1-σ)."""

    name = "sigmoid"

    def forward(self, x):
        out = sigmoid_array(x)
        self.save(out)
        return out

    def backward(self, grad):
        (out,) = self.saved
        return grad * out * (1 - out)


@elementwise(activation="Tanh")
class Tanh(Function):
    """tanh(x); d/dx = 1 - tanh²."""

    name = "tanh"

    def forward(self, x):
        xp = array_module(x)
        out = xp.tanh(x, out=xp.empty(x.shape, x.dtype))  # row-major, as in ReLU
        self.save(out)
        return out

    def backward(self, grad):
        (out,) = self.saved
        return grad * (1 - out * out)


@elementwise()
class Log1p(Function):
    """log(1 + x), accurate for small x; d/dx = 1/(1 + x)."""

    name = "log1p"

    def forward(self, x):
        self.save(x)
        return array_module(x).log1p(x)

    def backward(self, grad):
        (x,) = self.saved
        return grad / (1 + x)


@elementwise()
class Expm1(Function):
    """e**x − 1, accurate for small x; d/dx = e**x = out + 1."""

    name = "expm1"

    def forward(self, x):
        out = array_module(x).expm1(x)
        self.save(out)
        return out

    def backward(self, grad):
        (out,) = self.saved
        return grad * (out + 1)


@elementwise()
class Sign(Function):
    """sign(x) ∈ {−1, 0, 1}; its derivative is 0 everywhere it exists (taken as 0 at 0)."""

    name = "sign"

    def forward(self, x):
        return array_module(x).sign(x)

    def backward(self, grad):
        return array_module(grad).zeros_like(grad)


@elementwise()
class Sin(Function):
    """sin x; d/dx = cos x."""

    name = "sin"

    def forward(self, x):
        self.save(x)
        return array_module(x).sin(x)

    def backward(self, grad):
        (x,) = self.saved
        return grad * array_module(x).cos(x)


@elementwise()
class Cos(Function):
    """cos x; d/dx = −sin x."""

    name = "cos"

    def forward(self, x):
        self.save(x)
        return array_module(x).cos(x)

    def backward(self, grad):
        (x,) = self.saved
        return -grad * array_module(x).sin(x)


@elementwise()
class Erf(Function):
    """The error function erf x = 2/√π ∫₀ˣ e^(−t²) dt; d/dx = 2/√π · e^(−x²)."""

    name = "erf"

    def forward(self, x):
        self.save(x)
        return _erf(x)

    def backward(self, grad):
        (x,) = self.saved
        return grad * (2 / math.sqrt(math.pi)) * array_module(x).exp(-x * x)


@elementwise(activation="Softplus")
class Softplus(Function):
    """softplus(x) = log(1 + e^(βx))/β, and x itself where βx > threshold (PyTorch's rule).

    Computed as max(x, 0) + log(1 + e^(−|βx|))/β, which never overflows; d/dx = σ(βx).
    """

    name = "softplus"

    def forward(self, x, *, beta=1.0, threshold=20.0):
        xp = array_module(x)
        bx = x * beta
        self.linear = bx > threshold
        self.save(bx)
        out = xp.log1p(xp.exp(-abs(bx))) / beta + xp.maximum(x, 0)
        return xp.where(self.linear, x, out)

    def backward(self, grad):
        (bx,) = self.saved
        return grad * array_module(bx).where(self.linear, 1, sigmoid_array(bx))


class Clip(Function):
    """x limited to [lo, hi]; the gradient passes where lo ≤ x ≤ hi and is 0 outside."""

    name = "clip"

    def forward(self, x, lo, hi):
        self.lo, self.hi = lo, hi
        self.save(x)
        return array_module(x).clip(x, lo, hi)

    def backward(self, grad):
        (x,) = self.saved
        mask = True
        if self.lo is not None:
            mask = x >= self.lo
        if self.hi is not None:
            mask = mask & (x <= self.hi)
        return grad * mask

    def describe(self):
        return f"{self.lo}, {self.hi}"


class Cast(Function):
    """A change of dtype; the gradient is cast back by the backward pass."""

    name = "cast"

    def forward(self, x, dtype):
        self.dtype = dtype
        return x.astype(dtype)

    def backward(self, grad):
        return grad

    def describe(self):
        return str(self.dtype)


# ====================================================================== binary
class Add(Function):
    """x + y; the add gate distributes the gradient unchanged to both inputs."""

    name = "add"
    symbol = "+"

    def forward(self, x, y):
        return x + y

    def backward(self, grad):
        return grad, grad


class Sub(Function):
    name = "sub"
    symbol = "\u2212"

    def forward(self, x, y):
        return x - y

    def backward(self, grad):
        return grad, (-grad if self.needs[1] else None)


class Mul(Function):
    """x·y; the mul gate swaps: ∂/∂x = y, ∂/∂y = x."""

    name = "mul"
    symbol = "*"

    def forward(self, x, y):
        self.save(x, y)
        return x * y

    def backward(self, grad):
        x, y = self.saved
        return (grad * y if self.needs[0] else None), (grad * x if self.needs[1] else None)


class Div(Function):
    """x / y; ∂/∂x = 1/y, ∂/∂y = -x/y²."""

    name = "div"
    symbol = "/"

    def forward(self, x, y):
        self.save(x, y)
        return x / y

    def backward(self, grad):
        x, y = self.saved
        gx = grad / y
        return (gx if self.needs[0] else None), (-gx * x / y if self.needs[1] else None)


class TensorPow(Function):
    """x**y for tensors; ∂/∂x = y·x**(y−1), ∂/∂y = x**y·ln x (0 where x = 0 and y ≥ 0)."""

    name = "pow"
    symbol = "**"

    def forward(self, x, y):
        out = x**y
        self.save(x, y, out)
        return out

    def backward(self, grad):
        x, y, out = self.saved
        xp = array_module(grad)
        gx = gy = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.needs[0]:  # y = 0 gives 0, as for a number exponent
                gx = grad * xp.where(y == 0, 0, y * x ** xp.where(y == 0, 1, y - 1))
            if self.needs[1]:
                gy = grad * xp.where((x == 0) & (y >= 0), 0, out * xp.log(x))
        return gx, gy


@elementwise(symbol="max", expr="max")
class Maximum(Function):
    """Elementwise max; the max gate routes: ∂/∂x = 1(x ≥ y), ∂/∂y = 1(y ≥ x).

    This is the lecture's rule, so at a tie both inputs receive the full gradient.
    """

    name = "maximum"

    def forward(self, x, y):
        self.save(x, y)
        return array_module(x).maximum(x, y)

    def backward(self, grad):
        x, y = self.saved
        return (grad * (x >= y) if self.needs[0] else None), (grad * (y >= x) if self.needs[1] else None)


@elementwise(symbol="min", expr="min")
class Minimum(Function):
    """Elementwise min; ∂/∂x = 1(x ≤ y), ∂/∂y = 1(y ≤ x) (both at a tie, like maximum)."""

    name = "minimum"

    def forward(self, x, y):
        self.save(x, y)
        return array_module(x).minimum(x, y)

    def backward(self, grad):
        x, y = self.saved
        return (grad * (x <= y) if self.needs[0] else None), (grad * (y <= x) if self.needs[1] else None)


class MatMul(Function):
    """x @ y for 1-D, 2-D and batched operands, with NumPy's matmul semantics.

    A 1-D operand is promoted to a row (left) or a column (right) and the added axis is
    dropped from its gradient; batch axes are reduced by the backward pass.
    """

    name = "matmul"
    symbol = "@"

    def forward(self, x, y):
        if x.ndim == 0 or y.ndim == 0:
            raise ValueError("matmul needs operands with at least 1 dimension; got a 0-d tensor (use *)")
        if x.shape[-1] != y.shape[-2 if y.ndim > 1 else 0]:
            raise ValueError(
                f"matmul shapes {x.shape} and {y.shape} do not match: {x.shape[-1]} columns vs "
                f"{y.shape[-2 if y.ndim > 1 else 0]} rows"
            )
        self.save(x, y)
        return x @ y

    def backward(self, grad):
        x, y = self.saved
        xp = array_module(grad)
        g = grad
        if y.ndim == 1:
            g = g[..., None]
        if x.ndim == 1:
            g = xp.expand_dims(g, -2)
        x2 = x[None, :] if x.ndim == 1 else x
        y2 = y[:, None] if y.ndim == 1 else y
        gx = gy = None
        if self.needs[0]:
            gx = g @ xp.swapaxes(y2, -1, -2)
            if x.ndim == 1:
                gx = gx[..., 0, :]
        if self.needs[1]:
            gy = xp.swapaxes(x2, -1, -2) @ g
            if y.ndim == 1:
                gy = gy[..., 0]
        return gx, gy


_TRANSPOSED_ROWS = 256


def linear_forward(x, weight, bias=None):
    """x @ Wᵀ + b on arrays, in the fastest product for the weight's memory layout.

    Shared by :class:`Linear` and the fused ``linear_relu`` (engine/fused.py), so both compute
    the same IEEE operations.
    """
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input has {x.shape[-1] if x.ndim else 'no'} features (shape {x.shape}) but the "
            f"weight expects {weight.shape[1]} (shape {weight.shape})"
        )
    if x.ndim == 2:
        # dot, not @: it reaches BLAS with a fraction of matmul's per-call overhead. The
        # fastest product depends on the weight's memory layout (measured in benchmarks/):
        # nn.Linear keeps W column-major, so Wᵀ is row-major and x·Wᵀ is the plain product;
        # for a row-major W and up to a few hundred rows, (W·xᵀ)ᵀ beats x·Wᵀ.
        dot = array_module(x).dot
        if weight.flags.c_contiguous and x.shape[0] <= _TRANSPOSED_ROWS:
            out = dot(weight, x.T).T
        else:
            out = dot(x, weight.T)
    else:
        out = x @ weight.T
    if bias is not None:
        out += bias
    return out


def linear_backward(x, weight, grad, needs, out=None):
    """The gradients of x @ Wᵀ + b for the inputs that ``needs`` marks (None for the others).

    ``out`` (see ``Function.grads_into``) may give arrays to write the weight's and the bias's
    gradients into: the same products and sums, written there instead of into new arrays.
    """
    xp = array_module(grad)
    gx = gw = gb = None
    if needs[0]:
        if grad.ndim != 2:
            gx = grad @ weight
        elif weight.flags.f_contiguous and grad.shape[0] <= 64:
            gx = xp.dot(weight.T, grad.T).T  # g·W is OpenBLAS's slow case here; (Wᵀ·gᵀ)ᵀ is not
        else:
            gx = xp.dot(grad, weight)
    if x.ndim != 2:  # rows of any leading shape (none for 1-D, zero features included)
        rows = math.prod(x.shape[:-1])
        x, grad = x.reshape(rows, x.shape[-1]), grad.reshape(rows, grad.shape[-1])
    ow, ob = (None, None) if out is None else (out[1], out[2] if len(out) > 2 else None)
    if needs[1]:
        # The gradient in the weight's own layout, so the optimizer's update streams through both.
        fortran = weight.flags.f_contiguous
        a, b = (x.T, grad) if fortran else (grad.T, x)
        into = None if ow is None or not x.dtype == grad.dtype == ow.dtype else ow.T if fortran else ow
        if into is not None and into.flags.c_contiguous:  # what dot can write into
            gw = ow
            xp.dot(a, b, out=into)
        else:
            gw = xp.dot(a, b).T if fortran else xp.dot(a, b)
            if ow is not None:
                ow[...] = gw
                gw = ow
    if len(needs) > 2 and needs[2]:
        gb = grad.sum(axis=0, out=ob if ob is not None and ob.dtype == grad.dtype else None)
        if ob is not None and gb is not ob:
            ob[...] = gb
            gb = ob
    return gx, gw, gb


class Linear(Function):
    """x @ Wᵀ + b fused into one op (W has shape (out, in), as in PyTorch's nn.Linear).

    One op instead of three saves the intermediate array and two graph nodes; the input's
    gradient is skipped when x needs none (a network's first layer).
    """

    name = "linear"
    grads_into = True

    def forward(self, x, weight, bias=None):
        self.save(x, weight)
        return linear_forward(x, weight, bias)

    def backward(self, grad, out=None):
        x, weight = self.saved
        return linear_backward(x, weight, grad, self.needs, out)


# ====================================================================== reduce
def _expand(grad, axis, keepdims):
    """Give a reduced gradient back the reduced axes so it broadcasts against the input."""
    if axis is not None and not keepdims:
        grad = array_module(grad).expand_dims(grad, axis)
    return grad


class Sum(Function):
    name = "sum"
    symbol = "\u03a3"

    def forward(self, x, axis, keepdims):
        self.shape, self.axis, self.keepdims = x.shape, axis, keepdims
        return x.sum(axis=axis, keepdims=keepdims)

    def backward(self, grad):
        g = _expand(grad, self.axis, self.keepdims)
        return array_module(g).broadcast_to(g, self.shape)

    def describe(self):
        return "" if self.axis is None else f"axis={self.axis}"


class Mean(Function):
    name = "mean"

    def forward(self, x, axis, keepdims):
        self.shape, self.axis, self.keepdims = x.shape, axis, keepdims
        self.count = x.size if axis is None else math.prod([x.shape[a] for a in axis])
        # sum·(1/n) rather than ndarray.mean, whose Python-level overhead dominates small arrays.
        return x.sum(axis=axis, keepdims=keepdims) * (1.0 / self.count if self.count else np.nan)

    def backward(self, grad):
        g = _expand(grad, self.axis, self.keepdims) / max(self.count, 1)
        return array_module(g).broadcast_to(g, self.shape)

    def describe(self):
        return "" if self.axis is None else f"axis={self.axis}"


def _check_nonempty(name, x, axis):
    if (x.size == 0 and axis is None) or (axis is not None and any(x.shape[a] == 0 for a in axis)):
        raise ValueError(f"{name}() over an axis of length 0 (tensor of shape {x.shape}, axis={axis})")


class _Extremum(Function):
    """The max or min reduction (``pick``); the gradient is shared equally among tied entries."""

    pick = "max"

    def forward(self, x, axis, keepdims):
        _check_nonempty(self.name, x, axis)
        self.axis, self.keepdims = axis, keepdims
        out = getattr(x, self.pick)(axis=axis, keepdims=keepdims)
        self.save(x, out)
        return out

    def backward(self, grad):
        x, out = self.saved
        mask = x == _expand(out, self.axis, self.keepdims)
        count = mask.sum(axis=self.axis, keepdims=True)
        return mask * (_expand(grad, self.axis, self.keepdims) / count)

    def describe(self):
        return "" if self.axis is None else f"axis={self.axis}"


class Max(_Extremum):
    """Largest entry along ``axis``; the gradient is shared equally among tied maxima."""

    name, pick = "max", "max"


class Min(_Extremum):
    """Smallest entry along ``axis``; the gradient is shared equally among tied minima."""

    name, pick = "min", "min"


class Prod(Function):
    """Product along ``axis``; ∂/∂x_i is the product of the other entries (zeros included).

    The backward pass multiplies running products from both ends rather than dividing the
    product by x_i, so zeros and denormal entries get their exact gradient.
    """

    name = "prod"
    symbol = "\u03a0"

    def forward(self, x, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims
        self.save(x)
        return x.prod(axis=axis, keepdims=keepdims)

    def backward(self, grad):
        (x,) = self.saved
        xp = array_module(grad)
        axes = tuple(range(x.ndim)) if self.axis is None else self.axis
        n = math.prod(x.shape[a] for a in axes)
        if n == 0:
            return xp.zeros(x.shape, grad.dtype)
        perm = [a for a in range(x.ndim) if a not in axes] + list(axes)
        kept = tuple(x.shape[a] for a in perm[:x.ndim - len(axes)])
        rows = x.transpose(perm).reshape(kept + (n,))
        ones = xp.ones(kept + (1,), x.dtype)
        left = xp.cumprod(xp.concatenate([ones, rows[..., :-1]], axis=-1), axis=-1)
        right = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(rows, -1)[..., :-1]], axis=-1), axis=-1), -1)
        others = (left * right).reshape(tuple(x.shape[a] for a in perm)).transpose(np.argsort(perm))
        return _expand(grad, self.axis, self.keepdims) * others

    def describe(self):
        return "" if self.axis is None else f"axis={self.axis}"


class CumSum(Function):
    """Running sums along ``axis``; the gradient is the reversed running sum of the gradient."""

    name = "cumsum"

    def forward(self, x, axis):
        self.axis = axis
        return array_module(x).cumsum(x, axis=axis)

    def backward(self, grad):
        xp = array_module(grad)
        return xp.flip(xp.cumsum(xp.flip(grad, self.axis), axis=self.axis), self.axis)

    def describe(self):
        return f"axis={self.axis}"


class LogSumExp(Function):
    """log Σ e^x along ``axis``, shifted by the max (stable); ∂/∂x = e^(x − out), the softmax."""

    name = "logsumexp"

    def forward(self, x, axis, keepdims):
        xp = array_module(x)
        self.axis, self.keepdims = axis, keepdims
        m = x.max(axis=axis, keepdims=True, initial=-np.inf)  # −inf over an empty axis, as torch
        m = xp.where(xp.isfinite(m), m, 0)
        out = xp.log(xp.exp(x - m).sum(axis=axis, keepdims=True)) + m
        self.save(x, out)
        return out if keepdims else out.squeeze(axis)

    def backward(self, grad):
        x, out = self.saved
        return _expand(grad, self.axis, self.keepdims) * array_module(x).exp(x - out)

    def describe(self):
        return "" if self.axis is None else f"axis={self.axis}"


class Norm(Function):
    """The p-norm (Σ|x|^p)^(1/p) along ``axis`` for a number p ≥ 1; 0 gradient at x = 0."""

    name = "norm"
    symbol = "\u2016x\u2016"

    def forward(self, x, p, axis, keepdims):
        self.p, self.axis, self.keepdims = p, axis, keepdims
        out = (abs(x) ** p).sum(axis=axis, keepdims=True) ** (1.0 / p)
        self.save(x, out)
        return out if keepdims else out.squeeze(axis)

    def backward(self, grad):
        x, out = self.saved
        xp = array_module(x)
        safe = xp.where(out == 0, 1, out)
        scale = x * abs(x) ** (self.p - 2) if self.p != 2 else x
        with np.errstate(invalid="ignore", divide="ignore"):  # |x|^(p−2) at 0 for p < 2
            g = xp.where(out == 0, 0, scale / safe ** (self.p - 1))
        return _expand(grad, self.axis, self.keepdims) * xp.nan_to_num(g, nan=0.0)

    def describe(self):
        return f"p={self.p:g}" + ("" if self.axis is None else f", axis={self.axis}")


# ====================================================================== movement
class Reshape(Function):
    name = "reshape"

    def forward(self, x, shape):
        self.shape = x.shape
        return x.reshape(shape)

    def backward(self, grad):
        return grad.reshape(self.shape)


class Expand(Function):
    """A broadcast of x to a larger shape (a read-only view); the backward pass sums it back."""

    name = "expand"

    def forward(self, x, shape):
        self.shape = shape
        return array_module(x).broadcast_to(x, shape)

    def backward(self, grad):
        return grad

    def describe(self):
        return str(self.shape)


class Transpose(Function):
    name = "transpose"
    symbol = "T"

    def forward(self, x, axes):
        self.axes = axes
        return x.transpose(axes)

    def backward(self, grad):
        return grad.transpose(tuple(np.argsort(self.axes).tolist()))  # ints, not a host array

    def describe(self):
        return str(self.axes)


class GetItem(Function):
    """Basic and integer-array indexing; repeated indices accumulate their gradients."""

    name = "getitem"
    symbol = "[ ]"

    def forward(self, x, index):
        try:
            out = x[index]
        except IndexError as exc:
            raise IndexError(f"index {index!r} is invalid for a tensor of shape {x.shape}: {exc}") from None
        self.shape, self.dtype, self.index = x.shape, x.dtype, index
        self.advanced = _is_advanced(index)
        return out

    def backward(self, grad):
        xp = array_module(grad)
        out = xp.zeros(self.shape, dtype=grad.dtype)
        if self.advanced:
            xp.add.at(out, self.index, grad)
        else:
            out[self.index] = grad
        return out


def _is_advanced(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(not isinstance(i, (int, np.integer, slice, type(None), type(Ellipsis))) for i in items)


class Concatenate(Function):
    name = "concatenate"
    symbol = "concat"

    def forward(self, *xs, axis):
        self.axis = axis
        self.splits = np.cumsum([x.shape[axis] for x in xs])[:-1].tolist()  # ints, not a host array
        return array_module(xs[0]).concatenate(xs, axis=axis)

    def backward(self, grad):
        return tuple(array_module(grad).split(grad, self.splits, axis=self.axis))

    def describe(self):
        return f"axis={self.axis}"


class Stack(Function):
    name = "stack"

    def forward(self, *xs, axis):
        self.axis = axis
        return array_module(xs[0]).stack(xs, axis=axis)

    def backward(self, grad):
        xp = array_module(grad)
        return tuple(xp.take(grad, i, axis=self.axis) for i in range(grad.shape[self.axis]))

    def describe(self):
        return f"axis={self.axis}"


class Where(Function):
    """``x`` where ``condition`` holds, else ``y``; each side gets the gradient where it was chosen."""

    name = "where"

    def forward(self, x, y, condition):
        self.save(condition)
        return array_module(x).where(condition, x, y)

    def backward(self, grad):
        (cond,) = self.saved
        xp = array_module(grad)
        zero = xp.zeros((), dtype=grad.dtype)
        gx = xp.where(cond, grad, zero) if self.needs[0] else None
        gy = xp.where(cond, zero, grad) if self.needs[1] else None
        return gx, gy
