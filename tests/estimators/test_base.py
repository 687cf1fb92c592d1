"""What every estimator shares (chainrule/estimators/base.py: fit, partial_fit, predict and the
parameter checks written once): scikit-learn's own estimator checks, its pipelines, searches and
clone, labels, partial_fit, seeding, stopping, and bad parameters."""
import pickle
import warnings

import numpy as np
import pytest
from scipy.stats import loguniform
from sklearn.base import clone
from sklearn.datasets import load_digits, make_friedman1
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import check_is_fitted

from chainrule.estimators import (
    LogisticRegressionClassifier, MLPClassifier, MLPRegressor, PerceptronClassifier, SoftmaxClassifier,
)

from estimator_cases import ALL, BINARY_ONLY, CLASSIFIERS, data_for, split_and_scale, weights

# Hitting max_iter on a small grid or fold is expected here; the warning itself is tested in test_base.py.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# ====================================================================== scikit-learn's estimator checks
# Default instances: every estimator passes every check with its default hyperparameters (the
# 371 checks take about 10 s on a 2-core machine), so no check is declared an expected failure
# and no max_iter is lowered.
@parametrize_with_checks([cls() for cls in ALL])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


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
    X, y = data_for(cls, iris, cancer)
    scores = cross_val_score(_pipeline(cls(random_state=0)), X, y, cv=5)
    assert scores.shape == (5,)
    assert scores.min() >= 0.8 and scores.mean() >= 0.9, scores


@pytest.mark.parametrize("cls", CLASSIFIERS)
def test_classifier_in_grid_search_picks_the_sensible_value(cls, iris, cancer):
    X, y = data_for(cls, iris, cancer)
    grid, best = _grid(cls)
    search = GridSearchCV(_pipeline(cls(random_state=0)), grid, cv=3).fit(X, y)
    assert search.best_params_ == best
    scores = search.cv_results_["mean_test_score"]
    assert scores.max() >= 0.85 and scores.max() - scores.min() >= 0.1, scores
    assert search.score(X, y) >= 0.9  # the refitted pipeline


@pytest.mark.parametrize("cls", CLASSIFIERS)
def test_classifier_in_randomized_search(cls, iris, cancer):
    X, y = data_for(cls, iris, cancer)
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
    X, y = data_for(cls, iris, cancer)
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
    X, y = data_for(cls, iris, cancer)
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
    X_train, X_test, y_train, y_test = split_and_scale(X, y)
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
    X_train, X_test, y_train, y_test = split_and_scale(X, y, stratify=False)
    est = MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.01, random_state=0)
    scores = []
    for _ in range(60):
        est.partial_fit(X_train, y_train)
        scores.append(est.score(X_test, y_test))
    assert scores[0] < 0 and scores[-1] > 0.5 and scores[-1] > scores[29], scores


@pytest.mark.parametrize("cls", [MLPClassifier, SoftmaxClassifier, LogisticRegressionClassifier, MLPRegressor])
def test_k_partial_fit_calls_equal_fit_with_max_iter_k(cls, iris, cancer):
    # Adam's moments must survive from call to call for the two runs to match.
    X, y = data_for(cls, iris, cancer)
    if cls is MLPRegressor:
        X, y = X[:, :3], X[:, 3]
    X = StandardScaler().fit_transform(X)
    params = dict(solver="adam", learning_rate_init=0.01, random_state=5)
    fitted = cls(max_iter=7, **params).fit(X, y)
    streamed = cls(**params)
    for _ in range(7):
        streamed.partial_fit(X, y, **({} if cls is MLPRegressor else {"classes": np.unique(y)}))
    np.testing.assert_array_equal(weights(streamed), weights(fitted))
    assert streamed.loss_curve_ == fitted.loss_curve_


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
    np.testing.assert_array_equal(weights(copy), weights(est))


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


# ====================================================================== training loop behaviour
@pytest.mark.parametrize("cls", ALL)
def test_same_random_state_same_model_other_state_other_model(cls, iris, cancer):
    X, y = data_for(cls, iris, cancer)
    X = StandardScaler().fit_transform(X)
    if cls is MLPRegressor:
        X, y = X[:, :3], X[:, 3]
    a, b, c = (cls(random_state=rs, max_iter=5).fit(X, y) for rs in (1, 1, 2))
    np.testing.assert_array_equal(weights(a), weights(b))
    assert not np.array_equal(weights(a), weights(c))


@pytest.mark.parametrize("cls", [SoftmaxClassifier, MLPClassifier])
def test_derivative_free_solvers_are_seeded_by_random_state(cls, iris):
    X, y = iris
    X = StandardScaler().fit_transform(X)
    a, b, c = (cls(solver="random-local-search", max_iter=20, random_state=rs).fit(X, y) for rs in (0, 0, 1))
    np.testing.assert_array_equal(weights(a), weights(b))
    assert not np.array_equal(weights(a), weights(c))
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


@pytest.mark.parametrize("params, error, message", [
    (dict(hidden_layer_sizes=(10, 0)), ValueError, "each of hidden_layer_sizes must be a whole number >= 1; got 0"),
    (dict(hidden_layer_sizes=(10, 2.5)), TypeError, "each of hidden_layer_sizes must be a whole number >= 1; got 2.5"),
    (dict(activation="softsign"), ValueError, "activation must be one of elu, .*; got 'softsign'"),
    (dict(solver="lbfgs"), ValueError, "optimizer must be one of sgd, .*; got 'lbfgs'"),
    (dict(batch_size=0), ValueError, "batch_size must be 'auto' or a whole number >= 1; got 0"),
    (dict(learning_rate_init=0.0), ValueError, "learning_rate_init must be a finite number > 0; got 0.0"),
    (dict(alpha=-1.0), ValueError, "alpha must be a finite number >= 0; got -1.0"),
    (dict(alpha="none"), TypeError, "alpha must be a finite number >= 0; got 'none'"),
    (dict(max_iter=0), ValueError, "max_iter must be a whole number >= 1; got 0"),
    (dict(validation_fraction=1.0), ValueError, r"validation_fraction must be a finite number in \(0, 1\); got 1.0"),
    (dict(shuffle="no"), TypeError, "shuffle must be True or False; got 'no'"),
])
def test_bad_parameters_are_reported_by_fit_with_their_value(params, error, message, iris):
    X, y = iris
    est = MLPClassifier(**params)  # __init__ only stores
    assert est.get_params()[next(iter(params))] == next(iter(params.values()))
    with pytest.raises(error, match=message):
        est.fit(X, y)


def test_unfitted_attributes_raise_not_fitted():
    for est in (MLPClassifier(), SoftmaxClassifier(), PerceptronClassifier()):
        with pytest.raises(NotFittedError):
            check_is_fitted(est)
        with pytest.raises(NotFittedError):
            est.coefs_ if isinstance(est, MLPClassifier) else est.coef_
