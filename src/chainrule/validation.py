"""The rules for checking what a user gives chainrule, declared once for every layer above the engine.

Every rule takes the *name* to show for the value (whatever the caller's user typed: ``"lr"``
for a library argument, ``"--lr"`` for a command-line option, ``"the field 'settings.lr'"`` for a
saved file) and the value, and returns the value normalized (a NumPy integer becomes an ``int``,
an int given for a float becomes a ``float``). One convention for what goes wrong:

- **TypeError** when the value is of the wrong type (a string for a number, ``True`` for a count:
  a bool is never taken as a number);
- **ValueError** when it has the right type and the wrong value (out of range, not finite, not
  one of the choices).

Either way the message is ``<name> must be <what was expected>; got <the value>``, so the
parameter, the bad value and the expectation are all in it.

>>> from chainrule import validation as check
>>> check.integer("epochs", 30, low=1)
30
>>> check.integer("epochs", 0, low=1)
Traceback (most recent call last):
...
ValueError: epochs must be a whole number >= 1; got 0
>>> check.number("--lr", "0.1", low=0, low_open=True)
Traceback (most recent call last):
...
TypeError: --lr must be a finite number > 0; got '0.1'
>>> check.choice("activation", "softsign", ("relu", "tanh"))
Traceback (most recent call last):
...
ValueError: activation must be one of relu, tanh; got 'softsign'
"""
from __future__ import annotations

import math
import numbers
from pathlib import Path

import numpy as np

__all__ = ["SEED_MAX", "integer", "number", "fraction", "boolean", "choice", "text", "seed", "features", "labels"]

#: The largest seed a run takes (32 bits: what every generator and scikit-learn's random_state accept).
SEED_MAX = 2 ** 32 - 1


def _show(bound) -> str:
    """A bound as a person writes it: ``1``, ``0``, ``0.5``, ``4294967295``, ``1e-08``."""
    if isinstance(bound, numbers.Integral) or float(bound).is_integer() and abs(bound) < 1e15:
        return str(int(bound))
    return f"{bound:g}" if float(f"{bound:g}") == bound else repr(float(bound))


def _bounds(low, high, low_open=False, high_open=False) -> str:
    """The range as the messages write it: ``>= 1``, ``> 0``, ``<= 9``, ``in [0, 1)``."""
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{_show(low)}, {_show(high)}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {_show(low)}"
    if high is not None:
        return f" {'<' if high_open else '<='} {_show(high)}"
    return ""


def integer(name: str, value, low=None, high=None, *, what: str = "a whole number") -> int:
    """``value`` as an ``int`` in ``[low, high]`` (either bound may be None).

    A bool, a float (even ``3.0``) or a string is a TypeError; an integer outside the bounds a
    ValueError. ``what`` replaces "a whole number" in the message where more is accepted than an
    integer (``what="'full' or a whole number"``, the caller handling ``"full"``).

    >>> integer("batch_size", np.int64(32), low=1)
    32
    >>> integer("seed", 2 ** 32, low=0, high=2 ** 32 - 1)
    Traceback (most recent call last):
    ...
    ValueError: seed must be a whole number in [0, 4294967295]; got 4294967296
    """
    expected = f"{name} must be {what}{_bounds(low, high)}; got {value!r}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(expected)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(expected)
    return int(value)


def number(name: str, value, low=None, high=None, *, low_open: bool = False, high_open: bool = False,
           what: str = "a finite number") -> float:
    """``value`` as a finite ``float`` in the range the bounds give (open where told).

    An int is taken for a float; a bool or a string is a TypeError; NaN, ±inf or a number out
    of range is a ValueError.

    >>> number("alpha", 0, low=0)
    0.0
    >>> number("validation_fraction", 1.0, low=0, high=1, low_open=True, high_open=True)
    Traceback (most recent call last):
    ...
    ValueError: validation_fraction must be a finite number in (0, 1); got 1.0
    """
    expected = f"{name} must be {what}{_bounds(low, high, low_open, high_open)}; got {value!r}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(expected)
    value = float(value)
    if not math.isfinite(value) or (low is not None and (value <= low if low_open else value < low)) or (
            high is not None and (value >= high if high_open else value > high)):
        raise ValueError(expected)
    return value


def fraction(name: str, value) -> float:
    """A share of a data set: a number in ``[0, 1)``.

    >>> fraction("test_size", 0.25)
    0.25
    >>> fraction("test_size", 1)
    Traceback (most recent call last):
    ...
    ValueError: test_size must be a fraction in [0, 1); got 1
    """
    return number(name, value, 0, 1, high_open=True, what="a fraction")


