"""Splits, feature scaling and batching: what happens between loading and training."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from chainrule import validation as check

from .dataset import as_model_dtype, check_finite


class Split(NamedTuple):
    """The arrays returned by `train_val_test_split`; empty parts have length 0."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def train_val_test_split(
    X, y, *, test_size: float = 0.25, val_size: float = 0.0, seed: int = 0, stratify: bool = True
) -> Split:
    """Shuffle and split ``X, y`` into train, validation and test parts.

    Built on scikit-learn's ``train_test_split``: the test part is split off first, then the
    validation part from the rest. Both sizes are fractions of the whole set. With
    ``stratify=True`` and integer labels every part keeps the class proportions; regression
    targets (floating point) are never stratified.

    Parameters
    ----------
    X : array-like of shape (n, ...)
    y : array-like of shape (n,)
    test_size, val_size : float
        Fractions in [0, 1) with ``test_size + val_size < 1``; 0 gives an empty part.
    seed : int
        Same seed, same split.
    stratify : bool

    Returns
    -------
    Split
        ``(X_train, y_train, X_val, y_val, X_test, y_test)``, a named tuple.

    Examples
    --------
    >>> X, y = np.arange(40).reshape(20, 2), np.repeat([0, 1], 10)
    >>> s = train_val_test_split(X, y, test_size=0.2, val_size=0.2)
    >>> len(s.y_train), len(s.y_val), len(s.y_test), s.y_test.tolist().count(1)
    (12, 4, 4, 2)
    """
    from sklearn.model_selection import train_test_split

    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
    test_size = check.fraction("test_size", test_size)
    val_size = check.fraction("val_size", val_size)
    if test_size + val_size >= 1:
        raise ValueError(
            f"test_size + val_size must leave examples to train on, got "
            f"{test_size} + {val_size} = {test_size + val_size}"
        )
    if _part_sizes(len(X), test_size, val_size)[0] < 1:
        n_val, n_test = _part_sizes(len(X), test_size, val_size)[1:]
        least = next(n for n in itertools.count(len(X) + 1) if _part_sizes(n, test_size, val_size)[0] >= 1)
        raise ValueError(
            f"{len(X)} example(s) are too few to split: the test part (test_size={test_size:g}) takes {n_test} "
            f"and the validation part (val_size={val_size:g}) {n_val}, leaving none to train on; "
            f"give at least {least} examples"
        )
    by_class = stratify and (np.issubdtype(y.dtype, np.integer) or y.dtype == bool)

    def cut(X, y, size):
        if size == 0:
            return X, X[:0], y, y[:0]
        return train_test_split(
            X, y, test_size=size, random_state=seed, stratify=y if by_class else None
        )

    X_rest, X_test, y_rest, y_test = cut(X, y, test_size)
    X_train, X_val, y_train, y_val = cut(X_rest, y_rest, val_size / (1.0 - test_size))
    return Split(X_train, y_train, X_val, y_val, X_test, y_test)


def _part_sizes(n: int, test_size: float, val_size: float) -> tuple[int, int, int]:
    """``(train, validation, test)`` example counts of :func:`train_val_test_split` for ``n``
    examples, by scikit-learn's rounding (a part of fraction f of m examples takes ceil(f·m))."""
    n_test = math.ceil(test_size * n) if test_size else 0
    rest = n - n_test
    n_val = math.ceil(val_size / (1.0 - test_size) * rest) if val_size else 0
    return rest - n_val, n_val, n_test


def _as_features(X, fitted_width: int | None, who: str) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{who} expects X of shape (n_samples, n_features), got {X.shape}")
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float32)
    if fitted_width is not None and X.shape[1] != fitted_width:
        raise ValueError(
            f"{who} was fitted on {fitted_width} features, got X with {X.shape[1]}"
        )
    return X


