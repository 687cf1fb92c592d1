"""Each estimator against its scikit-learn counterpart on the same data: test accuracy (R² for
the regressor) within a point.

``python tests/estimators/test_counterparts.py`` prints the side-by-side accuracy table of
docs/estimators.md.
"""
import warnings

import pytest
from sklearn import linear_model, neural_network, svm
from sklearn.datasets import load_breast_cancer, load_digits, make_friedman1
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from chainrule.estimators import (
    BinarySVMClassifier, LinearSVMClassifier, LogisticRegressionClassifier, MLPClassifier, MLPRegressor,
    PerceptronClassifier, SoftmaxClassifier,
)

from estimator_cases import split_and_scale


def _digits():
    return split_and_scale(*load_digits(return_X_y=True))


def _cancer():
    return split_and_scale(*load_breast_cancer(return_X_y=True))


def _friedman():
    return split_and_scale(*make_friedman1(n_samples=1000, noise=1.0, random_state=0), stratify=False)


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


if __name__ == "__main__":
    with threadpool_limits(1):
        print(accuracy_table())
