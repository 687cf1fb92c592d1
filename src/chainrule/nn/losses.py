"""Module wrappers of the losses in ``chainrule.nn.functional`` (``loss_fn(scores, target)``)."""
from __future__ import annotations

from chainrule.nn import functional as F
from chainrule.nn.module import Module


class CrossEntropyLoss(Module):
    """Softmax cross-entropy; see :func:`chainrule.nn.functional.cross_entropy`."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = F._reduction(reduction)

    def forward(self, scores, target):
        return F.cross_entropy(scores, target, reduction=self.reduction)

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class MulticlassHingeLoss(CrossEntropyLoss):
    """The multiclass SVM loss; see :func:`chainrule.nn.functional.multiclass_hinge`."""

    def __init__(self, margin: float = 1.0, reduction: str = "mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, scores, target):
        return F.multiclass_hinge(scores, target, margin=self.margin, reduction=self.reduction)


class BCEWithLogitsLoss(CrossEntropyLoss):
    """Logistic loss from logits; see :func:`chainrule.nn.functional.binary_cross_entropy_with_logits`."""

    def forward(self, scores, target):
        return F.binary_cross_entropy_with_logits(scores, target, reduction=self.reduction)


class BinaryHingeLoss(MulticlassHingeLoss):
    """The binary SVM loss max(0, Δ − y·s); see :func:`chainrule.nn.functional.binary_hinge`."""

    def forward(self, scores, target):
        return F.binary_hinge(scores, target, margin=self.margin, reduction=self.reduction)


class MSELoss(CrossEntropyLoss):
    """Squared error; ``reduction="sum"`` is the lecture's E(w) = Σ (y − f(x))²."""

    def forward(self, pred, target):
        return F.mse(pred, target, reduction=self.reduction)
