"""One general linear model, and the lecture's classifiers as configurations of it.

``scores = X @ Wᵀ + b`` with ``W`` of shape K×D (PyTorch's layout) and ``b`` of K entries. A
model is this score function plus a loss from :data:`chainrule.models.losses.LOSSES`; the loss
brings its vectorized analytic gradient, and :meth:`LinearModel.fit` hands that gradient to any
:mod:`chainrule.optim` optimizer. Because :meth:`LinearModel.forward` runs on the engine, the
same models also train with autodiff in a generic loop (:meth:`LinearModel.objective` is the
loss as a Tensor).

Labels are integers 0..K−1 everywhere; ``predict`` returns them. The one-output (binary) models
predict class 1 where the score is ≥ 0, i.e. they take sign(0) = +1.
"""
from __future__ import annotations

import numpy as np

from chainrule.engine import Tensor, linear
from chainrule import validation as check
from chainrule.models.losses import BINARY_LOSSES, LOSSES, get_loss
from chainrule.nn import Module, Parameter, init
from chainrule.nn import functional as F

__all__ = ["BinarySVM", "LinearClassifier", "LinearModel", "LogisticRegression"]


class LinearModel(Module):
    """A linear score function ``s = x Wᵀ + b`` trained on one of the registered losses.

    The full loss is the lecture's ``L = (1/N) Σᵢ Lᵢ + λ Σ W²`` (the bias is not regularized).
    ``W`` and ``b`` start as ``0.01 · randn`` drawn from ``seed``, so a fresh model's scores are
    all near 0 (the sanity check: the softmax loss starts at ≈ ln K, the SVM's at ≈ (K − 1)·Δ).

    Parameters
    ----------
    n_features : int
        D, the length of an input row.
    n_classes : int
        K ≥ 2. Losses on one output neuron ("logistic", "binary_svm", and "perceptron" with
        K = 2) keep a single row of weights; the others keep one row per class.
    loss : str
        A key of :data:`~chainrule.models.losses.LOSSES`: "svm", "softmax", "logistic",
        "binary_svm" or "perceptron".
    reg : float
        λ ≥ 0, the L2 regularization strength.
    margin : float
        Δ > 0, the margin of the hinge losses (ignored by the others).
    seed : int or None
        Seeds the initial weights.

    Attributes
    ----------
    weight, bias : Parameter
        W (n_outputs × D) and b (n_outputs), float32.
    history_ : list of float
        After :meth:`fit`, the mean mini-batch loss of each epoch.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 2.0], [2.0, 0.0]])
    >>> y = np.array([0, 1, 0, 1])
    >>> model = LinearModel(2, 2, loss="softmax").fit(X, y, lr=0.5, epochs=50)
    >>> model.predict(X).tolist(), model.score(X, y)
    ([0, 1, 0, 1], 1.0)
    """

    #: The loss of a configuration that does not name one (the subclasses' own).
    default_loss = "softmax"

    def __init__(self, n_features, n_classes, loss="softmax", reg=0.0, margin=1.0, seed=0):
        super().__init__()
        get_loss(loss)  # an unknown name fails here, listing the valid ones
        self.n_features = check.integer("n_features", n_features, low=1)
        self.n_classes = check.integer("n_classes", n_classes, low=2)
        if loss in BINARY_LOSSES and self.n_classes != 2:
            raise ValueError(f"loss={loss!r} is a binary loss on one output; it needs n_classes=2, got {n_classes}")
        self.loss = loss
        self.reg = check.number("reg", reg, low=0)
        self.margin = check.number("margin", margin, low=0, low_open=True)
        self.seed = check.seed("seed", seed)
        self.n_outputs = _output_count(loss, self.n_classes)
        self.weight = Parameter(np.zeros((self.n_outputs, self.n_features), dtype=np.float32))
        self.bias = Parameter(np.zeros(self.n_outputs, dtype=np.float32))
        self.reset_parameters()

    # ------------------------------------------------------------------ parameters
    def reset_parameters(self):
        """Draw W and b again as ``0.01 · randn`` from ``seed`` (in place); returns self."""
        rng = np.random.default_rng(self.seed)
        self.weight.data[...] = init.small(self.weight.shape, rng)
        self.bias.data[...] = init.small(self.bias.shape, rng)
        self.weight.grad = self.bias.grad = None
        return self

    @property
    def coef_(self):
        """W as a NumPy array (a view: writing to it changes the model)."""
        return self.weight.numpy()

    @property
    def intercept_(self):
        """b as a NumPy array (a view)."""
        return self.bias.numpy()

    def get_config(self):
        """The constructor's arguments as a JSON-able dict: ``type(m)(**m.get_config())`` rebuilds it."""
        return {"n_features": self.n_features, "n_classes": self.n_classes, "loss": self.loss,
                "reg": self.reg, "margin": self.margin, "seed": self.seed}

    @classmethod
    def parameter_shapes(cls, config):
        """The shape of each parameter ``cls(**config)`` would have, found without building it.

        What ``io.load_model`` checks against a file's arrays before it allocates anything.

        >>> LinearModel.parameter_shapes({"n_features": 3, "n_classes": 4, "loss": "svm"})
        {'weight': (4, 3), 'bias': (4,)}
        """
        D = check.integer("n_features", config.get("n_features"), low=1)
        K = check.integer("n_classes", config.get("n_classes", 2), low=2)
        out = _output_count(config.get("loss", cls.default_loss), K)
        return {"weight": (out, D), "bias": (out,)}

    @classmethod
    def from_config(cls, config):
        """A fresh model built from :meth:`get_config`'s dict (load the weights with ``load_state_dict``)."""
        return cls(**config)

    def extra_repr(self):
        return ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())

    # ------------------------------------------------------------------ scores
    def forward(self, x):
        """Scores ``x Wᵀ + b`` as a Tensor on the engine (differentiable w.r.t. W and b)."""
        return linear(x if isinstance(x, Tensor) else Tensor(x, dtype=self.weight.dtype), self.weight, self.bias)

    def decision_function(self, X):
        """Scores ``X Wᵀ + b`` as a NumPy array: shape (N, K), or (N,) for one-output models.

        >>> LinearModel(3, 4).decision_function(np.zeros((2, 3))).shape
        (2, 4)
        """
        X = self._features(X)
        S = X @ self.weight.data.T + self.bias.data
        return S[:, 0] if self.n_outputs == 1 else S

    def predict(self, X):
        """Class labels 0..K−1: the highest score, or for one output 1(s ≥ 0) (sign(0) = +1)."""
        S = self.decision_function(X)
        if self.n_outputs == 1:
            return (S >= 0).astype(np.int64)
        return S.argmax(axis=1)

    def score(self, X, y):
        """Accuracy: the fraction of examples whose predicted label equals ``y``."""
        X = self._features(X)
        y = self._labels(y, X.shape[0])
        return float(np.mean(self.predict(X) == y))

    # ------------------------------------------------------------------ loss
    def loss_and_grad(self, X, y):
        """The loss and its analytic gradient (NumPy, no autodiff): ``(loss, dW, db)``.

        ``L = (1/N) Σᵢ Lᵢ + λ Σ W²`` at the current weights, with ``dW = ∂L/∂W`` (including
        ``2λW``) and ``db = ∂L/∂b``; see :mod:`chainrule.models.losses` for each formula.

        >>> loss, dW, db = LinearModel(64, 10, loss="softmax").loss_and_grad(np.zeros((5, 64)), np.arange(5))
        >>> round(loss, 2), dW.shape, db.shape
        (2.3, (10, 64), (10,))
        """
        X = self._features(X)
        return self._loss_and_grad(X, self._labels(y, X.shape[0]))

    def _loss_and_grad(self, X, y):
        fn = LOSSES[self.loss]
        return fn(self.weight.data, self.bias.data, X, y, reg=self.reg, margin=self.margin)

    def objective(self, X, y):
        """The same loss as :meth:`loss_and_grad`, built on the engine: ``backward()`` fills the grads.

        This is the autodiff twin of the analytic formulas (the tests check one against the
        other), and what a generic training loop would minimize.

        >>> model = LinearModel(3, 4, loss="svm")
        >>> L = model.objective(np.ones((2, 3)), np.array([0, 3]))
        >>> L.backward(); model.weight.grad.shape
        (4, 3)
        """
        X = self._features(X)
        y = self._labels(y, X.shape[0])
        s = self(X)
        if self.loss == "svm":
            L = F.multiclass_hinge(s, y, margin=self.margin)
        elif self.loss == "softmax":
            L = F.cross_entropy(s, y)
        elif self.loss == "logistic":
            L = F.binary_cross_entropy_with_logits(s.reshape(-1), y)
        elif self.loss == "binary_svm":
            L = F.binary_hinge(s.reshape(-1), 2 * y - 1, margin=self.margin)
        elif self.n_outputs == 1:  # binary perceptron criterion max(0, −t·s)
            L = (s.reshape(-1) * Tensor(1 - 2 * y, dtype=s.dtype)).relu().mean()
        else:  # multiclass perceptron criterion max_j s_j − s_y
            L = (s.max(axis=1) - s[np.arange(len(y)), y]).mean()
        if self.reg:
            L = L + F.l2([self.weight], self.reg)
        return L

    # ------------------------------------------------------------------ training
    def fit(self, X, y, *, lr, epochs, batch_size=None, optimizer="sgd", seed=0, shuffle=True):
        """Minimize the loss with its analytic gradient and a :mod:`chainrule.optim` optimizer.

        Each step sets ``p.grad`` from :meth:`loss_and_grad` on a batch and calls the
        optimizer's ``step()``; with plain SGD that is the lecture's
        ``weights += − step_size · weights_grad``. ``batch_size`` picks the lecture's variant:
        None is vanilla (full-batch) gradient descent, B is mini-batch gradient descent, and 1
        is stochastic gradient descent. Training continues from the current weights (a new
        model starts from its seeded initialization; :meth:`reset_parameters` starts over).

        Parameters
        ----------
        X : array of shape (N, D)
        y : integer array of shape (N,)
            Labels 0..K−1 (one-output models that accept them: 0/1 or −1/+1).
        lr : float
            The step size, > 0.
        epochs : int
            Passes over the data, ≥ 1.
        batch_size : int or None
            Examples per step; None uses all of them.
        optimizer : str or callable
            A name of :data:`chainrule.optim.OPTIMIZERS` ("sgd", "momentum", "nesterov",
            "rmsprop", "adagrad", "adam", "adamw", "random-search", "random-local-search") or a
            factory ``optimizer(params, lr=lr)`` returning an optimizer. The derivative-free
            ones take ``lr`` as their step (random local search's ``step_size``, random
            search's ``scale``) and ``seed`` as their ``rng``; each of their steps is scored
            through a closure on the batch.
        seed : int or None
            Seeds the order in which examples are visited: epoch e uses the e-th
            ``rng.permutation(N)`` of ``rng = numpy.random.default_rng(seed)``.
        shuffle : bool
            Visit the examples in a new random order each epoch (otherwise in order 0..N−1).

        Returns
        -------
        self, with ``history_`` (the mean batch loss of each epoch; for full batch, the loss
        before that epoch's step).

        Examples
        --------
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> X = np.vstack([rng.normal(-2, 1, (20, 2)), rng.normal(2, 1, (20, 2))])
        >>> y = np.repeat([0, 1], 20)
        >>> model = LinearClassifier(2, 2, loss="svm").fit(X, y, lr=0.1, epochs=20, batch_size=8)
        >>> model.score(X, y) >= 0.95, model.history_[-1] < model.history_[0]
        (True, True)
        """
        from chainrule.train import TrainConfig, Trainer

        X = self._features(X)
        y = self._labels(y, X.shape[0])
        lr = check.number("lr", lr, low=0, low_open=True)
        epochs = check.integer("epochs", epochs, low=1)
        if batch_size is not None:
            batch_size = check.integer("batch_size", batch_size, low=1)
        shuffle = check.boolean("shuffle", shuffle)
        seed = check.seed("seed", seed)
        n = X.shape[0]
        options = {}
        if isinstance(optimizer, str):
            from chainrule.optim import OPTIMIZERS

            factory = OPTIMIZERS.get(optimizer.lower().replace("_", "-"))
            if getattr(getattr(factory, "func", factory), "needs_rng", False):
                # A child of ``seed``: reproducible, yet independent of the generator that
                # shuffles the examples.
                options["rng"] = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
        elif not callable(optimizer):
            raise TypeError(f"optimizer must be a name such as 'sgd' or a factory optimizer(params, lr=...); "
                            f"got {optimizer!r}")
        # One batch holding every example is visited in order (a permutation would change nothing
        # but the order of a sum).
        config = TrainConfig(loss=self.task_name, optimizer=optimizer, lr=lr, epochs=epochs,
                             batch_size=batch_size, reg=self.reg, seed=0 if seed is None else seed,
                             shuffle=shuffle and batch_size is not None and batch_size < n, optimizer_options=options)
        trainer = Trainer(self, X, y, config)
        if seed is None:
            trainer.rng = np.random.default_rng()
        trainer.run()
        self.history_ = [r["loss"] for r in trainer.history.records]
        return self

    #: The name of this model's loss among the declared losses (:func:`chainrule.train.get_task`).
    @property
    def task_name(self) -> str:
        return {"softmax": "cross-entropy", "svm": "svm", "logistic": "logistic", "binary_svm": "binary-hinge",
                "perceptron": "perceptron"}[self.loss]

    def analytic_loss(self, X, y, reg, grad=True):
        """The training loop's analytic step: ``(loss, {"weight": dW, "bias": db})`` on a batch.

        The loss's vectorized formula (:data:`~chainrule.models.losses.LOSSES`) with L2 strength
        ``reg``, on features and labels already checked by the loop.
        """
        loss, dW, db = LOSSES[self.loss](self.weight.data, self.bias.data, X, y, reg=reg, margin=self.margin)
        return loss, {"weight": dW, "bias": db}

    # ------------------------------------------------------------------ input checks
    @property
    def _accepts_pm1(self):
        return self.n_outputs == 1 and self.loss != "logistic"

    def _features(self, X):
        return check.features(X, self.n_features, self.weight.dtype)

    def _labels(self, y, n_rows):
        return check.labels(y, n_rows, self.n_classes, allow_pm1=self._accepts_pm1)


