"""MLPClassifier and MLPRegressor (chainrule/estimators/mlp.py): scikit-learn's attribute layout,
a forward pass from the exposed weights, one logistic output for two classes, multi-output
regression, the activations, shuffle=False."""
import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from chainrule.estimators import MLPClassifier, MLPRegressor

# Hitting max_iter on a small grid or fold is expected here; the warning itself is tested in test_base.py.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_mlp_attributes_follow_scikit_learns_layout_and_predict_from_them(iris):
    X, y = iris
    X = StandardScaler().fit_transform(X)
    clf = MLPClassifier(hidden_layer_sizes=(8, 5), learning_rate_init=0.01, random_state=0).fit(X, y)
    assert [c.shape for c in clf.coefs_] == [(4, 8), (8, 5), (5, 3)]
    assert [b.shape for b in clf.intercepts_] == [(8,), (5,), (3,)]
    assert clf.n_layers_ == 4 and clf.n_outputs_ == 3 and clf.n_features_in_ == 4
    # an independent NumPy forward pass from the exposed weights gives the same probabilities
    a = X
    for W, b in zip(clf.coefs_[:-1], clf.intercepts_[:-1]):
        a = np.maximum(a @ W + b, 0)
    s = a @ clf.coefs_[-1] + clf.intercepts_[-1]
    p = np.exp(s - s.max(axis=1, keepdims=True))
    np.testing.assert_allclose(clf.predict_proba(X), p / p.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-6)
    assert len(clf.loss_curve_) == clf.n_iter_ and clf.loss_curve_[-1] < clf.loss_curve_[0] / 5
    assert clf.best_loss_ == min(clf.loss_curve_)


def test_binary_mlp_uses_one_logistic_output(cancer):
    X, y = cancer
    X = StandardScaler().fit_transform(X)
    clf = MLPClassifier(hidden_layer_sizes=(10,), random_state=0).fit(X, y)
    assert clf.coefs_[-1].shape == (10, 1) and clf.n_outputs_ == 1
    proba = clf.predict_proba(X)
    a = np.maximum(X @ clf.coefs_[0] + clf.intercepts_[0], 0)
    p1 = 1 / (1 + np.exp(-(a @ clf.coefs_[1] + clf.intercepts_[1])[:, 0]))
    np.testing.assert_allclose(proba[:, 1], p1, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(clf.predict(X), (p1 >= 0.5).astype(int))
    assert clf.score(X, y) > 0.95


def test_regressor_multi_output_and_one_d_predictions():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (300, 3))
    Y = np.column_stack([X[:, 0] - X[:, 1], X[:, 2] ** 2])
    reg = MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.01, random_state=0).fit(X, Y)
    assert reg.predict(X).shape == (300, 2) and reg.n_outputs_ == 2 and reg.coefs_[-1].shape == (32, 2)
    assert reg.score(X, Y) > 0.9
    one = MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.01, random_state=0).fit(X, Y[:, 0])
    assert one.predict(X).shape == (300,) and one.predict(X).dtype == np.float64


def test_activation_accepts_scikit_learns_logistic_name(iris):
    X, y = iris
    X = StandardScaler().fit_transform(X)
    clf = MLPClassifier(hidden_layer_sizes=(8,), activation="logistic", learning_rate_init=0.02, random_state=0)
    assert clf.fit(X, y).score(X, y) > 0.9
    a = 1 / (1 + np.exp(-(X @ clf.coefs_[0] + clf.intercepts_[0])))
    s = a @ clf.coefs_[1] + clf.intercepts_[1]
    np.testing.assert_array_equal(clf.predict(X), s.argmax(axis=1))


def test_mlp_shuffle_false_trains_in_the_given_order(iris):
    """shuffle=False feeds batches of consecutive rows: reordering rows *inside* each batch of 16
    changes nothing (the same batches, summed in another order), while a shuffling loop would
    put other rows together and end elsewhere."""
    X, y = iris
    rng = np.random.default_rng(1)
    within = np.concatenate([start + rng.permutation(min(16, len(X) - start)) for start in range(0, len(X), 16)])

    def fit(X, y, shuffle):
        return MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, batch_size=16, shuffle=shuffle,
                             random_state=0).fit(X, y).coefs_[0]

    np.testing.assert_allclose(fit(X[within], y[within], False), fit(X, y, False), rtol=1e-4, atol=1e-6)
    assert not np.allclose(fit(X[within], y[within], True), fit(X, y, True), rtol=1e-4, atol=1e-6)
