"""The steps of the one loop: what one batch does to the model, chosen from what it declares.

:class:`~chainrule.train.Trainer` runs every model through the same epochs and batches; only
the step differs, and :func:`choose_step` picks it from declarations, never from names:

========================  ======================================================================
step                      chosen when
========================  ======================================================================
:class:`RuleStep`         the model declares its own update rule (``model.update_rule``: the
                          perceptron's w ← w + α(y − y′)x); there is no optimizer
:class:`ClosureStep`      the optimizer declares ``requires_closure`` (random search, random
                          local search): it scores the weights it tries through a closure
:class:`AnalyticStep`     the model declares an analytic gradient (``model.analytic_loss``, the
                          linear models' vectorized formulas) and the optimizer reads gradients
:class:`AutodiffStep`     everything else: forward, loss, backward, optimizer step
========================  ======================================================================

Each step is called with one batch ``(xb, yb)`` (NumPy arrays; ``yb`` as the loss reads its
targets) and returns the batch's loss at the weights before the step, as a float.
"""
from __future__ import annotations

import numpy as np

from chainrule.engine import Tensor, no_grad

__all__ = ["AnalyticStep", "AutodiffStep", "ClosureStep", "RuleStep", "choose_step"]


class AutodiffStep:
    """Forward, loss (with ``λ Σ W²``), backward, optimizer step."""

    name = "autodiff"

    def __init__(self, trainer):
        self.trainer = trainer

    def __call__(self, xb, yb) -> float:
        t = self.trainer
        loss = t.loss(t.model(Tensor(xb)), yb)
        t.optimizer.zero_grad()
        loss.backward(keep_grads=False)  # only the parameters' gradients are needed
        t.optimizer.step()
        return float(loss.item())


class AnalyticStep:
    """The loss and its vectorized analytic gradient (NumPy, no graph), then the optimizer's step.

    ``p.grad`` is set from ``model.analytic_loss(xb, labels, reg)``: ``(loss, {name: grad})``.
    """

    name = "analytic"

    def __init__(self, trainer):
        self.trainer = trainer
        self.params = dict(trainer.model.named_parameters())

    def __call__(self, xb, yb) -> float:
        t = self.trainer
        loss, grads = t.model.analytic_loss(xb, t.task.class_labels(yb), t.config.reg)
        t.optimizer.zero_grad()
        for name, g in grads.items():
            self.params[name].grad = g
        t.optimizer.step()
        return float(loss)


class ClosureStep:
    """A derivative-free optimizer's step: it scores the weights it tries through the closure.

    The closure computes the batch loss with the model's analytic formula when it declares one,
    else with a forward pass on the engine; it never calls ``backward()``.
    """

    name = "closure"

    def __init__(self, trainer):
        self.trainer = trainer
        self.analytic = getattr(trainer.model, "analytic_loss", None) is not None

    def __call__(self, xb, yb) -> float:
        t = self.trainer
        if self.analytic:
            labels = t.task.class_labels(yb)
            value = t.optimizer.step(lambda: t.model.analytic_loss(xb, labels, t.config.reg, grad=False)[0])
        else:
            x = Tensor(xb)
            value = t.optimizer.step(lambda: t.loss(t.model(x), yb))
        return float(value.item() if isinstance(value, Tensor) else value)


class RuleStep:
    """The model's own update rule on each example of the batch, in the batch's order.

    ``model.update_rule(xb, labels, lr) -> (loss_before, mistakes)``; the epoch's mistakes are
    added to its record, and a pass without mistakes ends training (every later pass would
    change nothing).
    """

    name = "rule"

    def __init__(self, trainer):
        self.trainer = trainer
        self.mistakes = 0

    def __call__(self, xb, yb) -> float:
        t = self.trainer
        with no_grad():
            loss, mistakes = t.model.update_rule(xb, t.task.class_labels(yb), t.lr)
        self.mistakes += mistakes
        return float(loss)

    def end_epoch(self, record: dict) -> bool:
        """Add the epoch's mistakes to its record; True (stop) after a pass without mistakes."""
        record["mistakes"], self.mistakes = self.mistakes, 0
        return record["mistakes"] == 0


def choose_step(model, optimizer):
    """The step class for ``model`` and ``optimizer``, from what they declare (see the module doc)."""
    if getattr(model, "update_rule", None) is not None:
        return RuleStep
    if getattr(optimizer, "requires_closure", False):
        return ClosureStep
    if getattr(model, "analytic_loss", None) is not None and getattr(optimizer, "uses_grad", True):
        return AnalyticStep
    return AutodiffStep


def finite_parameters(model) -> bool:
    """Whether every parameter of ``model`` is finite (no NaN, no infinity)."""
    return all(bool(np.isfinite(p.data).all()) for p in model.parameters())