class LinearClassifier(LinearModel):
    """The lecture's linear classifier ``f(x, W) = Wx + b`` with the SVM or the softmax loss.

    ``loss="svm"``: ``Lᵢ = Σ_{j≠yᵢ} max(0, s_j − s_{yᵢ} + Δ)``; ``loss="softmax"``:
    ``Lᵢ = −log(e^{s_{yᵢ}} / Σ_j e^{s_j})``; both plus ``λ Σ W²``.

    Parameters
    ----------
    n_features, n_classes : int
        D and K ≥ 2.
    loss : {"svm", "softmax"}
    reg : float
        λ ≥ 0.
    margin : float
        Δ of the SVM loss.
    seed : int or None
        Seeds the initial ``0.01 · randn`` weights.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> X = (X - X.mean(0)) / X.std(0)
    >>> clf = LinearClassifier(4, 3, loss="softmax").fit(X, y, lr=0.5, epochs=200)
    >>> clf.score(X, y) > 0.9, clf.predict_proba(X[:1]).shape
    (True, (1, 3))
    """

    def __init__(self, n_features, n_classes, loss="softmax", reg=0.0, margin=1.0, seed=0):
        check.choice("LinearClassifier's loss", loss, ("softmax", "svm"))
        super().__init__(n_features, n_classes, loss=loss, reg=reg, margin=margin, seed=seed)

    @property
    def predict_proba(self):
        """Class probabilities ``softmax(s)``, shape (N, K); only for ``loss="softmax"``.

        (SVM scores are not probabilities, so an SVM has no ``predict_proba`` attribute at all.)
        """
        if self.loss != "softmax":
            raise AttributeError(f"predict_proba is only available with loss='softmax'; this model has loss={self.loss!r}")
        return self._softmax_proba

    def _softmax_proba(self, X):
        from scipy.special import softmax

        return softmax(self.decision_function(X), axis=1)


