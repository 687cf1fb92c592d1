"""scikit-learn compatible estimators, trained by chainrule's own models, engine and optimizers.

Each estimator is a thin adapter: scikit-learn's :class:`~sklearn.base.BaseEstimator`, its
mixins and its validation helpers handle the contract (``get_params``/``set_params``/``clone``,
input checks, ``n_features_in_``, ``classes_``, ``score``), and a chainrule model does the
learning:

- :class:`MLPClassifier`: ``nn.MLP`` with the softmax cross-entropy (the logistic loss on one
  output for two classes), like scikit-learn's ``MLPClassifier``;
- :class:`MLPRegressor`: ``nn.MLP`` with the squared error, the lecture's E(w) (``MLPRegressor``);
- :class:`SoftmaxClassifier`: ``models.LinearClassifier(loss="softmax")``, multinomial logistic
  regression (``LogisticRegression``);
- :class:`LinearSVMClassifier`: ``models.LinearClassifier(loss="svm")``, the multiclass hinge
  (``LinearSVC``);
- :class:`PerceptronClassifier`: ``models.Perceptron``, the rule w ← w + α(y − y′)x (``Perceptron``);
- :class:`LogisticRegressionClassifier`: ``models.LogisticRegression``, two classes only;
- :class:`BinarySVMClassifier`: ``models.BinarySVM``, two classes only.

All of them train in epochs (passes over the data) with the stopping rule of scikit-learn's
MLP: stop once the training loss (or, with ``early_stopping=True``, the score on a held-out
``validation_fraction``) has failed to improve by ``tol`` in more than ``n_iter_no_change``
consecutive epochs, or after ``max_iter`` epochs with a ``ConvergenceWarning``. ``partial_fit``
runs one epoch over the data it is given and keeps the optimizer's state between calls.

Labels may be anything scikit-learn accepts (strings, non-contiguous integers, …): they are
mapped to 0..K−1 for the chainrule model and back for ``predict``. Training is deterministic
for a fixed ``random_state``. Models compute in float32 (chainrule's default); predictions,
scores and probabilities are returned as float64.

>>> from sklearn.datasets import load_iris
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> from chainrule.estimators import SoftmaxClassifier
>>> X, y = load_iris(return_X_y=True)
>>> clf = make_pipeline(StandardScaler(), SoftmaxClassifier(random_state=0)).fit(X, y)
>>> clf.score(X, y) > 0.9
True
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np
from scipy.special import expit, log_expit, log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from chainrule import models, nn, optim
from chainrule.engine import Tensor, no_grad
from chainrule.train import TrainConfig, Trainer

__all__ = [
    "BinarySVMClassifier", "LinearSVMClassifier", "LogisticRegressionClassifier", "MLPClassifier",
    "MLPRegressor", "PerceptronClassifier", "SoftmaxClassifier",
]

_SEED_MAX = np.iinfo(np.int32).max

# scikit-learn's MLP calls the sigmoid "logistic"; chainrule calls it "sigmoid". Both work.
_ACTIVATION_ALIASES = {"logistic": "sigmoid"}


# ====================================================================== parameter checks
def _check_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def _check_float(name, value, low=0.0, *, low_open=False, high=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number; got {value!r}")
    if value < low or (low_open and value == low) or (high is not None and value >= high):
        bound = f"in ({low}, {high})" if high is not None else f"{'>' if low_open else '>='} {low}"
        raise ValueError(f"{name} must be {bound}; got {value!r}")
    return float(value)


def _check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def _batch_size(value, n_samples):
    """"auto" → min(200, n) as in scikit-learn; an int is clipped to n."""
    if isinstance(value, str) and value == "auto":
        return min(200, n_samples)
    return min(_check_int("batch_size", value), n_samples)


def _seed(rng) -> int:
    return int(rng.randint(_SEED_MAX))


def _optimizer_options(solver, rng) -> dict:
    """Seed the derivative-free optimizers, which draw random weights, from ``random_state`` too."""
    factory = optim.OPTIMIZERS.get(str(solver).lower().replace("_", "-"))
    if isinstance(factory, type) and issubclass(factory, (optim.RandomSearch, optim.RandomLocalSearch)):
        return {"rng": _seed(rng)}
    return {}


def _scores(model, X, chunk=8192):
    """The model's outputs for ``X`` as float64, shape (n_samples, n_outputs).

    The forward pass runs on the engine with float64 inputs (the float32 weights are promoted),
    so a row's prediction does not depend on which other rows share its batch: float32 matrix
    products can differ in the last bits between a batch and its subsets.
    """
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            out = [model(Tensor(X[i:i + chunk], dtype=np.float64)).numpy() for i in range(0, len(X), chunk)]
    finally:
        model.train(was_training)
    out = np.concatenate(out).astype(np.float64, copy=False)
    return out.reshape(len(X), -1)


# ====================================================================== the shared epoch loop
class _EpochTrained(BaseEstimator):
    """What every estimator here shares: input checks, the epoch loop, stopping, partial_fit.

    A subclass provides ``_new_model(X, y)`` (builds ``self._model`` for encoded targets),
    ``_epoch(X, y) -> float`` (one pass, returns the mean training loss) and
    ``_internal_score(X, y)`` (accuracy or R² on encoded targets, for early stopping).
    """

    # The perceptron stops after a pass without mistakes: every later pass would change nothing.
    _stop_at_zero_loss = False

    def _check_loop_params(self):
        _check_int("max_iter", self.max_iter)
        _check_float("tol", self.tol)
        _check_int("n_iter_no_change", self.n_iter_no_change)
        _check_bool("early_stopping", self.early_stopping)
        _check_float("validation_fraction", self.validation_fraction, 0.0, low_open=True, high=1.0)
        _check_bool("shuffle", self.shuffle)
        batch_size = getattr(self, "batch_size", "auto")
        if not (isinstance(batch_size, str) and batch_size == "auto"):
            _check_int("batch_size", batch_size)

    # ---------------------------------------------------------------- fit / partial_fit
    def _fit(self, X, y, *, incremental, classes=None):
        first = not incremental or not hasattr(self, "_model")
        self._check_params()
        X, y = self._validate_xy(X, y, reset=first, classes=classes, incremental=incremental)
        if first:
            self._rng = check_random_state(self.random_state)
            self._new_model(X, y)
            self.n_iter_ = 0
            self.loss_curve_ = []
            self.best_loss_ = np.inf
            self._no_improvement_count = 0
            self.validation_scores_ = None
            self.best_validation_score_ = None
        if incremental:
            self._record(self._epoch(X, y))
            return self
        self._run_epochs(X, y)
        return self

    def _run_epochs(self, X, y):
        X_val = y_val = None
        if self.early_stopping:
            stratify = y if isinstance(self, ClassifierMixin) else None
            X, X_val, y, y_val = train_test_split(
                X, y, test_size=self.validation_fraction, random_state=_seed(self._rng), stratify=stratify
            )
            self.validation_scores_, self.best_validation_score_ = [], -np.inf
            self.best_loss_ = None
            best_state = self._model.state_dict()
        for _ in range(self.max_iter):
            loss = self._epoch(X, y)
            self._record(loss)
            if self.early_stopping:
                score = self._internal_score(X_val, y_val)
                self.validation_scores_.append(score)
                progress = score >= self.best_validation_score_ + self.tol
                self._no_improvement_count = 0 if progress else self._no_improvement_count + 1
                if score > self.best_validation_score_:
                    self.best_validation_score_ = score
                    best_state = self._model.state_dict()
            if self._stop_at_zero_loss and loss == 0.0:
                break
            if self._no_improvement_count > self.n_iter_no_change:
                what = "validation score" if self.early_stopping else "training loss"
                if self.verbose:
                    print(f"The {what} did not improve more than tol={self.tol} for {self.n_iter_no_change} "
                          "consecutive epochs. Stopping.")
                break
        else:
            warnings.warn(
                f"{type(self).__name__}: the maximum number of iterations ({self.max_iter}) was reached and "
                "the optimization hasn't converged yet.",
                ConvergenceWarning,
            )
        if self.early_stopping:
            self._model.load_state_dict(best_state)

    def _record(self, loss):
        loss = float(loss)
        self.n_iter_ += 1
        self.loss_curve_.append(loss)
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {loss:.8f}")
        if self.best_loss_ is not None:  # None while early stopping watches the validation score
            self._no_improvement_count = self._no_improvement_count + 1 if loss > self.best_loss_ - self.tol else 0
            self.best_loss_ = min(self.best_loss_, loss)

    def __getstate__(self):
        # chainrule's optimizers are not picklable (they cache closures) but their state_dict is:
        # pickle that, and rebuild the optimizer (and training loop) on the next partial_fit.
        state = dict(super().__getstate__())
        trainer, optimizer = state.pop("_trainer", None), state.pop("_optimizer", None)
        if trainer is not None:
            state["_resume"] = {"optimizer": trainer.optimizer.state_dict(), "rng": trainer.rng.bit_generator.state,
                                "epoch": trainer.epoch}
        elif optimizer is not None:
            state["_resume"] = {"optimizer": optimizer.state_dict()}
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "_resume" in state:
            self._trainer = self._optimizer = None

    def _validate_X(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=(np.float64, np.float32))

    def _checked_scores(self, X):
        X = self._validate_X(X)
        return _scores(self._model, X)


class _Classifier(ClassifierMixin, _EpochTrained):
    """Label handling: any labels → 0..K−1 for the model, and back."""

    _binary_only = False

    def _validate_xy(self, X, y, *, reset, classes, incremental):
        X, y = validate_data(self, X, y, reset=reset, dtype=(np.float64, np.float32))
        check_classification_targets(y)
        if self._binary_only:
            y_type = type_of_target(y if classes is None else classes, input_name="y", raise_unknown=True)
            if y_type != "binary":
                raise ValueError(
                    f"Only binary classification is supported. The type of the target is {y_type}: "
                    f"{type(self).__name__} is a one-neuron model; use SoftmaxClassifier or "
                    "LinearSVMClassifier for more than two classes."
                )
        if reset:
            if incremental:
                if classes is None:
                    raise ValueError("classes must be passed on the first call to partial_fit.")
                self.classes_ = unique_labels(classes)
            else:
                self.classes_ = unique_labels(y)
            if len(self.classes_) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs examples of at least two classes, but the data contains "
                    f"only one class: {self.classes_.tolist()[0]!r}"
                )
        elif classes is not None and not np.array_equal(self.classes_, unique_labels(classes)):
            raise ValueError(
                f"classes={unique_labels(classes).tolist()!r} is not the same as on the first call to "
                f"partial_fit: {self.classes_.tolist()!r}"
            )
        unseen = ~np.isin(y, self.classes_)
        if unseen.any():
            raise ValueError(
                f"y contains the label {y[unseen].tolist()[0]!r}, which is not one of the classes "
                f"{self.classes_.tolist()!r}"
            )
        return X.astype(np.float32, copy=False), np.searchsorted(self.classes_, y).astype(np.int64)

    def _internal_score(self, X, y):
        return float(np.mean(self._predict_codes(X) == y))

    def predict(self, X):
        """The predicted class label of each row of ``X``, shape (n_samples,)."""
        codes = self._predict_codes(self._validate_X(X))
        return self.classes_[codes]


# ====================================================================== multi-layer perceptrons
class _MLP(_EpochTrained):
    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=1e-4,
                 batch_size="auto", learning_rate_init=1e-3, max_iter=200, shuffle=True, random_state=None,
                 tol=1e-4, verbose=False, early_stopping=False, validation_fraction=0.1, n_iter_no_change=10):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        return [sizes] if isinstance(sizes, numbers.Integral) else list(sizes)

    def _check_params(self):
        self._check_loop_params()
        for h in self._hidden_sizes():
            _check_int("each of hidden_layer_sizes", h)
        nn.get_activation(_ACTIVATION_ALIASES.get(self.activation, self.activation))
        _check_float("alpha", self.alpha)
        _check_float("learning_rate_init", self.learning_rate_init, low_open=True)

    def _new_model(self, X, y):
        self.n_outputs_ = self._output_width(y)
        activation = _ACTIVATION_ALIASES.get(self.activation, self.activation)
        self._model = nn.MLP(X.shape[1], self._hidden_sizes(), self.n_outputs_, activation=activation)
        # scikit-learn's initialization, biases included: U(−b, b), b = √(6 / (fan_in + fan_out))
        # (√(2 / …) for the sigmoid). Random biases start the ReLU kinks away from the origin,
        # which matters: with nn.MLP's zero biases, regression on standardized data learns
        # markedly slower at the default learning rate.
        gain = 2.0 if activation == "sigmoid" else 6.0
        for layer in self._linear_layers():
            bound = np.sqrt(gain / (layer.in_features + layer.out_features))
            layer.weight.data[...] = self._rng.uniform(-bound, bound, layer.weight.shape)
            layer.bias.data[...] = self._rng.uniform(-bound, bound, layer.bias.shape)
        batch = _batch_size(self.batch_size, len(X))
        # scikit-learn's MLP adds (alpha / 2) ΣW² / batch_size to the mean loss; fit's reg is λ in λΣW².
        self._config = TrainConfig(loss=self._loss, optimizer=self.solver, lr=float(self.learning_rate_init),
                                   epochs=int(self.max_iter), batch_size=batch, reg=float(self.alpha) / (2 * batch),
                                   seed=_seed(self._rng), shuffle=bool(self.shuffle),
                                   optimizer_options=_optimizer_options(self.solver, self._rng))
        self._trainer = self._resume = None

    def _epoch(self, X, y):
        trainer = self._trainer
        if trainer is None:  # the first epoch, or the first after unpickling
            trainer = self._trainer = Trainer(self._model, X, y, self._config)
            if self._resume is not None:
                trainer.optimizer.load_state_dict(self._resume["optimizer"])
                trainer.rng.bit_generator.state = self._resume["rng"]
                trainer.epoch = self._resume["epoch"]
                self._resume = None
        elif trainer.source is not X:  # partial_fit's next batch
            trainer.set_data(X, y)
        return trainer.train_epoch()["loss"]

    @property
    def coefs_(self):
        """Weight matrices, layer by layer, in scikit-learn's layout: ``coefs_[i]`` is (n_in, n_out)."""
        check_is_fitted(self)
        return [layer.weight.numpy().T for layer in self._linear_layers()]

    @property
    def intercepts_(self):
        """Bias vectors, layer by layer: ``intercepts_[i]`` has n_out entries."""
        check_is_fitted(self)
        return [layer.bias.numpy() for layer in self._linear_layers()]

    @property
    def n_layers_(self):
        """Layers including the input and output layers (scikit-learn's count)."""
        check_is_fitted(self)
        return len(self._linear_layers()) + 1

    def _linear_layers(self):
        return [m for m in self._model if isinstance(m, nn.Linear)]


