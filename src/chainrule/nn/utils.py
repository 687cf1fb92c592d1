"""Gradient clipping: clip_grad_norm_ and clip_grad_value_ (PyTorch's ``torch.nn.utils``).

Both replace each ``p.grad`` by a new array rather than scaling it in place, because gradient
arrays may be shared (docs/architecture.md, "The engine's contract").
"""
from __future__ import annotations

import math

import numpy as np

from chainrule import validation as check
from chainrule.engine import Tensor, backend


def _grads(parameters):
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p for p in params if p.grad is not None]


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Scale the gradients so their joint ``norm_type``-norm is at most ``max_norm``; return the
    norm they had.

    The norm is taken over all gradients together, as if concatenated; every gradient is
    multiplied by min(1, max_norm / (norm + 1e-6)).

    >>> import chainrule as cr
    >>> w = cr.tensor([3.0, 4.0], requires_grad=True)
    >>> (w * w).sum().backward()               # grad = [6, 8], norm 10
    >>> round(cr.nn.utils.clip_grad_norm_([w], 1.0).item(), 4), [round(g, 4) for g in w.grad.tolist()]
    (10.0, [0.6, 0.8])
    """
    params = _grads(parameters)
    norm_type = float(norm_type)
    if not params:
        return Tensor(0.0)
    xp = backend.array_module(params[0].grad)
    if norm_type == math.inf:
        norms = [xp.abs(p.grad).max() if p.grad.size else xp.zeros(()) for p in params]
        total = max(float(n) for n in norms)
    else:
        total = float(sum(float((xp.abs(p.grad) ** norm_type).sum()) for p in params)) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"the total norm of order {norm_type} of the gradients is {total}; "
                           "pass error_if_nonfinite=False to clip anyway")
    coef = min(1.0, max_norm / (total + 1e-6))
    for p in params:
        p.grad = p.grad * p.grad.dtype.type(coef)
    return Tensor(np.asarray(total, dtype=params[0].grad.dtype))


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clip every gradient entry to [−clip_value, clip_value].

    >>> import chainrule as cr
    >>> w = cr.tensor([3.0, -4.0], requires_grad=True)
    >>> (w * w).sum().backward()               # grad = [6, -8]
    >>> cr.nn.utils.clip_grad_value_([w], 1.0); w.grad.tolist()
    [1.0, -1.0]
    """
    check.number("clip_value", clip_value, low=0)
    for p in _grads(parameters):
        p.grad = backend.array_module(p.grad).clip(p.grad, -clip_value, clip_value)
