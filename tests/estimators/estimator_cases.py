"""What the tests of chainrule.estimators share: the estimator classes by kind, the data each
kind fits, and a fitted estimator's weights as one vector.

pytest puts this folder on ``sys.path`` (its default import mode), so a test imports it as
``from estimator_cases import ...``.
"""
import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from chainrule.estimators import (
    BinarySVMClassifier, LinearSVMClassifier, LogisticRegressionClassifier, MLPClassifier, MLPRegressor,
    PerceptronClassifier, SoftmaxClassifier,
)

MULTICLASS = [MLPClassifier, SoftmaxClassifier, LinearSVMClassifier, PerceptronClassifier]
BINARY_ONLY = [LogisticRegressionClassifier, BinarySVMClassifier]
CLASSIFIERS = MULTICLASS + BINARY_ONLY
ALL = CLASSIFIERS + [MLPRegressor]


def split_and_scale(X, y, stratify=True):
    """A 75/25 split (stratified unless told), standardized on the training part."""
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y if stratify else None
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def data_for(cls, iris, cancer):
    """Iris (3 classes) for the multiclass estimators, breast cancer for the binary-only ones."""
    return cancer if cls in BINARY_ONLY else iris


def weights(est):
    """Every learned weight of a fitted estimator, as one vector."""
    if hasattr(est, "coefs_"):
        return np.concatenate([a.ravel() for a in est.coefs_ + est.intercepts_])
    return np.concatenate([est.coef_.ravel(), est.intercept_.ravel()])
