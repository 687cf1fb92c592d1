"""chainrule.estimators: scikit-learn's own estimator checks, its tools, and its counterparts' accuracy.

``python tests/test_estimators.py`` prints the side-by-side accuracy table of docs/estimators.md.
"""
import pickle
import warnings

import numpy as np
import pytest
from scipy.stats import loguniform
from sklearn import linear_model, neural_network, svm
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, make_friedman1
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from chainrule.estimators import (
    BinarySVMClassifier, LinearSVMClassifier, LogisticRegressionClassifier, MLPClassifier, MLPRegressor,
    PerceptronClassifier, SoftmaxClassifier,
)

MULTICLASS = [MLPClassifier, SoftmaxClassifier, LinearSVMClassifier, PerceptronClassifier]
BINARY_ONLY = [LogisticRegressionClassifier, BinarySVMClassifier]
CLASSIFIERS = MULTICLASS + BINARY_ONLY
ALL = CLASSIFIERS + [MLPRegressor]

# Hitting max_iter on a small grid or fold is expected here; the warning itself is tested below.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    # These models are small: on a busy 2-core machine extra BLAS threads only fight over the
    # cores (training digits' MLP took 4 s with them, 0.5 s without, for both libraries).
    with threadpool_limits(1):
        yield


# ====================================================================== scikit-learn's estimator checks
# Default instances: every estimator passes every check with its default hyperparameters (the
# 371 checks take about 10 s on a 2-core machine), so no check is declared an expected failure
# and no max_iter is lowered.
@parametrize_with_checks([cls() for cls in ALL])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# ====================================================================== data
def _split(X, y, stratify=True):
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y if stratify else None
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def cancer():
    return load_breast_cancer(return_X_y=True)


def _data_for(cls, iris, cancer):
    """Iris (3 classes) for the multiclass estimators, breast cancer for the binary-only ones."""
    return cancer if cls in BINARY_ONLY else iris


# ====================================================================== accuracy against scikit-learn
def _digits():
    return _split(*load_digits(return_X_y=True))


def _cancer():
    return _split(*load_breast_cancer(return_X_y=True))


def _friedman():
    return _split(*make_friedman1(n_samples=1000, noise=1.0, random_state=0), stratify=False)


# name: (our estimator, scikit-learn's, data). Defaults on both sides, random_state=0; LogisticRegression gets
# max_iter=1000 so that lbfgs converges on digits; the regressors share one learning rate and
# epoch budget (both stop earlier by tol).
COUNTERPARTS = {
    "MLPClassifier": (MLPClassifier, lambda: neural_network.MLPClassifier(random_state=0), _digits),
    "SoftmaxClassifier": (SoftmaxClassifier, lambda: linear_model.LogisticRegression(max_iter=1000), _digits),
    "LinearSVMClassifier": (LinearSVMClassifier, lambda: svm.LinearSVC(random_state=0), _digits),
    "PerceptronClassifier": (PerceptronClassifier, lambda: linear_model.Perceptron(random_state=0), _digits),
    "LogisticRegressionClassifier": (
        LogisticRegressionClassifier, lambda: linear_model.LogisticRegression(max_iter=1000), _cancer,
    ),
    "BinarySVMClassifier": (BinarySVMClassifier, lambda: svm.LinearSVC(random_state=0), _cancer),
    "MLPRegressor": (
        lambda **kw: MLPRegressor(learning_rate_init=0.01, max_iter=500, **kw),
        lambda: neural_network.MLPRegressor(learning_rate_init=0.01, max_iter=500, random_state=0),
        _friedman,
    ),
}


def counterpart_scores(name):
    """(ours, theirs, their name, data name): test accuracy (R² for the regressor) of both."""
    ours_factory, theirs_factory, data = COUNTERPARTS[name]
    X_train, X_test, y_train, y_test = data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = ours_factory(random_state=0).fit(X_train, y_train).score(X_test, y_test)
        theirs_est = theirs_factory()
        theirs = theirs_est.fit(X_train, y_train).score(X_test, y_test)
    return ours, theirs, type(theirs_est).__name__, data.__name__.strip("_")


