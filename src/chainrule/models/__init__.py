"""The lecture's classic models, all configurations of one general linear model.

``LinearModel`` holds ``weight`` (K×D) and ``bias`` (K) and computes ``scores = X @ Wᵀ + b``; the
models differ only in their loss (with its analytic gradient, :data:`LOSSES`) and update rule:

- :class:`LinearClassifier`: the multiclass SVM or softmax classifier;
- :class:`LogisticRegression`: the binary softmax neuron σ(w·x + b);
- :class:`BinarySVM`: the hinge loss on one neuron;
- :class:`Perceptron`: the rule w ← w + α(y − y′)x, per example.

>>> import numpy as np
>>> from chainrule.models import LinearClassifier
>>> X = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]); y = np.array([0, 1, 2])
>>> clf = LinearClassifier(2, 3, loss="svm").fit(X, y, lr=0.5, epochs=30)
>>> clf.predict(X).tolist()
[0, 1, 2]
"""
from chainrule.models.linear import BinarySVM, LinearClassifier, LinearModel, LogisticRegression
from chainrule.models.losses import (
    LOSSES, binary_svm_loss, get_loss, logistic_loss, perceptron_loss, softmax_loss, svm_loss,
)
from chainrule.models.perceptron import Perceptron
from chainrule import io as _io

for _cls in (BinarySVM, LinearClassifier, LinearModel, LogisticRegression, Perceptron):
    _io.register_model_class(_cls)
del _cls

__all__ = [
    "LOSSES", "BinarySVM", "LinearClassifier", "LinearModel", "LogisticRegression", "Perceptron",
    "binary_svm_loss", "get_loss", "logistic_loss", "perceptron_loss", "softmax_loss", "svm_loss",
]