def boolean(name: str, value) -> bool:
    """``value`` as a ``bool``: only True or False (NumPy's included), never 0, 1 or "yes".

    >>> boolean("shuffle", np.True_)
    True
    >>> boolean("shuffle", "no")
    Traceback (most recent call last):
    ...
    TypeError: shuffle must be True or False; got 'no'
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def choice(name: str, value, choices) -> str:
    """``value`` if it is one of the strings ``choices``; the message lists them all.

    >>> choice("--model", "mlp", ("mlp", "softmax"))
    'mlp'
    >>> choice("--model", 3, ("mlp", "softmax"))
    Traceback (most recent call last):
    ...
    TypeError: --model must be one of mlp, softmax; got 3
    """
    expected = f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}"
    if not isinstance(value, str):
        raise TypeError(expected)
    if value not in choices:
        raise ValueError(expected)
    return value


def text(name: str, value) -> str:
    """``value`` as a non-blank ``str`` (a ``pathlib.Path`` is taken as its text).

    >>> text("--data", Path("points.csv"))
    'points.csv'
    >>> text("--data", "  ")
    Traceback (most recent call last):
    ...
    ValueError: --data must be a non-empty string; got '  '
    """
    expected = f"{name} must be a non-empty string; got {value!r}"
    if not isinstance(value, (str, Path)):
        raise TypeError(expected)
    if not str(value).strip():
        raise ValueError(expected)
    return str(value)


def seed(name: str, value, *, optional: bool = True):
    """A random seed: a whole number in ``[0, SEED_MAX]``, or None (a fresh one) when ``optional``.

    >>> seed("seed", None), seed("seed", 7)
    (None, 7)
    >>> seed("--seed", -1)
    Traceback (most recent call last):
    ...
    ValueError: --seed must be None or a whole number in [0, 4294967295]; got -1
    """
    if value is None and optional:
        return None
    return integer(name, value, 0, SEED_MAX, what="None or a whole number" if optional else "a whole number")


# ====================================================================== arrays
def features(X, n_features: int, dtype, name: str = "X") -> np.ndarray:
    """``X`` as an N×D array of ``dtype`` with finite entries, N ≥ 1 and D = ``n_features``.

    Anything with ``.numpy()`` (a Tensor) is read through it. Entries that are not numbers are
    a TypeError; a ragged list, a wrong shape or a NaN / infinity (named by row and column) a
    ValueError.

    >>> features([[0, 1], [2, 3]], 2, np.float32).dtype
    dtype('float32')
    >>> features([[0.0, float("nan")]], 2, np.float64)
    Traceback (most recent call last):
    ...
    ValueError: X contains NaN or infinity (first at row 0, column 1: nan); expected finite numbers
    """
    if hasattr(X, "numpy") and not isinstance(X, np.ndarray):
        X = X.numpy()
    try:
        X = np.asarray(X)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{name} must be a 2-D array of numbers; could not convert it: {exc}") from None
    if X.dtype.kind not in "fiu":
        raise TypeError(f"{name} must hold numbers (float or int); got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} has no rows (shape {X.shape}); at least one example is needed")
    if X.shape[1] != n_features:
        raise ValueError(f"{name} has {X.shape[1]} features per row; this model expects n_features={n_features}")
    X = X.astype(dtype, copy=False)
    finite = np.isfinite(X)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        raise ValueError(f"{name} contains NaN or infinity (first at row {row}, column {col}: {X[row, col]}); "
                         "expected finite numbers")
    return X


def labels(y, n_rows: int, n_classes: int, *, allow_pm1: bool = False, name: str = "y") -> np.ndarray:
    """Integer class labels 0..K−1 for ``n_rows`` examples, as int64; with ``allow_pm1`` (K = 2)
    the labels −1/+1 are taken too and mapped to 0/1.

    >>> labels([1, -1, 1], 3, 2, allow_pm1=True).tolist()
    [1, 0, 1]
    >>> labels([0, 3], 2, 3)
    Traceback (most recent call last):
    ...
    ValueError: y holds the label 3, outside 0..2 (n_classes=3)
    """
    if hasattr(y, "numpy") and not isinstance(y, np.ndarray):
        y = y.numpy()
    y = np.asarray(y)
    if y.dtype.kind not in "iu":
        expected = "0/1 or -1/+1" if allow_pm1 else f"0..{n_classes - 1}"
        raise TypeError(f"{name} must hold integer class labels {expected}; got dtype {y.dtype}")
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D (n_samples,); got shape {y.shape}")
    if y.shape[0] != n_rows:
        raise ValueError(f"X has {n_rows} rows but {name} has {y.shape[0]} labels; they must match")
    values = np.unique(y)
    if allow_pm1:
        if np.isin(values, (0, 1)).all():
            return y.astype(np.int64, copy=False)
        if np.isin(values, (-1, 1)).all():
            return (y.astype(np.int64) + 1) // 2
        raise ValueError(f"binary labels must be all 0/1 or all -1/+1; got the values {values.tolist()[:10]}")
    bad = values[(values < 0) | (values >= n_classes)]
    if bad.size:
        raise ValueError(f"{name} holds the label {bad[0]}, outside 0..{n_classes - 1} (n_classes={n_classes})")
    return y.astype(np.int64, copy=False)