class MLPClassifier(_Classifier, _MLP):
    """A multi-layer perceptron classifier: ``chainrule.nn.MLP`` trained by ``chainrule.train``.

    K > 2 classes use K outputs and the softmax cross-entropy; two classes use one output and the
    logistic loss, as scikit-learn's MLPClassifier does.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(100,)
        The number of neurons in each hidden layer.
    activation : {"relu", "tanh", "logistic", "sigmoid", "leaky-relu", "identity"}, default="relu"
        The hidden layers' activation ("logistic" is scikit-learn's name for the sigmoid).
    solver : str, default="adam"
        A chainrule optimizer name: "sgd" (plain SGD, the lecture's update), "momentum",
        "nesterov", "rmsprop", "adagrad", "adam", "adamw", or the derivative-free
        "random-search" / "random-local-search". scikit-learn's ``solver="sgd"``, which uses
        Nesterov momentum 0.9, is chainrule's "nesterov"; there is no "lbfgs".
    alpha : float, default=1e-4
        L2 strength with scikit-learn's scaling: ``(alpha / 2) · ΣW² / batch_size`` is added to the
        mean loss of each batch (weights only, not biases).
    batch_size : int or "auto", default="auto"
        Examples per step; "auto" is ``min(200, n_samples)``.
    learning_rate_init : float, default=1e-3
        The optimizer's learning rate.
    max_iter : int, default=200
        The most epochs (passes over the data).
    shuffle : bool, default=True
        Visit the examples in a new random order every epoch (False: in the order given).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the order of the examples and the validation split.
    tol : float, default=1e-4
        The improvement of the loss (or validation score) that counts as progress.
    verbose : bool, default=False
        Print the loss after every epoch.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its score stops improving, and
        keep the weights of the best epoch.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
        Stop once more than this many epochs in a row made no improvement of ``tol``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names (e.g. a pandas DataFrame).
    coefs_ : list of ndarray
        ``coefs_[i]`` is the weight matrix from layer i to layer i + 1, shape (n_in, n_out).
    intercepts_ : list of ndarray
        ``intercepts_[i]`` is the bias vector of layer i + 1.
    n_layers_ : int
    n_outputs_ : int
    loss_curve_ : list of float
        The mean training loss of every epoch (L2 term included).
    best_loss_ : float or None
        The lowest training loss (None with ``early_stopping``).
    validation_scores_ : list of float or None
        The held-out score after every epoch (only with ``early_stopping``).
    best_validation_score_ : float or None
    n_iter_ : int
        The epochs run.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import StandardScaler
    >>> from chainrule.estimators import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=100, random_state=0)
    >>> clf.fit(X, y).score(X, y) > 0.95
    True
    >>> [c.shape for c in clf.coefs_], clf.predict_proba(X[:2]).shape
    ([(4, 16), (16, 3)], (2, 3))
    """

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and labels ``y``; returns self."""
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y, classes=None):
        """One epoch over ``X``, ``y``; ``classes`` (all labels) is required on the first call."""
        return self._fit(X, y, incremental=True, classes=classes)

    @property
    def _loss(self):
        return "logistic" if len(self.classes_) == 2 else "cross-entropy"

    def _output_width(self, y):
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    def _predict_codes(self, X):
        s = _scores(self._model, X)
        # one logistic output: classes_[1] where the score is >= 0 (sign(0) = +1, as in chainrule.train)
        return (s[:, 0] >= 0).astype(np.int64) if s.shape[1] == 1 else s.argmax(axis=1)

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in the order of ``classes_``."""
        s = self._checked_scores(X)
        if s.shape[1] == 1:
            p = expit(s[:, 0])
            return np.column_stack([1.0 - p, p])
        return softmax(s, axis=1)

    def predict_log_proba(self, X):
        """The logarithm of :meth:`predict_proba`, computed stably from the scores."""
        s = self._checked_scores(X)
        if s.shape[1] == 1:
            return np.column_stack([log_expit(-s[:, 0]), log_expit(s[:, 0])])
        return log_softmax(s, axis=1)


