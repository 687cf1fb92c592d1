"""The rules for checking what a user gives chainrule, declared once for every layer above the engine.

Every rule takes the *name* to show for the value (whatever the caller's user typed: ``"lr"``
for a library argument, ``"--lr"`` for a command-line option, ``"the field 'settings.lr'"`` for a
saved file) and the value, and returns the value normalized (a NumPy integer becomes an ``int``,
an int given for a float becomes a ``float``). One convention for what goes wrong:

- **TypeError** when the value is of the wrong type (a string for a number, ``True`` for a count:
  a bool is never taken as a number);
- **ValueError** when it has the right type and the wrong value (out of range, not finite, not
  one of the choices).

Either way the message is ``<name> must be <what was expected>; got <the value>``
(:func:`message`), so the parameter, the bad value and the expectation are all in it. A value is
shown one way (:func:`show`): as Python writes it (``'3'``, ``None``, ``True``), or, for values
read from a JSON file, inside :func:`json_values`, as the file holds it (``"3"``, ``null``,
``true``); :mod:`chainrule.io`'s file schemas check every field with these rules that way.

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
>>> with check.json_values():
...     check.integer("the field 'epoch'", "3", low=0)
Traceback (most recent call last):
...
TypeError: the field 'epoch' must be a whole number >= 0; got "3"
"""
from __future__ import annotations

import contextlib
import contextvars
import itertools
import json
import math
import numbers
from pathlib import Path

import numpy as np

__all__ = ["SEED_MAX", "SHOW_MAX", "show", "json_values", "message", "integer", "number", "fraction", "boolean",
           "choice", "text", "seed", "features", "labels"]

#: The largest seed a run takes (32 bits: what every generator and scikit-learn's random_state accept).
SEED_MAX = 2 ** 32 - 1

#: Whether :func:`show` writes values as JSON (inside :func:`json_values`); a context variable, so
#: threads and asyncio tasks that read files do not change each other's messages.
_AS_JSON = contextvars.ContextVar("chainrule.validation.as_json", default=False)

#: How much of a value a message shows (a 100,000-character string from a file is cut).
SHOW_MAX = 60


def show(value) -> str:
    """``value`` as every message shows it: its ``repr``, or its JSON inside :func:`json_values`;
    cut to :data:`SHOW_MAX` characters.

    >>> show("3"), show(None), show(True)
    ("'3'", 'None', 'True')
    >>> with json_values():
    ...     show("3"), show(None), show(True), show([1, "a"])
    ('"3"', 'null', 'true', '[1, "a"]')
    """
    value = _head(value)
    text = None
    if _AS_JSON.get():
        try:
            text = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):  # not a JSON value (NaN, an object): as Python writes it
            pass
    if text is None:
        text = repr(value)
    return text if len(text) <= SHOW_MAX else text[:SHOW_MAX - 3] + "..."


def _head(value, depth: int = 0):
    """As much of a string, list, tuple or dict as :func:`show` can show: its first SHOW_MAX
    characters or items, at most SHOW_MAX levels deep (each shows as a character at least), so
    a wrong 10-million-item list read from a file is not written out whole to show 60 characters."""
    kind = type(value)
    if depth > SHOW_MAX:
        return None  # never shown: the text is cut before it
    if kind is str:
        return value[:SHOW_MAX]
    if kind is list or kind is tuple:
        return kind(_head(v, depth + 1) for v in value[:SHOW_MAX])
    if kind is dict:
        return {_head(k, depth + 1): _head(v, depth + 1) for k, v in itertools.islice(value.items(), SHOW_MAX)}
    return value


@contextlib.contextmanager
def json_values():
    """Within this block, messages show values as JSON (``"3"``, ``null``, ``true``): for values
    read from a file, so a message shows what the file holds (like ``numpy.printoptions``).

    >>> with json_values():
    ...     boolean("the field 'flip'", 1)
    Traceback (most recent call last):
    ...
    TypeError: the field 'flip' must be true or false; got 1
    """
    token = _AS_JSON.set(True)
    try:
        yield
    finally:
        _AS_JSON.reset(token)


def message(name: str, what: str, value, *, optional: bool = False) -> str:
    """The one message every rule gives: ``<name> must be <what>; got <value>`` (:func:`show`);
    ``must be None or <what>`` (``null or`` in JSON) when ``optional``: None is accepted too.

    >>> message("--epochs", "a whole number >= 1", "two")
    "--epochs must be a whole number >= 1; got 'two'"
    """
    return f"{name} must be {show(None) + ' or ' if optional else ''}{what}; got {show(value)}"


