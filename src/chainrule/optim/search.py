"""Derivative-free optimizers: the lecture's strategy #1 (random search) and #2 (random local search).

Both only evaluate the loss: ``step(closure)`` calls the closure under ``no_grad`` and never
reads ``.grad``, so they work on any model's parameters, differentiable or not. Each counts its
loss evaluations, which is the fair budget to compare them with gradient descent.

A training loop can tell them apart from the gradient methods by ``opt.uses_grad`` (False) and
``opt.requires_closure`` (True): their closure must only compute the loss, since ``backward()``
on a loss computed under ``no_grad`` raises.
"""
from __future__ import annotations

import math

import numpy as np

from chainrule.engine import Tensor, device_of, no_grad, to_device
from chainrule import validation as check
from chainrule.optim.optimizer import Optimizer

__all__ = ["RandomSearch", "RandomLocalSearch"]

_WORD = (1 << 64) - 1


def _rng_words(node, out):
    """Flatten a bit generator's state (nested dicts of ints and arrays) into uint64 words."""
    if isinstance(node, dict):
        for key in sorted(node):
            if key != "bit_generator":
                _rng_words(node[key], out)
    elif isinstance(node, np.ndarray):
        out.extend(node.ravel().astype(np.uint64).tolist())
    else:
        value = int(node)  # PCG64's state and increment are 128-bit integers: two words each
        out.extend((value >> 64, value & _WORD))


def _rng_unwords(template, words, pos):
    """The inverse of :func:`_rng_words`, shaped like ``template``; returns (state, next pos)."""
    if isinstance(template, dict):
        out = {}
        for key in sorted(template):
            if key == "bit_generator":
                out[key] = template[key]
            else:
                out[key], pos = _rng_unwords(template[key], words, pos)
        return out, pos
    if isinstance(template, np.ndarray):
        n = template.size
        return np.array(words[pos:pos + n], dtype=np.uint64).astype(template.dtype).reshape(
            template.shape), pos + n
    return (int(words[pos]) << 64) | int(words[pos + 1]), pos + 2


class _Search(Optimizer):
    """Shared machinery: the closure, the random generator, the counters and their state."""

    requires_closure = True
    uses_grad = False
    has_learning_rate = False
    needs_rng = True

    def __init__(self, params, defaults, rng):
        super().__init__(params, defaults)
        self.rng = np.random.default_rng(rng)
        self.best_loss = None
        self.loss_evaluations = 0

    def _evaluate(self, closure):
        with no_grad():
            value = closure()
        self.loss_evaluations += 1
        loss = value.item() if isinstance(value, Tensor) else float(value)
        return value, loss

    def _check_closure(self, closure):
        if closure is None or not callable(closure):
            raise ValueError(
                f"{type(self).__name__}.step() needs a closure that evaluates the model and "
                f"returns the loss (it is derivative-free: it compares losses and never reads "
                f".grad); got {closure!r}"
            )

    def _draw(self, p, scale):
        """``scale · randn`` shaped and typed like ``p`` (float16 data is drawn in float64)."""
        dtype = p.dtype if p.dtype in (np.float32, np.float64) else np.float64
        z = self.rng.standard_normal(p.shape, dtype=dtype)
        if scale != 1.0:
            z *= scale
        return to_device(z, device_of(p.data))  # drawn on the host: the same on every device

    def _params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def _extra_state(self):
        words = []
        _rng_words(self.rng.bit_generator.state, words)
        extra = {
            "loss_evaluations": self.loss_evaluations,
            "rng_bit_generator": self.rng.bit_generator.state["bit_generator"],
            "rng_state": np.array(words, dtype=np.uint64),
        }
        if self.best_loss is not None:
            extra["best_loss"] = self.best_loss
        return extra

    def _load_extra_state(self, state_dict):
        try:
            name = state_dict["rng_bit_generator"]
            words = np.asarray(state_dict["rng_state"], dtype=np.uint64).tolist()
            evaluations = int(state_dict["loss_evaluations"])
        except KeyError as exc:
            raise ValueError(f"the state_dict of a {type(self).__name__} needs {exc}") from None
        template = self.rng.bit_generator.state
        if name != template["bit_generator"]:
            raise ValueError(
                f"the state_dict's random generator is {name}; this optimizer's is "
                f"{template['bit_generator']}"
            )
        state, used = _rng_unwords(template, words, 0)
        if used != len(words):
            raise ValueError(f"the state_dict's rng_state has {len(words)} words; {name} needs {used}")
        best = state_dict.get("best_loss")
        self.rng.bit_generator.state = state
        self.loss_evaluations = evaluations
        self.best_loss = None if best is None else float(best)