class Standardizer:
    """Scale every feature to zero mean and unit variance: ``(X - mean_) / scale_``.

    ``scale_`` is the feature's standard deviation over the fitted data, except that a
    feature with zero variance (a pixel that is always 0) gets scale 1, so it maps to 0
    instead of NaN. Fit on the training part only, then transform every part.
    The output keeps the input's floating dtype (float32 stays float32).

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,), float64
    scale_ : ndarray of shape (n_features,), float64

    Examples
    --------
    >>> s = Standardizer().fit(np.array([[0.0, 5.0], [2.0, 5.0]]))
    >>> s.mean_.tolist(), s.scale_.tolist()
    ([1.0, 5.0], [1.0, 1.0])
    >>> s.transform(np.array([[2.0, 5.0]])).tolist()
    [[1.0, 0.0]]
    >>> Standardizer.from_dict(s.to_dict()).mean_.tolist()
    [1.0, 5.0]
    """

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def __repr__(self) -> str:
        fitted = "unfitted" if self.mean_ is None else f"n_features={len(self.mean_)}"
        return f"Standardizer({fitted})"

    def _width(self) -> int:
        if self.mean_ is None:
            raise ValueError(f"this {type(self).__name__} is not fitted yet; call fit(X) first")
        return len(self.mean_)

    def fit(self, X) -> Standardizer:
        """Learn ``mean_`` and ``scale_`` from ``X`` (n_samples, n_features); return self."""
        X = _as_features(X, None, type(self).__name__)
        if len(X) == 0:
            raise ValueError(f"{type(self).__name__}.fit needs at least one example, got 0 rows")
        check_finite(X, what="X")
        X = X.astype(np.float64)
        self.mean_ = X.mean(axis=0)
        scale = X.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        return self

    def transform(self, X) -> np.ndarray:
        """Return ``(X - mean_) / scale_`` in X's floating dtype."""
        X = _as_features(X, self._width(), type(self).__name__)
        return ((X - self.mean_) / self.scale_).astype(X.dtype, copy=False)

    def fit_transform(self, X) -> np.ndarray:
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)

    def inverse_transform(self, X) -> np.ndarray:
        """Undo `transform`: ``X * scale_ + mean_``."""
        X = _as_features(X, self._width(), type(self).__name__)
        return (X * self.scale_ + self.mean_).astype(X.dtype, copy=False)

    def to_dict(self) -> dict[str, np.ndarray]:
        """The fitted state as plain arrays, ready for ``np.savez`` next to a model."""
        self._width()
        return {"mean": self.mean_.copy(), "scale": self.scale_.copy()}

    @classmethod
    def from_dict(cls, state) -> Standardizer:
        """Rebuild a fitted Standardizer from `to_dict`'s output."""
        mean, scale = _state_arrays(state, ("mean", "scale"), cls.__name__)
        if np.any(scale <= 0):
            bad = scale[scale <= 0][:3].tolist()
            raise ValueError(f"{cls.__name__} scale must be > 0, got {bad}")
        out = cls()
        out.mean_, out.scale_ = mean, scale
        return out


class MeanImage:
    """Subtract the mean example (for images: the mean image) from every example.

    The cs231n preprocessing for CIFAR-10: centre the data without changing its scale.
    Same interface as `Standardizer`.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,), float64

    Examples
    --------
    >>> m = MeanImage().fit(np.array([[0.0, 10.0], [2.0, 30.0]]))
    >>> m.transform(np.array([[1.0, 20.0]])).tolist()
    [[0.0, 0.0]]
    """

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None

    def __repr__(self) -> str:
        fitted = "unfitted" if self.mean_ is None else f"n_features={len(self.mean_)}"
        return f"MeanImage({fitted})"

    _width = Standardizer._width

    def fit(self, X) -> MeanImage:
        """Learn ``mean_`` from ``X`` (n_samples, n_features); return self."""
        X = _as_features(X, None, type(self).__name__)
        if len(X) == 0:
            raise ValueError(f"{type(self).__name__}.fit needs at least one example, got 0 rows")
        check_finite(X, what="X")
        self.mean_ = X.astype(np.float64).mean(axis=0)
        return self

    def transform(self, X) -> np.ndarray:
        """Return ``X - mean_`` in X's floating dtype."""
        X = _as_features(X, self._width(), type(self).__name__)
        return (X - self.mean_).astype(X.dtype, copy=False)

    def fit_transform(self, X) -> np.ndarray:
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)

    def inverse_transform(self, X) -> np.ndarray:
        """Undo `transform`: ``X + mean_``."""
        X = _as_features(X, self._width(), type(self).__name__)
        return (X + self.mean_).astype(X.dtype, copy=False)

    def to_dict(self) -> dict[str, np.ndarray]:
        """The fitted state as plain arrays, ready for ``np.savez`` next to a model."""
        self._width()
        return {"mean": self.mean_.copy()}

    @classmethod
    def from_dict(cls, state) -> MeanImage:
        """Rebuild a fitted MeanImage from `to_dict`'s output."""
        (mean,) = _state_arrays(state, ("mean",), cls.__name__)
        out = cls()
        out.mean_ = mean
        return out


