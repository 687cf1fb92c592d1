"""chainrule.estimators.CNNClassifier: scikit-learn's checks, images as flat (C, H, W) rows,
errors that name the values, augmentation that is seeded and resumes, accuracy on digits.

(The base name is not test_cnn.py: tests/nn/test_cnn.py has it, and pytest's default import
mode needs unique base names.)
"""
import pickle
import warnings

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

import chainrule as cr
from chainrule.estimators import CNNClassifier, MLPClassifier
from chainrule.io import load_model, save_model

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16, y, test_size=0.25, stratify=y, random_state=0)


# ====================================================================== scikit-learn's estimator checks
# All 55 checks pass with the default instance too (the slow test below; about 50 s here, most
# of it check_classifiers_train's 200-epoch fits); the CI runs them on a small network trained
# for 30 epochs at a higher learning rate, 3 s.
@parametrize_with_checks([CNNClassifier(conv="c8", learning_rate_init=0.01, max_iter=30)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.slow
@parametrize_with_checks([CNNClassifier()])
def test_sklearn_estimator_checks_with_the_default_instance(estimator, check):
    check(estimator)


# ====================================================================== images as rows
def test_rows_are_images_in_pytorchs_channels_first_order():
    # Two classes told apart by the mean of the second channel: only the (C, H, W) reading of
    # each row sees it where it is.
    rng = np.random.default_rng(0)
    images = rng.normal(size=(120, 3, 4, 4))
    y = (images[:, 1].mean(axis=(1, 2)) > 0).astype(int)
    X = images.reshape(len(images), -1)
    clf = CNNClassifier(image_shape=(3, 4, 4), conv="c4", learning_rate_init=0.01, max_iter=20,
                        random_state=0).fit(X, y)
    assert clf.input_shape_ == (3, 4, 4) and clf.conv_ == "c4" and clf.n_outputs_ == 2
    first = clf.model_[0]
    assert (first.in_channels, first.out_channels, first.kernel_size) == (3, 4, (3, 3))
    with cr.no_grad():
        scores = clf.model_.eval()(cr.tensor(images, dtype=np.float64)).numpy()
    np.testing.assert_allclose(clf.predict_proba(X), softmax(scores, axis=1), rtol=1e-6)
    assert clf.predict(X).tolist() == scores.argmax(axis=1).tolist()
    assert clf.score(X, y) > 0.9


@pytest.mark.parametrize("image_shape, n_features, expected", [
    (None, 5, (1, 1, 5)), ((7,), 7, (1, 1, 7)), ((2, 3), 6, (1, 2, 3)), ([3, 2, 2], 12, (3, 2, 2)),
])
def test_image_shape_forms(image_shape, n_features, expected):
    X = np.random.default_rng(1).normal(size=(20, n_features))
    clf = CNNClassifier(image_shape=image_shape, conv="c2", max_iter=1).fit(X, np.arange(20) % 2)
    assert clf.input_shape_ == expected and clf.model_.input_shape == expected


@pytest.mark.parametrize("params, n_features, error, message", [
    ({"image_shape": (8, 8)}, 60, ValueError,
     r"image_shape \(8, 8\) holds 64 values per image, but X has 60 features per row"),
    ({"image_shape": (3, 32, 32)}, 1024, ValueError,
     r"image_shape \(3, 32, 32\) holds 3072 values per image, but X has 1024"),
    ({"image_shape": (0, 8)}, 64, ValueError, r"image_shape\[0\] must be a whole number >= 1; got 0"),
    ({"image_shape": (8, 8.0)}, 64, TypeError, r"image_shape\[1\] must be a whole number >= 1; got 8.0"),
    ({"image_shape": "8x8"}, 64, TypeError, r"image_shape must be None, \(length,\), \(height, width\) .*got '8x8'"),
    ({"image_shape": (1, 1, 8, 8)}, 64, ValueError, r"got \(1, 1, 8, 8\)"),
    ({"image_shape": (8, 8), "conv": "c4-q"}, 64, ValueError, r"cannot parse 'q' in the CNN layer string 'c4-q'"),
    ({"image_shape": (8, 8), "conv": 16}, 64, TypeError, r"conv must be a non-empty string; got 16"),
    ({"image_shape": (8, 8), "conv": "c4k9p0"}, 64, ValueError,
     r"'c4k9p0' does not fit \(1, 8, 8\) images at layer 0 \(Conv2d\): the kernel \(9 wide\) is larger"),
    ({"image_shape": (8, 8), "augment": {"shift": 1}}, 64, ValueError, r"augment must be None or a dict of Augment's"),
    ({"image_shape": (8, 8), "augment": "crop"}, 64, TypeError, r"augment must be None or a dict"),
    ({"image_shape": (8, 8), "augment": {"crop_padding": -1}}, 64, ValueError,
     r"augment\['crop_padding'\] must be a whole number >= 0; got -1"),
    ({"image_shape": (8, 8), "augment": {"flip": "yes"}}, 64, TypeError, r"augment\['flip'\] must be True or False"),
    ({"learning_rate_init": 0.0}, 4, ValueError, r"learning_rate_init must be a finite number > 0; got 0.0"),
])
def test_bad_parameters_are_errors_of_fit_that_name_the_values(params, n_features, error, message):
    X, y = np.zeros((10, n_features)), np.arange(10) % 2
    with pytest.raises(error, match=message):
        CNNClassifier(**params).fit(X, y)


# ====================================================================== training
def test_default_network_on_digits_is_as_accurate_as_scikit_learns_mlp(digits):
    # scikit-learn's MLPClassifier gets 97.8 % on this split; five epochs of the default CNN
    # for 8×8 images (c32-bn-m2-c64-bn) reach 99.3 % on the unscaled rows (seed 0), about 2 s.
    X_train, X_test, y_train, y_test = digits
    clf = CNNClassifier(image_shape=(8, 8), learning_rate_init=3e-3, batch_size=32, max_iter=5,
                        random_state=0).fit(X_train, y_train)
    assert clf.conv_ == "c32-bn-m2-c64-bn" and clf.n_iter_ == 5
    assert clf.score(X_test, y_test) >= 0.97


def test_augmentation_is_seeded_and_trains_on_new_copies_each_epoch(digits):
    X_train, _, y_train, _ = digits
    X, y = X_train[:200], y_train[:200]
    params = dict(image_shape=(8, 8), conv="c4-m2", max_iter=3, random_state=3)
    a = CNNClassifier(augment={"crop_padding": 1}, **params).fit(X, y)
    b = CNNClassifier(augment={"crop_padding": 1}, **params).fit(X, y)
    plain = CNNClassifier(**params).fit(X, y)
    np.testing.assert_array_equal(a.model_[0].weight.numpy(), b.model_[0].weight.numpy())
    assert not np.array_equal(a.model_[0].weight.numpy(), plain.model_[0].weight.numpy())
    seen = a._trainer.X  # the last epoch's shifted copies, not the rows given
    assert seen.shape == X.shape and not np.array_equal(seen, X.astype(np.float32))
    # each image is the original moved by at most one pixel: some shift reproduces it exactly
    images, shifted = X.reshape(-1, 8, 8), seen.reshape(-1, 8, 8)
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    matches = [[np.allclose(padded[i, dy:dy + 8, dx:dx + 8], shifted[i]) for dy in range(3) for dx in range(3)]
               for i in range(len(X))]
    assert all(any(m) for m in matches)


def test_k_partial_fit_calls_equal_fit_with_max_iter_k_with_augmentation(digits):
    X_train, _, y_train, _ = digits
    X, y = X_train[:150], y_train[:150]
    params = dict(image_shape=(8, 8), conv="c4-m2", augment={"crop_padding": 1}, learning_rate_init=0.01,
                  random_state=5)
    fitted = CNNClassifier(max_iter=4, **params).fit(X, y)
    streamed = CNNClassifier(**params)
    for _ in range(4):
        streamed.partial_fit(X, y, classes=np.arange(10))
    for a, b in zip(fitted.model_.parameters(), streamed.model_.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert streamed.loss_curve_ == fitted.loss_curve_


def test_pickled_cnn_continues_partial_fit_like_the_original(digits):
    X_train, _, y_train, _ = digits
    X, y = X_train[:150], y_train[:150]
    est = CNNClassifier(image_shape=(8, 8), conv="c4-bn-m2", augment={"crop_padding": 1}, random_state=0)
    for _ in range(2):
        est.partial_fit(X, y, classes=np.arange(10))
    copy = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(copy.predict_proba(X), est.predict_proba(X))
    for _ in range(2):
        est.partial_fit(X, y)
        copy.partial_fit(X, y)
    for name, value in est.model_.state_dict().items():
        np.testing.assert_array_equal(copy.model_.state_dict()[name], value, err_msg=name)


def test_two_classes_get_two_scores_and_string_labels_round_trip(digits):
    X_train, X_test, y_train, y_test = digits
    keep, keep_test = y_train < 2, y_test < 2
    names = np.array(["zero", "one"])
    clf = CNNClassifier(image_shape=(8, 8), conv="c4-m2", learning_rate_init=0.01, max_iter=5,
                        random_state=0).fit(X_train[keep], names[y_train[keep]])
    assert clf.n_outputs_ == 2 and clf.model_.n_classes == 2 and clf.classes_.tolist() == ["one", "zero"]
    proba = clf.predict_proba(X_test[keep_test])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X_test[keep_test])), proba, rtol=1e-9)
    assert clf.score(X_test[keep_test], names[y_test[keep_test]]) > 0.95


