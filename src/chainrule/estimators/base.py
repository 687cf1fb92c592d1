"""What every estimator shares: parameter checks, scores, the epoch loop, stopping, partial_fit; and
what the network estimators (MLPs, CNNClassifier) share on top of it."""
from __future__ import annotations

import re
import warnings

import numpy as np
from scipy.special import expit, log_expit, log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from chainrule import optim
from chainrule import validation as check
from chainrule.data import as_model_dtype
from chainrule.engine import Tensor, device as as_device, no_grad, to_device
from chainrule.nn import module_device
from chainrule.train import EarlyStopping, TrainConfig, Trainer


_SEED_MAX = np.iinfo(np.int32).max

# scikit-learn's MLP calls the sigmoid "logistic"; chainrule calls it "sigmoid". Both work.
ACTIVATION_ALIASES = {"logistic": "sigmoid"}


# ====================================================================== parameter checks
def resolve_batch_size(value, n_samples):
    """"auto" → min(200, n) as in scikit-learn; an int is clipped to n."""
    if isinstance(value, str) and value == "auto":
        return min(200, n_samples)
    return min(check.integer("batch_size", value, low=1, what="'auto' or a whole number"), n_samples)


def draw_seed(rng) -> int:
    return int(rng.randint(_SEED_MAX))


def optimizer_options(solver, rng) -> dict:
    """Seed an optimizer that draws random numbers (``needs_rng``: the searches) from ``random_state`` too."""
    factory = optim.OPTIMIZERS.get(str(solver).lower().replace("_", "-"))
    if getattr(getattr(factory, "func", factory), "needs_rng", False):
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
            dev = module_device(model)
            with dev.use():  # CuPy makes new arrays on its current GPU: make it the model's
                out = [model(Tensor(to_device(X[i:i + chunk], dev), dtype=np.float64)).numpy()
                       for i in range(0, len(X), chunk)]
    finally:
        model.train(was_training)
    out = np.concatenate(out).astype(np.float64, copy=False)
    return out.reshape(len(X), -1)


# ====================================================================== documentation, written once
# The numpydoc entries the estimators share: name → (type, description). A family's own wording
# is a ``_parameter_docs`` / ``_attribute_docs`` dict on its class; :func:`documented` writes each
# class's Parameters (in its constructor's order, with its defaults) and shared Attributes.
PARAMETER_DOCS = {
    'alpha': ('float', 'L2 strength: the objective is ``mean Lᵢ + (alpha / 2) Σw²``.'),
    'solver': ('str', 'A chainrule optimizer name: "sgd" (the lecture\'s ``W −= lr · dW``), "momentum",\n"nesterov", "rmsprop", "adagrad", "adam", "adamw", or the derivative-free\n"random-search" / "random-local-search".'),
    'batch_size': ('int or "auto"', 'Examples per step: 1 is stochastic gradient descent, ``n_samples`` or more is full-batch\ngradient descent, "auto" is ``min(200, n_samples)`` (the MLPs\' default).'),
    'learning_rate_init': ('float', "The optimizer's learning rate."),
    'max_iter': ('int', 'The most epochs (passes over the data).'),
    'tol': ('float', 'The improvement of the loss (or validation score) that counts as progress.'),
    'n_iter_no_change': ('int', "Stop once more than this many epochs in a row made no improvement of ``tol``\n(``max_iter``, ``tol`` and ``n_iter_no_change`` default to scikit-learn's SGDClassifier's)."),
    'early_stopping': ('bool', 'Hold out ``validation_fraction`` of the data, stop when its accuracy stops improving, and\nkeep the weights of the best epoch.'),
    'validation_fraction': ('float', ''),
    'shuffle': ('bool', 'Visit the examples in a new random order every epoch.'),
    'random_state': ('int, RandomState instance or None', "Seeds the initial weights (the lecture's 0.01·randn), the order of the examples and the\nvalidation split."),
    'verbose': ('bool', 'Print the loss after every epoch.'),
    'hidden_layer_sizes': ('int or tuple of int', 'The number of neurons in each hidden layer.'),
    'activation': ('{"relu", "tanh", "logistic", "sigmoid", "leaky-relu", "identity"}', 'The hidden layers\' activation ("logistic" is scikit-learn\'s name for the sigmoid).'),
    'eta0': ('float', "α, the step of the rule (scikit-learn's Perceptron calls it ``eta0``)."),
}

