"""Adaptive gradient methods: RMSprop, Adagrad, Adam and AdamW (PyTorch's update rules)."""
from __future__ import annotations

import math

import numpy as np

from chainrule import validation as check
from chainrule.optim.optimizer import Optimizer

__all__ = ["RMSprop", "Adagrad", "Adam", "AdamW"]


def _check_flags(group, *names):
    for name in names:
        check.boolean(name, group.get(name, False))


def _check_betas(betas):
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise TypeError(check.message("betas", "a pair (beta1, beta2)", betas))
    for i, beta in enumerate(betas):
        check.number(f"betas[{i}]", beta, low=0, high=1, high_open=True)


class RMSprop(Optimizer):
    """RMSprop: divide the gradient by a running root mean square of recent gradients.

    For each parameter ``p`` with gradient ``∇``, learning rate ``η``, smoothing ``α``, weight
    decay ``λ`` and momentum ``μ`` (PyTorch's rule, ``centered=False``)::

        g ← ∇ + λ·p
        v ← α·v + (1 − α)·g²                 v starts at 0
        b ← μ·b + g / (√v + ε);   p ← p − η·b     if μ > 0   (b starts at 0)
        p ← p − η·g / (√v + ε)                    if μ = 0

    With ``centered=True`` the denominator is √(v − ḡ²) + ε, where ḡ ← α·ḡ + (1 − α)·g is a
    running mean of the gradient (``state[p]["grad_avg"]``): the variance instead of the raw
    second moment. ``v`` is ``state[p]["square_avg"]``, ``b`` is ``state[p]["momentum_buffer"]``.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> from chainrule.optim import RMSprop
    >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = RMSprop([w], lr=0.01)
    >>> (w * w).sum().backward()
    >>> _ = opt.step()                 # first step: η·g/√(0.01·g²) = 10·η·sign(g)
    >>> np.round(w.numpy(), 4)
    array([ 0.9, -1.9], dtype=float32)
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, maximize=False):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _validate(self, group):
        check.number("lr", group["lr"], low=0)
        check.number("alpha", group["alpha"], low=0, high=1)
        check.number("eps", group["eps"], low=0)
        check.number("weight_decay", group["weight_decay"], low=0)
        check.number("momentum", group["momentum"], low=0)
        _check_flags(group, "centered", "maximize")

    def _buffer_names(self, group):
        return (("square_avg",) + (("momentum_buffer",) if group["momentum"] else ())
                + (("grad_avg",) if group.get("centered") else ()))

    def _update(self, group, g, bufs, u, t, c):
        alpha = group["alpha"]
        square_avg = bufs[0]
        square_avg *= c(alpha)
        np.multiply(g, g, out=u)
        u *= c(1.0 - alpha)
        square_avg += u
        if group.get("centered"):
            grad_avg = bufs[-1]
            grad_avg *= c(alpha)
            np.multiply(g, c(1.0 - alpha), out=u)
            grad_avg += u
            np.multiply(grad_avg, grad_avg, out=u)
            np.subtract(square_avg, u, out=u)
            np.sqrt(u, out=u)
        else:
            np.sqrt(square_avg, out=u)
        u += c(group["eps"])
        np.divide(g, u, out=u)
        if group["momentum"]:
            buf = bufs[1]
            buf *= c(group["momentum"])
            buf += u
            return np.multiply(buf, c(group["lr"]), out=u)
        u *= c(group["lr"])
        return u


class Adagrad(Optimizer):
    """Adagrad: a per-entry learning rate that shrinks with the sum of squared gradients.

    For each parameter ``p`` with gradient ``∇``, learning rate ``η`` and weight decay ``λ``
    (PyTorch's rule with ``lr_decay = 0`` and ``initial_accumulator_value = 0``)::

        g ← ∇ + λ·p
        s ← s + g²                            s starts at 0
        p ← p − η·g / (√s + ε)

    ``s`` is ``state[p]["sum"]``.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> from chainrule.optim import Adagrad
    >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Adagrad([w], lr=0.5)
    >>> (w * w).sum().backward()
    >>> _ = opt.step()                 # first step: η·g/|g| = η·sign(g)
    >>> np.round(w.numpy(), 4)
    array([ 0.5, -1.5], dtype=float32)
    """

    def __init__(self, params, lr=1e-2, eps=1e-10, weight_decay=0.0, maximize=False):
        super().__init__(params, dict(lr=lr, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _validate(self, group):
        check.number("lr", group["lr"], low=0)
        check.number("eps", group["eps"], low=0)
        check.number("weight_decay", group["weight_decay"], low=0)
        _check_flags(group, "maximize")

    def _buffer_names(self, group):
        return ("sum",)

    def _update(self, group, g, bufs, u, t, c):
        total = bufs[0]
        np.multiply(g, g, out=u)
        total += u
        np.sqrt(total, out=u)
        u += c(group["eps"])
        np.divide(g, u, out=u)
        u *= c(group["lr"])
        return u


class Adam(Optimizer):
    """Adam: momentum on the gradient, RMSprop's scaling, and bias correction for both.

    For each parameter ``p`` with gradient ``∇`` at step ``t = 1, 2, ...``, learning rate ``η``,
    ``betas = (β₁, β₂)`` and weight decay ``λ`` (an L2 penalty added to the gradient; for
    decoupled weight decay use :class:`AdamW`)::

        g ← ∇ + λ·p
        m ← β₁·m + (1 − β₁)·g                 m and v start at 0
        v ← β₂·v + (1 − β₂)·g²
        m̂ ← m / (1 − β₁ᵗ);   v̂ ← v / (1 − β₂ᵗ)
        p ← p − η·m̂ / (√v̂ + ε)

    ``m`` is ``state[p]["exp_avg"]``, ``v`` is ``state[p]["exp_avg_sq"]``, ``t`` is
    ``state[p]["step"]``. With ``amsgrad=True`` the denominator uses v_max ← max(v_max, v), the
    largest ``v`` so far (``state[p]["max_exp_avg_sq"]``), in place of ``v``; with
    ``maximize=True`` the rule runs on −∇.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> from chainrule.optim import Adam
    >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> _ = opt.step()                 # first step: m̂ = g, v̂ = g², so p ← p − η·sign(g)
    >>> np.round(w.numpy(), 4)
    array([ 0.9, -1.9], dtype=float32)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 maximize=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def _validate(self, group):
        check.number("lr", group["lr"], low=0)
        _check_betas(group["betas"])
        check.number("eps", group["eps"], low=0)
        check.number("weight_decay", group["weight_decay"], low=0)
        _check_flags(group, "amsgrad", "maximize")

    def _buffer_names(self, group):
        return ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if group.get("amsgrad") else ("exp_avg", "exp_avg_sq")

    def _update(self, group, g, bufs, u, t, c):
        beta1, beta2 = group["betas"]
        exp_avg, exp_avg_sq = bufs[:2]
        exp_avg *= c(beta1)
        np.multiply(g, c(1.0 - beta1), out=u)
        exp_avg += u
        exp_avg_sq *= c(beta2)
        np.multiply(g, g, out=u)
        u *= c(1.0 - beta2)
        exp_avg_sq += u
        if group.get("amsgrad"):
            np.maximum(bufs[2], exp_avg_sq, out=bufs[2])
            exp_avg_sq = bufs[2]
        # PyTorch's arrangement: denom = √v / √(1 − β₂ᵗ) + ε, step = η / (1 − β₁ᵗ) · m / denom.
        np.sqrt(exp_avg_sq, out=u)
        u /= c(math.sqrt(1.0 - beta2 ** t))
        u += c(group["eps"])
        np.divide(exp_avg, u, out=u)
        u *= c(group["lr"] / (1.0 - beta1 ** t))
        return u


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): the decay is not in ``m`` or ``v``.

    For each parameter ``p`` with gradient ``g`` at step ``t``, learning rate ``η``,
    ``betas = (β₁, β₂)`` and weight decay ``λ``::

        p ← p − η·λ·p                          (that is, p ← (1 − η·λ)·p)
        m ← β₁·m + (1 − β₁)·g
        v ← β₂·v + (1 − β₂)·g²
        m̂ ← m / (1 − β₁ᵗ);   v̂ ← v / (1 − β₂ᵗ)
        p ← p − η·m̂ / (√v̂ + ε)

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> from chainrule.optim import AdamW
    >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
    >>> (w * w).sum().backward()
    >>> _ = opt.step()                 # (1 − 0.05)·p − 0.1·sign(g)
    >>> np.round(w.numpy(), 4)
    array([ 0.85, -1.8 ], dtype=float32)
    """

    _decay = "decoupled"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                 maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize)
