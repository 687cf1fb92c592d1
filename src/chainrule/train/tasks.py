"""Tasks: how a loss reads its targets and turns outputs into predictions."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chainrule.engine import Tensor
from chainrule.nn import functional as F


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; the model holds the last good parameters."""


# ====================================================================== tasks: how a loss reads targets
@dataclass(frozen=True)
class Task:
    """How a loss turns targets and outputs into a loss value and predictions."""

    name: str
    loss: object
    kind: str  # "multiclass", "binary" or "regression"

    def targets(self, y):
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
            return 2 * y - 1 if self.name == "binary-hinge" else y
        return y

    def __call__(self, out: Tensor, target) -> Tensor:
        if self.kind == "binary":
            out = out.reshape(-1)
        return self.loss(out, target)

    def predict(self, scores: np.ndarray) -> np.ndarray:
        if self.kind == "multiclass":
            return scores.argmax(axis=1)
        if self.kind == "binary":
            return (scores.reshape(-1) >= 0).astype(np.int64)  # sign(0) = +1, as in the models
        return scores


TASKS = {
    "cross-entropy": ("multiclass", F.cross_entropy),
    "softmax": ("multiclass", F.cross_entropy),
    "svm": ("multiclass", F.multiclass_hinge),
    "hinge": ("multiclass", F.multiclass_hinge),
    "logistic": ("binary", F.binary_cross_entropy_with_logits),
    "binary-hinge": ("binary", F.binary_hinge),
    "mse": ("regression", F.mse),
}


def get_task(loss) -> Task:
    """The Task for a loss name; an unknown name lists the valid ones."""
    if isinstance(loss, Task):
        return loss
    if loss not in TASKS:
        raise ValueError(f"unknown loss {loss!r}; expected one of {sorted(TASKS)}")
    kind, fn = TASKS[loss]
    return Task(loss, fn, kind)
