"""Fused ops: several primitives in one Function with its own backward, where that is faster.

Each is gradient-checked like a primitive and gives the values of its unfused form. The
validation of their arguments happens in the functional forms that call them (``api.py`` for
``linear_relu``, ``nn.functional`` for the losses), so a fused op and its unfused form accept and
reject exactly the same inputs.
"""
from __future__ import annotations

from chainrule.engine.backend import array_module
from chainrule.engine.function import Function
from chainrule.engine.ops import linear_backward, linear_forward, sigmoid_array


class LinearReLU(Function):
    """relu(x Wᵀ + b) as one op: the ReLU runs in place on the product, so no pre-activation
    array is kept, and the graph has one node per layer instead of two."""

    name = "linear_relu"
    grads_into = True

    def forward(self, x, weight, bias=None):
        out = linear_forward(x, weight, bias)
        array_module(out).maximum(out, 0, out=out)
        self.save(x, weight, out)
        return out

    def backward(self, grad, out=None):
        x, weight, result = self.saved
        return linear_backward(x, weight, grad * (result > 0), self.needs, out)


class LogSoftmax(Function):
    """x − log Σ e^x along ``axis`` (shifted by the max); ∂ = g − softmax · Σ g."""

    name = "log_softmax"

    def forward(self, x, axis):
        self.axis = axis
        xp = array_module(x)
        if x.shape[axis] == 0:  # nothing to normalize (the max of an empty axis is undefined)
            out = x.copy()
        else:
            shifted = x - x.max(axis=axis, keepdims=True)
            out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        self.save(out)
        return out

    def backward(self, grad):
        (out,) = self.saved
        return grad - array_module(out).exp(out) * grad.sum(axis=self.axis, keepdims=True)

    def describe(self):
        return f"axis={self.axis}"


class Softmax(Function):
    """e^x / Σ e^x along ``axis`` (shifted by the max); ∂ = s · (g − Σ g·s)."""

    name = "softmax"

    def forward(self, x, axis):
        self.axis = axis
        if x.shape[axis] == 0:
            e = x.copy()
        else:
            e = array_module(x).exp(x - x.max(axis=axis, keepdims=True))
            e /= e.sum(axis=axis, keepdims=True)
        self.save(e)
        return e

    def backward(self, grad):
        (s,) = self.saved
        return s * (grad - (grad * s).sum(axis=self.axis, keepdims=True))

    def describe(self):
        return f"axis={self.axis}"


def _reduce(per_example, reduction):
    """Per-example losses → mean (NaN for none, as a mean of nothing), sum or the array itself,
    and the factor the backward pass scales by."""
    if reduction == "mean":
        n = len(per_example)
        factor = 1.0 / n if n else float("nan")
        return per_example.sum() * factor, factor
    if reduction == "sum":
        return per_example.sum(), 1.0
    return per_example, None


def _scale(grad, reduction, factor):
    return grad[:, None] if reduction == "none" else grad * factor


class SoftmaxCrossEntropy(Function):
    """−log softmax(s)[y] per row from integer labels ``target``; ∂/∂s = softmax(s) − onehot(y)."""

    name = "cross_entropy"

    def forward(self, x, target, reduction):
        xp = array_module(x)
        rows = xp.arange(len(x))
        shifted = x - x.max(axis=1, keepdims=True) if x.size else x
        e = xp.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        per_example = xp.log(total[:, 0]) - shifted[rows, target]
        e /= total
        self.save(e, target, rows)
        self.reduction = reduction
        out, self.factor = _reduce(per_example, reduction)
        return out

    def backward(self, grad):
        probs, target, rows = self.saved
        g = _scale(grad, self.reduction, self.factor)
        out = probs * g
        out[rows, target] -= g if self.reduction != "none" else g[:, 0]
        return out


class MulticlassHinge(Function):
    """Σ_{j≠y} max(0, s_j − s_y + Δ) per row; ∂ = 1(missed) off the label, −(count) on it."""

    name = "multiclass_hinge"

    def forward(self, s, target, margin, reduction):
        xp = array_module(s)
        rows = xp.arange(len(s))
        margins = s - s[rows, target][:, None] + margin
        xp.maximum(margins, 0, out=margins)
        margins[rows, target] = 0
        self.save(margins > 0, target)
        self.reduction = reduction
        out, self.factor = _reduce(margins.sum(axis=1), reduction)
        return out

    def backward(self, grad):
        missed, target = self.saved
        g = _scale(grad, self.reduction, self.factor)
        out = missed * g
        # The correct class's row: −(number of classes that missed the margin).
        count = missed.sum(axis=1)
        out[array_module(out).arange(len(out)), target] = -count * (g if self.reduction != "none" else g[:, 0])
        return out


class BinaryCrossEntropyWithLogits(Function):
    """pw·t·softplus(−x) + (1 − t)·softplus(x), times ``weight``; ∂/∂x = pw·t·(σ − 1) + (1 − t)·σ.

    softplus(±x) = max(±x, 0) + log(1 + e^(−|x|)) never overflows; with pw = 1 the loss is
    max(x, 0) − x·t + log(1 + e^(−|x|)) and the gradient σ(x) − t.
    """

    name = "binary_cross_entropy_with_logits"

    def forward(self, x, target, reduction, pos_weight=None, weight=None):
        xp = array_module(x)
        tail = xp.log1p(xp.exp(-abs(x)))
        if pos_weight is None:
            per = xp.maximum(x, 0) - x * target + tail
        else:
            per = pos_weight * target * (xp.maximum(-x, 0) + tail) + (1 - target) * (xp.maximum(x, 0) + tail)
        if weight is not None:
            per = per * weight
        self.save(x, target)
        self.reduction, self.pos_weight, self.weight = reduction, pos_weight, weight
        if reduction == "mean":
            self.factor = 1.0 / x.size if x.size else float("nan")
            return per.sum() * self.factor
        self.factor = 1.0
        return per.sum() if reduction == "sum" else per

    def backward(self, grad):
        x, target = self.saved
        p = sigmoid_array(x)
        if self.pos_weight is None:
            g = p - target
        else:
            g = self.pos_weight * target * (p - 1) + (1 - target) * p
        if self.weight is not None:
            g = g * self.weight
        return g * (grad * self.factor)
