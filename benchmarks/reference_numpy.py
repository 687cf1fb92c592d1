"""The yardstick: an MLP trained by hand in NumPy, as a careful engineer writes it unaided.

Everything chainrule does for a training step is done here directly, with no graph, no Tensor
objects and no per-op dispatch: float32 throughout, weights stored ``(in, out)`` so the forward is
``x @ W + b`` with no transpose, ReLU in place, a numerically stable softmax cross-entropy whose
gradient is fused into ``(softmax - onehot) / B``, BLAS matmuls for exactly the products backward
needs (none for the input ``x``), and SGD updates in place.

One more trick a careful engineer uses: backward is linear in the incoming gradient, so scaling
``dlogits`` by ``lr / B`` once makes every ``dW`` come out as ``lr * grad`` already, and the update
is a single in-place subtraction per parameter. ``loss_and_grads`` is the plain, unscaled version;
the tests check that ``train_step`` equals it followed by ``W -= lr * grad``.

Also here: micrograd's demo network (MLP 2-16-16-1, ReLU hidden layers, linear output, SVM
max-margin loss with L2 regularization on every parameter) in NumPy.

Parameters are a flat list ``[W1, b1, W2, b2, ...]`` with ``W`` of shape ``(in, out)``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "make_mlp",
    "forward",
    "loss_and_grads",
    "train_step",
    "train_epoch",
    "make_demo_mlp",
    "demo_loss_and_grads",
    "demo_step",
    "demo_train",
]


# --------------------------------------------------------------------------------------------
# the MLP: Linear-ReLU-...-Linear, softmax cross-entropy, SGD
# --------------------------------------------------------------------------------------------


def make_mlp(sizes: list[int], seed: int = 0, dtype=np.float32) -> list[np.ndarray]:
    """He-initialized weights ``(in, out)`` drawn from ``N(0, 2 / in)``, zero biases."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        w = rng.standard_normal((fan_in, fan_out), dtype=np.float64) * np.sqrt(2.0 / fan_in)
        params.append(w.astype(dtype))
        params.append(np.zeros(fan_out, dtype=dtype))
    return params


def forward(params: list[np.ndarray], x: np.ndarray) -> list[np.ndarray]:
    """All activations: ``[x, h1, ..., logits]`` (hidden ones after ReLU)."""
    acts = [x]
    n_layers = len(params) // 2
    for i in range(n_layers):
        h = acts[-1] @ params[2 * i]
        h += params[2 * i + 1]
        if i < n_layers - 1:
            np.maximum(h, 0, out=h)
        acts.append(h)
    return acts