def _state_arrays(state, keys: tuple[str, ...], who: str) -> list[np.ndarray]:
    missing = [k for k in keys if k not in state]
    if missing:
        raise ValueError(f"{who}.from_dict needs keys {list(keys)}, missing {missing}")
    arrays = [np.asarray(state[k], dtype=np.float64) for k in keys]
    for k, a in zip(keys, arrays):
        if a.ndim != 1 or a.shape != arrays[0].shape:
            raise ValueError(
                f"{who}.from_dict: {k!r} must be 1-D like {keys[0]!r} "
                f"{arrays[0].shape}, got shape {a.shape}"
            )
        check_finite(a, what=f"{who} {k!r}")
    return arrays


def batches(
    n: int, batch_size: int | None, *, rng=None, shuffle: bool = True
) -> Iterator[np.ndarray]:
    """Yield index arrays that cover ``range(n)`` once: one epoch of batches.

    The batch size picks the lecture's flavour of gradient descent: ``None`` gives one
    batch of all ``n`` examples (vanilla, full-batch), an int ``B`` mini-batches of ``B``
    (the last one smaller if ``B`` does not divide ``n``), and ``1`` single examples (SGD).

    Parameters
    ----------
    n : int
        Number of examples.
    batch_size : int or None
    rng : numpy.random.Generator, int or None
        The shuffling generator, or a seed for one.
    shuffle : bool
        Visit the examples in a random order; ``False`` keeps 0..n-1.

    Yields
    ------
    ndarray of int64

    Raises
    ------
    ValueError
        ``batch_size`` is not None or a positive int (the message shows the value).

    Examples
    --------
    >>> [b.tolist() for b in batches(5, 2, shuffle=False)]
    [[0, 1], [2, 3], [4]]
    >>> [b.tolist() for b in batches(3, None, shuffle=False)]
    [[0, 1, 2]]
    """
    n = check.integer("n", n, low=0)
    if batch_size is not None:
        batch_size = check.integer("batch_size", batch_size, low=1, what="None (the full batch) or a whole number")
    order = np.random.default_rng(rng).permutation(n) if shuffle else np.arange(n)
    step = n if batch_size is None else int(batch_size)
    # A generator function would only validate on the first next(); return one instead.
    starts = range(0, n, max(step, 1))
    return (order[i : i + step].astype(np.int64, copy=False) for i in starts)


# ====================================================================== a dataset's run split
#: The preprocessing steps a run can fit on its training part and a model file can name
#: (``chainrule train --preprocess``).
PREPROCESSING = ("standardize", "global-standardize", "mean-image", "none")


def fit_preprocess(kind: str, X_train, *, channels_first=None) -> dict:
    """Fit the preprocessing ``kind`` on the training part; a JSON-able description of it.

    ``kind`` is one of :data:`PREPROCESSING`: ``standardize`` scales every feature on its own,
    ``global-standardize`` every feature with one mean and one standard deviation (images:
    every pixel alike, so a shifted image keeps its values, what a convolutional network wants;
    PyTorch's ``Normalize`` with one value), ``mean-image`` subtracts the mean row, ``none``
    leaves the data. The description is what a model file keeps and :func:`apply_preprocess`
    reads.

    ``channels_first`` is an image shape (H, W, C) in which the rows are stored channels last
    (a :class:`Dataset`'s ``image_shape``, CIFAR-10's (32, 32, 3)): the description then also
    reorders every row to C×H×W, the (C, H, W) images a convolution takes. The statistics are
    those of the rows as stored.

    >>> fit_preprocess("standardize", np.array([[0.0, 1.0], [2.0, 3.0]]))
    {'kind': 'standardize', 'mean': [1.0, 2.0], 'scale': [1.0, 1.0]}
    >>> fit_preprocess("global-standardize", np.array([[0.0, 1.0], [2.0, 3.0]]))["mean"]
    [1.5]
    """
    check.choice("the preprocessing kind", kind, PREPROCESSING)
    if kind == "standardize":
        s = Standardizer().fit(X_train)
        spec = {"kind": kind, "mean": s.mean_.tolist(), "scale": s.scale_.tolist()}
    elif kind == "global-standardize":
        X = _as_features(X_train, None, "global-standardize")
        std = float(np.std(X, dtype=np.float64)) if X.size else 0.0
        spec = {"kind": kind, "mean": [float(np.mean(X, dtype=np.float64)) if X.size else 0.0],
                "scale": [std if std > 0 else 1.0]}
    elif kind == "mean-image":
        spec = {"kind": kind, "mean": MeanImage().fit(X_train).mean_.tolist()}
    else:  # "none"
        spec = {"kind": "none"}
    if channels_first is not None:
        shape = [int(s) for s in channels_first]
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"channels_first must be an image shape (height, width, channels); got {channels_first!r}")
        spec["channels_first"] = shape
    return spec


