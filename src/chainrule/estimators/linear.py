"""The linear estimators: softmax, linear SVM, logistic regression, binary SVM and the perceptron."""
from __future__ import annotations

import numpy as np
from scipy.special import expit, log_expit, log_softmax, softmax
from sklearn.utils.validation import check_is_fitted

from chainrule import models
from chainrule import validation as check
from chainrule.estimators.base import (
    documented, EpochTrainedClassifier, draw_seed, model_scores, optimizer_options, resolve_batch_size,
)
from chainrule.train import TrainConfig


class _LinearScores:
    """The score function ``s = Wx + b`` of a chainrule linear model, seen from scikit-learn."""

    @property
    def coef_(self):
        """The weights W, shape (n_outputs, n_features): one row per class, or one row for a one-neuron model."""
        check_is_fitted(self)
        return self._model.weight.numpy()

    @property
    def intercept_(self):
        """The biases b, shape (n_outputs,)."""
        check_is_fitted(self)
        return self._model.bias.numpy()

    def decision_function(self, X):
        """Scores ``Wx + b``, shape (n_samples, n_classes); for two classes one score per row.

        With two classes the score is ``s₁ − s₀`` (two rows of W) or the one neuron's ``w·x + b``;
        ``classes_[1]`` is predicted where it is positive (a one-neuron model, following the
        lecture's sign(0) = +1, also where it is 0).
        """
        s = self._checked_scores(X)
        if s.shape[1] == 1:
            return s[:, 0]
        return s[:, 1] - s[:, 0] if s.shape[1] == 2 else s

    def _predict_codes(self, X):
        s = model_scores(self._model, X)
        return (s[:, 0] >= 0).astype(np.int64) if s.shape[1] == 1 else s.argmax(axis=1)


class _LinearClassifierBase(_LinearScores, EpochTrainedClassifier):
    _shared_attributes = (
        'classes_', 'n_features_in_', 'feature_names_in_', 'loss_curve_', 'best_loss_',
        'validation_scores_', 'best_validation_score_', 'n_iter_'
    )

    def __init__(self, *, alpha=1e-4, solver="sgd", batch_size=32, learning_rate_init=0.05, max_iter=1000,
                 tol=1e-3, n_iter_no_change=5, early_stopping=False, validation_fraction=0.1, shuffle=True,
                 random_state=None, verbose=False):
        self.alpha = alpha
        self.solver = solver
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self):
        self._check_loop_params()
        check.number("alpha", self.alpha, low=0)
        check.number("learning_rate_init", self.learning_rate_init, low=0, low_open=True)

    def _new_model(self, X, y):
        # The model's objective is mean loss + λΣW²; scikit-learn's SGD models use (alpha / 2)ΣW².
        reg = float(self.alpha) / 2
        self._model = self._make_model(X.shape[1], len(self.classes_), reg, draw_seed(self._rng))
        self._config = TrainConfig(loss=self._model.task_name, optimizer=self.solver,
                                   lr=float(self.learning_rate_init), epochs=int(self.max_iter),
                                   batch_size=resolve_batch_size(self.batch_size, len(X)), reg=reg,
                                   seed=draw_seed(self._rng), shuffle=bool(self.shuffle),
                                   optimizer_options=optimizer_options(self.solver, self._rng))


@documented
class SoftmaxClassifier(_LinearClassifierBase):
    """The lecture's softmax classifier: scores ``Wx + b``, softmax cross-entropy, L2 on W.

    ``chainrule.models.LinearClassifier(loss="softmax")`` trained on its analytic gradient
    ``(p − onehot(y)) xᵀ``; multinomial logistic regression in scikit-learn's terms.

    {sections}

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import StandardScaler
    >>> from chainrule.estimators import SoftmaxClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = SoftmaxClassifier(random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9, clf.coef_.shape, round(float(clf.predict_proba(X[:1]).sum()), 6)
    (True, (3, 4), 1.0)
    """

    _own_attributes = {
        'coef_': ('ndarray of shape (n_classes, n_features)', 'W, one row per class (two rows for two classes).'),
        'intercept_': ('ndarray of shape (n_classes,)', ''),
    }

    _parameter_docs = {
        'alpha': ('float', "L2 strength: the objective is ``mean Lᵢ + (alpha / 2) ΣW²`` (scikit-learn's SGD scaling;\nthe lecture's λ is alpha / 2)."),
    }

    def _make_model(self, n_features, n_classes, reg, seed):
        return models.LinearClassifier(n_features, n_classes, loss="softmax", reg=reg, seed=seed)

    def predict_proba(self, X):
        """Class probabilities ``softmax(Wx + b)``, shape (n_samples, n_classes)."""
        return softmax(self._checked_scores(X), axis=1)

    def predict_log_proba(self, X):
        """The logarithm of :meth:`predict_proba`, computed stably from the scores."""
        return log_softmax(self._checked_scores(X), axis=1)


@documented
class LinearSVMClassifier(_LinearClassifierBase):
    """The lecture's multiclass SVM: scores ``Wx + b``, the Weston–Watkins hinge loss, L2 on W.

    ``Lᵢ = Σ_(j≠yᵢ) max(0, s_j − s_(yᵢ) + 1)``; ``chainrule.models.LinearClassifier(loss="svm")``
    trained on its analytic gradient. Scores are not probabilities, so there is no
    ``predict_proba``.

    {sections}

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import StandardScaler
    >>> from chainrule.estimators import LinearSVMClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> LinearSVMClassifier(random_state=0).fit(X, y).score(X, y) > 0.9
    True
    """

    _own_attributes = {
        'coef_': ('ndarray of shape (n_classes, n_features)', ''),
        'intercept_': ('ndarray of shape (n_classes,)', ''),
    }

    _parameter_docs = {
        'alpha': ('float', "L2 strength: the objective is ``mean Lᵢ + (alpha / 2) ΣW²`` (the lecture's λ is\nalpha / 2)."),
    }

    def _make_model(self, n_features, n_classes, reg, seed):
        return models.LinearClassifier(n_features, n_classes, loss="svm", reg=reg, seed=seed)