class LogisticRegression(LinearModel):
    """The binary softmax classifier (logistic regression): one neuron ``σ(Σᵢ wᵢxᵢ + b)``.

    ``P(y=1 | x) = σ(w·x + b)`` and ``P(y=0 | x) = 1 − P(y=1 | x)``; the loss is the binary
    cross-entropy computed from the logit (stable for any score) plus ``λ Σ w²``; the gradient is
    ``(σ(s) − y)·x``. Labels are 0/1.

    Parameters
    ----------
    n_features : int
    reg : float
        λ ≥ 0.
    seed : int or None

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[-2.0], [-1.0], [1.0], [2.0]]); y = np.array([0, 0, 1, 1])
    >>> model = LogisticRegression(1).fit(X, y, lr=1.0, epochs=100)
    >>> model.predict(X).tolist(), model.predict_proba(X).shape
    ([0, 0, 1, 1], (4, 2))
    """

    default_loss = "logistic"

    def __init__(self, n_features, reg=0.0, seed=0):
        super().__init__(n_features, 2, loss="logistic", reg=reg, seed=seed)

    def get_config(self):
        return {"n_features": self.n_features, "reg": self.reg, "seed": self.seed}

    def predict_proba(self, X):
        """``[P(y=0 | x), P(y=1 | x)]`` per row, shape (N, 2)."""
        from scipy.special import expit

        p1 = expit(self.decision_function(X))
        return np.column_stack([1.0 - p1, p1])


