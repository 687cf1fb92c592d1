"""Activations and losses built on the engine's ops.

Softmax, log-softmax, softmax cross-entropy, the multiclass hinge and binary cross-entropy are
fused: each is one Function with its own stable backward (fewer graph nodes, no overflow for
logits of ±1e4), gradient-checked like every primitive. The rest compose engine ops.
"""
from __future__ import annotations

import numpy as np

from chainrule.engine import Function, Tensor, ops, where
from chainrule.engine.conv import (  # noqa: F401  (re-exported: cr.nn.functional.conv2d, …)
    adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d, avg_pool2d, conv1d, conv2d, conv2d_relu,
    max_pool1d, max_pool2d, pad,
)
from chainrule.nn.normalization import batch_norm  # noqa: F401
from chainrule.engine.backend import array_module

REDUCTIONS = ("mean", "sum", "none")


# ====================================================================== activations
def relu(x: Tensor) -> Tensor:
    """max(x, 0)."""
    return x.relu()


def sigmoid(x: Tensor) -> Tensor:
    """σ(x) = 1 / (1 + e^-x)."""
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    """tanh(x), the zero-centred squashing activation."""
    return x.tanh()


def identity(x: Tensor) -> Tensor:
    """x unchanged (a linear 'activation')."""
    return x


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, negative_slope·x otherwise."""
    return where(x.data > 0, x, x * negative_slope)


class _LinearReLU(ops.Linear):
    """relu(x Wᵀ + b) as one op: the ReLU runs in place on the product, so no pre-activation
    array is kept, and the graph has one node per layer instead of two."""

    name = "linear_relu"

    def forward(self, x, weight, bias=None):
        out = super().forward(x, weight, bias)
        array_module(out).maximum(out, 0, out=out)
        self.saved += (out,)
        return out

    def backward(self, grad):
        return super().backward(grad * (self.saved[2] > 0))


def linear_relu(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """relu(x Wᵀ + b), fused: the same values and gradients as ``linear(x, W, b).relu()``.

    ``nn.MLP`` uses it for every Linear layer followed by a ReLU: one graph node and one
    activation array per layer instead of two.

    Examples
    --------
    >>> import chainrule as cr
    >>> x, w, b = cr.ones(1, 2), cr.tensor([[1.0, -2.0], [3.0, 1.0]]), cr.tensor([0.5, 0.0])
    >>> cr.nn.functional.linear_relu(x, w, b).tolist()
    [[0.0, 4.0]]
    """
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return _LinearReLU.apply(*inputs)


class _LogSoftmax(Function):
    name = "log_softmax"

    def forward(self, x, axis):
        self.axis = axis
        shifted = x - x.max(axis=axis, keepdims=True)
        out = shifted - array_module(x).log(array_module(x).exp(shifted).sum(axis=axis, keepdims=True))
        self.save(out)
        return out

    def backward(self, grad):
        (out,) = self.saved
        return grad - array_module(out).exp(out) * grad.sum(axis=self.axis, keepdims=True)


class _Softmax(Function):
    name = "softmax"

    def forward(self, x, axis):
        self.axis = axis
        e = array_module(x).exp(x - x.max(axis=axis, keepdims=True))
        e /= e.sum(axis=axis, keepdims=True)
        self.save(e)
        return e

    def backward(self, grad):
        (s,) = self.saved
        return s * (grad - (grad * s).sum(axis=self.axis, keepdims=True))


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """e^{x_j} / Σ_k e^{x_k} along ``axis``, computed after subtracting the max (stable)."""
    return _Softmax.apply(x, axis=axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """x_j − log Σ_k e^{x_k} along ``axis`` (stable)."""
    return _LogSoftmax.apply(x, axis=axis)


# ====================================================================== losses
def _target_array(target, like):
    """The target as an array in the same array library as ``like`` (labels follow the scores
    to the GPU); Python lists become NumPy arrays first."""
    y = target.data if isinstance(target, Tensor) else target
    if not hasattr(y, "dtype"):
        y = np.asarray(y)
    xp = array_module(like)
    return y if array_module(y) is xp else xp.asarray(y)


def _labels(target, n: int, n_classes: int, what: str, like=None):
    y = _target_array(target, like if like is not None else np.empty(0))
    if y.dtype.kind not in "iu":
        raise TypeError(f"{what}: class labels must be integers 0..{n_classes - 1}; got dtype {y.dtype}")
    if y.shape != (n,):
        raise ValueError(f"{what}: expected {n} labels of shape ({n},) for scores of {n} rows; got shape {y.shape}")
    # One reduction checks both ends: negative labels become huge when viewed as unsigned.
    if n and (y.view(np.uint64 if y.itemsize == 8 else f"u{y.itemsize}").max() >= n_classes if y.dtype.kind == "i" else y.max() >= n_classes):
        bad = y[(y < 0) | (y >= n_classes)][0]
        raise ValueError(f"{what}: label {bad} is out of range for {n_classes} classes (expected 0..{n_classes - 1})")
    return y


def _scores(x, what):
    if not isinstance(x, Tensor):
        raise TypeError(f"{what}: scores must be a Tensor; got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"{what}: scores must have shape (N, classes); got {x.shape}")
    return x


def _reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}; expected one of {list(REDUCTIONS)}")
    return reduction


def _reduce(per_example, reduction):
    """Per-example losses → mean, sum or the array itself (and the factor for the backward)."""
    if reduction == "mean":
        factor = 1.0 / max(len(per_example), 1)
        return per_example.sum() * factor, factor
    if reduction == "sum":
        return per_example.sum(), 1.0
    return per_example, None


def _scale(grad, reduction, factor):
    return grad[:, None] if reduction == "none" else grad * factor


class _SoftmaxCrossEntropy(Function):
    name = "cross_entropy"

    def forward(self, x, target, reduction):
        xp = array_module(x)
        rows = xp.arange(len(x))
        shifted = x - x.max(axis=1, keepdims=True)
        e = xp.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        per_example = xp.log(total[:, 0]) - shifted[rows, target]
        e /= total
        self.save(e, target)
        self.reduction = reduction
        out, self.factor = _reduce(per_example, reduction)
        return out

    def backward(self, grad):
        probs, target = self.saved
        g = _scale(grad, self.reduction, self.factor)
        out = probs * g
        out[array_module(probs).arange(len(probs)), target] -= g if self.reduction != "none" else g[:, 0]
        return out


def cross_entropy(logits: Tensor, target, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy: L_i = −log(e^{s_{y_i}} / Σ_j e^{s_j}), averaged over examples.

    Fused with its gradient ∂L_i/∂s = softmax(s) − onehot(y_i); stable for logits of ±1e4.

    Parameters
    ----------
    logits : Tensor of shape (N, K)
    target : integer array or Tensor of shape (N,), values 0..K−1
    reduction : "mean" (default), "sum" or "none"

    >>> import chainrule as cr
    >>> s = cr.zeros(4, 10)  # equal scores: the loss is ln 10
    >>> round(cr.nn.functional.cross_entropy(s, [0, 1, 2, 3]).item(), 4)
    2.3026
    """
    logits = _scores(logits, "cross_entropy")
    y = _labels(target, logits.shape[0], logits.shape[1], "cross_entropy", logits.data)
    return _SoftmaxCrossEntropy.apply(logits, target=y, reduction=_reduction(reduction))


