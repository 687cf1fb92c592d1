"""The data the tests of the training core share: the standardized digits and the spiral."""
import pytest

from chainrule.data import Standardizer, load_dataset, train_val_test_split


@pytest.fixture(scope="module")
def digits():
    ds = load_dataset("digits")
    split = train_val_test_split(ds.X, ds.y, test_size=0.25, seed=0)
    scaler = Standardizer().fit(split.X_train)
    return scaler.transform(split.X_train), split.y_train, scaler.transform(split.X_test), split.y_test


@pytest.fixture(scope="module")
def spiral():
    ds = load_dataset("spiral", seed=0)
    return ds.X, ds.y
