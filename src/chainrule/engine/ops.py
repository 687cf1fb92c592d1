"""The primitive ops: one small Function each, forward and backward side by side.

``backward`` returns one gradient per tensor input in the *output's* broadcast shape (or
``None`` where ``self.needs`` says the input needs none); the backward pass reduces it to the
input's shape. Ops that can express their derivative through their output save the output.
Array-module functions come from ``array_module`` so the same code runs on NumPy and CuPy.
"""
from __future__ import annotations

import numpy as np

from chainrule.engine.backend import array_module
from chainrule.engine.function import Function


# ====================================================================== unary
class Neg(Function):
    name = "neg"

    def forward(self, x):
        return -x

    def backward(self, grad):
        return -grad


class Reciprocal(Function):
    """1/x; d/dx = -1/x² = -out²."""

    name = "reciprocal"

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

    def forward(self, x, exponent):
        self.exponent = exponent
        self.save(x)
        return x**exponent

    def backward(self, grad):
        (x,) = self.saved
        p = self.exponent
        if p == 2:
            return grad * (2 * x)
        return grad * (p * x ** (p - 1))

    def describe(self):
        return f"{self.exponent:g}"


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


class Log(Function):
    """Natural log; d/dx = 1/x."""

    name = "log"

    def forward(self, x):
        self.save(x)
        return array_module(x).log(x)

    def backward(self, grad):
        (x,) = self.saved
        return grad / x


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


class Abs(Function):
    """|x|; d/dx = sign(x), taken as 0 at x = 0."""

    name = "abs"

    def forward(self, x):
        self.save(x)
        return abs(x)

    def backward(self, grad):
        (x,) = self.saved
        return grad * array_module(x).sign(x)


class ReLU(Function):
    """max(x, 0); d/dx = 1(x > 0), so 0 at x = 0 (the usual convention)."""

    name = "relu"

    def forward(self, x):
        xp = array_module(x)
        # A row-major result even for a column-major input (Linear may return one): the
        # gradients that meet it in backward are row-major, and mixed layouts are slow.
        out = xp.maximum(x, 0, out=xp.empty(x.shape, x.dtype))
        self.save(out)
        return out

    def backward(self, grad):
        (out,) = self.saved
        return grad * (out > 0)


class Sigmoid(Function):
    """σ(x) = 1/(1+e^-x); dσ/dx = σ(1-σ)."""

    name = "sigmoid"

    def forward(self, x):
        # 0.5·tanh(x/2) + 0.5 equals σ(x) and never overflows, unlike 1/(1+exp(-x)).
        xp = array_module(x)
        out = xp.multiply(x, 0.5, out=xp.empty(x.shape, x.dtype))  # row-major, as in ReLU
        xp.tanh(out, out=out)
        out *= 0.5
        out += 0.5
        self.save(out)
        return out

    def backward(self, grad):
        (out,) = self.saved
        return grad * out * (1 - out)


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

    def forward(self, x, y):
        return x + y

    def backward(self, grad):
        return grad, grad


class Sub(Function):
    name = "sub"

    def forward(self, x, y):
        return x - y

    def backward(self, grad):
        return grad, (-grad if self.needs[1] else None)


class Mul(Function):
    """x·y; the mul gate swaps: ∂/∂x = y, ∂/∂y = x."""

    name = "mul"

    def forward(self, x, y):
        self.save(x, y)
        return x * y

    def backward(self, grad):
        x, y = self.saved
        return (grad * y if self.needs[0] else None), (grad * x if self.needs[1] else None)


class Div(Function):
    """x / y; ∂/∂x = 1/y, ∂/∂y = -x/y²."""

    name = "div"

    def forward(self, x, y):
        self.save(x, y)
        return x / y

    def backward(self, grad):
        x, y = self.saved
        gx = grad / y
        return (gx if self.needs[0] else None), (-gx * x / y if self.needs[1] else None)


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