@pytest.mark.parametrize("name", [n for n in COUNTERPARTS if n != "MLPRegressor"])
def test_accuracy_within_one_point_of_scikit_learn(name):
    ours, theirs, _, _ = counterpart_scores(name)
    assert ours >= theirs - 0.01, f"{name}: {ours:.4f} vs scikit-learn's {theirs:.4f}"
    assert ours >= 0.93  # and both are good models, not two equally broken ones


def test_mlp_regressor_r2_close_to_scikit_learn():
    ours, theirs, _, _ = counterpart_scores("MLPRegressor")
    assert ours >= theirs - 0.02, f"R² {ours:.4f} vs scikit-learn's {theirs:.4f}"
    assert ours > 0.85


# ====================================================================== pipelines, searches, cross-validation
def _pipeline(est):
    return Pipeline([("scale", StandardScaler()), ("clf", est)])


# A grid where one value is clearly worse: a learning rate so small that the weights barely move
# from their random start. The perceptron's rule is scale-free, so its grid is one pass vs. many.
def _grid(cls):
    if cls is PerceptronClassifier:
        return {"clf__max_iter": [1, 1000]}, {"clf__max_iter": 1000}
    default = cls().learning_rate_init
    return {"clf__learning_rate_init": [1e-7, default]}, {"clf__learning_rate_init": default}


@pytest.mark.parametrize("cls", CLASSIFIERS)
def test_classifier_in_pipeline_and_cross_val_score(cls, iris, cancer):
    X, y = _data_for(cls, iris, cancer)
    scores = cross_val_score(_pipeline(cls(random_state=0)), X, y, cv=5)
    assert scores.shape == (5,)
    assert scores.min() >= 0.8 and scores.mean() >= 0.9, scores


@pytest.mark.parametrize("cls", CLASSIFIERS)
def test_classifier_in_grid_search_picks_the_sensible_value(cls, iris, cancer):
    X, y = _data_for(cls, iris, cancer)
    grid, best = _grid(cls)
    search = GridSearchCV(_pipeline(cls(random_state=0)), grid, cv=3).fit(X, y)
    assert search.best_params_ == best
    scores = search.cv_results_["mean_test_score"]
    assert scores.max() >= 0.85 and scores.max() - scores.min() >= 0.1, scores
    assert search.score(X, y) >= 0.9  # the refitted pipeline


@pytest.mark.parametrize("cls", CLASSIFIERS)
def test_classifier_in_randomized_search(cls, iris, cancer):
    X, y = _data_for(cls, iris, cancer)
    grid, best = _grid(cls)
    (key, values), = grid.items()
    distributions = {key: values}
    if cls is not PerceptronClassifier:
        distributions["clf__alpha"] = loguniform(1e-6, 1e-3)
    n_iter = 2 if cls is PerceptronClassifier else 4  # the perceptron's space has only 2 points
    search = RandomizedSearchCV(_pipeline(cls(random_state=0)), distributions, n_iter=n_iter, cv=3, random_state=1)
    search.fit(X, y)
    sampled = set(search.cv_results_["param_" + key])
    assert sampled == set(values)  # both the bad and the good value were tried...
    assert search.best_params_[key] == best[key]  # ...and the good one won
    if cls is not PerceptronClassifier:
        assert 1e-6 <= search.best_params_["clf__alpha"] <= 1e-3
    assert search.best_score_ >= 0.85


def test_regressor_in_pipeline_search_and_cross_val_score():
    X, y = make_friedman1(n_samples=300, noise=0.5, random_state=0)
    pipe = _pipeline(MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.01, random_state=0))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.min() > 0.6, scores
    search = GridSearchCV(pipe, {"clf__learning_rate_init": [1e-7, 0.01]}, cv=3).fit(X, y)
    assert search.best_params_ == {"clf__learning_rate_init": 0.01}
    assert search.cv_results_["mean_test_score"].min() < 0  # the tiny step never fits: worse than the mean
    random = RandomizedSearchCV(pipe, {"clf__alpha": loguniform(1e-6, 1e-2)}, n_iter=2, cv=3, random_state=0)
    assert random.fit(X, y).best_score_ > 0.6
    assert 1e-6 <= random.best_params_["clf__alpha"] <= 1e-2