ATTRIBUTE_DOCS = {
    'classes_': ('ndarray of shape (n_classes,)', ''),
    'n_features_in_': ('int', ''),
    'feature_names_in_': ('ndarray of str', 'Only when ``X`` had string column names (e.g. a pandas DataFrame).'),
    'loss_curve_': ('list of float', 'The mean training loss of every epoch (regularization included).'),
    'best_loss_': ('float or None', ''),
    'validation_scores_': ('list of float or None', ''),
    'best_validation_score_': ('float or None', ''),
    'n_iter_': ('int', 'The epochs run.'),
}


def _default_text(value) -> str:
    if isinstance(value, float) and value != 0 and abs(value) < 1e-2:
        mantissa, exponent = f"{value:.0e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def _entries(docs: dict, names, defaults=None) -> list:
    lines = []
    for name in names:
        kind, text = docs[name]
        head = f"{name} : {kind}" + (f", default={_default_text(defaults[name])}" if defaults is not None else "")
        lines.append(head)
        lines += ["    " + line for line in text.splitlines()]
    return lines


def _merged(cls, attr: str, base: dict) -> dict:
    out = dict(base)
    for klass in reversed(cls.__mro__):
        out.update(klass.__dict__.get(attr, {}))
    return out


def documented(cls):
    """Class decorator: fill the placeholders of ``cls``'s docstring with the shared documentation.

    ``{parameters}`` becomes one numpydoc entry per constructor argument, in order, with its
    default; ``{attributes}`` the class's own attributes (``_own_attributes``, nearest in the MRO)
    then the shared ones named in ``_shared_attributes``; ``{sections}`` both, under their
    Parameters and Attributes headers.
    """
    import inspect

    params = {k: v.default for k, v in inspect.signature(cls.__init__).parameters.items() if k != "self"}
    own = next((k.__dict__["_own_attributes"] for k in cls.__mro__ if "_own_attributes" in k.__dict__), {})
    parameters = _entries(_merged(cls, "_parameter_docs", PARAMETER_DOCS), params, params)
    attributes = _entries(own, own) + _entries(_merged(cls, "_attribute_docs", ATTRIBUTE_DOCS),
                                               getattr(cls, "_shared_attributes", ()))
    fill = {"parameters": parameters, "attributes": attributes,
            "sections": ["Parameters", "----------", *parameters, "", "Attributes", "----------", *attributes]}

    def expand(match):
        indent = match.group(1)
        return "\n".join(indent + line if line else "" for line in fill[match.group(2)])

    cls.__doc__ = re.sub(r"^( *)\{(parameters|attributes|sections)\}$", expand, cls.__doc__, flags=re.M)
    return cls


# ====================================================================== the one loop, for scikit-learn
class Progress:
    """The callback through which an estimator follows the one loop (chainrule.train.Trainer).

    After each epoch it records scikit-learn's attributes (``n_iter_``, ``loss_curve_``,
    ``validation_scores_``, ``best_loss_``, ``best_validation_score_``) and asks the one
    early-stopping rule, :class:`chainrule.train.EarlyStopping`, whether to stop: scikit-learn's
    "no improvement by ``tol`` in more than ``n_iter_no_change`` epochs" is
    ``EarlyStopping(patience=n_iter_no_change + 1, min_delta=tol)`` on the training loss, or on
    the held-out score with ``early_stopping=True`` (whose best weights are restored at the end).
    ``stop=False`` (partial_fit) records without stopping.
    """

    def __init__(self, estimator, validation=None, *, stop=True):
        self.est, self.validation, self.stop = estimator, validation, stop
        monitor = "val_score" if validation is not None else "estimator_loss"
        self.rule = EarlyStopping(patience=estimator.n_iter_no_change + 1, monitor=monitor,
                                  min_delta=float(estimator.tol), restore_best=validation is not None)
        if validation is None and estimator.best_loss_ is not None:
            self.rule.best, self.rule.wait = estimator.best_loss_, estimator._no_improvement_count

    def on_train_begin(self, trainer):
        pass

    def on_batch_end(self, trainer, loss):
        pass

    def on_epoch_end(self, trainer, record):
        est = self.est
        loss = est._epoch_loss(record, len(trainer.X))
        record["estimator_loss"] = loss
        est.n_iter_ += 1
        est.loss_curve_.append(loss)
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {loss:.8f}")
        if self.validation is not None:
            record["val_score"] = est._internal_score(*self.validation)
            est.validation_scores_.append(record["val_score"])
        stop = self.rule.on_epoch_end(trainer, record)
        if self.validation is not None:
            est.best_validation_score_ = -self.rule.best
        else:
            est.best_loss_ = self.rule.best
        est._no_improvement_count = self.rule.wait
        if stop and self.stop and est.verbose:
            what = "validation score" if self.validation is not None else "training loss"
            print(f"The {what} did not improve more than tol={est.tol} for {est.n_iter_no_change} "
                  "consecutive epochs. Stopping.")
        return stop and self.stop

    def on_train_end(self, trainer):
        self.rule.on_train_end(trainer)