class Linear(Function):
    """x @ Wᵀ + b fused into one op (W has shape (out, in), as in PyTorch's nn.Linear).

    One op instead of three saves the intermediate array and two graph nodes; the input's
    gradient is skipped when x needs none (a network's first layer).
    """

    name = "linear"

    def forward(self, x, weight, bias=None):
        if x.shape[-1] != weight.shape[1]:
            raise ValueError(
                f"linear: input has {x.shape[-1]} features (shape {x.shape}) but the weight "
                f"expects {weight.shape[1]} (shape {weight.shape})"
            )
        self.save(x, weight)
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

    def backward(self, grad):
        x, weight = self.saved[:2]
        xp = array_module(grad)
        gx = None
        if self.needs[0]:
            if grad.ndim != 2:
                gx = grad @ weight
            elif weight.flags.f_contiguous and grad.shape[0] <= 64:
                gx = xp.dot(weight.T, grad.T).T  # g·W is OpenBLAS's slow case here; (Wᵀ·gᵀ)ᵀ is not
            else:
                gx = xp.dot(grad, weight)
        gw = gb = None
        if self.needs[1]:
            if x.ndim != 2:
                x, grad = x.reshape(-1, x.shape[-1]), grad.reshape(-1, grad.shape[-1])
            # The gradient in the weight's own layout, so the optimizer's update streams through both.
            gw = xp.dot(x.T, grad).T if weight.flags.f_contiguous else xp.dot(grad.T, x)
        if len(self.needs) > 2 and self.needs[2]:
            gb = grad.sum(axis=0) if grad.ndim == 2 else grad.sum(axis=tuple(range(grad.ndim - 1)))
        return gx, gw, gb


# ====================================================================== reduce
def _expand(grad, shape, axis, keepdims):
    """Give a reduced gradient back the reduced axes so it broadcasts against the input."""
    if axis is not None and not keepdims:
        grad = array_module(grad).expand_dims(grad, axis)
    return grad


class Sum(Function):
    name = "sum"

    def forward(self, x, axis, keepdims):
        self.shape, self.axis, self.keepdims = x.shape, axis, keepdims
        return x.sum(axis=axis, keepdims=keepdims)

    def backward(self, grad):
        g = _expand(grad, self.shape, self.axis, self.keepdims)
        return array_module(g).broadcast_to(g, self.shape)

    def describe(self):
        return "" if self.axis is None else f"axis={self.axis}"


class Mean(Function):
    name = "mean"

    def forward(self, x, axis, keepdims):
        self.shape, self.axis, self.keepdims = x.shape, axis, keepdims
        self.count = x.size if axis is None else int(np.prod([x.shape[a] for a in axis]))
        # sum·(1/n) rather than ndarray.mean, whose Python-level overhead dominates small arrays.
        return x.sum(axis=axis, keepdims=keepdims) * (1.0 / self.count if self.count else np.nan)

    def backward(self, grad):
        g = _expand(grad, self.shape, self.axis, self.keepdims) / self.count
        return array_module(g).broadcast_to(g, self.shape)

    def describe(self):
        return "" if self.axis is None else f"axis={self.axis}"


class Max(Function):
    """Largest entry along ``axis``; the gradient is shared equally among tied maxima."""

    name = "max"

    def _reduce(self, x, axis, keepdims):
        return x.max(axis=axis, keepdims=keepdims)

    def forward(self, x, axis, keepdims):
        if x.size == 0:
            raise ValueError(f"{self.name}() of an empty tensor of shape {x.shape}")
        self.axis, self.keepdims = axis, keepdims
        out = self._reduce(x, axis, keepdims)
        self.save(x, out)
        return out

    def backward(self, grad):
        x, out = self.saved
        mask = x == _expand(out, x.shape, self.axis, self.keepdims)
        count = mask.sum(axis=self.axis, keepdims=True)
        return mask * (_expand(grad, x.shape, self.axis, self.keepdims) / count)

    def describe(self):
        return "" if self.axis is None else f"axis={self.axis}"


class Min(Max):
    """Smallest entry along ``axis``; the gradient is shared equally among tied minima."""

    name = "min"

    def _reduce(self, x, axis, keepdims):
        return x.min(axis=axis, keepdims=keepdims)


# ====================================================================== movement
class Reshape(Function):
    name = "reshape"

    def forward(self, x, shape):
        self.shape = x.shape
        return x.reshape(shape)

    def backward(self, grad):
        return grad.reshape(self.shape)


class Transpose(Function):
    name = "transpose"

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
