"""The perceptron, trained with the lecture's exact update rule, one example at a time."""
from __future__ import annotations

import numpy as np

from chainrule import validation as check
from chainrule.models.linear import LinearModel

__all__ = ["Perceptron"]


class Perceptron(LinearModel):
    """The perceptron: classify with ``y′ = sign(w·x + b)``, and on each example ``w ← w + α(y − y′)x``.

    The lecture's algorithm, exactly: initialize the weights randomly (``0.01 · randn`` from
    ``seed``), cycle through the training examples in passes (epochs), and for each example
    ``x`` with label ``y ∈ {−1, +1}``

    - classify with the current weights: ``y′ = sign(w·x + b)``, where **sign(0) = +1**;
    - update ``w ← w + α(y − y′)x`` and ``b ← b + α(y − y′)``.

    A correct ``y′`` changes nothing; a wrong one moves ``w`` by ``±2αx``, towards making
    ``w·x`` larger for ``y = +1`` and smaller for ``y = −1``.

    With ``n_classes = K > 2`` there is one row of weights per class, the prediction is
    ``y′ = argmax_j (w_j·x + b_j)`` (ties go to the lowest class), and on a mistake
    ``w_y ← w_y + αx``, ``w_{y′} ← w_{y′} − αx`` (biases likewise).

    It is the general linear model with the perceptron criterion
    (``loss="perceptron"``, see :func:`chainrule.models.losses.perceptron_loss`): per example,
    plain SGD on that loss is this rule (step 2α in the binary case, α for K classes). ``fit``
    runs the rule itself, per example in plain NumPy on the parameters' arrays, for speed.

    Parameters
    ----------
    n_features : int
    n_classes : int
        2 (one output, the binary rule above) or more (the multiclass rule).
    lr : float
        α > 0.
    epochs : int
        The most passes over the data; training stops after a pass without mistakes, because
        every later pass would change nothing.
    shuffle : bool
        Visit the examples in a new random order each pass (otherwise in order 0..N−1).
    seed : int or None
        Seeds both the initial weights and the order: pass e visits the examples in the e-th
        ``rng.permutation(N)`` of ``rng = numpy.random.default_rng(seed)``.

    Attributes
    ----------
    history_ : list of int
        The number of mistakes (updates) in each pass.
    n_iter_ : int
        The passes run.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[2.0, 1.0], [1.0, 3.0], [-1.0, -2.0], [-3.0, 1.0]])
    >>> y = np.array([1, 1, -1, -1])
    >>> p = Perceptron(2).fit(X, y)
    >>> p.predict(X).tolist(), p.score(X, y), p.history_[-1]
    ([1, 1, 0, 0], 1.0, 0)
    """

    default_loss = "perceptron"

    def __init__(self, n_features, n_classes=2, lr=1.0, epochs=20, shuffle=True, seed=0):
        super().__init__(n_features, n_classes, loss="perceptron", seed=seed)
        self.lr = check.number("lr", lr, low=0, low_open=True)
        self.epochs = check.integer("epochs", epochs, low=1)
        self.shuffle = check.boolean("shuffle", shuffle)

    def get_config(self):
        return {"n_features": self.n_features, "n_classes": self.n_classes, "lr": self.lr,
                "epochs": self.epochs, "shuffle": self.shuffle, "seed": self.seed}

    def fit(self, X, y, *, lr=None, epochs=None, shuffle=None, seed=None):
        """Run the perceptron rule over ``X``, ``y``; returns self.

        ``y`` holds ±1 (or 0/1, mapped to −1/+1) for two classes, 0..K−1 for more. ``lr``,
        ``epochs``, ``shuffle`` and ``seed`` override the constructor's values for this call.
        Training continues from the current weights.
        """
        from chainrule.train import TrainConfig, Trainer

        X = self._features(X)
        y = self._labels(y, X.shape[0])
        alpha = self.lr if lr is None else check.number("lr", lr, low=0, low_open=True)
        epochs = self.epochs if epochs is None else check.integer("epochs", epochs, low=1)
        shuffle = self.shuffle if shuffle is None else check.boolean("shuffle", shuffle)
        seed = self.seed if seed is None else check.seed("seed", seed)
        config = TrainConfig(loss="perceptron", lr=alpha, epochs=epochs, batch_size=None, seed=seed or 0,
                             shuffle=shuffle)
        trainer = Trainer(self, X, y, config)
        if seed is None:
            trainer.rng = np.random.default_rng()
        trainer.run()
        self.history_ = [r["mistakes"] for r in trainer.history.records]
        self.n_iter_ = len(self.history_)
        return self

    def update_rule(self, X, y, lr):
        """The training loop's rule step: the perceptron rule on each row of ``X`` in order.

        Returns ``(loss, mistakes)``: the perceptron criterion before the pass and the number of
        updates. Plain Python ints for the labels and a step of the weights' own dtype keep every
        operation in float32 on any NumPy version (a NumPy float64 scalar would promote it).
        """
        from chainrule.models.losses import perceptron_loss

        W, b = self.weight.data, self.bias.data
        loss = perceptron_loss(W, b, X, y)[0]
        labels, order = y.tolist(), range(X.shape[0])
        if self.n_outputs == 1:
            return loss, _binary_pass(W[0], b, X, labels, order, lr)
        return loss, _multiclass_pass(W, b, X, labels, order, lr)


def _binary_pass(w, b, X, labels, order, alpha):
    mistakes = 0
    for i in order:
        x = X[i]
        y = 2 * labels[i] - 1  # 0/1 → −1/+1
        y_pred = 1 if float(w @ x + b[0]) >= 0 else -1
        if y_pred != y:
            # w ← w + α(y − y′)x; when y′ = y the step is 0, so only mistakes need the work.
            step = w.dtype.type(alpha * (y - y_pred))
            w += step * x
            b[0] += step
            mistakes += 1
    return mistakes


def _multiclass_pass(W, b, X, labels, order, alpha):
    alpha = W.dtype.type(alpha)
    mistakes = 0
    for i in order:
        x = X[i]
        y = labels[i]
        y_pred = int(np.argmax(W @ x + b))
        if y_pred != y:
            W[y] += alpha * x
            b[y] += alpha
            W[y_pred] -= alpha * x
            b[y_pred] -= alpha
            mistakes += 1
    return mistakes
