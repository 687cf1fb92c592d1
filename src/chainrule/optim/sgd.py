"""Stochastic gradient descent, with momentum and Nesterov momentum (the lecture's strategy #3)."""
from __future__ import annotations

import numpy as np

from chainrule import validation as check
from chainrule.optim.optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """Gradient descent: ``weights += -step_size * weights_grad``, with optional momentum.

    Whether it is vanilla (full-batch), mini-batch or stochastic gradient descent depends only
    on how many examples the loss was computed on; the update is the same. For each parameter
    ``p`` with gradient ``∇``, learning rate ``η``, weight decay ``λ``, momentum ``μ`` and
    dampening ``τ`` (PyTorch's rule, ``torch.optim.SGD``)::

        g ← ∇ + λ·p
        b ← g                         at the first step        (only when μ ≠ 0)
        b ← μ·b + (1 − τ)·g           at later steps
        g ← g + μ·b   if nesterov,  else  g ← b
        p ← p − η·g

    With ``μ = 0`` this is ``p ← p − η·(∇ + λ·p)``. The momentum buffer ``b`` is
    ``state[p]["momentum_buffer"]``. With ``maximize=True`` the rule runs on −∇ (gradient
    ascent), as PyTorch's.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters to optimize, or parameter groups (see :class:`Optimizer`).
    lr : float
        Learning rate ``η`` (the lecture's step size), ``>= 0``.
    momentum : float
        Momentum factor ``μ >= 0``.
    dampening : float
        Dampening ``τ`` in ``[0, 1]`` for momentum.
    weight_decay : float
        L2 penalty ``λ >= 0``: the gradient of ``λ/2·Σp²`` is added to ``∇``.
    nesterov : bool
        Nesterov momentum; needs ``μ > 0`` and ``τ = 0``.
    maximize : bool
        Maximize the objective instead of minimizing it.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> from chainrule.optim import SGD
    >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     opt.zero_grad()
    ...     loss = (w * w).sum()
    ...     loss.backward()
    ...     _ = opt.step()
    >>> np.round(w.numpy(), 4)          # b = 2w = [2, -4], then 0.9·b + 2w = [3.4, -6.8]
    array([ 0.46, -0.92], dtype=float32)
    """

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 maximize=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _validate(self, group):
        check.number("lr", group["lr"], low=0)
        check.number("momentum", group["momentum"], low=0)
        check.number("dampening", group["dampening"], low=0, high=1)
        check.number("weight_decay", group["weight_decay"], low=0)
        for flag in ("nesterov", "maximize"):
            check.boolean(flag, group.get(flag, False))
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"Nesterov momentum requires a momentum and zero dampening (got momentum="
                f"{group['momentum']}, dampening={group['dampening']})"
            )

    def _buffer_names(self, group):
        return ("momentum_buffer",) if group["momentum"] else ()

    def _update(self, group, g, bufs, u, t, c):
        # The step is η·g, η·buf or η·(g + μ·buf): returned as (x, η), so that the base class
        # updates p ← p − η·x in one fused pass (the multiply by η is never written out).
        lr, mu = group["lr"], group["momentum"]
        if not mu:
            return g, lr
        buf = bufs[0]
        if t == 1:
            buf[...] = g
        else:
            buf *= c(mu)
            damp = group["dampening"]
            if damp:
                np.multiply(g, c(1.0 - damp), out=u)
                buf += u
            else:
                buf += g
        if group["nesterov"]:
            np.multiply(buf, c(mu), out=u)
            u += g
            return u, lr
        return buf, lr
