"""Input checks shared by the models: every message names the bad value and what was expected."""
from __future__ import annotations

import math
import numbers

import numpy as np

from chainrule.engine import Tensor


def as_2d_features(X, n_features, dtype):
    """``X`` as an N×D array of ``dtype`` with finite entries, or a clear TypeError / ValueError."""
    if isinstance(X, Tensor):
        X = X.numpy()
    try:
        X = np.asarray(X)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"X must be a 2-D array of numbers; could not convert it: {exc}") from None
    if X.dtype.kind not in "fiu":
        raise TypeError(f"X must hold numbers (float or int); got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"X has no rows (shape {X.shape}); at least one example is needed")
    if X.shape[1] != n_features:
        raise ValueError(f"X has {X.shape[1]} features per row; this model expects n_features={n_features}")
    X = X.astype(dtype, copy=False)
    finite = np.isfinite(X)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        raise ValueError(
            f"X contains NaN or infinity (first at row {row}, column {col}: {X[row, col]}); "
            "expected finite numbers"
        )
    return X


def as_labels(y, n_rows, n_classes, *, allow_pm1=False):
    """Integer labels 0..K−1 for ``n_rows`` examples; with ``allow_pm1``, −1/+1 map to 0/1."""
    if isinstance(y, Tensor):
        y = y.numpy()
    y = np.asarray(y)
    if y.dtype.kind not in "iu":
        expected = "0/1 or -1/+1" if allow_pm1 else f"0..{n_classes - 1}"
        raise TypeError(f"y must hold integer class labels {expected}; got dtype {y.dtype}")
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (n_samples,); got shape {y.shape}")
    if y.shape[0] != n_rows:
        raise ValueError(f"X has {n_rows} rows but y has {y.shape[0]} labels; they must match")
    values = np.unique(y)
    if allow_pm1:
        if np.isin(values, (0, 1)).all():
            return y.astype(np.int64, copy=False)
        if np.isin(values, (-1, 1)).all():
            return (y.astype(np.int64) + 1) // 2
        raise ValueError(
            f"binary labels must be all 0/1 or all -1/+1; got the values {values.tolist()[:10]}"
        )
    bad = values[(values < 0) | (values >= n_classes)]
    if bad.size:
        raise ValueError(
            f"y holds the label {bad[0]}, outside 0..{n_classes - 1} (n_classes={n_classes})"
        )
    return y.astype(np.int64, copy=False)


def positive_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value}")
    return int(value)


def positive_float(name, value):
    number = _real(name, value, "a positive number")
    if not (number > 0 and math.isfinite(number)):
        raise ValueError(f"{name} must be a positive number; got {value!r}")
    return number


def nonnegative_float(name, value):
    number = _real(name, value, "a number >= 0")
    if not (number >= 0 and math.isfinite(number)):
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    return number


def seed_value(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"seed must be None or an integer >= 0; got {value!r}")
    return int(value)


def boolean(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def _real(name, value, expected):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {expected}; got {value!r}")
    return float(value)