class MLPRegressor(RegressorMixin, _MLP):
    """A multi-layer perceptron regressor trained on the squared error (the lecture's E(w)).

    The network has linear outputs, one per target column; the loss is the mean of
    ``(y − f(x))²`` over examples and outputs. Multi-output ``y`` (n_samples, n_targets) works.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(100,)
        The number of neurons in each hidden layer.
    activation : {"relu", "tanh", "logistic", "sigmoid", "leaky-relu", "identity"}, default="relu"
        The hidden layers' activation ("logistic" is scikit-learn's name for the sigmoid).
    solver : str, default="adam"
        A chainrule optimizer name: "sgd" (plain SGD, the lecture's update), "momentum",
        "nesterov", "rmsprop", "adagrad", "adam", "adamw", or the derivative-free
        "random-search" / "random-local-search". scikit-learn's ``solver="sgd"``, which uses
        Nesterov momentum 0.9, is chainrule's "nesterov"; there is no "lbfgs".
    alpha : float, default=1e-4
        L2 strength with scikit-learn's scaling: ``(alpha / 2) · ΣW² / batch_size`` is added to the
        mean loss of each batch (weights only, not biases).
    batch_size : int or "auto", default="auto"
        Examples per step; "auto" is ``min(200, n_samples)``.
    learning_rate_init : float, default=1e-3
        The optimizer's learning rate.
    max_iter : int, default=200
        The most epochs (passes over the data).
    shuffle : bool, default=True
        Visit the examples in a new random order every epoch (False: in the order given).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the order of the examples and the validation split.
    tol : float, default=1e-4
        The improvement of the loss (or validation score) that counts as progress.
    verbose : bool, default=False
        Print the loss after every epoch.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its score stops improving, and
        keep the weights of the best epoch.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
        Stop once more than this many epochs in a row made no improvement of ``tol``.

    Attributes
    ----------
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names (e.g. a pandas DataFrame).
    coefs_ : list of ndarray
        ``coefs_[i]`` is the weight matrix from layer i to layer i + 1, shape (n_in, n_out).
    intercepts_ : list of ndarray
        ``intercepts_[i]`` is the bias vector of layer i + 1.
    n_layers_ : int
    n_outputs_ : int
    loss_curve_ : list of float
        The mean training loss of every epoch (L2 term included).
    best_loss_ : float or None
        The lowest training loss (None with ``early_stopping``).
    validation_scores_ : list of float or None
        The held-out score after every epoch (only with ``early_stopping``).
    best_validation_score_ : float or None
    n_iter_ : int
        The epochs run.

    Examples
    --------
    >>> import numpy as np
    >>> from chainrule.estimators import MLPRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-1, 1, (200, 2))
    >>> y = X[:, 0] ** 2 + X[:, 1]
    >>> reg = MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.01, random_state=0).fit(X, y)
    >>> reg.score(X, y) > 0.9, reg.predict(X[:3]).shape
    (True, (3,))
    """

    _loss = "mse"

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and targets ``y`` (n_samples,) or (n_samples, n_targets)."""
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y):
        """One epoch over ``X``, ``y``, continuing from the current weights and optimizer state."""
        return self._fit(X, y, incremental=True)

    def _validate_xy(self, X, y, *, reset, classes, incremental):
        X, y = validate_data(self, X, y, reset=reset, multi_output=True, y_numeric=True,
                             dtype=(np.float64, np.float32))
        if reset:
            self._y_ndim = y.ndim
        y = y.reshape(len(y), -1)
        if not reset and y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {y.shape[1]} target columns but this model was fitted with {self.n_outputs_}")
        return X.astype(np.float32, copy=False), y.astype(np.float32)

    def _output_width(self, y):
        return y.shape[1]

    def _internal_score(self, X, y):
        return float(r2_score(y, _scores(self._model, X)))

    def predict(self, X):
        """Predicted targets: shape (n_samples,) if fitted on 1-D ``y``, else (n_samples, n_targets)."""
        pred = self._checked_scores(X)
        return pred.ravel() if self._y_ndim == 1 else pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


# ====================================================================== the lecture's linear models


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
        s = _scores(self._model, X)
        return (s[:, 0] >= 0).astype(np.int64) if s.shape[1] == 1 else s.argmax(axis=1)


class _LinearClassifierBase(_LinearScores, _Classifier):
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

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and labels ``y``; returns self."""
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y, classes=None):
        """One epoch over ``X``, ``y``; ``classes`` (all labels) is required on the first call."""
        return self._fit(X, y, incremental=True, classes=classes)

    def _check_params(self):
        self._check_loop_params()
        _check_float("alpha", self.alpha)
        _check_float("learning_rate_init", self.learning_rate_init, low_open=True)

    def _new_model(self, X, y):
        # The model's objective is mean loss + λΣW²; scikit-learn's SGD models use (alpha / 2)ΣW².
        self._model = self._make_model(X.shape[1], len(self.classes_), float(self.alpha) / 2, _seed(self._rng))
        self._optimizer = self._resume = None

    def _epoch(self, X, y):
        self._model.fit(X, y, lr=float(self.learning_rate_init), epochs=1,
                        batch_size=_batch_size(self.batch_size, len(X)), optimizer=self._reuse_optimizer,
                        seed=_seed(self._rng), shuffle=bool(self.shuffle))
        return self._model.history_[-1]

    def _reuse_optimizer(self, params, lr):
        # models' fit() builds an optimizer per call; handing back the same one keeps its state
        # (momentum, Adam's moments) from epoch to epoch and across partial_fit calls.
        if self._optimizer is None:
            options = _optimizer_options(self.solver, self._rng)
            self._optimizer = optim.make_optimizer(self.solver, params, lr=lr, **options)
            if self._resume is not None:  # unpickled: continue where the pickled estimator was
                self._optimizer.load_state_dict(self._resume["optimizer"])
                self._resume = None
        return self._optimizer