class BinarySVM(LinearModel):
    """A binary SVM: the max-margin hinge loss on one neuron's output ``s = w·x + b``.

    ``Lᵢ = max(0, Δ − tᵢ·sᵢ)`` with ``tᵢ = ±1``, plus ``λ Σ w²``. Labels may be given as 0/1 or
    as −1/+1 (0 and −1 are the negative class; internally t = 2y − 1). ``predict`` returns 0/1
    like every chainrule classifier: ``2·predict(X) − 1`` gives ±1, with sign(0) = +1.

    Parameters
    ----------
    n_features : int
    reg : float
        λ ≥ 0.
    margin : float
        Δ > 0.
    seed : int or None

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[-2.0, 1.0], [-1.0, 0.0], [1.0, 0.0], [2.0, 1.0]]); y = np.array([-1, -1, 1, 1])
    >>> BinarySVM(2).fit(X, y, lr=0.1, epochs=50).predict(X).tolist()
    [0, 0, 1, 1]
    """

    default_loss = "binary_svm"

    def __init__(self, n_features, reg=0.0, margin=1.0, seed=0):
        super().__init__(n_features, 2, loss="binary_svm", reg=reg, margin=margin, seed=seed)

    def get_config(self):
        return {"n_features": self.n_features, "reg": self.reg, "margin": self.margin, "seed": self.seed}


def _output_count(loss, n_classes):
    """One output for the binary losses (and a two-class perceptron), else one per class."""
    one_output = loss in BINARY_LOSSES or (loss == "perceptron" and n_classes == 2)
    return 1 if one_output else n_classes