@pytest.mark.parametrize("cls", ALL)
def test_clone_gives_an_unfitted_twin_that_refits_identically(cls, iris, cancer):
    X, y = _data_for(cls, iris, cancer)
    if cls is MLPRegressor:
        X, y = X[:, :3], X[:, 3]
    X = StandardScaler().fit_transform(X)
    est = cls(random_state=3, max_iter=20).fit(X, y)
    twin = clone(est)
    assert twin.get_params() == est.get_params()
    with pytest.raises(NotFittedError):
        twin.predict(X)
    twin.fit(X, y)
    np.testing.assert_array_equal(twin.predict(X), est.predict(X))
    assert twin.loss_curve_ == est.loss_curve_


# ====================================================================== labels
@pytest.mark.parametrize("cls", CLASSIFIERS)
def test_string_and_non_contiguous_labels_round_trip(cls, iris, cancer):
    X, y = _data_for(cls, iris, cancer)
    X = StandardScaler().fit_transform(X)
    names = np.array(["alpha", "beta", "gamma"])[y]  # sorted like 0, 1, 2
    odd = np.array([-7, 3, 40])[y]
    codes = cls(random_state=0).fit(X, y).predict(X)
    by_name = cls(random_state=0).fit(X, names)
    by_odd = cls(random_state=0).fit(X, odd)
    assert by_name.classes_.tolist() == sorted(set(names))
    assert by_odd.classes_.tolist() == sorted(set(odd))
    # the same model is learned whatever the labels are called
    np.testing.assert_array_equal(by_name.predict(X), np.array(["alpha", "beta", "gamma"])[codes])
    np.testing.assert_array_equal(by_odd.predict(X), np.array([-7, 3, 40])[codes])
    assert by_name.score(X, names) >= 0.9


@pytest.mark.parametrize("cls", BINARY_ONLY)
def test_binary_only_estimators_reject_more_than_two_classes(cls, iris):
    X, y = iris
    with pytest.raises(ValueError, match="Only binary classification is supported"):
        cls().fit(X, y)
    with pytest.raises(ValueError, match="Only binary classification is supported"):
        cls().partial_fit(X[:10], y[:10], classes=[0, 1, 2])


@pytest.mark.parametrize("cls", CLASSIFIERS)
def test_one_class_is_a_clear_error(cls):
    with pytest.raises(ValueError, match="only one class: 'spam'"):
        cls().fit(np.ones((5, 2)), ["spam"] * 5)


# ====================================================================== partial_fit
@pytest.mark.parametrize("cls", CLASSIFIERS)
def test_partial_fit_improves_the_score_over_calls(cls, cancer):
    # digits (10 classes) or breast cancer streamed in 4 chunks, 10 passes: 40 calls
    X, y = cancer if cls in BINARY_ONLY else load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = _split(X, y)
    est = cls(random_state=0)
    chunks = np.array_split(np.arange(len(X_train)), 4)
    scores = []
    for epoch in range(10):
        for i, idx in enumerate(chunks):
            est.partial_fit(X_train[idx], y_train[idx], classes=np.unique(y) if epoch == i == 0 else None)
            if epoch == i == 0:
                scores.append(est.score(X_test, y_test))
        scores.append(est.score(X_test, y_test))
    assert est.n_iter_ == 40 and len(est.loss_curve_) == 40
    assert scores[-1] >= 0.9 and scores[-1] > scores[0] + 0.02, scores


def test_partial_fit_regressor_improves_r2():
    X, y = make_friedman1(n_samples=400, noise=0.5, random_state=0)
    X_train, X_test, y_train, y_test = _split(X, y, stratify=False)
    est = MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.01, random_state=0)
    scores = []
    for _ in range(60):
        est.partial_fit(X_train, y_train)
        scores.append(est.score(X_test, y_test))
    assert scores[0] < 0 and scores[-1] > 0.5 and scores[-1] > scores[29], scores