class EpochTrainedEstimator(BaseEstimator):
    """What every estimator here shares: input checks, fit and partial_fit over the one loop.

    A subclass provides ``_new_model(X, y)``, which builds ``self._model`` for encoded targets
    and ``self._config`` (its :class:`chainrule.train.TrainConfig`), and
    ``_internal_score(X, y)`` (accuracy or R² on encoded targets, for early stopping).
    ``_epoch_loss(record, n)`` is the loss an epoch reports (``loss_curve_``); by default the
    loop's mean training loss.
    """

    def _check_loop_params(self):
        check.integer("max_iter", self.max_iter, low=1)
        check.number("tol", self.tol, low=0)
        check.integer("n_iter_no_change", self.n_iter_no_change, low=1)
        check.boolean("early_stopping", self.early_stopping)
        check.number("validation_fraction", self.validation_fraction, 0, 1, low_open=True, high_open=True)
        check.boolean("shuffle", self.shuffle)
        batch_size = getattr(self, "batch_size", "auto")
        if not (isinstance(batch_size, str) and batch_size == "auto"):
            check.integer("batch_size", batch_size, low=1, what="'auto' or a whole number")

    def _epoch_loss(self, record, n_samples):
        return float(record["loss"])

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and targets ``y``, from fresh weights; returns self."""
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y):
        """One epoch over ``X``, ``y``, continuing from the current weights and optimizer state."""
        return self._fit(X, y, incremental=True)

    # ---------------------------------------------------------------- fit / partial_fit
    def _fit(self, X, y, *, incremental, classes=None):
        first = not incremental or not hasattr(self, "_model")
        self._check_params()
        X, y = self._validate_xy(X, y, reset=first, classes=classes, incremental=incremental)
        if first:
            self._rng = check_random_state(self.random_state)
            self.n_iter_ = 0
            self.loss_curve_ = []
            self.best_loss_ = np.inf
            self._no_improvement_count = 0
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self._new_model(X, y)
            self._trainer = self._resume = None
        if incremental:
            trainer = self._trainer_for(X, y, Progress(self, stop=False))
            trainer.config.epochs = trainer.epoch + 1
            trainer.run()
            return self
        validation = None
        if self.early_stopping:
            stratify = y if isinstance(self, ClassifierMixin) else None
            X, X_val, y, y_val = train_test_split(
                X, y, test_size=self.validation_fraction, random_state=draw_seed(self._rng), stratify=stratify
            )
            validation = (X_val, y_val)
            self.validation_scores_, self.best_validation_score_ = [], -np.inf
            self.best_loss_ = None
        trainer = self._trainer_for(X, y, Progress(self, validation))
        trainer.config.epochs = trainer.epoch + int(self.max_iter)
        trainer.run()
        if not trainer.stop_training:
            warnings.warn(
                f"{type(self).__name__}: the maximum number of iterations ({self.max_iter}) was reached and "
                "the optimization hasn't converged yet.",
                ConvergenceWarning,
            )
        return self

    def _trainer_for(self, X, y, progress):
        """The estimator's Trainer, made on the first call (or after unpickling), fed ``(X, y)``."""
        trainer = self._trainer
        callbacks = [progress, *self._training_callbacks(X, y)]
        if trainer is None:
            # An estimator with a ``device`` parameter (the networks) trains there; the others where the model is.
            trainer = self._trainer = Trainer(self._model, X, y, self._config, callbacks=callbacks,
                                              device=getattr(self, "device", None))
            if self._resume is not None:  # unpickled: continue where the pickled estimator was
                trainer.load_state(*self._resume)
                self._resume = None
        else:
            trainer.callbacks = callbacks
            if trainer.source is not X:  # partial_fit's next batch, or fit's (validation) split
                trainer.set_data(X, y)
        return trainer

    def _training_callbacks(self, X, y) -> list:
        """Callbacks of the estimator's own, after :class:`Progress`, for a run on ``(X, y)``
        (CNNClassifier's augmentation); none by default."""
        return []

    def __getstate__(self):
        # chainrule's optimizers are not picklable (they cache closures) but a training state is:
        # pickle that, and rebuild the optimizer (and training loop) on the next partial_fit.
        state = dict(super().__getstate__())
        trainer = state.pop("_trainer", None)
        if trainer is not None:
            state["_resume"] = trainer.state()
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "_resume" in state:
            self._trainer = None

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

    def partial_fit(self, X, y, classes=None):
        """One epoch over ``X``, ``y``; ``classes`` (all labels) is required on the first call."""
        return self._fit(X, y, incremental=True, classes=classes)

    def predict(self, X):
        """The predicted class label of each row of ``X``, shape (n_samples,)."""
        codes = self._predict_codes(self._validate_X(X))
        return self.classes_[codes]