def _softmax_xent(logits: np.ndarray, y: np.ndarray, scale: float) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of ``logits`` (overwritten) and ``scale * B * dloss/dlogits``.

    Stable: ``loss_i = log(sum_j exp(z_ij - m_i)) - (z_iy - m_i)`` with ``m_i = max_j z_ij``;
    the gradient of the mean is ``(softmax - onehot) / B``. The returned gradient is that times
    ``scale * B`` (``scale = 1 / B`` gives the plain gradient, ``lr / B`` the SGD step).
    """
    batch = logits.shape[0]
    rows = np.arange(batch)
    logits -= logits.max(axis=1, keepdims=True)
    picked = logits[rows, y]  # fancy indexing copies, so exp below does not change it
    np.exp(logits, out=logits)
    total = logits.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(total[:, 0]) - picked))
    np.multiply(logits, (scale / total).astype(logits.dtype, copy=False), out=logits)
    logits[rows, y] -= logits.dtype.type(scale)
    return loss, logits


def _backward(
    params: list[np.ndarray], acts: list[np.ndarray], dz: np.ndarray, lr: float | None
) -> list[np.ndarray] | None:
    """Backpropagate ``dz``; with ``lr`` update in place (``dz`` already carries ``lr``)."""
    grads: list[np.ndarray] = [None] * len(params)  # type: ignore[list-item]
    for i in reversed(range(len(params) // 2)):
        w, b, h = params[2 * i], params[2 * i + 1], acts[i]
        dw = h.T @ dz
        db = dz.sum(axis=0)
        if i > 0:  # no gradient for the input x
            dh = dz @ w.T  # uses W before its update
            np.multiply(dh, h > 0, out=dh)  # ReLU'(pre) is h > 0 since h = relu(pre)
        if lr is None:
            grads[2 * i], grads[2 * i + 1] = dw, db
        else:
            np.subtract(w, dw, out=w)
            np.subtract(b, db, out=b)
        if i > 0:
            dz = dh
    return None if lr is not None else grads


def loss_and_grads(
    params: list[np.ndarray], x: np.ndarray, y: np.ndarray
) -> tuple[float, list[np.ndarray]]:
    """Mean softmax cross-entropy and its gradient for every parameter (no update)."""
    acts = forward(params, x)
    loss, dz = _softmax_xent(acts[-1], y, 1.0 / x.shape[0])
    return loss, _backward(params, acts, dz, None)


def train_step(params: list[np.ndarray], xb: np.ndarray, yb: np.ndarray, lr: float) -> float:
    """One SGD step in place, ``p -= lr * dloss/dp``; returns the loss before the step."""
    acts = forward(params, xb)
    loss, dz = _softmax_xent(acts[-1], yb, lr / xb.shape[0])
    _backward(params, acts, dz, lr)
    return loss


def train_epoch(
    params: list[np.ndarray], X: np.ndarray, y: np.ndarray, batch_size: int, lr: float
) -> float:
    """One pass over ``X`` in order, in mini-batches; returns the mean of the step losses."""
    total, steps = 0.0, 0
    for start in range(0, X.shape[0], batch_size):
        total += train_step(params, X[start:start + batch_size], y[start:start + batch_size], lr)
        steps += 1
    return total / steps


# --------------------------------------------------------------------------------------------
# micrograd's demo: MLP 2-16-16-1, SVM max-margin loss + 1e-4 * sum(p^2), full-batch SGD
# --------------------------------------------------------------------------------------------


def make_demo_mlp(sizes=(2, 16, 16, 1), seed: int = 0, dtype=np.float64) -> list[np.ndarray]:
    """micrograd's init: weights ``U(-1, 1)``, zero biases (float64: micrograd's floats)."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append(rng.uniform(-1.0, 1.0, (fan_in, fan_out)).astype(dtype))
        params.append(np.zeros(fan_out, dtype=dtype))
    return params


def demo_loss_and_grads(
    params: list[np.ndarray], X: np.ndarray, y: np.ndarray, alpha: float = 1e-4
) -> tuple[float, list[np.ndarray]]:
    """``mean(relu(1 - y * score)) + alpha * sum(p^2)`` over all parameters, and its gradients.

    ``y`` holds labels +-1; ``score`` is the network's single linear output.
    """
    acts = forward(params, X)
    scores = acts[-1][:, 0]
    margins = 1.0 - y * scores
    active = margins > 0
    data_loss = float(np.mean(np.maximum(margins, 0.0)))
    reg_loss = alpha * float(sum(np.vdot(p, p) for p in params))
    dz = (np.where(active, -y, 0.0) / X.shape[0]).astype(X.dtype)[:, None]
    grads = _backward(params, acts, dz, None)
    for p, g in zip(params, grads):
        g += (2 * alpha) * p
    return data_loss + reg_loss, grads


def demo_step(
    params: list[np.ndarray], X: np.ndarray, y: np.ndarray, lr: float, alpha: float = 1e-4
) -> float:
    """One full-batch SGD step of the demo in place; returns the loss before the step."""
    loss, grads = demo_loss_and_grads(params, X, y, alpha)
    for p, g in zip(params, grads):
        g *= lr
        p -= g
    return loss


def demo_train(params: list[np.ndarray], X: np.ndarray, y: np.ndarray, steps: int = 100) -> list:
    """The demo's loop: ``steps`` steps with ``lr = 1 - 0.9 * k / 100``; the loss of each step."""
    return [demo_step(params, X, y, 1.0 - 0.9 * k / 100) for k in range(steps)]


def moons(n: int = 100, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two-moons points (float64) and labels +-1, like the demo's ``make_moons`` data."""
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=n, noise=noise, random_state=seed)
    return X, (y * 2 - 1).astype(np.float64)