def test_the_fitted_network_saves_and_loads_as_a_model_file(digits, tmp_path):
    X_train, X_test, y_train, _ = digits
    clf = CNNClassifier(image_shape=(8, 8), conv="c4-bn-m2", max_iter=2, random_state=0).fit(X_train, y_train)
    path = save_model(tmp_path / "cnn.npz", clf.model_, {"classes": [str(c) for c in clf.classes_],
                                                         "image_shape": list(clf.input_shape_)})
    model, meta = load_model(path)
    with cr.no_grad():
        scores = model.eval()(cr.tensor(X_test, dtype=np.float64)).numpy()
    np.testing.assert_allclose(softmax(scores, axis=1), clf.predict_proba(X_test), rtol=1e-6)
    assert meta["image_shape"] == [1, 8, 8]


def test_network_options_are_shared_with_the_mlp():
    # solver, alpha, batch_size, learning_rate_init, device: one definition, one documentation
    shared = ("solver", "alpha", "batch_size", "learning_rate_init", "max_iter", "random_state", "device")
    cnn, mlp = CNNClassifier().get_params(), MLPClassifier().get_params()
    assert {k: cnn[k] for k in shared} == {k: mlp[k] for k in shared}
    for name in shared:
        entry = next(line for line in MLPClassifier.__doc__.splitlines() if line.strip().startswith(f"{name} :"))
        assert entry in CNNClassifier.__doc__
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning, match="CNNClassifier: the maximum number of iterations"):
            CNNClassifier(conv="c2", max_iter=1).fit(np.eye(4), [0, 1, 0, 1])
