"""The linear models' losses with their vectorized analytic gradients, in plain NumPy.

Every function here has the same signature and the same meaning::

    loss, dW, db = fn(W, b, X, y, reg=0.0, margin=1.0)

with scores ``S = X @ Wᵀ + b`` (PyTorch's layout: ``W`` is K×D, ``b`` has K entries, ``X`` is
N×D), class labels ``y`` as integers 0..K−1 (0/1 for the one-output losses), and the lecture's
full loss ``L = (1/N) Σᵢ Lᵢ + λ Σ W²``: the data term averaged over the examples, plus L2
regularization of the weights only (the bias is not regularized), whose gradient is ``2λW``.

No autodiff is involved: these are the formulas one derives by hand, and the tests check them
against the engine's backward pass and against centered differences. Results keep the dtype of
``W``; ``margin`` is ignored by the losses that have none.

>>> import numpy as np
>>> W, b = np.zeros((3, 2)), np.zeros(3)
>>> X, y = np.array([[1.0, 2.0]]), np.array([0])
>>> loss, dW, db = svm_loss(W, b, X, y)
>>> float(loss)                         # all scores tie: two classes miss the margin by 1
2.0
>>> dW[0].tolist(), db.tolist()          # −(2 misses)·x on the correct row, +x on the others
([-2.0, -4.0], [-2.0, 1.0, 1.0])
"""
from __future__ import annotations

import numpy as np

from chainrule import validation as check
__all__ = [
    "LOSSES",
    "binary_svm_loss",
    "get_loss",
    "logistic_loss",
    "perceptron_loss",
    "softmax_loss",
    "svm_loss",
]


def _scores(W, b, X):
    return X @ W.T + b


def _finish(W, X, dS, data_loss, reg):
    # Every loss here ends the same way: dS (N×K) is ∂(data loss)/∂S, already divided by N, so
    # ∂L/∂W = dSᵀX + 2λW and ∂L/∂b = Σᵢ dSᵢ; the regularizer touches the weights only.
    dW = dS.T @ X
    db = dS.sum(axis=0)
    loss = float(data_loss)
    if reg:
        loss += float(reg * np.sum(W * W))
        dW = dW + (2.0 * reg) * W
    return loss, dW.astype(W.dtype, copy=False), db.astype(W.dtype, copy=False)


def svm_loss(W, b, X, y, reg=0.0, margin=1.0):
    """Multiclass SVM (Weston–Watkins hinge) loss and its analytic gradient.

    ``Lᵢ = Σ_{j≠yᵢ} max(0, s_j − s_{yᵢ} + Δ)``. The lecture's gradient: the correct row gets
    ``−(number of classes that missed the margin)·xᵢ`` and every other row ``1(s_j − s_{yᵢ} + Δ > 0)·xᵢ``.

    Parameters
    ----------
    W, b : ndarray
        Weights (K×D) and biases (K).
    X, y : ndarray
        Examples (N×D) and integer labels 0..K−1 (N).
    reg : float
        λ of the regularization λΣW².
    margin : float
        Δ, the margin the correct score must win by.

    Examples
    --------
    >>> import numpy as np
    >>> W = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> loss, dW, db = svm_loss(W, np.zeros(2), np.array([[2.0, 0.5]]), np.array([0]))
    >>> loss                                 # max(0, 0.5 − 2 + 1) = 0: the margin is met
    0.0
    """
    n = X.shape[0]
    rows = np.arange(n)
    S = _scores(W, b, X)
    margins = S - S[rows, y][:, None] + margin
    margins[rows, y] = 0.0  # j = yᵢ is not part of the sum
    hinge = np.maximum(margins, 0.0)
    missed = (margins > 0).astype(S.dtype)
    missed[rows, y] = -missed.sum(axis=1)
    return _finish(W, X, missed / n, hinge.sum() / n, reg)


def softmax_loss(W, b, X, y, reg=0.0, margin=1.0):
    """Softmax cross-entropy loss and its analytic gradient.

    ``Lᵢ = −log(e^{s_{yᵢ}} / Σ_j e^{s_j})`` with gradient ``(pᵢ − onehot(yᵢ))·xᵢ`` on the rows,
    ``p = softmax(s)``. Scores are shifted by their maximum first, which changes nothing
    mathematically and keeps ``exp`` from overflowing.

    Examples
    --------
    >>> import numpy as np
    >>> loss, dW, db = softmax_loss(np.zeros((10, 3)), np.zeros(10), np.ones((4, 3)), np.arange(4))
    >>> round(loss, 4)                       # uniform scores over 10 classes: ln 10
    2.3026
    """
    n = X.shape[0]
    rows = np.arange(n)
    S = _scores(W, b, X)
    from scipy.special import log_softmax

    log_p = log_softmax(S, axis=1)
    dS = np.exp(log_p)
    dS[rows, y] -= 1.0
    return _finish(W, X, dS / n, -log_p[rows, y].sum() / n, reg)


