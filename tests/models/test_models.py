"""The classic models: analytic gradients, the perceptron rule, accuracy and the lecture's sanity checks."""
import json

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.models import (
    LOSSES, BinarySVM, LinearClassifier, LinearModel, LogisticRegression, Perceptron, get_loss,
)
from chainrule.nn import functional as F

# ====================================================================== data


def _split(loader):
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = loader(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    scaler = StandardScaler().fit(Xtr)
    return scaler.transform(Xtr), scaler.transform(Xte), ytr, yte


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    return _split(load_digits)


@pytest.fixture(scope="module")
def cancer():
    from sklearn.datasets import load_breast_cancer

    return _split(load_breast_cancer)


def _random_problem(seed, n=7, d=5, k=4, scale=0.5, gap=1e-3):
    """float64 data whose hinges and argmaxes are all at least ``gap`` away from their kinks.

    Centered differences straddle a kink when a margin is within eps of 0, and there the
    one-sided derivatives differ; such draws are rejected so the comparison is meaningful.
    """
    rng = np.random.default_rng(seed)
    while True:
        W = scale * rng.standard_normal((k, d))
        b = scale * rng.standard_normal(k)
        X = rng.standard_normal((n, d))
        y = rng.integers(0, k, n)
        S = X @ W.T + b
        margins = S - S[np.arange(n), y][:, None] + 1.0
        margins[np.arange(n), y] = 1.0
        top2 = np.sort(S, axis=1)[:, -2:]
        s1 = S[:, 0]
        if (np.abs(margins).min() > gap and (top2[:, 1] - top2[:, 0]).min() > gap
                and np.abs(s1).min() > gap and np.abs(1.0 - np.abs(s1)).min() > gap):
            return W, b, X, y


# ====================================================================== analytic gradients


def _autodiff(loss, W, b, X, y, reg, margin):
    Wt = cr.tensor(W, dtype="float64", requires_grad=True)
    bt = cr.tensor(b, dtype="float64", requires_grad=True)
    s = cr.tensor(X, dtype="float64") @ Wt.T + bt
    if loss == "svm":
        L = F.multiclass_hinge(s, y, margin=margin)
    elif loss == "softmax":
        L = F.cross_entropy(s, y)
    elif loss == "logistic":
        L = F.binary_cross_entropy_with_logits(s.reshape(-1), y)
    else:
        L = F.binary_hinge(s.reshape(-1), 2 * y - 1, margin=margin)
    L = L + F.l2([Wt], reg)
    L.backward()
    return L.item(), Wt.grad, bt.grad


def _numerical(fn, W, b, X, y, reg, margin):
    dW = cr.numerical_gradient(lambda W_: fn(W_, b, X, y, reg=reg, margin=margin)[0], W.copy())
    db = cr.numerical_gradient(lambda b_: fn(W, b_, X, y, reg=reg, margin=margin)[0], b.copy())
    return dW, db


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("reg", [0.0, 0.3])
@pytest.mark.parametrize("loss", ["svm", "softmax"])
def test_multiclass_analytic_gradient_equals_autodiff_and_numerical(loss, reg, seed):
    W, b, X, y = _random_problem(seed)
    margin = 1.0
    value, dW, db = LOSSES[loss](W, b, X, y, reg=reg, margin=margin)
    assert dW.dtype == np.float64 and dW.shape == W.shape and db.shape == b.shape

    ad_value, ad_dW, ad_db = _autodiff(loss, W, b, X, y, reg, margin)
    np.testing.assert_allclose(value, ad_value, rtol=1e-12)
    np.testing.assert_allclose(dW, ad_dW, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(db, ad_db, rtol=1e-10, atol=1e-12)

    num_dW, num_db = _numerical(LOSSES[loss], W, b, X, y, reg, margin)
    np.testing.assert_allclose(dW, num_dW, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, num_db, rtol=1e-6, atol=1e-8)
    # The regularizer reaches the weights only: with reg > 0 the weight gradient changes by 2λW.
    np.testing.assert_allclose(dW - LOSSES[loss](W, b, X, y, margin=margin)[1], 2 * reg * W, atol=1e-12)


def test_svm_gradient_is_the_lectures_formula_row_by_row():
    W, b, X, y = _random_problem(3, n=1)
    _, dW, _ = LOSSES["svm"](W, b, X, y)
    s = X[0] @ W.T + b
    missed = [j for j in range(4) if j != y[0] and s[j] - s[y[0]] + 1 > 0]
    assert missed, "the draw should have at least one class inside the margin"
    for j in range(4):
        expected = -len(missed) * X[0] if j == y[0] else (j in missed) * X[0]
        np.testing.assert_allclose(dW[j], expected, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("reg", [0.0, 0.3])
@pytest.mark.parametrize("loss", ["logistic", "binary_svm"])
def test_binary_analytic_gradient_equals_autodiff_and_numerical(loss, reg, seed):
    W, b, X, _ = _random_problem(seed)
    W, b = W[:1], b[:1]
    y = np.array([0, 1, 1, 0, 1, 0, 0])
    value, dW, db = LOSSES[loss](W, b, X, y, reg=reg, margin=1.0)
    ad_value, ad_dW, ad_db = _autodiff(loss, W, b, X, y, reg, 1.0)
    np.testing.assert_allclose(value, ad_value, rtol=1e-12)
    np.testing.assert_allclose(dW, ad_dW, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(db, ad_db, rtol=1e-10, atol=1e-12)
    num_dW, num_db = _numerical(LOSSES[loss], W, b, X, y, reg, 1.0)
    np.testing.assert_allclose(dW, num_dW, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, num_db, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("k", [1, 4])
def test_perceptron_criterion_gradient_equals_numerical(k):
    W, b, X, y = _random_problem(5)
    W, b = W[:k], b[:k]
    y = y % 2 if k == 1 else y
    value, dW, db = LOSSES["perceptron"](W, b, X, y, reg=0.1)
    assert value > 0.1 * np.sum(W * W)  # the draw makes mistakes, so the data term is not 0
    num_dW, num_db = _numerical(LOSSES["perceptron"], W, b, X, y, 0.1, 1.0)
    np.testing.assert_allclose(dW, num_dW, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, num_db, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("make", [
    lambda: LinearClassifier(6, 4, loss="svm", reg=0.1, margin=2.0, seed=1),
    lambda: LinearClassifier(6, 4, loss="softmax", reg=0.1, seed=1),
    lambda: LogisticRegression(6, reg=0.1, seed=1),
    lambda: BinarySVM(6, reg=0.1, margin=0.5, seed=1),
    lambda: Perceptron(6, 4, seed=1),
    lambda: Perceptron(6, 2, seed=1),
], ids=["svm", "softmax", "logistic", "binary_svm", "perceptron4", "perceptron2"])
def test_model_objective_on_the_engine_matches_loss_and_grad(make):
    model = make()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((9, 6))
    y = rng.integers(0, model.n_classes, 9)
    model.weight.data[...] = rng.standard_normal(model.weight.shape)  # away from the kinks
    loss, dW, db = model.loss_and_grad(X, y)
    L = model.objective(X, y)
    L.backward()
    np.testing.assert_allclose(L.item(), loss, rtol=1e-5)
    np.testing.assert_allclose(model.weight.grad, dW, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.bias.grad, db, rtol=1e-4, atol=1e-5)


def test_losses_are_stable_for_huge_scores():
    W = np.array([[1e4, -1e4], [-1e4, 1e4]])
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    loss, dW, db = LOSSES["softmax"](W, np.zeros(2), X, np.array([1, 1]))
    np.testing.assert_allclose(loss, 1e4)  # example 0 has log-probability −2e4, example 1 ≈ 0
    assert np.isfinite(dW).all() and np.isfinite(db).all()
    loss, dW, _ = LOSSES["logistic"](W[:1], np.zeros(1), X, np.array([0, 1]))
    np.testing.assert_allclose(loss, 1e4)
    assert np.isfinite(dW).all()


# ====================================================================== the perceptron rule


def _my_perceptron(w, b, X, y, alpha, orders):
    """The lecture's rule, written independently: y′ = sign(w·x + b) with sign(0) = +1."""
    for order in orders:
        for i in order:
            y_pred = 1 if w @ X[i] + b >= 0 else -1
            w = w + np.float32(alpha * (y[i] - y_pred)) * X[i]
            b = b + np.float32(alpha * (y[i] - y_pred))
    return w, b


def _my_multiclass_perceptron(W, b, X, y, alpha, orders):
    W, b = W.copy(), b.copy()
    for order in orders:
        for i in order:
            y_pred = int(np.argmax(W @ X[i] + b))
            if y_pred != y[i]:
                W[y[i]] += np.float32(alpha) * X[i]
                W[y_pred] -= np.float32(alpha) * X[i]
                b[y[i]] += np.float32(alpha)
                b[y_pred] -= np.float32(alpha)
    return W, b


@pytest.mark.parametrize("shuffle", [False, True])
def test_perceptron_is_bit_identical_to_an_independent_reference(cancer, shuffle):
    Xtr, _, ytr, _ = cancer
    X = Xtr.astype(np.float32)
    y_pm1 = 2 * ytr - 1
    alpha, epochs, seed = 0.5, 3, 7
    model = Perceptron(30, lr=alpha, epochs=epochs, shuffle=shuffle, seed=seed)
    w0, b0 = model.weight.data[0].copy(), model.bias.data[0].copy()
    model.fit(Xtr, y_pm1)
    assert model.n_iter_ == epochs and min(model.history_) > 0  # every pass updates: a real test
    rng = np.random.default_rng(seed)  # the documented order: one permutation per pass
    orders = [rng.permutation(len(X)) if shuffle else range(len(X)) for _ in range(epochs)]
    w, b = _my_perceptron(w0, b0, X, y_pm1, alpha, orders)
    assert w.dtype == np.float32
    np.testing.assert_array_equal(model.weight.data[0], w)
    np.testing.assert_array_equal(model.bias.data[0], b)


def test_multiclass_perceptron_is_bit_identical_to_an_independent_reference(digits):
    Xtr, _, ytr, _ = digits
    X = Xtr.astype(np.float32)
    model = Perceptron(64, 10, lr=1.0, epochs=2, seed=3)
    W0, b0 = model.weight.data.copy(), model.bias.data.copy()
    model.fit(Xtr, ytr)
    rng = np.random.default_rng(3)
    W, b = _my_multiclass_perceptron(W0, b0, X, ytr, 1.0, [rng.permutation(len(X)) for _ in range(2)])
    np.testing.assert_array_equal(model.weight.data, W)
    np.testing.assert_array_equal(model.bias.data, b)


def test_perceptron_takes_sign_of_zero_as_plus_one():
    model = Perceptron(2, lr=1.0, epochs=1, shuffle=False)
    model.weight.data[...] = 0.0
    model.bias.data[...] = 0.0
    assert model.predict(np.array([[3.0, -1.0]])).tolist() == [1]
    # y = −1 at score 0: y′ = +1 is a mistake, so w ← w + 1·(−1 − 1)·x and b ← b − 2.
    model.fit(np.array([[3.0, -1.0]]), np.array([-1]))
    np.testing.assert_array_equal(model.weight.data, [[-6.0, 2.0]])
    np.testing.assert_array_equal(model.bias.data, [-2.0])
    assert model.history_ == [1]


def test_perceptron_stops_after_a_pass_without_mistakes():
    X = np.array([[2.0, 1.0], [1.0, 3.0], [-1.0, -2.0], [-3.0, 1.0]])
    model = Perceptron(2, epochs=50).fit(X, np.array([1, 1, -1, -1]))
    assert model.history_[-1] == 0 and model.n_iter_ < 50 and model.score(X, [1, 1, 0, 0]) == 1.0
    assert model.predict(X).tolist() == [1, 1, 0, 0]


def test_perceptron_accepts_pm1_and_01_labels_alike(cancer):
    Xtr, _, ytr, _ = cancer
    a = Perceptron(30, epochs=2).fit(Xtr, ytr)
    b = Perceptron(30, epochs=2).fit(Xtr, 2 * ytr - 1)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)


def test_perceptron_rule_is_sgd_on_the_perceptron_criterion(cancer):
    # One model, two update rules: plain SGD with batch 1 and step 2α on the perceptron
    # criterion performs the lecture's update w ← w + α(y − y′)x.
    Xtr, _, ytr, _ = cancer
    rule = Perceptron(30, lr=0.5, epochs=2, seed=4).fit(Xtr, ytr, seed=11)
    general = LinearModel(30, 2, loss="perceptron", seed=4)
    general.fit(Xtr, ytr, lr=1.0, epochs=2, batch_size=1, optimizer="sgd", seed=11)
    np.testing.assert_allclose(general.weight.data, rule.weight.data, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(general.bias.data, rule.bias.data, rtol=1e-5, atol=1e-5)


# ====================================================================== accuracy


def test_softmax_classifier_on_digits(digits):
    Xtr, Xte, ytr, yte = digits
    model = LinearClassifier(64, 10, loss="softmax", reg=1e-3).fit(Xtr, ytr, lr=0.1, epochs=20, batch_size=32)
    assert model.score(Xte, yte) >= 0.95
    proba = model.predict_proba(Xte)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(proba.argmax(axis=1), model.predict(Xte))


def test_svm_classifier_on_digits(digits):
    Xtr, Xte, ytr, yte = digits
    model = LinearClassifier(64, 10, loss="svm", reg=1e-3).fit(Xtr, ytr, lr=0.1, epochs=100)
    assert model.score(Xte, yte) >= 0.94
    assert not hasattr(model, "predict_proba")  # hinge scores are not probabilities


def test_multiclass_perceptron_on_digits(digits):
    Xtr, Xte, ytr, yte = digits
    model = Perceptron(64, 10, lr=1.0, epochs=20).fit(Xtr, ytr)
    assert model.score(Xte, yte) >= 0.90


def test_logistic_regression_on_breast_cancer(cancer):
    Xtr, Xte, ytr, yte = cancer
    model = LogisticRegression(30, reg=1e-3).fit(Xtr, ytr, lr=0.1, epochs=200)
    assert model.score(Xte, yte) >= 0.95
    proba = model.predict_proba(Xte)
    assert proba.shape == (len(Xte), 2)
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-model.decision_function(Xte))), rtol=1e-5)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_binary_svm_on_breast_cancer(cancer):
    Xtr, Xte, ytr, yte = cancer
    model = BinarySVM(30, reg=1e-3).fit(Xtr, 2 * ytr - 1, lr=0.1, epochs=200)
    assert model.score(Xte, yte) >= 0.95
    assert model.score(Xte, 2 * yte - 1) == model.score(Xte, yte)
    assert set(model.predict(Xte).tolist()) == {0, 1}


def test_binary_svm_trains_the_same_on_01_and_pm1_labels(cancer):
    Xtr, _, ytr, _ = cancer
    a = BinarySVM(30).fit(Xtr, ytr, lr=0.1, epochs=5)
    b = BinarySVM(30).fit(Xtr, 2 * ytr - 1, lr=0.1, epochs=5)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)


# ====================================================================== the lecture's sanity checks


def test_initial_softmax_loss_is_ln_10(digits):
    Xtr, _, ytr, _ = digits
    losses = [LinearClassifier(64, 10, loss="softmax", seed=s).loss_and_grad(Xtr, ytr)[0] for s in range(10)]
    assert abs(losses[0] - np.log(10)) < 0.05
    assert max(abs(v - np.log(10)) for v in losses) < 0.05


def test_initial_svm_loss_is_k_minus_1(digits):
    # With 0.01·randn weights the scores are small but not 0, and the SVM loss moves with them to
    # first order (the classes have different mean inputs), by about ±0.15 per draw on digits; the
    # average over initializations is K − 1 = 9.
    Xtr, _, ytr, _ = digits
    losses = [LinearClassifier(64, 10, loss="svm", seed=s).loss_and_grad(Xtr, ytr)[0] for s in range(20)]
    assert abs(np.mean(losses) - 9.0) < 0.1
    assert max(abs(v - 9.0) for v in losses) < 0.6
    # With all scores 0 every wrong class misses the margin by exactly Δ.
    zero = LinearClassifier(64, 10, loss="svm", margin=1.0)
    zero.weight.data[...] = 0.0
    zero.bias.data[...] = 0.0
    assert zero.loss_and_grad(Xtr, ytr)[0] == pytest.approx(9.0)


@pytest.mark.parametrize("loss", ["softmax", "svm"])
def test_overfits_20_examples(digits, loss):
    Xtr, _, ytr, _ = digits
    X, y = Xtr[:20], ytr[:20]
    model = LinearClassifier(64, 10, loss=loss, reg=0.0)
    assert model.score(X, y) < 0.5
    model.fit(X, y, lr=0.5, epochs=100)
    assert model.score(X, y) == 1.0
    assert model.history_[-1] < 0.05 * model.history_[0]


# ====================================================================== training


# Vanilla GD takes one step per epoch, SGD 1,347: each gets a step size that suits it.
@pytest.mark.parametrize("batch_size, lr", [(None, 0.5), (32, 0.05), (1, 0.002)], ids=["full", "mini", "sgd"])
@pytest.mark.parametrize("loss", ["softmax", "svm"])
def test_full_mini_and_single_batches_reduce_the_loss(digits, loss, batch_size, lr):
    Xtr, _, ytr, _ = digits
    model = LinearClassifier(64, 10, loss=loss, reg=1e-3)
    before = model.loss_and_grad(Xtr, ytr)[0]
    model.fit(Xtr, ytr, lr=lr, epochs=3, batch_size=batch_size)
    after = model.loss_and_grad(Xtr, ytr)[0]
    assert len(model.history_) == 3
    assert after < 0.8 * before
    assert model.history_[-1] < model.history_[0]


def test_the_same_seeds_give_identical_weights_and_different_seeds_differ(digits):
    Xtr, _, ytr, _ = digits
    X, y = Xtr[:200], ytr[:200]

    def train(init_seed, order_seed):
        model = LinearClassifier(64, 10, loss="svm", seed=init_seed)
        return model.fit(X, y, lr=0.01, epochs=2, batch_size=16, seed=order_seed).weight.data

    np.testing.assert_array_equal(train(0, 0), train(0, 0))
    assert not np.allclose(train(0, 0), train(1, 0))  # another initialization
    assert not np.allclose(train(0, 0), train(0, 1))  # another visiting order
    np.testing.assert_array_equal(
        Perceptron(64, 10, seed=5, epochs=2).fit(X, y).weight.data,
        Perceptron(64, 10, seed=5, epochs=2).fit(X, y).weight.data,
    )
    assert not np.allclose(Perceptron(64, 10, seed=5, epochs=2).fit(X, y).weight.data,
                           Perceptron(64, 10, seed=6, epochs=2).fit(X, y).weight.data)


def test_full_batch_gradient_descent_is_the_lectures_loop(digits):
    # weights += − step_size · weights_grad, by hand, against fit(batch_size=None).
    Xtr, _, ytr, _ = digits
    model = LinearClassifier(64, 10, loss="softmax", reg=1e-2, seed=2)
    W, b = model.weight.data.copy(), model.bias.data.copy()
    X = Xtr.astype(np.float32)
    for _ in range(5):
        _, dW, db = LOSSES["softmax"](W, b, X, ytr, reg=1e-2)
        W, b = W - np.float32(0.1) * dW, b - np.float32(0.1) * db
    model.fit(Xtr, ytr, lr=0.1, epochs=5)
    np.testing.assert_allclose(model.weight.data, W, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(model.bias.data, b, rtol=1e-5, atol=1e-7)


def test_autodiff_in_a_generic_loop_trains_the_same_model(digits):
    Xtr, _, ytr, _ = digits
    analytic = LinearClassifier(64, 10, loss="svm", reg=1e-3, seed=3).fit(Xtr, ytr, lr=0.05, epochs=5)
    model = LinearClassifier(64, 10, loss="svm", reg=1e-3, seed=3)
    opt = optim.SGD(model.parameters(), lr=0.05)
    for _ in range(5):
        opt.zero_grad()
        model.objective(Xtr, ytr).backward()
        opt.step()
    np.testing.assert_allclose(model.weight.data, analytic.weight.data, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", sorted(optim.OPTIMIZERS))
@pytest.mark.parametrize("make", [
    lambda: LinearClassifier(30, 2, loss="svm"),
    lambda: LinearClassifier(30, 2, loss="softmax"),
    lambda: LogisticRegression(30),
    lambda: BinarySVM(30),
    lambda: LinearModel(30, 2, loss="perceptron"),
], ids=["svm", "softmax", "logistic", "binary_svm", "perceptron"])
def test_every_model_trains_with_every_optimizer(cancer, make, name):
    Xtr, Xte, ytr, yte = cancer
    model = make()
    before = model.loss_and_grad(Xtr, ytr)[0]
    if name.startswith("random"):
        # Derivative-free: one full-batch loss comparison per step (losses of different
        # mini-batches are not comparable); lr is the size of the random moves.
        model.fit(Xtr, ytr, lr=0.05, epochs=30, optimizer=name, seed=1)
        again = make().fit(Xtr, ytr, lr=0.05, epochs=30, optimizer=name, seed=1)
        np.testing.assert_array_equal(model.weight.data, again.weight.data)
        assert model.loss_and_grad(Xtr, ytr)[0] < before
    else:
        model.fit(Xtr, ytr, lr=0.01, epochs=5, batch_size=32, optimizer=name)
        assert model.loss_and_grad(Xtr, ytr)[0] < 0.9 * before
        assert model.score(Xte, yte) >= 0.9


def test_an_optimizer_factory_is_accepted(cancer):
    Xtr, _, ytr, _ = cancer
    calls = []

    def factory(params, lr):
        calls.append(lr)
        return optim.SGD(params, lr=lr, momentum=0.9)

    model = LogisticRegression(30).fit(Xtr, ytr, lr=0.01, epochs=3, optimizer=factory)
    assert calls == [0.01] and model.score(Xtr, ytr) > 0.9


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_a_diverging_step_size_is_reported(digits):
    Xtr, _, ytr, _ = digits
    model = LinearClassifier(64, 10, loss="svm")
    initial = model.weight.numpy().copy()
    # The first step blows the weights up: the check after the epoch's last step catches it.
    with pytest.raises(FloatingPointError, match=r"after the last step of epoch 1 the training loss became "
                                                 r"(inf|nan) \(learning rate 1e\+38\).*start of epoch 1"):
        model.fit(Xtr, ytr, lr=1e38, epochs=3)
    assert np.array_equal(model.weight.numpy(), initial)


# ====================================================================== configuration and state


@pytest.mark.parametrize("make", [
    lambda: LinearClassifier(5, 3, loss="svm", reg=0.1, margin=2.0, seed=4),
    lambda: LogisticRegression(5, reg=0.01, seed=None),
    lambda: BinarySVM(5, margin=0.5),
    lambda: Perceptron(5, 3, lr=0.5, epochs=7, shuffle=False, seed=2),
    lambda: LinearModel(5, 2, loss="perceptron"),
], ids=["linear", "logistic", "binary_svm", "perceptron", "general"])
def test_get_config_and_state_dict_rebuild_the_model(make):
    model = make()
    config = model.get_config()
    assert json.loads(json.dumps(config)) == config
    model.weight.data[...] = np.arange(model.weight.size).reshape(model.weight.shape) % 3 - 1
    clone = type(model).from_config(config)
    clone.load_state_dict(model.state_dict())
    X = np.random.default_rng(0).standard_normal((8, 5))
    np.testing.assert_array_equal(clone.decision_function(X), model.decision_function(X))
    assert clone.get_config() == config and repr(clone) == repr(model)
    assert [n for n, _ in model.named_parameters()] == ["weight", "bias"]


def test_parameters_shapes_and_views():
    model = LinearClassifier(4, 3)
    assert model.weight.shape == (3, 4) and model.bias.shape == (3,)
    assert LogisticRegression(4).weight.shape == (1, 4)
    assert Perceptron(4).weight.shape == (1, 4) and Perceptron(4, 5).weight.shape == (5, 4)
    assert np.abs(model.weight.data).max() < 0.06  # 0.01·randn
    model.coef_[0, 0] = 5.0
    assert model.weight.data[0, 0] == 5.0
    out = model(cr.ones(2, 4))
    assert isinstance(out, cr.Tensor) and out.shape == (2, 3)
    np.testing.assert_allclose(out.data, model.decision_function(np.ones((2, 4))), rtol=1e-6)
    assert model.reset_parameters().weight.data[0, 0] != 5.0


def test_loss_registry():
    assert set(LOSSES) == {"svm", "softmax", "logistic", "binary_svm", "perceptron"}
    assert get_loss("softmax") is LOSSES["softmax"]
    with pytest.raises(ValueError, match=r"^loss must be one of binary_svm, logistic, perceptron, softmax, svm; got 'hinge'$"):
        get_loss("hinge")
    with pytest.raises(ValueError, match="loss must be one of .*; got 'hinge'"):
        LinearModel(3, 2, loss="hinge")


# ====================================================================== bad input

_X = np.zeros((4, 3))
_y = np.array([0, 1, 2, 1])


@pytest.mark.parametrize("call, error, message", [
    (lambda m: m.fit(_X, _y.astype(float), lr=0.1, epochs=1), TypeError, "integer class labels 0..2; got dtype float64"),
    (lambda m: m.fit(_X, np.array([0, 1, 3, 1]), lr=0.1, epochs=1), ValueError, r"label 3, outside 0..2 \(n_classes=3\)"),
    (lambda m: m.fit(_X, np.array([0, -1, 2, 1]), lr=0.1, epochs=1), ValueError, "label -1, outside 0..2"),
    (lambda m: m.fit(_X, _y[:3], lr=0.1, epochs=1), ValueError, "X has 4 rows but y has 3 labels"),
    (lambda m: m.fit(np.where(np.eye(4, 3) > 0, np.nan, 0.0), _y, lr=0.1, epochs=1), ValueError,
     r"NaN or infinity \(first at row 0, column 0: nan\)"),
    (lambda m: m.score(np.full((4, 3), np.inf), _y), ValueError, "NaN or infinity"),
    (lambda m: m.fit(_X, _y, lr=0.0, epochs=1), ValueError, "lr must be a finite number > 0; got 0.0"),
    (lambda m: m.fit(_X, _y, lr=-0.1, epochs=1), ValueError, "lr must be a finite number > 0; got -0.1"),
    (lambda m: m.fit(_X, _y, lr="big", epochs=1), TypeError, "lr must be a finite number > 0; got 'big'"),
    (lambda m: m.fit(_X, _y, lr=0.1, epochs=0), ValueError, "epochs must be a whole number >= 1; got 0"),
    (lambda m: m.fit(_X, _y, lr=0.1, epochs=2.5), TypeError, "epochs must be a whole number >= 1; got 2.5"),
    (lambda m: m.fit(_X, _y, lr=0.1, epochs=1, batch_size=0), ValueError, "batch_size must be a whole number >= 1; got 0"),
    (lambda m: m.fit(_X, _y, lr=0.1, epochs=1, optimizer="newton"), ValueError, "newton"),
    (lambda m: m.fit(_X, _y, lr=0.1, epochs=1, optimizer=3), TypeError, "optimizer must be a name"),
    (lambda m: m.predict(np.zeros((4, 2))), ValueError, "X has 2 features per row; this model expects n_features=3"),
    (lambda m: m.predict(np.zeros(3)), ValueError, r"X must be 2-D \(n_samples, n_features\); got shape \(3,\)"),
    (lambda m: m.predict(np.zeros((0, 3))), ValueError, "X has no rows"),
    (lambda m: m.predict(np.array([["a", "b", "c"]])), TypeError, "X must hold numbers"),
    (lambda m: m.loss_and_grad(_X, _y.reshape(2, 2)), ValueError, r"y must be 1-D \(n_samples,\); got shape \(2, 2\)"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_input_is_rejected_with_a_clear_message(call, error, message):
    with pytest.raises(error, match=message):
        call(LinearClassifier(3, 3, loss="svm"))


@pytest.mark.parametrize("make, error, message", [
    (lambda: LinearClassifier(0, 3), ValueError, "n_features must be a whole number >= 1; got 0"),
    (lambda: LinearClassifier(3, 1), ValueError, "n_classes must be a whole number >= 2; got 1"),
    (lambda: LinearClassifier(3.0, 3), TypeError, "n_features must be a whole number >= 1; got 3.0"),
    (lambda: LinearClassifier(3, 3, loss="logistic"), ValueError, "LinearClassifier's loss must be one of softmax, svm; got 'logistic'"),
    (lambda: LinearClassifier(3, 3, reg=-1.0), ValueError, "reg must be a finite number >= 0; got -1.0"),
    (lambda: LinearClassifier(3, 3, margin=0), ValueError, "margin must be a finite number > 0; got 0"),
    (lambda: LinearClassifier(3, 3, seed=-1), ValueError, r"seed must be None or a whole number in \[0, 4294967295\]; got -1"),
    (lambda: LinearModel(3, 3, loss="logistic"), ValueError, "needs n_classes=2, got 3"),
    (lambda: Perceptron(3, lr=0), ValueError, "lr must be a finite number > 0; got 0"),
    (lambda: Perceptron(3, epochs=0), ValueError, "epochs must be a whole number >= 1; got 0"),
    (lambda: Perceptron(3, shuffle="yes"), TypeError, "shuffle must be True or False; got 'yes'"),
])
def test_bad_constructor_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_binary_label_conventions_are_checked():
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"binary labels must be all 0/1 or all -1/\+1; got the values \[-1, 0, 1\]"):
        BinarySVM(2).fit(X, np.array([-1, 0, 1]), lr=0.1, epochs=1)
    with pytest.raises(ValueError, match=r"binary labels must be all 0/1 or all -1/\+1; got the values \[0, 2\]"):
        Perceptron(2).fit(X, np.array([0, 2, 0]))
    with pytest.raises(ValueError, match=r"label -1, outside 0..1"):
        LogisticRegression(2).fit(X, np.array([-1, 1, 1]), lr=0.1, epochs=1)
    with pytest.raises(TypeError, match="0/1 or -1/\\+1; got dtype bool"):
        BinarySVM(2).fit(X, np.array([True, False, True]), lr=0.1, epochs=1)
    with pytest.raises(ValueError, match="label 10, outside 0..9"):
        Perceptron(2, 10).fit(X, np.array([0, 10, 1]))


@pytest.mark.parametrize("module", ["chainrule.models", "chainrule.models.losses", "chainrule.models.linear",
                                    "chainrule.models.perceptron"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