class _BinaryClassifierBase(_LinearClassifierBase):
    _own_attributes = {
        'coef_': ('ndarray of shape (1, n_features)', ''),
        'intercept_': ('ndarray of shape (1,)', ''),
    }
    _binary_only = True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags


@documented
class LogisticRegressionClassifier(_BinaryClassifierBase):
    """Logistic regression, the lecture's binary softmax neuron ``σ(w·x + b)``; two classes only.

    ``chainrule.models.LogisticRegression``: ``P(classes_[1] | x) = σ(w·x + b)``, the binary
    cross-entropy from the logit, L2 on w. More than two classes raise a ValueError (use
    :class:`SoftmaxClassifier`).

    {sections}

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import StandardScaler
    >>> from chainrule.estimators import LogisticRegressionClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = LogisticRegressionClassifier(random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.95, clf.coef_.shape, clf.predict_proba(X[:2]).shape
    (True, (1, 30), (2, 2))
    """



    def _make_model(self, n_features, n_classes, reg, seed):
        return models.LogisticRegression(n_features, reg=reg, seed=seed)

    def predict_proba(self, X):
        """``[P(classes_[0] | x), P(classes_[1] | x)]`` per row, shape (n_samples, 2)."""
        p = expit(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict_log_proba(self, X):
        """The logarithm of :meth:`predict_proba`, computed stably from the scores."""
        s = self.decision_function(X)
        return np.column_stack([log_expit(-s), log_expit(s)])


@documented
class BinarySVMClassifier(_BinaryClassifierBase):
    """A binary SVM: the hinge loss ``max(0, 1 − t·(w·x + b))`` on one neuron; two classes only.

    ``chainrule.models.BinarySVM`` with ``t = −1`` for ``classes_[0]`` and ``+1`` for
    ``classes_[1]``. More than two classes raise a ValueError (use :class:`LinearSVMClassifier`).

    {sections}

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import StandardScaler
    >>> from chainrule.estimators import BinarySVMClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> BinarySVMClassifier(random_state=0).fit(X, y).score(X, y) > 0.95
    True
    """



    def _make_model(self, n_features, n_classes, reg, seed):
        return models.BinarySVM(n_features, reg=reg, seed=seed)


@documented
class PerceptronClassifier(_LinearScores, EpochTrainedClassifier):
    """The lecture's perceptron: ``y′ = sign(w·x + b)`` and, per example, ``w ← w + α(y − y′)x``.

    ``chainrule.models.Perceptron`` runs the rule itself, one example at a time: for two classes
    on one neuron with ``y ∈ {−1, +1}`` (sign(0) = +1), for K > 2 classes with one row per class
    (on a mistake ``w_y += αx`` and ``w_y′ −= αx``). Training stops after a pass without mistakes,
    once the fraction of mistakes per pass has failed to improve by ``tol`` in more than
    ``n_iter_no_change`` passes in a row, or after ``max_iter`` passes. There is no ``predict_proba``.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
    loss_curve_ : list of float
        The fraction of training examples that triggered an update in each pass.
    classes_, n_features_in_, feature_names_in_, best_loss_, validation_scores_,
    best_validation_score_, n_iter_
        As for the other estimators.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import StandardScaler
    >>> from chainrule.estimators import PerceptronClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = PerceptronClassifier(random_state=0).fit(X[y < 2], y[y < 2])   # separable: stops early
    >>> clf.score(X[y < 2], y[y < 2]), clf.loss_curve_[-1], clf.coef_.shape
    (1.0, 0.0, (1, 4))
    """

    _parameter_docs = {
        'max_iter': ('int', 'The most passes over the data.'),
        'tol': ('float', 'The improvement of the mistake rate that counts as progress.'),
        'n_iter_no_change': ('int', 'Stop once more than this many passes in a row made no improvement of ``tol``.'),
        'early_stopping': ('bool', 'Hold out ``validation_fraction`` of the data, stop when its accuracy stops improving, and\nkeep the weights of the best pass.'),
        'shuffle': ('bool', 'Visit the examples in a new random order every pass (otherwise in their given order).'),
        'random_state': ('int, RandomState instance or None', 'Seeds the initial weights (0.01·randn), the order of the examples and the validation split.'),
        'verbose': ('bool', ''),
    }

    def __init__(self, *, eta0=1.0, max_iter=1000, tol=1e-3, n_iter_no_change=5, early_stopping=False,
                 validation_fraction=0.1, shuffle=True, random_state=None, verbose=False):
        self.eta0 = eta0
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self):
        self._check_loop_params()
        check.number("eta0", self.eta0, low=0, low_open=True)

    def _new_model(self, X, y):
        self._model = models.Perceptron(X.shape[1], len(self.classes_), lr=float(self.eta0), epochs=1,
                                        shuffle=bool(self.shuffle), seed=draw_seed(self._rng))
        self._config = TrainConfig(loss="perceptron", lr=float(self.eta0), epochs=int(self.max_iter),
                                   batch_size=None, seed=draw_seed(self._rng), shuffle=bool(self.shuffle))

    def _epoch_loss(self, record, n_samples):
        return record["mistakes"] / n_samples  # the fraction of the pass's examples that were mistakes
