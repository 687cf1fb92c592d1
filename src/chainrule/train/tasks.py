"""The losses, declared once: name, aliases, tensor loss, analytic twin, targets, outputs.

Every part of chainrule that needs to know something about a loss reads its :class:`Task`
here: the training loop (the loss and how it reads targets), the linear models' analytic step
(``analytic``: the key of :data:`chainrule.models.losses.LOSSES` with the same formula), the
runs, estimators and CLI (how outputs become classes and probabilities: ``output``) and the
saved-model metadata (``name``).

>>> from chainrule.train import get_task
>>> task = get_task("softmax")          # an alias
>>> task.name, task.kind, task.output, task.analytic
('cross-entropy', 'multiclass', 'softmax', 'softmax')
>>> get_task("binary-hinge").targets([0, 1, 1]).tolist()   # the hinge reads -1/+1
[-1, 1, 1]
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chainrule import validation as check
from chainrule.engine import Tensor
from chainrule.nn import functional as F

__all__ = ["LOSS_NAMES", "TASKS", "Task", "TrainingDiverged", "get_task", "loss_of_model", "perceptron_criterion"]


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; the model holds the last good parameters."""


def perceptron_criterion(out: Tensor, y) -> Tensor:
    """The perceptron criterion on the engine: ``max(0, −t·s)`` on one output, ``max_j s_j − s_y`` on K.

    It is 0 exactly when every example is classified correctly (sign(0) = +1).
    """
    y = np.asarray(y)
    if out.ndim == 1 or out.shape[-1] == 1:
        s = out.reshape(-1)
        return (s * Tensor(1 - 2 * y, dtype=s.dtype)).relu().mean()
    return (out.max(axis=1) - out[np.arange(len(y)), y]).mean()


@dataclass(frozen=True)
class Task:
    """One loss's declaration: how it reads targets, scores outputs and turns them into predictions.

    Attributes
    ----------
    name : str
        The canonical name (what model files store).
    loss : callable
        The tensor loss ``loss(outputs, targets) -> Tensor``.
    kind : str
        ``"multiclass"`` (one output per class), ``"binary"`` (one output, labels 0/1),
        ``"regression"`` (numeric targets) or ``"classes"`` (either, by the model's width).
    output : str
        How outputs read: ``"softmax"`` (probabilities), ``"sigmoid"`` (a probability),
        ``"scores"`` (not probabilities), ``"binary-scores"``, ``"regression"``.
    analytic : str or None
        The key of the analytic twin in :data:`chainrule.models.losses.LOSSES`.
    aliases : tuple of str
        Other names that mean this loss.
    pm1 : bool
        The loss reads binary targets as −1/+1 rather than 0/1.
    networks : bool
        A network may be trained with it (``chainrule train --loss``); False for a model's own rule.
    """

    name: str
    loss: object
    kind: str
    output: str = "scores"
    analytic: str | None = None
    aliases: tuple = ()
    pm1: bool = False
    networks: bool = True

    def targets(self, y):
        """``y`` as this loss reads it: float columns for regression, int labels (±1 for the hinge)."""
        if self.kind == "regression":
            y = np.asarray(y, dtype=np.float32)
            return y[:, None] if y.ndim == 1 else y
        y = np.asarray(y)
        if y.dtype.kind not in "iub":
            raise TypeError(f"class labels must be integers; got dtype {y.dtype}")
        y = y.astype(np.int64)
        if self.kind == "binary":
            bad = y[(y != 0) & (y != 1)]
            if bad.size:
                raise ValueError(f"the {self.name} loss needs labels 0 and 1; got {bad[0]}")
            return 2 * y - 1 if self.pm1 else y
        return y

    def class_labels(self, targets):
        """The class labels 0..K−1 of targets made by :meth:`targets` (undoes the ±1 of the hinge)."""
        return (targets > 0).astype(np.int64) if self.pm1 else targets

    def __call__(self, out: Tensor, target) -> Tensor:
        if self.kind == "binary":
            out = out.reshape(-1)
        return self.loss(out, target)

    def predict(self, scores: np.ndarray) -> np.ndarray:
        """Class labels from raw outputs (regression: the outputs); one output: 1(s ≥ 0), sign(0) = +1."""
        if self.kind == "regression":
            return scores
        scores = np.asarray(scores)
        if scores.ndim == 1 or scores.shape[-1] == 1:
            return (scores.reshape(-1) >= 0).astype(np.int64)
        return scores.argmax(axis=1)


#: The losses, by canonical name.
TASKS_DECLARED = (
    Task("cross-entropy", F.cross_entropy, "multiclass", "softmax", "softmax", aliases=("softmax",)),
    Task("svm", F.multiclass_hinge, "multiclass", "scores", "svm", aliases=("hinge",)),
    Task("logistic", F.binary_cross_entropy_with_logits, "binary", "sigmoid", "logistic"),
    Task("binary-hinge", F.binary_hinge, "binary", "binary-scores", "binary_svm", pm1=True),
    Task("mse", F.mse, "regression", "regression"),
    Task("perceptron", perceptron_criterion, "classes", "scores", "perceptron", networks=False),
)
_BY_NAME = {t.name: t for t in TASKS_DECLARED}
#: Every name (canonical or alias) → its ``(kind, tensor loss)``; the names ``fit(loss=...)`` takes.
TASKS = {n: (t.kind, t.loss) for t in TASKS_DECLARED for n in (t.name, *t.aliases)}
#: Every name and alias.
LOSS_NAMES = tuple(TASKS)


def get_task(loss) -> Task:
    """The Task for a loss name or alias; an unknown name lists the valid ones."""
    if isinstance(loss, Task):
        return loss
    loss = check.choice("loss", loss, sorted(TASKS))
    return next(t for t in TASKS_DECLARED if loss == t.name or loss in t.aliases)


def loss_of_model(model) -> Task | None:
    """The loss a classic model is defined by (from its analytic twin's key); None for a network."""
    key = getattr(model, "loss", None)
    if not isinstance(key, str):
        return None
    for t in TASKS_DECLARED:
        if t.analytic == key:
            return t
    return None
