"""Module wrappers of the losses in ``chainrule.nn.functional`` (``loss_fn(scores, target)``)."""
from __future__ import annotations

from chainrule.nn import functional as F
from chainrule.nn.module import Module


class CrossEntropyLoss(Module):
    """Softmax cross-entropy; see :func:`chainrule.nn.functional.cross_entropy` (PyTorch's options:
    ``weight``, ``ignore_index``, ``label_smoothing``, probability targets)."""

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__()
        if isinstance(weight, str):  # the old signature CrossEntropyLoss(reduction) kept working
            weight, reduction = None, weight
        self.reduction = F.check_reduction(reduction)
        self.weight, self.ignore_index, self.label_smoothing = weight, ignore_index, label_smoothing

    def forward(self, scores, target):
        return F.cross_entropy(scores, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing)

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class _Reduced(Module):
    """A loss whose only setting is its reduction."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = F.check_reduction(reduction)

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class NLLLoss(_Reduced):
    """Negative log-likelihood of log-probabilities; see :func:`chainrule.nn.functional.nll_loss`."""

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction)
        self.weight, self.ignore_index = weight, ignore_index

    def forward(self, log_probs, target):
        return F.nll_loss(log_probs, target, self.weight, self.ignore_index, self.reduction)


class L1Loss(_Reduced):
    """Absolute error; see :func:`chainrule.nn.functional.l1_loss`."""

    def forward(self, pred, target):
        return F.l1_loss(pred, target, self.reduction)


class HuberLoss(_Reduced):
    """Huber loss with threshold ``delta``; see :func:`chainrule.nn.functional.huber_loss`."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, pred, target):
        return F.huber_loss(pred, target, self.reduction, self.delta)


class SmoothL1Loss(_Reduced):
    """Smooth L1 loss with threshold ``beta``; see :func:`chainrule.nn.functional.smooth_l1_loss`."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction)
        self.beta = beta

    def forward(self, pred, target):
        return F.smooth_l1_loss(pred, target, self.reduction, self.beta)


class BCELoss(_Reduced):
    """Binary cross-entropy on probabilities; see :func:`chainrule.nn.functional.binary_cross_entropy`."""

    def __init__(self, weight=None, reduction: str = "mean"):
        super().__init__(reduction)
        self.weight = weight

    def forward(self, probs, target):
        return F.binary_cross_entropy(probs, target, self.weight, self.reduction)


class MulticlassHingeLoss(_Reduced):
    """The multiclass SVM loss; see :func:`chainrule.nn.functional.multiclass_hinge`."""

    def __init__(self, margin: float = 1.0, reduction: str = "mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, scores, target):
        return F.multiclass_hinge(scores, target, margin=self.margin, reduction=self.reduction)


class BCEWithLogitsLoss(_Reduced):
    """Logistic loss from logits; see :func:`chainrule.nn.functional.binary_cross_entropy_with_logits`."""

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction)
        self.weight, self.pos_weight = weight, pos_weight

    def forward(self, scores, target):
        return F.binary_cross_entropy_with_logits(scores, target, self.weight, self.reduction, self.pos_weight)


class BinaryHingeLoss(MulticlassHingeLoss):
    """The binary SVM loss max(0, Δ − y·s); see :func:`chainrule.nn.functional.binary_hinge`."""

    def forward(self, scores, target):
        return F.binary_hinge(scores, target, margin=self.margin, reduction=self.reduction)


class MSELoss(_Reduced):
    """Squared error; ``reduction="sum"`` is the lecture's E(w) = Σ (y − f(x))²."""

    def forward(self, pred, target):
        return F.mse(pred, target, reduction=self.reduction)