class _MulticlassHinge(Function):
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


def multiclass_hinge(scores: Tensor, target, margin: float = 1.0, reduction: str = "mean") -> Tensor:
    """The multiclass SVM loss (Weston–Watkins): L_i = Σ_{j≠y_i} max(0, s_j − s_{y_i} + Δ).

    Averaged over examples as in the lecture. Unlike PyTorch's MultiMarginLoss it is *not*
    divided by the number of classes. Gradient: 1(margin_j > 0) on the other rows and
    −(number of classes that missed the margin) on the correct one.

    >>> import chainrule as cr
    >>> s = cr.tensor([[3.2, 5.1, -1.7]])  # cs231n's cat example
    >>> round(cr.nn.functional.multiclass_hinge(s, [0]).item(), 1)
    2.9
    """
    scores = _scores(scores, "multiclass_hinge")
    y = _labels(target, scores.shape[0], scores.shape[1], "multiclass_hinge", scores.data)
    return _MulticlassHinge.apply(scores, target=y, margin=float(margin), reduction=_reduction(reduction))


def _binary_target(target, scores, allowed, what):
    t, shape = _target_array(target, scores.data), scores.shape
    if t.shape != shape:
        raise ValueError(f"{what}: target has shape {t.shape} but the scores have shape {shape}")
    bad = ~array_module(t).isin(t, array_module(t).asarray(allowed))
    if bad.any():
        raise ValueError(f"{what}: target value {t[bad][0]!r} is not one of {list(allowed)}")
    return t