def _bound(bound) -> str:
    """A bound as a person writes it: ``1``, ``0``, ``0.5``, ``4294967295``, ``1e-08``."""
    if isinstance(bound, numbers.Integral) or float(bound).is_integer() and abs(bound) < 1e15:
        return str(int(bound))
    return f"{bound:g}" if float(f"{bound:g}") == bound else repr(float(bound))


def _bounds(low, high, low_open=False, high_open=False) -> str:
    """The range as the messages write it: ``>= 1``, ``> 0``, ``<= 9``, ``in [0, 1)``."""
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{_bound(low)}, {_bound(high)}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {_bound(low)}"
    if high is not None:
        return f" {'<' if high_open else '<='} {_bound(high)}"
    return ""


def integer(name: str, value, low=None, high=None, *, what: str = "a whole number", optional: bool = False):
    """``value`` as an ``int`` in ``[low, high]`` (either bound may be None); None too (returned
    as None) when ``optional``.

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
    if type(value) is not int:  # the common case first: this runs on every call
        if value is None and optional:
            return None
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            raise TypeError(message(name, what + _bounds(low, high), value, optional=optional))
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(message(name, what + _bounds(low, high), value, optional=optional))
    return int(value)


def number(name: str, value, low=None, high=None, *, low_open: bool = False, high_open: bool = False,
           what: str = "a finite number", optional: bool = False):
    """``value`` as a finite ``float`` in the range the bounds give (open where told); None too
    (returned as None) when ``optional``.

    An int is taken for a float; a bool or a string is a TypeError; NaN, ±inf or a number out
    of range is a ValueError.

    >>> number("alpha", 0, low=0)
    0.0
    >>> number("validation_fraction", 1.0, low=0, high=1, low_open=True, high_open=True)
    Traceback (most recent call last):
    ...
    ValueError: validation_fraction must be a finite number in (0, 1); got 1.0
    """
    if type(value) is not float:  # the common case first: this runs on every call
        if value is None and optional:
            return None
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError(message(name, what + _bounds(low, high, low_open, high_open), value, optional=optional))
    result = float(value)
    if not math.isfinite(result) or (low is not None and (result <= low if low_open else result < low)) or (
            high is not None and (result >= high if high_open else result > high)):
        raise ValueError(message(name, what + _bounds(low, high, low_open, high_open), value, optional=optional))
    return result


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
        raise TypeError(message(name, f"{show(True)} or {show(False)}", value))
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
    if not isinstance(value, str) or value not in choices:
        error = TypeError if not isinstance(value, str) else ValueError
        raise error(message(name, f"one of {', '.join(map(str, choices))}", value))
    return value


def text(name: str, value, *, blank: bool = False, max_len: int | None = None, optional: bool = False):
    """``value`` as a non-blank ``str`` (a ``pathlib.Path`` is taken as its text); any string,
    the empty one included, with ``blank``; at most ``max_len`` characters where given; None too
    (returned as None) when ``optional``.

    >>> text("--data", Path("points.csv"))
    'points.csv'
    >>> text("--data", "  ")
    Traceback (most recent call last):
    ...
    ValueError: --data must be a non-empty string; got '  '
    >>> text("class name", "x" * 9, blank=True, max_len=8)
    Traceback (most recent call last):
    ...
    ValueError: class name must be a string of at most 8 characters; got 'xxxxxxxxx'
    """
    if value is None and optional:
        return None
    what = "a string" if blank else "a non-empty string"
    if max_len is not None:
        what += f" of at most {max_len} characters"
    if not isinstance(value, (str, Path)):
        raise TypeError(message(name, what, value, optional=optional))
    value = str(value)
    if (not blank and not value.strip()) or (max_len is not None and len(value) > max_len):
        raise ValueError(message(name, what, value, optional=optional))
    return value


def seed(name: str, value, *, optional: bool = True):
    """A random seed: a whole number in ``[0, SEED_MAX]``, or None (a fresh one) when ``optional``.

    >>> seed("seed", None), seed("seed", 7)
    (None, 7)
    >>> seed("--seed", -1)
    Traceback (most recent call last):
    ...
    ValueError: --seed must be None or a whole number in [0, 4294967295]; got -1
    """
    return integer(name, value, 0, SEED_MAX, optional=optional)


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