@pytest.mark.parametrize("cls", [MLPClassifier, SoftmaxClassifier, LogisticRegressionClassifier, MLPRegressor])
def test_k_partial_fit_calls_equal_fit_with_max_iter_k(cls, iris, cancer):
    # Adam's moments must survive from call to call for the two runs to match.
    X, y = _data_for(cls, iris, cancer)
    if cls is MLPRegressor:
        X, y = X[:, :3], X[:, 3]
    X = StandardScaler().fit_transform(X)
    params = dict(solver="adam", learning_rate_init=0.01, random_state=5)
    fitted = cls(max_iter=7, **params).fit(X, y)
    streamed = cls(**params)
    for _ in range(7):
        streamed.partial_fit(X, y, **({} if cls is MLPRegressor else {"classes": np.unique(y)}))
    np.testing.assert_array_equal(_weights(streamed), _weights(fitted))
    assert streamed.loss_curve_ == fitted.loss_curve_


def _weights(est):
    if hasattr(est, "coefs_"):
        return np.concatenate([a.ravel() for a in est.coefs_ + est.intercepts_])
    return np.concatenate([est.coef_.ravel(), est.intercept_.ravel()])


@pytest.mark.parametrize("cls", [MLPClassifier, SoftmaxClassifier])
def test_pickled_estimator_continues_partial_fit_like_the_original(cls, iris):
    X, y = iris
    X = StandardScaler().fit_transform(X)
    est = cls(solver="adam", learning_rate_init=0.01, random_state=0)
    for _ in range(3):
        est.partial_fit(X, y, classes=[0, 1, 2])
    copy = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(copy.predict_proba(X), est.predict_proba(X))
    for _ in range(3):
        est.partial_fit(X, y)
        copy.partial_fit(X, y)
    np.testing.assert_array_equal(_weights(copy), _weights(est))


def test_partial_fit_needs_classes_first_and_rejects_unknown_labels(iris):
    X, y = iris
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        SoftmaxClassifier().partial_fit(X, y)
    est = SoftmaxClassifier().partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])  # class 2 comes later
    assert est.classes_.tolist() == [0, 1, 2] and est.coef_.shape == (3, 4)
    with pytest.raises(ValueError, match="label 7"):
        est.partial_fit(X[:2], [0, 7])
    with pytest.raises(ValueError, match="not the same as on the first call"):
        est.partial_fit(X[:2], [0, 1], classes=[0, 1])


# ====================================================================== learned attributes
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


@pytest.mark.parametrize("cls, rows", [(SoftmaxClassifier, 3), (LinearSVMClassifier, 3), (PerceptronClassifier, 3),
                                       (LogisticRegressionClassifier, 1), (BinarySVMClassifier, 1)])
def test_linear_coef_and_intercept_are_the_score_function(cls, rows, iris, cancer):
    X, y = _data_for(cls, iris, cancer)
    X = StandardScaler().fit_transform(X)
    est = cls(random_state=0).fit(X, y)
    assert est.coef_.shape == (rows, X.shape[1]) and est.intercept_.shape == (rows,)
    scores = X @ est.coef_.T + est.intercept_
    np.testing.assert_allclose(est.decision_function(X), scores[:, 0] if rows == 1 else scores, rtol=1e-5, atol=1e-5)
    predicted = (scores[:, 0] >= 0).astype(int) if rows == 1 else scores.argmax(axis=1)
    np.testing.assert_array_equal(est.predict(X), est.classes_[predicted])


