"""The multi-layer-perceptron estimators: MLPClassifier and MLPRegressor, over ``nn.MLP``."""
from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.validation import check_is_fitted, validate_data

from chainrule import nn
from chainrule import validation as check
from chainrule.data import as_model_dtype
from chainrule.estimators.base import (
    documented, ACTIVATION_ALIASES, model_scores, NetworkClassifier, NetworkEstimator,
)


class _MLP(NetworkEstimator):
    _attribute_docs = {
        'coefs_': ('list of ndarray', '``coefs_[i]`` is the weight matrix from layer i to layer i + 1, shape (n_in, n_out).'),
        'intercepts_': ('list of ndarray', '``intercepts_[i]`` is the bias vector of layer i + 1.'),
        'n_layers_': ('int', ''),
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=1e-4,
                 batch_size="auto", learning_rate_init=1e-3, max_iter=200, shuffle=True, random_state=None,
                 tol=1e-4, verbose=False, early_stopping=False, validation_fraction=0.1, n_iter_no_change=10,
                 device="cpu"):
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
        self.device = device

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        return [sizes] if isinstance(sizes, numbers.Integral) else list(sizes)

    def _check_params(self):
        self._check_loop_params()
        for h in self._hidden_sizes():
            check.integer("each of hidden_layer_sizes", h, low=1)
        nn.get_activation(ACTIVATION_ALIASES.get(self.activation, self.activation))
        self._check_network_params()

    def _new_model(self, X, y):
        self.n_outputs_ = self._output_width(y)
        activation = ACTIVATION_ALIASES.get(self.activation, self.activation)
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
        self._config = self._network_config(X)

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


@documented
class MLPClassifier(NetworkClassifier, _MLP):
    """A multi-layer perceptron classifier: ``chainrule.nn.MLP`` trained by ``chainrule.train``.

    K > 2 classes use K outputs and the softmax cross-entropy; two classes use one output and the
    logistic loss, as scikit-learn's MLPClassifier does.

    {sections}

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

    _shared_attributes = (
        'coefs_', 'intercepts_', 'n_layers_', 'n_outputs_', 'classes_', 'n_features_in_',
        'feature_names_in_', 'loss_curve_', 'best_loss_', 'validation_scores_',
        'best_validation_score_', 'n_iter_'
    )
    def _output_width(self, y):
        return 1 if len(self.classes_) == 2 else len(self.classes_)


@documented
class MLPRegressor(RegressorMixin, _MLP):
    """A multi-layer perceptron regressor trained on the squared error (the lecture's E(w)).

    The network has linear outputs, one per target column; the loss is the mean of
    ``(y − f(x))²`` over examples and outputs. Multi-output ``y`` (n_samples, n_targets) works.

    {sections}

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

    _shared_attributes = (
        'coefs_', 'intercepts_', 'n_layers_', 'n_outputs_', 'n_features_in_', 'feature_names_in_',
        'loss_curve_', 'best_loss_', 'validation_scores_', 'best_validation_score_', 'n_iter_'
    )

    _loss = "mse"

    def _validate_xy(self, X, y, *, reset, classes, incremental):
        X, y = validate_data(self, X, y, reset=reset, multi_output=True, y_numeric=True,
                             dtype=(np.float64, np.float32))
        if reset:
            self._y_ndim = y.ndim
        y = y.reshape(len(y), -1)
        if not reset and y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {y.shape[1]} target columns but this model was fitted with {self.n_outputs_}")
        return as_model_dtype(X, what="X"), as_model_dtype(y, what="y")

    def _output_width(self, y):
        return y.shape[1]

    def _internal_score(self, X, y):
        return float(r2_score(y, model_scores(self._model, X)))

    def predict(self, X):
        """Predicted targets: shape (n_samples,) if fitted on 1-D ``y``, else (n_samples, n_targets)."""
        pred = self._checked_scores(X)
        return pred.ravel() if self._y_ndim == 1 else pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
