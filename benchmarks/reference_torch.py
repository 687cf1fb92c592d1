"""The same MLP and loop as ``reference_numpy`` in PyTorch: nn.Sequential, F.cross_entropy, SGD.

Only for comparison: import it only where torch is importable (``available()`` says). Thread
count: the harness sets ``torch.set_num_threads`` to the same limit it gives NumPy's BLAS.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["make_mlp", "from_numpy_params", "to_numpy_params", "train_step", "train_epoch",
           "make_demo_mlp", "demo_step", "demo_train"]


def make_mlp(sizes: list[int], seed: int = 0, dtype=torch.float32) -> nn.Sequential:
    """Linear-ReLU-...-Linear with torch's default init (seeded)."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def from_numpy_params(params: list[np.ndarray], relu: bool = True) -> nn.Sequential:
    """A Sequential holding copies of reference_numpy's ``[W1, b1, ...]`` (``W``: ``(in, out)``)."""
    layers: list[nn.Module] = []
    n_layers = len(params) // 2
    for i in range(n_layers):
        w, b = params[2 * i], params[2 * i + 1]
        dtype = torch.from_numpy(np.asarray(w)).dtype
        linear = nn.Linear(w.shape[0], w.shape[1], dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
            linear.bias.copy_(torch.from_numpy(np.asarray(b)))
        layers.append(linear)
        if relu and i < n_layers - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def to_numpy_params(model: nn.Sequential) -> list[np.ndarray]:
    """The inverse of ``from_numpy_params``."""
    out = []
    for layer in model:
        if isinstance(layer, nn.Linear):
            out.append(layer.weight.detach().numpy().T.copy())
            out.append(layer.bias.detach().numpy().copy())
    return out


def train_step(model: nn.Module, opt: torch.optim.Optimizer, xb: torch.Tensor,
               yb: torch.Tensor) -> float:
    """One SGD step; returns the loss before it."""
    loss = F.cross_entropy(model(xb), yb)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def train_epoch(model: nn.Module, opt: torch.optim.Optimizer, X: torch.Tensor, y: torch.Tensor,
                batch_size: int) -> float:
    """One pass over ``X`` in order; the mean of the step losses."""
    total, steps = 0.0, 0
    for start in range(0, X.shape[0], batch_size):
        total += train_step(model, opt, X[start:start + batch_size], y[start:start + batch_size])
        steps += 1
    return total / steps


# micrograd's demo: MLP 2-16-16-1, SVM max-margin loss + 1e-4 * sum(p^2), full-batch SGD.


def make_demo_mlp(params: list[np.ndarray]) -> nn.Sequential:
    """The demo network from reference_numpy's ``make_demo_mlp`` weights (float64)."""
    return from_numpy_params(params)


def demo_step(model: nn.Module, X: torch.Tensor, y: torch.Tensor, lr: float,
              alpha: float = 1e-4) -> float:
    """One full-batch step of the demo; returns the loss before it."""
    scores = model(X)[:, 0]
    data_loss = torch.relu(1 - y * scores).mean()
    reg_loss = alpha * sum((p * p).sum() for p in model.parameters())
    loss = data_loss + reg_loss
    model.zero_grad(set_to_none=True)
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= lr * p.grad
    return loss.item()


def demo_train(model: nn.Module, X: torch.Tensor, y: torch.Tensor, steps: int = 100) -> list:
    return [demo_step(model, X, y, 1.0 - 0.9 * k / 100) for k in range(steps)]


def make_cnn(layers: list, seed: int = 0) -> nn.Sequential:
    """A Sequential from one of harness.CNN_WORKLOADS' layer lists, with torch's default init."""
    torch.manual_seed(seed)
    out: list[nn.Module] = []
    for layer in layers:
        kind, args = layer[0], layer[1:]
        if kind == "conv":
            out.append(nn.Conv2d(args[0], args[1], args[2], stride=args[3], padding=args[4]))
        elif kind == "conv1d":
            out.append(nn.Conv1d(args[0], args[1], args[2], stride=args[3], padding=args[4]))
        elif kind == "relu":
            out.append(nn.ReLU())
        elif kind == "maxpool":
            out.append(nn.MaxPool2d(args[0]))
        elif kind == "flatten":
            out.append(nn.Flatten())
        elif kind == "linear":
            out.append(nn.Linear(args[0], args[1]))
    return nn.Sequential(*out)