def test_probabilities_of_the_linear_models(iris, cancer):
    X, y = iris
    X = StandardScaler().fit_transform(X)
    soft = SoftmaxClassifier(random_state=0).fit(X, y)
    s = X @ soft.coef_.T + soft.intercept_
    e = np.exp(s - s.max(axis=1, keepdims=True))
    np.testing.assert_allclose(soft.predict_proba(X), e / e.sum(axis=1, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(np.exp(soft.predict_log_proba(X)), soft.predict_proba(X), rtol=1e-10)
    Xc, yc = cancer
    Xc = StandardScaler().fit_transform(Xc)
    logit = LogisticRegressionClassifier(random_state=0).fit(Xc, yc)
    p1 = 1 / (1 + np.exp(-logit.decision_function(Xc)))
    np.testing.assert_allclose(logit.predict_proba(Xc), np.column_stack([1 - p1, p1]), rtol=1e-12)
    for cls in (LinearSVMClassifier, PerceptronClassifier, BinarySVMClassifier):
        assert not hasattr(cls(), "predict_proba")  # hinge and perceptron scores are not probabilities


def test_two_class_softmax_decision_is_the_score_difference(cancer):
    X, y = cancer
    X = StandardScaler().fit_transform(X)
    clf = SoftmaxClassifier(random_state=0).fit(X, y)
    s = X @ clf.coef_.T + clf.intercept_
    d = clf.decision_function(X)
    np.testing.assert_allclose(d, s[:, 1] - s[:, 0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], 1 / (1 + np.exp(-d)), rtol=1e-10)


def test_regressor_multi_output_and_one_d_predictions():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (300, 3))
    Y = np.column_stack([X[:, 0] - X[:, 1], X[:, 2] ** 2])
    reg = MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.01, random_state=0).fit(X, Y)
    assert reg.predict(X).shape == (300, 2) and reg.n_outputs_ == 2 and reg.coefs_[-1].shape == (32, 2)
    assert reg.score(X, Y) > 0.9
    one = MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.01, random_state=0).fit(X, Y[:, 0])
    assert one.predict(X).shape == (300,) and one.predict(X).dtype == np.float64


# ====================================================================== training loop behaviour
@pytest.mark.parametrize("cls", ALL)
def test_same_random_state_same_model_other_state_other_model(cls, iris, cancer):
    X, y = _data_for(cls, iris, cancer)
    X = StandardScaler().fit_transform(X)
    if cls is MLPRegressor:
        X, y = X[:, :3], X[:, 3]
    a, b, c = (cls(random_state=rs, max_iter=5).fit(X, y) for rs in (1, 1, 2))
    np.testing.assert_array_equal(_weights(a), _weights(b))
    assert not np.array_equal(_weights(a), _weights(c))


@pytest.mark.parametrize("cls", [SoftmaxClassifier, MLPClassifier])
def test_derivative_free_solvers_are_seeded_by_random_state(cls, iris):
    X, y = iris
    X = StandardScaler().fit_transform(X)
    a, b, c = (cls(solver="random-local-search", max_iter=20, random_state=rs).fit(X, y) for rs in (0, 0, 1))
    np.testing.assert_array_equal(_weights(a), _weights(b))
    assert not np.array_equal(_weights(a), _weights(c))
    assert a.loss_curve_[-1] < a.loss_curve_[0]  # the lecture's strategy #2 does make progress


def test_stops_by_tol_and_warns_at_max_iter(iris):
    X, y = iris
    X = StandardScaler().fit_transform(X)
    with pytest.warns(ConvergenceWarning, match=r"maximum number of iterations \(3\)"):
        est = SoftmaxClassifier(max_iter=3).fit(X, y)
    assert est.n_iter_ == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        # huge tol: after the first epoch none counts as progress; scikit-learn stops once more than
        # n_iter_no_change epochs in a row made none
        est = SoftmaxClassifier(tol=10.0, n_iter_no_change=4, max_iter=100).fit(X, y)
    assert est.n_iter_ == 1 + 4 + 1


def test_perceptron_stops_after_a_pass_without_mistakes(iris):
    X, y = iris
    X = StandardScaler().fit_transform(X)[y < 2]
    clf = PerceptronClassifier(random_state=0).fit(X, y[y < 2])
    assert clf.loss_curve_[-1] == 0.0 and all(v > 0 for v in clf.loss_curve_[:-1])
    assert clf.n_iter_ < 20 and clf.score(X, y[y < 2]) == 1.0


@pytest.mark.parametrize("cls", [MLPClassifier, SoftmaxClassifier, PerceptronClassifier])
def test_early_stopping_keeps_the_best_validation_epoch(cls):
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    est = cls(early_stopping=True, n_iter_no_change=3, random_state=0, max_iter=200).fit(X, y)
    assert est.best_loss_ is None
    assert len(est.validation_scores_) == est.n_iter_ < 200
    assert est.best_validation_score_ == max(est.validation_scores_) >= 0.9
    assert est.score(X, y) >= 0.9


