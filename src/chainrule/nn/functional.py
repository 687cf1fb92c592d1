"""Activations and losses built on the engine's ops (PyTorch's ``torch.nn.functional`` names).

Softmax, log-softmax, ``linear_relu``, softmax cross-entropy, the multiclass hinge and binary
cross-entropy from logits run as fused Functions of the engine (``chainrule.engine.fused``):
one op with its own stable backward (fewer graph nodes, no overflow for logits of ±1e4). This
module validates their arguments and composes everything else from engine ops.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from chainrule import validation as check
from chainrule.engine import Tensor, device_of, fused, linear, linear_relu, log_softmax, ops, softmax, to_device, where
from chainrule.engine.conv import (  # noqa: F401  (re-exported: cr.nn.functional.conv2d, …)
    adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d, avg_pool2d, conv1d, conv2d, conv2d_relu,
    max_pool1d, max_pool2d, max_pool2d_relu, pad,
)
from chainrule.nn.normalization import batch_norm  # noqa: F401
from chainrule.engine.backend import array_module
from chainrule.engine.devices import check_same_device, scope
from chainrule.engine.tensor import lift

REDUCTIONS = ("mean", "sum", "none")

__all__ = [
    "REDUCTIONS", "binary_cross_entropy", "binary_cross_entropy_with_logits", "binary_hinge",
    "check_reduction", "cross_entropy", "dropout", "elu", "gelu", "get_loss", "huber_loss",
    "identity", "l1_loss", "l2", "layer_norm", "leaky_relu", "linear", "linear_relu",
    "log_softmax", "logsigmoid", "mse", "mse_loss", "multiclass_hinge", "nll_loss", "one_hot",
    "relu", "sigmoid", "silu", "smooth_l1_loss", "softmax", "softplus", "tanh",
]


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _on_input_device(fn):
    """``fn``'s body runs on its first argument's device: the arrays it makes (class weights,
    indices, masks) are made there, as the ops' results are (CuPy makes them on its current GPU)."""
    @functools.wraps(fn)
    def run(x, *args, **kwargs):
        data = getattr(x, "data", x)
        if type(data) is np.ndarray or not hasattr(data, "dtype"):
            return fn(x, *args, **kwargs)
        with scope(data):
            return fn(x, *args, **kwargs)
    return run


# ====================================================================== activations
def relu(x) -> Tensor:
    """max(x, 0)."""
    return _t(x).relu()


def sigmoid(x) -> Tensor:
    """σ(x) = 1 / (1 + e^-x), accurate in both tails."""
    return _t(x).sigmoid()


def tanh(x) -> Tensor:
    """tanh(x), the zero-centred squashing activation."""
    return _t(x).tanh()


def identity(x) -> Tensor:
    """x unchanged (a linear 'activation')."""
    return _t(x)


