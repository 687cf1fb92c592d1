"""The two small data sets the estimators' tests fit: iris (3 classes) and breast cancer (2)."""
import pytest
from sklearn.datasets import load_breast_cancer, load_iris


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def cancer():
    return load_breast_cancer(return_X_y=True)