class SoftmaxClassifier(_LinearClassifierBase):
    """The lecture's softmax classifier: scores ``Wx + b``, softmax cross-entropy, L2 on W.

    ``chainrule.models.LinearClassifier(loss="softmax")`` trained on its analytic gradient
    ``(p − onehot(y)) xᵀ``; multinomial logistic regression in scikit-learn's terms.

    Parameters
    ----------
    alpha : float, default=1e-4
        L2 strength: the objective is ``mean Lᵢ + (alpha / 2) ΣW²`` (scikit-learn's SGD scaling;
        the lecture's λ is alpha / 2).
    solver : str, default="sgd"
        A chainrule optimizer name: "sgd" (the lecture's ``W −= lr · dW``), "momentum",
        "nesterov", "rmsprop", "adagrad", "adam", "adamw", or the derivative-free
        "random-search" / "random-local-search".
    batch_size : int or "auto", default=32
        Examples per step: 1 is stochastic gradient descent, ``n_samples`` or more is full-batch
        gradient descent, "auto" is ``min(200, n_samples)`` (the MLPs' default).
    learning_rate_init : float, default=0.05
        The optimizer's learning rate.
    max_iter : int, default=1000
        The most epochs (passes over the data).
    tol : float, default=1e-3
        The improvement of the loss (or validation score) that counts as progress.
    n_iter_no_change : int, default=5
        Stop once more than this many epochs in a row made no improvement of ``tol``
        (``max_iter``, ``tol`` and ``n_iter_no_change`` default to scikit-learn's SGDClassifier's).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its accuracy stops improving, and
        keep the weights of the best epoch.
    validation_fraction : float, default=0.1
    shuffle : bool, default=True
        Visit the examples in a new random order every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights (the lecture's 0.01·randn), the order of the examples and the
        validation split.
    verbose : bool, default=False
        Print the loss after every epoch.

    Attributes
    ----------
    coef_ : ndarray of shape (n_classes, n_features)
        W, one row per class (two rows for two classes).
    intercept_ : ndarray of shape (n_classes,)
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names (e.g. a pandas DataFrame).
    loss_curve_ : list of float
        The mean training loss of every epoch (regularization included).
    best_loss_ : float or None
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    n_iter_ : int
        The epochs run.

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

    def _make_model(self, n_features, n_classes, reg, seed):
        return models.LinearClassifier(n_features, n_classes, loss="softmax", reg=reg, seed=seed)

    def predict_proba(self, X):
        """Class probabilities ``softmax(Wx + b)``, shape (n_samples, n_classes)."""
        return softmax(self._checked_scores(X), axis=1)

    def predict_log_proba(self, X):
        """The logarithm of :meth:`predict_proba`, computed stably from the scores."""
        return log_softmax(self._checked_scores(X), axis=1)


class LinearSVMClassifier(_LinearClassifierBase):
    """The lecture's multiclass SVM: scores ``Wx + b``, the Weston–Watkins hinge loss, L2 on W.

    ``Lᵢ = Σ_(j≠yᵢ) max(0, s_j − s_(yᵢ) + 1)``; ``chainrule.models.LinearClassifier(loss="svm")``
    trained on its analytic gradient. Scores are not probabilities, so there is no
    ``predict_proba``.

    Parameters
    ----------
    alpha : float, default=1e-4
        L2 strength: the objective is ``mean Lᵢ + (alpha / 2) ΣW²`` (the lecture's λ is
        alpha / 2).
    solver : str, default="sgd"
        A chainrule optimizer name: "sgd" (the lecture's ``W −= lr · dW``), "momentum",
        "nesterov", "rmsprop", "adagrad", "adam", "adamw", or the derivative-free
        "random-search" / "random-local-search".
    batch_size : int or "auto", default=32
        Examples per step: 1 is stochastic gradient descent, ``n_samples`` or more is full-batch
        gradient descent, "auto" is ``min(200, n_samples)`` (the MLPs' default).
    learning_rate_init : float, default=0.05
        The optimizer's learning rate.
    max_iter : int, default=1000
        The most epochs (passes over the data).
    tol : float, default=1e-3
        The improvement of the loss (or validation score) that counts as progress.
    n_iter_no_change : int, default=5
        Stop once more than this many epochs in a row made no improvement of ``tol``
        (``max_iter``, ``tol`` and ``n_iter_no_change`` default to scikit-learn's SGDClassifier's).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its accuracy stops improving, and
        keep the weights of the best epoch.
    validation_fraction : float, default=0.1
    shuffle : bool, default=True
        Visit the examples in a new random order every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights (the lecture's 0.01·randn), the order of the examples and the
        validation split.
    verbose : bool, default=False
        Print the loss after every epoch.

    Attributes
    ----------
    coef_ : ndarray of shape (n_classes, n_features)
    intercept_ : ndarray of shape (n_classes,)
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names (e.g. a pandas DataFrame).
    loss_curve_ : list of float
        The mean training loss of every epoch (regularization included).
    best_loss_ : float or None
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    n_iter_ : int
        The epochs run.

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

    def _make_model(self, n_features, n_classes, reg, seed):
        return models.LinearClassifier(n_features, n_classes, loss="svm", reg=reg, seed=seed)


class _BinaryClassifierBase(_LinearClassifierBase):
    _binary_only = True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags


class LogisticRegressionClassifier(_BinaryClassifierBase):
    """Logistic regression, the lecture's binary softmax neuron ``σ(w·x + b)``; two classes only.

    ``chainrule.models.LogisticRegression``: ``P(classes_[1] | x) = σ(w·x + b)``, the binary
    cross-entropy from the logit, L2 on w. More than two classes raise a ValueError (use
    :class:`SoftmaxClassifier`).

    Parameters
    ----------
    alpha : float, default=1e-4
        L2 strength: the objective is ``mean Lᵢ + (alpha / 2) Σw²``.
    solver : str, default="sgd"
        A chainrule optimizer name: "sgd" (the lecture's ``W −= lr · dW``), "momentum",
        "nesterov", "rmsprop", "adagrad", "adam", "adamw", or the derivative-free
        "random-search" / "random-local-search".
    batch_size : int or "auto", default=32
        Examples per step: 1 is stochastic gradient descent, ``n_samples`` or more is full-batch
        gradient descent, "auto" is ``min(200, n_samples)`` (the MLPs' default).
    learning_rate_init : float, default=0.05
        The optimizer's learning rate.
    max_iter : int, default=1000
        The most epochs (passes over the data).
    tol : float, default=1e-3
        The improvement of the loss (or validation score) that counts as progress.
    n_iter_no_change : int, default=5
        Stop once more than this many epochs in a row made no improvement of ``tol``
        (``max_iter``, ``tol`` and ``n_iter_no_change`` default to scikit-learn's SGDClassifier's).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its accuracy stops improving, and
        keep the weights of the best epoch.
    validation_fraction : float, default=0.1
    shuffle : bool, default=True
        Visit the examples in a new random order every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights (the lecture's 0.01·randn), the order of the examples and the
        validation split.
    verbose : bool, default=False
        Print the loss after every epoch.

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features)
    intercept_ : ndarray of shape (1,)
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names (e.g. a pandas DataFrame).
    loss_curve_ : list of float
        The mean training loss of every epoch (regularization included).
    best_loss_ : float or None
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    n_iter_ : int
        The epochs run.

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


class BinarySVMClassifier(_BinaryClassifierBase):
    """A binary SVM: the hinge loss ``max(0, 1 − t·(w·x + b))`` on one neuron; two classes only.

    ``chainrule.models.BinarySVM`` with ``t = −1`` for ``classes_[0]`` and ``+1`` for
    ``classes_[1]``. More than two classes raise a ValueError (use :class:`LinearSVMClassifier`).

    Parameters
    ----------
    alpha : float, default=1e-4
        L2 strength: the objective is ``mean Lᵢ + (alpha / 2) Σw²``.
    solver : str, default="sgd"
        A chainrule optimizer name: "sgd" (the lecture's ``W −= lr · dW``), "momentum",
        "nesterov", "rmsprop", "adagrad", "adam", "adamw", or the derivative-free
        "random-search" / "random-local-search".
    batch_size : int or "auto", default=32
        Examples per step: 1 is stochastic gradient descent, ``n_samples`` or more is full-batch
        gradient descent, "auto" is ``min(200, n_samples)`` (the MLPs' default).
    learning_rate_init : float, default=0.05
        The optimizer's learning rate.
    max_iter : int, default=1000
        The most epochs (passes over the data).
    tol : float, default=1e-3
        The improvement of the loss (or validation score) that counts as progress.
    n_iter_no_change : int, default=5
        Stop once more than this many epochs in a row made no improvement of ``tol``
        (``max_iter``, ``tol`` and ``n_iter_no_change`` default to scikit-learn's SGDClassifier's).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its accuracy stops improving, and
        keep the weights of the best epoch.
    validation_fraction : float, default=0.1
    shuffle : bool, default=True
        Visit the examples in a new random order every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights (the lecture's 0.01·randn), the order of the examples and the
        validation split.
    verbose : bool, default=False
        Print the loss after every epoch.

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features)
    intercept_ : ndarray of shape (1,)
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names (e.g. a pandas DataFrame).
    loss_curve_ : list of float
        The mean training loss of every epoch (regularization included).
    best_loss_ : float or None
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    n_iter_ : int
        The epochs run.

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


class PerceptronClassifier(_LinearScores, _Classifier):
    """The lecture's perceptron: ``y′ = sign(w·x + b)`` and, per example, ``w ← w + α(y − y′)x``.

    ``chainrule.models.Perceptron`` runs the rule itself, one example at a time: for two classes
    on one neuron with ``y ∈ {−1, +1}`` (sign(0) = +1), for K > 2 classes with one row per class
    (on a mistake ``w_y += αx`` and ``w_y′ −= αx``). Training stops after a pass without mistakes,
    once the fraction of mistakes per pass has failed to improve by ``tol`` in more than
    ``n_iter_no_change`` passes in a row, or after ``max_iter`` passes. There is no ``predict_proba``.

    Parameters
    ----------
    eta0 : float, default=1.0
        α, the step of the rule (scikit-learn's Perceptron calls it ``eta0``).
    max_iter : int, default=1000
        The most passes over the data.
    tol : float, default=1e-3
        The improvement of the mistake rate that counts as progress.
    n_iter_no_change : int, default=5
        Stop once more than this many passes in a row made no improvement of ``tol``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its accuracy stops improving, and
        keep the weights of the best pass.
    validation_fraction : float, default=0.1
    shuffle : bool, default=True
        Visit the examples in a new random order every pass (otherwise in their given order).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights (0.01·randn), the order of the examples and the validation split.
    verbose : bool, default=False

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

    _stop_at_zero_loss = True

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

    def fit(self, X, y):
        """Run the perceptron rule over ``X`` and labels ``y``; returns self."""
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y, classes=None):
        """One pass of the rule over ``X``, ``y``; ``classes`` is required on the first call."""
        return self._fit(X, y, incremental=True, classes=classes)

    def _check_params(self):
        self._check_loop_params()
        _check_float("eta0", self.eta0, low_open=True)

    def _new_model(self, X, y):
        self._model = models.Perceptron(X.shape[1], len(self.classes_), lr=float(self.eta0), epochs=1,
                                        shuffle=bool(self.shuffle), seed=_seed(self._rng))

    def _epoch(self, X, y):
        self._model.fit(X, y, seed=_seed(self._rng))
        return self._model.history_[-1] / len(X)
