"""What every estimator shares: parameter checks, scores, the epoch loop, stopping, partial_fit."""
from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from chainrule import optim
from chainrule.data import as_model_dtype
from chainrule.engine import Tensor, no_grad


_SEED_MAX = np.iinfo(np.int32).max

# scikit-learn's MLP calls the sigmoid "logistic"; chainrule calls it "sigmoid". Both work.
ACTIVATION_ALIASES = {"logistic": "sigmoid"}


# ====================================================================== parameter checks
def check_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def check_float(name, value, low=0.0, *, low_open=False, high=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number; got {value!r}")
    if value < low or (low_open and value == low) or (high is not None and value >= high):
        bound = f"in ({low}, {high})" if high is not None else f"{'>' if low_open else '>='} {low}"
        raise ValueError(f"{name} must be {bound}; got {value!r}")
    return float(value)


def check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def resolve_batch_size(value, n_samples):
    """"auto" → min(200, n) as in scikit-learn; an int is clipped to n."""
    if isinstance(value, str) and value == "auto":
        return min(200, n_samples)
    return min(check_int("batch_size", value), n_samples)


def draw_seed(rng) -> int:
    return int(rng.randint(_SEED_MAX))


def optimizer_options(solver, rng) -> dict:
    """Seed the derivative-free optimizers, which draw random weights, from ``random_state`` too."""
    factory = optim.OPTIMIZERS.get(str(solver).lower().replace("_", "-"))
    if isinstance(factory, type) and issubclass(factory, (optim.RandomSearch, optim.RandomLocalSearch)):
        return {"rng": draw_seed(rng)}
    return {}


def model_scores(model, X, chunk=8192):
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
class EpochTrainedEstimator(BaseEstimator):
    """What every estimator here shares: input checks, the epoch loop, stopping, partial_fit.

    A subclass provides ``_new_model(X, y)`` (builds ``self._model`` for encoded targets),
    ``_epoch(X, y) -> float`` (one pass, returns the mean training loss) and
    ``_internal_score(X, y)`` (accuracy or R² on encoded targets, for early stopping).
    """

    # The perceptron stops after a pass without mistakes: every later pass would change nothing.
    _stop_at_zero_loss = False

    def _check_loop_params(self):
        check_int("max_iter", self.max_iter)
        check_float("tol", self.tol)
        check_int("n_iter_no_change", self.n_iter_no_change)
        check_bool("early_stopping", self.early_stopping)
        check_float("validation_fraction", self.validation_fraction, 0.0, low_open=True, high=1.0)
        check_bool("shuffle", self.shuffle)
        batch_size = getattr(self, "batch_size", "auto")
        if not (isinstance(batch_size, str) and batch_size == "auto"):
            check_int("batch_size", batch_size)

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
                X, y, test_size=self.validation_fraction, random_state=draw_seed(self._rng), stratify=stratify
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
        return model_scores(self._model, X)


class EpochTrainedClassifier(ClassifierMixin, EpochTrainedEstimator):
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
        return as_model_dtype(X, what="X"), np.searchsorted(self.classes_, y).astype(np.int64)

    def _internal_score(self, X, y):
        return float(np.mean(self._predict_codes(X) == y))

    def predict(self, X):
        """The predicted class label of each row of ``X``, shape (n_samples,)."""
        codes = self._predict_codes(self._validate_X(X))
        return self.classes_[codes]


# ====================================================================== multi-layer perceptrons