def apply_preprocess(spec: dict | None, X, *, what: str = "X") -> np.ndarray:
    """Apply a description written by :func:`fit_preprocess` to ``X``, in float32.

    The data is checked finite after its conversion to float32 and again after the step (a
    huge value divided by a small scale overflows too), so a model never sees infinity. A
    description with ``channels_first`` (H, W, C) reorders each row from H×W×C to C×H×W last.

    >>> spec = {"kind": "standardize", "mean": [1.0, 2.0], "scale": [1.0, 1.0]}
    >>> apply_preprocess(spec, np.array([[1.0, 4.0]])).tolist()
    [[0.0, 2.0]]
    >>> apply_preprocess({"kind": "none", "channels_first": [1, 2, 2]}, np.array([[1, 2, 3, 4]])).tolist()
    [[1.0, 3.0, 2.0, 4.0]]
    """
    X = as_model_dtype(X, what=what)
    spec = spec or {}
    kind = check.choice("the preprocessing kind", spec.get("kind", "none"), PREPROCESSING)
    if kind == "standardize":
        out = Standardizer.from_dict({"mean": spec["mean"], "scale": spec["scale"]}).transform(X)
    elif kind == "global-standardize":
        out = ((X - np.float32(spec["mean"][0])) / np.float32(spec["scale"][0])).astype(X.dtype, copy=False)
    elif kind == "mean-image":
        out = MeanImage.from_dict({"mean": spec["mean"]}).transform(X)
    else:  # "none"
        out = X
    if "channels_first" in spec:
        h, w, c = spec["channels_first"]
        if X.ndim != 2 or X.shape[1] != h * w * c:
            raise ValueError(f"{what}: rows of {X.shape[1] if X.ndim == 2 else X.shape} values are not "
                             f"{h}x{w}x{c} images ({h * w * c} values)")
        out = np.ascontiguousarray(out.reshape(len(out), h, w, c).transpose(0, 3, 1, 2)).reshape(len(out), -1)
    return out if out is X else as_model_dtype(out, what=f"{what} after {kind}")


def split_dataset(ds, *, test_size: float = 0.25, val_size: float = 0.1, seed: int = 0) -> Split:
    """The seeded train / validation / test split of a :class:`Dataset`, stratified by class.

    ``val_size`` is a fraction of what the test part leaves. Sets published with an official
    split (mnist, fashion-mnist, cifar10) keep their test part. A set too small to stratify (a
    part would hold fewer examples than there are classes) is split without stratification.
    """
    classes = ds.task == "classification"
    if ds.split is not None:
        train, test = ds.official_split()
        parts = _stratified_split(train.X, train.y, val_size, 0.0, seed, classes)
        return Split(parts.X_train, parts.y_train, parts.X_test, parts.y_test, test.X, test.y)
    return _stratified_split(ds.X, ds.y, test_size, val_size * (1 - test_size), seed, classes)


def _stratified_split(X, y, test_size, val_size, seed, stratify) -> Split:
    if stratify:
        try:
            return train_val_test_split(X, y, test_size=test_size, val_size=val_size, seed=seed, stratify=True)
        except ValueError:
            pass  # scikit-learn's verdict: too few examples of some class for every part
    return train_val_test_split(X, y, test_size=test_size, val_size=val_size, seed=seed, stratify=False)


def prepare_split(ds, *, test_size: float = 0.25, val_size: float = 0.1, seed: int = 0,
                  preprocess: str = "standardize", channels_first: bool = False) -> tuple[Split, Split, dict]:
    """``(raw, prepared, spec)``: :func:`split_dataset`, and every part preprocessed with the
    statistics of the training part only (``spec``, from :func:`fit_preprocess`).

    ``channels_first=True`` reorders the rows of colour images (a dataset's ``image_shape``
    (H, W, C)) to C×H×W, as a convolutional network takes them; grey images (H, W) are already
    in that order."""
    raw = split_dataset(ds, test_size=test_size, val_size=val_size, seed=seed)
    shape = ds.image_shape if channels_first and ds.image_shape is not None and len(ds.image_shape) == 3 else None
    spec = fit_preprocess(preprocess, raw.X_train, channels_first=shape)
    prepared = Split(*(apply_preprocess(spec, a) if i % 2 == 0 else a for i, a in enumerate(raw)))
    return raw, prepared, spec
