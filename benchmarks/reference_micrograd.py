"""micrograd's own demo loop (Karpathy's demo.ipynb), timed per step.

MLP(2, [16, 16, 1]) of ``micrograd.engine.Value`` scalars, SVM max-margin loss on 100 two-moons
points with labels +-1, L2 regularization ``1e-4 * sum(p * p)``, 100 full-batch SGD steps with
``lr = 1 - 0.9 * k / 100``. Only for comparison: import it where micrograd is importable.
"""

from __future__ import annotations

import random

import numpy as np
from micrograd.engine import Value
from micrograd.nn import MLP

__all__ = ["make_model", "loss", "demo_step", "demo_train", "params_as_numpy"]


def make_model(seed: int = 1337) -> MLP:
    random.seed(seed)
    return MLP(2, [16, 16, 1])


def loss(model: MLP, X: np.ndarray, y: np.ndarray, alpha: float = 1e-4):
    """The demo's ``loss()``: total loss (a Value) and accuracy, full batch."""
    inputs = [list(map(Value, xrow)) for xrow in X.tolist()]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y.tolist(), scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = alpha * sum(p * p for p in model.parameters())
    total_loss = data_loss + reg_loss
    accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(y.tolist(), scores)]
    return total_loss, sum(accuracy) / len(accuracy)


def demo_step(model: MLP, X: np.ndarray, y: np.ndarray, k: int) -> float:
    """Step ``k`` of the demo: forward, zero_grad, backward, ``p -= lr * grad``."""
    total_loss, _ = loss(model, X, y)
    model.zero_grad()
    total_loss.backward()
    learning_rate = 1.0 - 0.9 * k / 100
    for p in model.parameters():
        p.data -= learning_rate * p.grad
    return total_loss.data


def demo_train(model: MLP, X: np.ndarray, y: np.ndarray, steps: int = 100) -> list:
    return [demo_step(model, X, y, k) for k in range(steps)]


def params_as_numpy(model: MLP) -> list[np.ndarray]:
    """The weights as reference_numpy's ``[W1, b1, ...]`` with ``W`` of shape ``(in, out)``."""
    out = []
    for layer in model.layers:
        weights = [[w.data for w in n.w] for n in layer.neurons]
        out.append(np.array(weights, dtype=np.float64).T.copy())
        out.append(np.array([n.b.data for n in layer.neurons], dtype=np.float64))
    return out