@_on_input_device
def leaky_relu(x, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, negative_slope·x otherwise."""
    x = _t(x)
    return where(x.data > 0, x, x * negative_slope)


def softplus(x, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(βx))/β, and x where βx > threshold; the derivative is σ(βx).

    >>> import chainrule as cr
    >>> round(cr.nn.functional.softplus(cr.tensor(0.0)).item(), 4)   # ln 2
    0.6931
    """
    return _t(x).softplus(beta=beta, threshold=threshold)


def logsigmoid(x) -> Tensor:
    """log σ(x) = −softplus(−x), finite for any x (log σ(−100) = −100)."""
    return -(-_t(x)).softplus()


@_on_input_device
def elu(x, alpha: float = 1.0) -> Tensor:
    """x for x > 0, α·(e^x − 1) otherwise."""
    x = _t(x)
    return where(x.data > 0, x, x.expm1() * alpha)


def silu(x) -> Tensor:
    """x·σ(x) (also called swish)."""
    x = _t(x)
    return x * x.sigmoid()


def gelu(x, approximate: str = "none") -> Tensor:
    """x·Φ(x) with Φ the standard normal CDF: ½x(1 + erf(x/√2)).

    ``approximate="tanh"`` gives ½x(1 + tanh(√(2/π)(x + 0.044715x³))), as PyTorch's.
    """
    check.choice("gelu's approximate", approximate, ("none", "tanh"))
    x = _t(x)
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * math.sqrt(2.0 / math.pi)
        return x * 0.5 * (inner.tanh() + 1.0)
    return x * 0.5 * ((x * (1.0 / math.sqrt(2.0))).erf() + 1.0)


@_on_input_device
def dropout(x, p: float = 0.5, training: bool = True, rng=None) -> Tensor:
    """Zero each entry with probability p and scale the rest by 1/(1 − p), when ``training``.

    ``rng`` is a ``numpy.random.Generator`` (or a seed). With ``training=False`` or ``p = 0``
    the input comes back unchanged.
    """
    check.number("dropout probability", p, 0, 1)
    x = _t(x)
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0.0
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    keep = gen.random(x.shape, dtype=np.float32) >= p
    # Drawn on the host from the seeded generator, then copied to x's device: the same seed drops
    # the same entries on every device.
    return x * Tensor(to_device(keep.astype(x.dtype) / (1 - p), device_of(x.data)), dtype=x.dtype)


@_on_input_device
def layer_norm(x, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """(x − mean) / √(var + ε) · weight + bias over the last ``len(normalized_shape)`` axes.

    The variance is the biased one (divided by n), as PyTorch's.
    """
    x = _t(x)
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
    if x.shape[x.ndim - len(shape):] != shape or len(shape) > x.ndim:
        raise ValueError(f"layer_norm: the input of shape {x.shape} does not end in normalized_shape {shape}")
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    centered = x - x.mean(axis=axes, keepdims=True)
    var = (centered * centered).mean(axis=axes, keepdims=True)
    out = centered * (var + eps) ** -0.5
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


# ====================================================================== losses
def _target_array(target, like, what="loss", name="target"):
    """The target as an array on ``like``'s device: host labels (arrays, lists) follow the scores
    to the GPU, as a batch does; a tensor target on another device is an error naming both, as
    for any op (chainrule never copies a tensor between devices silently)."""
    y = target.data if isinstance(target, Tensor) else target if hasattr(target, "dtype") else np.asarray(target)
    if type(y) is np.ndarray and type(like) is np.ndarray:
        return y
    if isinstance(target, Tensor) or type(y) is not np.ndarray:
        check_same_device([like, y], what, ["scores", name])
        return y
    return to_device(y, device_of(like))


def _labels(target, n: int, n_classes: int, what: str, like=None):
    y = _target_array(target, like if like is not None else np.empty(0), what)
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


def check_reduction(reduction) -> str:
    """``reduction`` itself if it is one of ``REDUCTIONS``; otherwise
    :func:`chainrule.validation.choice`'s error listing them."""
    return check.choice("reduction", reduction, REDUCTIONS)


def _reduce(per_example, reduction, divisor=None):
    """Mean (over ``divisor``, default the number of entries; NaN over none), sum or the array."""
    if reduction == "none":
        return per_example
    total = per_example.sum()
    if reduction == "sum":
        return total
    n = per_example.size if divisor is None else divisor
    return total * (1.0 / n if n else math.nan)


def _class_weight(weight, n_classes, like, what):
    if weight is None:
        return None
    w = _target_array(weight, like.data, what, "weight").astype(like.dtype)
    if w.shape != (n_classes,):
        raise ValueError(f"{what}: weight must have one entry per class, shape ({n_classes},); got {w.shape}")
    return w


@_on_input_device
def cross_entropy(logits: Tensor, target, weight=None, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy: L_i = −log(e^{s_{y_i}} / Σ_j e^{s_j}), averaged over examples.

    With integer labels and no options it is one fused op with the gradient
    ∂L_i/∂s = softmax(s) − onehot(y_i), stable for logits of ±1e4. The options are PyTorch's:

    - ``weight`` (one per class): L_i is scaled by w_{y_i} and the mean divides by Σ_i w_{y_i}.
    - ``ignore_index``: examples with that label add nothing and are not counted in the mean.
    - ``label_smoothing`` ε: the target is (1 − ε)·onehot(y) + ε/K, so
      L_i = −(1 − ε)·w_{y_i}·log p_{i,y_i} − ε/K·Σ_c w_c·log p_{ic}.
    - probability targets: ``target`` of the logits' shape, rows of class probabilities:
      L_i = −Σ_c w_c·q_{ic}·log p_{ic} (smoothed likewise), and the mean divides by N.

    A mean over no examples is NaN, as a mean of nothing.

    Parameters
    ----------
    logits : Tensor of shape (N, K)
    target : integer array or Tensor of shape (N,), values 0..K−1; or floats of shape (N, K)
    weight : array of shape (K,), optional
    ignore_index : int
    reduction : "mean" (default), "sum" or "none"
    label_smoothing : float in [0, 1]

    >>> import chainrule as cr
    >>> s = cr.zeros(4, 10)  # equal scores: the loss is ln 10
    >>> round(cr.nn.functional.cross_entropy(s, [0, 1, 2, 3]).item(), 4)
    2.3026
    """
    logits = _scores(logits, "cross_entropy")
    check_reduction(reduction)
    n, k = logits.shape
    check.number("cross_entropy's label_smoothing", label_smoothing, 0, 1)
    w = _class_weight(weight, k, logits, "cross_entropy")
    y = _target_array(target, logits.data, "cross_entropy")
    if y.dtype.kind == "f":  # probabilities
        if y.shape == (n,):
            raise TypeError(f"cross_entropy: class labels must be integers 0..{k - 1} (or probabilities "
                            f"of shape {(n, k)}); got dtype {y.dtype}")
        if y.shape != (n, k):
            raise ValueError(f"cross_entropy: probability targets must have the logits' shape {(n, k)}; got {y.shape}")
        coef = y.astype(logits.dtype) * (1.0 - label_smoothing) + label_smoothing / k
        if w is not None:
            coef = coef * w
        per = -(logits.log_softmax(axis=1) * lift(coef, logits)).sum(axis=1)
        return _reduce(per, reduction)
    if w is None and label_smoothing == 0.0 and not 0 <= ignore_index < k:
        # The hot path: labels in range cannot be ignore_index, so one range check decides.
        try:
            labels = _labels(y, n, k, "cross_entropy", logits.data)
        except ValueError:
            if y.dtype.kind not in "iu" or y.shape != (n,) or not (y == ignore_index).any():
                raise
        else:
            return fused.SoftmaxCrossEntropy.apply(logits, target=labels, reduction=reduction)
    if y.dtype.kind not in "iu":
        _labels(y, n, k, "cross_entropy", logits.data)  # raises the TypeError naming the dtype
    valid = y != ignore_index
    y = _labels(array_module(y).where(valid, y, 0), n, k, "cross_entropy", logits.data)
    if w is None and label_smoothing == 0.0 and valid.all():
        return fused.SoftmaxCrossEntropy.apply(logits, target=y, reduction=reduction)
    xp = array_module(logits.data)
    w = xp.ones(k, dtype=logits.dtype) if w is None else w
    row_weight = w[y] * valid  # 0 for ignored examples
    coef = xp.zeros((n, k), dtype=logits.dtype)
    coef[xp.arange(n), y] = (1.0 - label_smoothing) * row_weight
    coef += (label_smoothing / k) * w * valid[:, None]
    per = -(logits.log_softmax(axis=1) * lift(coef, logits)).sum(axis=1)
    return _reduce(per, reduction, divisor=float(row_weight.sum()))


@_on_input_device
def nll_loss(log_probs: Tensor, target, weight=None, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """The negative log-likelihood −w_{y_i}·x_{i, y_i} of log-probabilities ``log_probs`` (N, K).

    The mean divides by Σ_i w_{y_i} over the examples not labelled ``ignore_index``, as PyTorch's;
    ``nll_loss(log_softmax(s), y)`` equals ``cross_entropy(s, y)``.
    """
    x = _scores(log_probs, "nll_loss")
    check_reduction(reduction)
    n, k = x.shape
    w = _class_weight(weight, k, x, "nll_loss")
    y = _target_array(target, x.data, "nll_loss")
    valid = (y != ignore_index) if y.dtype.kind in "iu" else array_module(y).ones(y.shape, bool)
    y = _labels(array_module(y).where(valid, y, 0) if y.dtype.kind in "iu" else y, n, k, "nll_loss", x.data)
    xp = array_module(x.data)
    row_weight = (xp.ones(n, dtype=x.dtype) if w is None else w[y]) * valid
    per = -x[xp.arange(n), y] * lift(row_weight, x)
    return _reduce(per, reduction, divisor=float(row_weight.sum()))


@_on_input_device
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
    return fused.MulticlassHinge.apply(scores, target=y, margin=float(margin), reduction=check_reduction(reduction))


def _binary_target(target, scores, allowed, what):
    t, shape = _target_array(target, scores.data, what), scores.shape
    if t.shape != shape:
        raise ValueError(f"{what}: target has shape {t.shape} but the scores have shape {shape}")
    bad = ~array_module(t).isin(t, array_module(t).asarray(allowed))
    if bad.any():
        raise ValueError(f"{what}: target value {t[bad][0].item()!r} is not one of {list(allowed)}")
    return t


def _probability_target(target, scores, what):
    t = _target_array(target, scores.data, what)
    if t.shape != scores.shape:
        raise ValueError(f"{what}: target has shape {t.shape} but the scores have shape {scores.shape}")
    if t.dtype.kind not in "fiub":
        raise TypeError(f"{what}: targets must be numbers in [0, 1]; got dtype {t.dtype}")
    bad = (t < 0) | (t > 1) | (t != t)
    if bad.any():
        raise ValueError(f"{what}: target value {t[bad][0].item()!r} is outside [0, 1]")
    return t.astype(scores.dtype)


def _elementwise_weight(weight, scores, what, name="weight"):
    if weight is None:
        return None
    w = _target_array(weight, scores.data, what, name).astype(scores.dtype)
    try:
        ok = np.broadcast_shapes(w.shape, scores.shape) == scores.shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{what}: {name} of shape {w.shape} does not broadcast to the scores' shape {scores.shape}")
    return w


@_on_input_device
def binary_cross_entropy_with_logits(logits: Tensor, target, weight=None, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """Logistic loss from logits: −w·[pw·t log σ(s) + (1 − t) log(1 − σ(s))], t ∈ [0, 1].

    The binary softmax classifier's loss; stable for any logit (one fused op). Targets may be
    soft (any probability); ``pos_weight`` pw scales the positive term (one entry per class, or a
    number), ``weight`` w each entry. With neither the gradient is σ(s) − t.
    """
    t = _probability_target(target, logits, "binary_cross_entropy_with_logits")
    return fused.BinaryCrossEntropyWithLogits.apply(
        logits, target=t, reduction=check_reduction(reduction),
        pos_weight=_elementwise_weight(pos_weight, logits, "binary_cross_entropy_with_logits", "pos_weight"),
        weight=_elementwise_weight(weight, logits, "binary_cross_entropy_with_logits"))


@_on_input_device
def binary_cross_entropy(probs: Tensor, target, weight=None, reduction: str = "mean") -> Tensor:
    """−w·[t log p + (1 − t) log(1 − p)] on probabilities p ∈ [0, 1] (each log clamped at −100,
    as PyTorch's, so p = 0 or 1 gives a finite loss)."""
    probs = _t(probs)
    check_reduction(reduction)
    p = probs.data
    if ((p < 0) | (p > 1) | (p != p)).any():
        raise ValueError("binary_cross_entropy: the inputs must be probabilities in [0, 1] "
                         "(for scores, use binary_cross_entropy_with_logits)")
    t = lift(_probability_target(target, probs, "binary_cross_entropy"), probs)
    per = -(t * probs.log().clip(min=-100.0) + (1.0 - t) * (1.0 - probs).log().clip(min=-100.0))
    w = _elementwise_weight(weight, probs, "binary_cross_entropy")
    return _reduce(per if w is None else per * lift(w, probs), reduction)


@_on_input_device
def binary_hinge(scores: Tensor, target, margin: float = 1.0, reduction: str = "mean") -> Tensor:
    """The binary SVM loss max(0, Δ − y·s) with labels y ∈ {−1, +1}."""
    t = _binary_target(target, scores, (-1, 1), "binary_hinge").astype(scores.dtype)
    return _reduce((margin - scores * t).relu(), check_reduction(reduction))


def _difference(pred, target, what):
    pred = _t(pred)
    if isinstance(target, Tensor):  # a tensor target: its gradient flows (no copy between devices)
        check_same_device([pred.data, target.data], what, ["prediction", "target"])
        t = target
    else:
        t = Tensor(_target_array(target, pred.data, what), dtype=pred.dtype)
    if t.shape != pred.shape:
        raise ValueError(f"{what}: target has shape {t.shape} but the prediction has shape {pred.shape}")
    return pred - t


@_on_input_device
def mse(pred: Tensor, target, reduction: str = "mean") -> Tensor:
    """Squared error Σ (y − f(x))² (``reduction="sum"``, the lecture's E(w)) or its mean."""
    d = _difference(pred, target, "mse")
    return _reduce(d * d, check_reduction(reduction))


mse_loss = mse


@_on_input_device
def l1_loss(pred: Tensor, target, reduction: str = "mean") -> Tensor:
    """Absolute error |f(x) − y|, averaged (or summed) over the entries."""
    return _reduce(_difference(pred, target, "l1_loss").abs(), check_reduction(reduction))


@_on_input_device
def huber_loss(pred: Tensor, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """½d² where |d| < δ, δ(|d| − ½δ) elsewhere, for d = f(x) − y (PyTorch's HuberLoss)."""
    check.number("huber_loss's delta", delta, 0, low_open=True)
    d = _difference(pred, target, "huber_loss")
    per = where(abs(d.data) < delta, d * d * 0.5, (d.abs() - 0.5 * delta) * delta)
    return _reduce(per, check_reduction(reduction))


@_on_input_device
def smooth_l1_loss(pred: Tensor, target, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """½d²/β where |d| < β, |d| − ½β elsewhere (PyTorch's SmoothL1Loss: Huber divided by β)."""
    check.number("smooth_l1_loss's beta", beta, low=0)
    d = _difference(pred, target, "smooth_l1_loss")
    if beta == 0:
        return _reduce(d.abs(), check_reduction(reduction))
    per = where(abs(d.data) < beta, d * d * (0.5 / beta), d.abs() - 0.5 * beta)
    return _reduce(per, check_reduction(reduction))


@_on_input_device
def one_hot(labels, num_classes: int = -1) -> Tensor:
    """An int64 tensor of shape labels.shape + (num_classes,) with a 1 at each label.

    ``num_classes=-1`` takes one more than the largest label.

    >>> import chainrule as cr
    >>> cr.nn.functional.one_hot([0, 2], 3).tolist()
    [[1, 0, 0], [0, 0, 1]]
    """
    y = labels.data if isinstance(labels, Tensor) else labels if hasattr(labels, "dtype") else np.asarray(labels)
    if y.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers; got dtype {y.dtype}")
    k = int(y.max()) + 1 if num_classes == -1 and y.size else (0 if num_classes == -1 else int(num_classes))
    if y.size and (y.min() < 0 or y.max() >= k):
        raise ValueError(f"one_hot: labels must be in 0..{k - 1}; got {int(y.min())}..{int(y.max())}")
    xp = array_module(y)
    return Tensor(xp.eye(k, dtype=np.int64)[y] if y.size or k else xp.zeros(y.shape + (k,), np.int64))


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
    check.number("the L2 strength lam", lam, low=0)
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
    check.number("the L1 strength lam", lam, low=0)
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
    return LOSSES[check.choice("loss", name, sorted(LOSSES))]
