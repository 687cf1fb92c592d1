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
:class:`CapturedStep`     what would be the autodiff step, when the run asks for ``capture=True``:
                          the same step recorded once per batch shape and replayed
                          (:mod:`chainrule.train.capture`)
:class:`AutodiffStep`     everything else: forward, loss, backward, optimizer step
========================  ======================================================================

A run that asks for capture with any other step trains uncaptured, with a
:class:`~chainrule.train.capture.CaptureWarning` saying why (the step's ``cannot_capture``).

Each step is called with one batch ``(xb, yb)``: ``xb`` an array on the model's device (the loop
copies each batch there), ``yb`` host targets as the loss reads them; it returns the batch's loss
at the weights before the step, as a float.
"""
from __future__ import annotations

import warnings

from chainrule.engine import Tensor, backend, no_grad
from chainrule.train.capture import CaptureWarning, CapturedSteps

__all__ = ["AnalyticStep", "AutodiffStep", "CapturedStep", "ClosureStep", "RuleStep", "choose_step"]


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


class CapturedStep(AutodiffStep):
    """The autodiff step recorded once per batch shape and replayed: bit-identical results.

    Its ``name`` is the autodiff step's: a checkpoint written captured resumes uncaptured and back.
    """

    def __init__(self, trainer):
        super().__init__(trainer)
        self.captured = CapturedSteps()

    def __call__(self, xb, yb) -> float:
        return float(self.captured.step(self.trainer, Tensor(xb), yb).item())


class AnalyticStep:
    """The loss and its vectorized analytic gradient (NumPy, no graph), then the optimizer's step.

    ``p.grad`` is set from ``model.analytic_loss(xb, labels, reg)``: ``(loss, {name: grad})``.
    """

    name = "analytic"
    cannot_capture = "{model} computes its gradient analytically, without a graph"

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
    cannot_capture = "the optimizer {optimizer} evaluates the model inside its closure"

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
    cannot_capture = "{model} trains by its own update rule, without a graph"

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


def choose_step(model, optimizer, capture: bool = False, optimizer_name=None):
    """The step class for ``model`` and ``optimizer``, from what they declare (see the module doc).

    ``capture=True`` turns the autodiff step into :class:`CapturedStep`; any other step is kept
    and a :class:`CaptureWarning` says why it cannot be captured (``optimizer_name`` names the
    optimizer in it; by default its class).
    """
    if getattr(model, "update_rule", None) is not None:
        step = RuleStep
    elif getattr(optimizer, "requires_closure", False):
        step = ClosureStep
    elif getattr(model, "analytic_loss", None) is not None and getattr(optimizer, "uses_grad", True):
        step = AnalyticStep
    else:
        return CapturedStep if capture else AutodiffStep
    if capture:
        why = step.cannot_capture.format(model=type(model).__name__,
                                         optimizer=optimizer_name or type(optimizer).__name__)
        warnings.warn(f"capture: {why}; training uncaptured", CaptureWarning, stacklevel=3)
    return step


def finite_parameters(model) -> bool:
    """Whether every parameter of ``model`` is finite (no NaN, no infinity), on whatever device."""
    return all(bool(backend.array_module(p.data).isfinite(p.data).all()) for p in model.parameters())