# ====================================================================== networks (MLP, CNN)
class NetworkEstimator(EpochTrainedEstimator):
    """What the network estimators (MLPs, CNNClassifier) share: the optimizer, L2 and device
    parameters, their documentation, and the training configuration built from them.

    A subclass sets ``self.n_outputs_`` and builds ``self._model`` in ``_new_model``, then takes
    :meth:`_network_config`; ``_loss`` names its loss.
    """

    _parameter_docs = {
        'alpha': ('float', "L2 strength with scikit-learn's scaling: ``(alpha / 2) · ΣW² / batch_size`` is added to the\nmean loss of each batch (weights only, not biases)."),
        'solver': ('str', 'A chainrule optimizer name: "sgd" (plain SGD, the lecture\'s update), "momentum",\n"nesterov", "rmsprop", "adagrad", "adam", "adamw", or the derivative-free\n"random-search" / "random-local-search". scikit-learn\'s ``solver="sgd"``, which uses\nNesterov momentum 0.9, is chainrule\'s "nesterov"; there is no "lbfgs".'),
        'batch_size': ('int or "auto"', 'Examples per step; "auto" is ``min(200, n_samples)``.'),
        'n_iter_no_change': ('int', 'Stop once more than this many epochs in a row made no improvement of ``tol``.'),
        'early_stopping': ('bool', 'Hold out ``validation_fraction`` of the data, stop when its score stops improving, and\nkeep the weights of the best epoch.'),
        'shuffle': ('bool', 'Visit the examples in a new random order every epoch (False: in the order given).'),
        'random_state': ('int, RandomState instance or None', 'Seeds the initial weights, the order of the examples and the validation split.'),
        'device': ('str or Device', 'Where the network trains and predicts: "cpu", "cuda", "cuda:N" or "auto" (CUDA when CuPy\nsees a GPU). Inputs and outputs stay NumPy arrays; batches are copied to the device.'),
    }
    _attribute_docs = {
        'n_outputs_': ('int', ''),
        'loss_curve_': ('list of float', 'The mean training loss of every epoch (L2 term included).'),
        'best_loss_': ('float or None', 'The lowest training loss (None with ``early_stopping``).'),
        'validation_scores_': ('list of float or None', 'The held-out score after every epoch (only with ``early_stopping``).'),
    }

    def _check_network_params(self):
        check.number("alpha", self.alpha, low=0)
        check.number("learning_rate_init", self.learning_rate_init, low=0, low_open=True)
        as_device(self.device).check()  # an unknown or unavailable device names itself

    def _network_config(self, X) -> TrainConfig:
        """The run's TrainConfig. scikit-learn's MLP adds (alpha / 2) ΣW² / batch_size to the mean
        loss; fit's ``reg`` is λ in λΣW²."""
        batch = resolve_batch_size(self.batch_size, len(X))
        return TrainConfig(loss=self._loss, optimizer=self.solver, lr=float(self.learning_rate_init),
                           epochs=int(self.max_iter), batch_size=batch, reg=float(self.alpha) / (2 * batch),
                           seed=draw_seed(self._rng), shuffle=bool(self.shuffle),
                           optimizer_options=optimizer_options(self.solver, self._rng))


class NetworkClassifier(EpochTrainedClassifier, NetworkEstimator):
    """A network classifier's outputs: K scores and the softmax cross-entropy, or (where the
    subclass's ``_output_width`` says so for two classes) one score and the logistic loss."""

    _attribute_docs = {
        'classes_': ('ndarray of shape (n_classes,)', 'The class labels.'),
    }

    @property
    def _loss(self):
        return "logistic" if self.n_outputs_ == 1 else "cross-entropy"

    def _output_width(self, y):
        return len(self.classes_)

    def _predict_codes(self, X):
        s = model_scores(self._model, X)
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