class _BinaryCrossEntropyWithLogits(Function):
    name = "binary_cross_entropy"

    def forward(self, x, target, reduction):
        xp = array_module(x)
        # max(x, 0) − x·t + log(1 + e^{−|x|}) equals −[t log σ(x) + (1−t) log(1−σ(x))], without overflow.
        per_example = xp.maximum(x, 0) - x * target + xp.log1p(xp.exp(-abs(x)))
        self.save(x, target)
        self.reduction = reduction
        if reduction == "mean":
            self.factor = 1.0 / max(x.size, 1)
            return per_example.mean()
        self.factor = 1.0
        return per_example.sum() if reduction == "sum" else per_example

    def backward(self, grad):
        x, target = self.saved
        p = array_module(x).tanh(x * 0.5) * 0.5 + 0.5
        return (p - target) * (grad * self.factor)


def binary_cross_entropy_with_logits(logits: Tensor, target, reduction: str = "mean") -> Tensor:
    """Logistic loss from logits: −[t log σ(s) + (1 − t) log(1 − σ(s))], t ∈ {0, 1}.

    The binary softmax classifier's loss; stable for any logit. Gradient σ(s) − t.
    """
    t = _binary_target(target, logits, (0, 1), "binary_cross_entropy").astype(logits.dtype)
    return _BinaryCrossEntropyWithLogits.apply(logits, target=t, reduction=_reduction(reduction))


def binary_hinge(scores: Tensor, target, margin: float = 1.0, reduction: str = "mean") -> Tensor:
    """The binary SVM loss max(0, Δ − y·s) with labels y ∈ {−1, +1}."""
    t = _binary_target(target, scores, (-1, 1), "binary_hinge").astype(scores.dtype)
    per_example = (margin - scores * t).relu()
    _reduction(reduction)
    return per_example.mean() if reduction == "mean" else per_example.sum() if reduction == "sum" else per_example


def mse(pred: Tensor, target, reduction: str = "mean") -> Tensor:
    """Squared error Σ (y − f(x))² (``reduction="sum"``, the lecture's E(w)) or its mean."""
    t = target if isinstance(target, Tensor) else Tensor(_target_array(target, pred.data), dtype=pred.dtype)
    if t.shape != pred.shape:
        raise ValueError(f"mse: target has shape {t.shape} but the prediction has shape {pred.shape}")
    sq = (pred - t) ** 2
    _reduction(reduction)
    return sq.mean() if reduction == "mean" else sq.sum() if reduction == "sum" else sq


def _penalized(params, include_bias: bool, what: str) -> list:
    if hasattr(params, "named_parameters"):
        tensors = [p for _, p in params.named_parameters() if include_bias or p.ndim >= 2]
    else:
        tensors = list(params)
    if not tensors:
        raise ValueError(f"{what}() got no tensors to penalize")
    return tensors


def l2(params, lam: float, include_bias: bool = False) -> Tensor:
    """The L2 penalty λ Σ W² over weights.

    ``params`` is a Module (its weight matrices are used: parameters with 2 or more dimensions,
    biases only if ``include_bias``) or an iterable of tensors (all are used).
    """
    if lam < 0:
        raise ValueError(f"the L2 strength must be >= 0; got {lam}")
    tensors = _penalized(params, include_bias, "l2")
    total = (tensors[0] * tensors[0]).sum()
    for t in tensors[1:]:
        total = total + (t * t).sum()
    return total * lam


def l1(params, lam: float, include_bias: bool = False) -> Tensor:
    """The L1 penalty λ Σ |W| over weights (the same weights as :func:`l2`).

    >>> import chainrule as cr
    >>> float(l1([cr.tensor([1.0, -2.0])], 0.5).item())
    1.5
    """
    if lam < 0:
        raise ValueError(f"the L1 strength must be >= 0; got {lam}")
    tensors = _penalized(params, include_bias, "l1")
    total = tensors[0].abs().sum()
    for t in tensors[1:]:
        total = total + t.abs().sum()
    return total * lam


LOSSES = {
    "cross-entropy": cross_entropy,
    "softmax": cross_entropy,
    "svm": multiclass_hinge,
    "hinge": multiclass_hinge,
    "logistic": binary_cross_entropy_with_logits,
    "binary-hinge": binary_hinge,
    "mse": mse,
}


def get_loss(name):
    """Look up a loss function by name; an unknown name lists the valid ones."""
    if callable(name):
        return name
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown loss {name!r}; expected one of {sorted(LOSSES)}") from None