class RandomSearch(_Search):
    """Strategy #1: try many random parameter sets and keep the best one found.

    Each ``step(closure)`` draws a whole new set of parameters and evaluates the loss once::

        W_try ← scale · randn(same shapes and dtypes as the parameters)
        L_try ← closure()                    under no_grad
        if L_try < L_best:  L_best ← L_try,  W ← W_try
        else:               W stays at the best set found so far

    The first draw is always kept (``L_best`` starts at +∞, as in the lecture). The parameters'
    starting values are never evaluated. Losses that are NaN are never kept.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Floating tensors (they need not require a gradient), or parameter groups with their own
        ``scale``.
    scale : float
        Standard deviation of the draws, ``>= 0`` (the lecture draws ``randn * 0.0001`` for its
        CIFAR-10 classifier).
    rng : int, numpy.random.Generator or None
        Seed or generator: the same seed gives the same trajectory.

    Attributes
    ----------
    best_loss : float or None
        The lowest loss found (None before the first step).
    loss_evaluations : int
        How many times the closure has been called.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import RandomSearch
    >>> w = cr.tensor([0.0, 0.0])
    >>> target = cr.tensor([0.5, -0.5])
    >>> opt = RandomSearch([w], scale=1.0, rng=0)
    >>> for _ in range(100):
    ...     _ = opt.step(lambda: ((w - target) ** 2).sum())
    >>> opt.loss_evaluations, opt.best_loss < 0.05
    (100, True)
    """

    step_size_name = _lr_alias = "scale"  # what make_optimizer's lr means here

    def __init__(self, params, scale=1.0, rng=None):
        super().__init__(params, dict(scale=scale), rng)

    def _validate(self, group):
        check.number("scale", group["scale"], low=0)

    def step(self, closure=None):
        """Evaluate one random parameter set; return the closure's value for it."""
        with self._on_device():  # the parameters' device is the current one
            self._check_closure(closure)
            params = self._params()
            saved = [p.data.copy() for p in params]
            for group in self.param_groups:
                scale = float(group["scale"])
                for p in group["params"]:
                    p.data[...] = self._draw(p, scale)
            value, loss = self._evaluate(closure)
            if loss < (math.inf if self.best_loss is None else self.best_loss):
                self.best_loss = loss
            else:
                for p, old in zip(params, saved):
                    p.data[...] = old
            return value


class RandomLocalSearch(_Search):
    """Strategy #2: perturb the parameters at random and keep the change only if the loss drops.

    Each ``step(closure)`` makes one random move from the current parameters ``W``::

        W_try ← W + step_size · randn(same shapes and dtypes)
        L_try ← closure()                    under no_grad
        if L_try < L_best:  W ← W_try,  L_best ← L_try
        else:               W is restored exactly (from a copy)

    The first step also evaluates the loss at the starting parameters to get ``L_best``, so it
    costs two evaluations (the lecture starts from ``L_best = +∞`` and so accepts any first
    move, even one that makes a good model worse; this does not). A NaN loss is never kept.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Floating tensors (they need not require a gradient), or parameter groups with their own
        ``step_size``.
    step_size : float
        Standard deviation of each move, ``>= 0``. The default, ``1e-2``, is about a tenth of
        the size of typical initial weights (``1/√fan_in`` for layers of tens to hundreds of
        inputs), the same proportion as the lecture's ``1e-4`` steps for ``1e-3`` weights.
    rng : int, numpy.random.Generator or None
        Seed or generator: the same seed gives the same trajectory.

    Attributes
    ----------
    best_loss : float or None
        The loss at the current parameters (None before the first step).
    loss_evaluations : int
        How many times the closure has been called.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import RandomLocalSearch
    >>> w = cr.tensor([0.0, 0.0])
    >>> target = cr.tensor([0.5, -0.5])
    >>> opt = RandomLocalSearch([w], step_size=0.1, rng=0)
    >>> for _ in range(200):
    ...     _ = opt.step(lambda: ((w - target) ** 2).sum())
    >>> opt.loss_evaluations, opt.best_loss < 0.01
    (201, True)
    """

    step_size_name = _lr_alias = "step_size"  # what make_optimizer's lr means here

    def __init__(self, params, step_size=1e-2, rng=None):
        super().__init__(params, dict(step_size=step_size), rng)

    def _validate(self, group):
        check.number("step_size", group["step_size"], low=0)

    def step(self, closure=None):
        """Try one random move; return the closure's value at the moved parameters."""
        with self._on_device():  # the parameters' device is the current one
            self._check_closure(closure)
            if self.best_loss is None:
                _, loss = self._evaluate(closure)
                self.best_loss = loss if loss == loss else math.inf
            params = self._params()
            saved = [p.data.copy() for p in params]
            for group in self.param_groups:
                step_size = float(group["step_size"])
                for p in group["params"]:
                    d = p.data
                    d += self._draw(p, step_size)
            value, loss = self._evaluate(closure)
            if loss < self.best_loss:
                self.best_loss = loss
            else:
                for p, old in zip(params, saved):
                    p.data[...] = old
            return value
