"""The linear estimators (chainrule/estimators/linear.py): coef_ and intercept_ are the score
function, probabilities where the loss gives them, the perceptron's stopping rule, alpha's scaling."""
import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from chainrule.estimators import (
    BinarySVMClassifier, LinearSVMClassifier, LogisticRegressionClassifier, PerceptronClassifier, SoftmaxClassifier,
)

from estimator_cases import data_for

# Hitting max_iter on a small grid or fold is expected here; the warning itself is tested in test_base.py.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.mark.parametrize("cls, rows", [(SoftmaxClassifier, 3), (LinearSVMClassifier, 3), (PerceptronClassifier, 3),
                                       (LogisticRegressionClassifier, 1), (BinarySVMClassifier, 1)])
def test_linear_coef_and_intercept_are_the_score_function(cls, rows, iris, cancer):
    X, y = data_for(cls, iris, cancer)
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


def test_perceptron_stops_after_a_pass_without_mistakes(iris):
    X, y = iris
    X = StandardScaler().fit_transform(X)[y < 2]
    clf = PerceptronClassifier(random_state=0).fit(X, y[y < 2])
    assert clf.loss_curve_[-1] == 0.0 and all(v > 0 for v in clf.loss_curve_[:-1])
    assert clf.n_iter_ < 20 and clf.score(X, y[y < 2]) == 1.0


def test_alpha_follows_scikit_learns_scaling(iris):
    # Linear models: mean loss + (alpha / 2) ΣW², so with a huge alpha the weights shrink to ~0.
    X, y = iris
    X = StandardScaler().fit_transform(X)
    small = SoftmaxClassifier(alpha=1e-4, random_state=0).fit(X, y)
    large = SoftmaxClassifier(alpha=10.0, random_state=0).fit(X, y)
    assert np.abs(large.coef_).max() < 0.05 < np.abs(small.coef_).max()