def logistic_loss(W, b, X, y, reg=0.0, margin=1.0):
    """Binary softmax (logistic regression) loss and its analytic gradient.

    One output ``s = w·x + b`` and ``P(y=1 | x) = σ(s)``; the loss is the binary cross-entropy
    ``Lᵢ = −yᵢ log σ(sᵢ) − (1 − yᵢ) log(1 − σ(sᵢ))``, computed from the logit as
    ``max(s, 0) − y·s + log(1 + e^{−|s|})`` so that neither the exp nor the log overflows. The
    gradient is ``(σ(sᵢ) − yᵢ)·xᵢ``. ``W`` is 1×D and ``y`` holds 0/1.

    Examples
    --------
    >>> import numpy as np
    >>> loss, dW, db = logistic_loss(np.zeros((1, 2)), np.zeros(1), np.ones((2, 2)), np.array([0, 1]))
    >>> round(loss, 4)                       # σ(0) = ½ for both: ln 2
    0.6931
    """
    n = X.shape[0]
    s = _scores(W, b, X)[:, 0]
    t = y.astype(s.dtype)
    data = np.maximum(s, 0.0) - t * s + np.log1p(np.exp(-np.abs(s)))
    from scipy.special import expit  # the sigmoid, stable for any score

    return _finish(W, X, ((expit(s) - t) / n)[:, None], data.sum() / n, reg)


def binary_svm_loss(W, b, X, y, reg=0.0, margin=1.0):
    """Binary SVM hinge loss on one neuron and its analytic gradient.

    With ``tᵢ = 2yᵢ − 1 ∈ {−1, +1}`` (``y`` holds 0/1): ``Lᵢ = max(0, Δ − tᵢ·sᵢ)``, gradient
    ``−tᵢ·1(Δ − tᵢ·sᵢ > 0)·xᵢ``. ``W`` is 1×D.

    Examples
    --------
    >>> import numpy as np
    >>> W = np.array([[2.0, 0.0]])
    >>> loss, dW, db = binary_svm_loss(W, np.zeros(1), np.array([[1.0, 5.0], [0.25, 1.0]]), np.array([1, 1]))
    >>> loss                                 # (max(0, 1 − 2) + max(0, 1 − 0.5)) / 2
    0.25
    """
    n = X.shape[0]
    s = _scores(W, b, X)[:, 0]
    t = 2.0 * y.astype(s.dtype) - 1.0
    slack = margin - t * s
    active = (slack > 0).astype(s.dtype)
    return _finish(W, X, (-t * active / n)[:, None], np.maximum(slack, 0.0).sum() / n, reg)


def perceptron_loss(W, b, X, y, reg=0.0, margin=1.0):
    """The perceptron criterion: the amount by which each mistake is wrong, and its gradient.

    Binary (``W`` is 1×D, ``y`` holds 0/1, ``t = 2y − 1``, prediction ``sign(s)`` with
    ``sign(0) = +1``): ``Lᵢ = max(0, −tᵢ·sᵢ)`` with gradient ``−tᵢ·xᵢ`` on a mistake.
    Multiclass (K ≥ 2 rows): ``Lᵢ = max_j s_j − s_{yᵢ}``, gradient ``+xᵢ`` on the predicted row and
    ``−xᵢ`` on the true row on a mistake. The subgradient follows the prediction rule, so one
    plain SGD step of size α on a single example is the multiclass perceptron update, and a
    step of size 2α is the lecture's binary rule ``w ← w + α(y − y′)x``.

    Examples
    --------
    >>> import numpy as np
    >>> loss, dW, db = perceptron_loss(np.array([[1.0]]), np.zeros(1), np.array([[2.0]]), np.array([0]))
    >>> loss, dW.tolist(), db.tolist()      # s = 2 says class 1, the label says 0
    (2.0, [[2.0]], [1.0])
    """
    n = X.shape[0]
    rows = np.arange(n)
    S = _scores(W, b, X)
    if W.shape[0] == 1:
        s = S[:, 0]
        t = 2.0 * y.astype(s.dtype) - 1.0
        mistake = (s >= 0) != (t > 0)
        dS = (-t * mistake)[:, None]
        data = np.maximum(-t * s, 0.0).sum()
    else:
        pred = S.argmax(axis=1)
        mistake = pred != y
        dS = np.zeros_like(S)
        dS[rows[mistake], pred[mistake]] += 1.0
        dS[rows[mistake], y[mistake]] -= 1.0
        data = (S[rows, pred] - S[rows, y]).sum()
    return _finish(W, X, dS / n, data / n, reg)


#: Loss name → ``fn(W, b, X, y, reg=0.0, margin=1.0) -> (loss, dW, db)``.
LOSSES = {
    "svm": svm_loss,
    "softmax": softmax_loss,
    "logistic": logistic_loss,
    "binary_svm": binary_svm_loss,
    "perceptron": perceptron_loss,
}

#: Losses defined on one output neuron (labels 0/1); the others take one row per class.
BINARY_LOSSES = frozenset({"logistic", "binary_svm"})


def get_loss(name):
    """The loss-and-gradient function registered under ``name``; unknown names list the valid ones.

    >>> get_loss("svm") is svm_loss
    True
    """
    return LOSSES[check.choice("loss", name, sorted(LOSSES))]