def test_verbose_prints_the_loss(iris, capsys):
    X, y = iris
    est = SoftmaxClassifier(max_iter=2, verbose=True).fit(StandardScaler().fit_transform(X), y)
    out = capsys.readouterr().out.splitlines()
    assert out == [f"Iteration {i + 1}, loss = {v:.8f}" for i, v in enumerate(est.loss_curve_)]


def test_alpha_follows_scikit_learns_scaling(iris):
    # Linear models: mean loss + (alpha / 2) ΣW², so with a huge alpha the weights shrink to ~0.
    X, y = iris
    X = StandardScaler().fit_transform(X)
    small = SoftmaxClassifier(alpha=1e-4, random_state=0).fit(X, y)
    large = SoftmaxClassifier(alpha=10.0, random_state=0).fit(X, y)
    assert np.abs(large.coef_).max() < 0.05 < np.abs(small.coef_).max()


@pytest.mark.parametrize("params, message", [
    (dict(hidden_layer_sizes=(10, 0)), "hidden_layer_sizes must be an integer >= 1; got 0"),
    (dict(activation="softsign"), "unknown activation 'softsign'"),
    (dict(solver="lbfgs"), "unknown optimizer 'lbfgs'"),
    (dict(batch_size=0), "batch_size must be an integer >= 1; got 0"),
    (dict(learning_rate_init=0.0), "learning_rate_init must be > 0.0; got 0.0"),
    (dict(alpha=-1.0), "alpha must be >= 0.0; got -1.0"),
    (dict(max_iter=0), "max_iter must be an integer >= 1; got 0"),
    (dict(validation_fraction=1.0), r"validation_fraction must be in \(0.0, 1.0\); got 1.0"),
    (dict(shuffle="no"), "shuffle"),
])
def test_bad_parameters_are_reported_by_fit_with_their_value(params, message, iris):
    X, y = iris
    est = MLPClassifier(**params)  # __init__ only stores
    assert est.get_params()[next(iter(params))] == next(iter(params.values()))
    with pytest.raises(ValueError, match=message):
        est.fit(X, y)


def test_activation_accepts_scikit_learns_logistic_name(iris):
    X, y = iris
    X = StandardScaler().fit_transform(X)
    clf = MLPClassifier(hidden_layer_sizes=(8,), activation="logistic", learning_rate_init=0.02, random_state=0)
    assert clf.fit(X, y).score(X, y) > 0.9
    a = 1 / (1 + np.exp(-(X @ clf.coefs_[0] + clf.intercepts_[0])))
    s = a @ clf.coefs_[1] + clf.intercepts_[1]
    np.testing.assert_array_equal(clf.predict(X), s.argmax(axis=1))


def test_unfitted_attributes_raise_not_fitted():
    for est in (MLPClassifier(), SoftmaxClassifier(), PerceptronClassifier()):
        with pytest.raises(NotFittedError):
            check_is_fitted(est)
        with pytest.raises(NotFittedError):
            est.coefs_ if isinstance(est, MLPClassifier) else est.coef_


# ====================================================================== the docs' table
def accuracy_table() -> str:
    """The side-by-side table of docs/estimators.md, measured now."""
    rows = ["| chainrule estimator | data | chainrule | scikit-learn counterpart | scikit-learn |",
            "| --- | --- | ---: | --- | ---: |"]
    for name in COUNTERPARTS:
        ours, theirs, their_name, data = counterpart_scores(name)
        fmt = "{:.4f}" if name == "MLPRegressor" else "{:.2%}"
        metric = " (R²)" if name == "MLPRegressor" else ""
        rows.append(f"| {name} | {data}{metric} | {fmt.format(ours)} | {their_name} | {fmt.format(theirs)} |")
    return "\n".join(rows)


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


if __name__ == "__main__":
    with threadpool_limits(1):
        print(accuracy_table())
