"""The `Dataset` container every loader returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chainrule import validation as check
TASKS = ("classification", "regression")
SPLITS = ("train", "test")


@dataclass(eq=False, repr=False)
class Dataset:
    """Features, targets and the metadata needed to train on and display them.

    Images are stored flattened, one row per example; ``image_shape`` says how to fold a
    row back into a picture (``X[i].reshape(image_shape)``), height first and channels last.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Features, converted to float32. Must be finite.
    y : ndarray of shape (n,)
        int64 class indices ``0 .. K-1`` for classification, float32 targets for regression.
    name : str
        Short name, e.g. ``"digits"`` or the stem of a CSV file.
    classes : list of str
        Class names, ``classes[k]`` names label ``k``. Filled with ``"0" .. "K-1"`` when
        empty for a classification set; always empty for regression.
    image_shape : tuple of int or None
        ``(8, 8)``, ``(28, 28)``, ``(32, 32, 3)``, ...; its product must equal ``d``.
    task : {"classification", "regression"}
    feature_names : list of str or None
        Column names, where the source has them (scikit-learn sets, CSV headers).
    split : ndarray of str or None
        ``"train"`` / ``"test"`` per example for sets published with an official split
        (mnist, fashion-mnist, cifar10); ``None`` otherwise. ``official_split()`` uses it.

    Examples
    --------
    >>> ds = Dataset(np.zeros((4, 2)), np.array([0, 1, 1, 0]), name="toy")
    >>> len(ds), ds.n_features, ds.n_classes, ds.classes
    (4, 2, 2, ['0', '1'])
    """

    X: np.ndarray
    y: np.ndarray
    name: str = "dataset"
    classes: list[str] = field(default_factory=list)
    image_shape: tuple[int, ...] | None = None
    task: str = "classification"
    feature_names: list[str] | None = None
    split: np.ndarray | None = None

    def __post_init__(self) -> None:
        check.choice("task", self.task, TASKS)
        X = np.asarray(self.X)
        if X.ndim != 2:
            raise ValueError(
                f"X must be 2-D (n_samples, n_features) with images flattened, "
                f"got shape {X.shape}"
            )
        if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
            raise TypeError(f"X must hold numbers, got dtype {X.dtype}")
        X = as_model_dtype(X, what=f"X of dataset {self.name!r}")
        y = np.asarray(self.y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D (n_samples,), got shape {y.shape}")
        if len(y) != len(X):
            raise ValueError(
                f"X and y must have the same length, got {len(X)} rows in X and {len(y)} in y"
            )
        if self.task == "classification":
            y = _class_indices(y)
            if not self.classes:
                self.classes = [str(k) for k in range(int(y.max()) + 1 if len(y) else 0)]
            self.classes = [str(c) for c in self.classes]
            if len(y) and int(y.max()) >= len(self.classes):
                raise ValueError(
                    f"label {int(y.max())} has no class name: classes has "
                    f"{len(self.classes)} entries {self.classes}"
                )
        else:
            if not np.issubdtype(y.dtype, np.number):
                raise TypeError(f"regression targets must be numbers, got dtype {y.dtype}")
            y = y.astype(np.float32, copy=False)
            check_finite(y, what=f"y of dataset {self.name!r}")
            if self.classes:
                raise ValueError(f"a regression dataset has no classes, got {self.classes}")
        if self.image_shape is not None:
            self.image_shape = tuple(int(s) for s in self.image_shape)
            if int(np.prod(self.image_shape)) != X.shape[1]:
                raise ValueError(
                    f"image_shape {self.image_shape} holds {int(np.prod(self.image_shape))} "
                    f"values but X has {X.shape[1]} features"
                )
        if self.feature_names is not None:
            self.feature_names = [str(f) for f in self.feature_names]
            if len(self.feature_names) != X.shape[1]:
                raise ValueError(
                    f"feature_names has {len(self.feature_names)} names but X has "
                    f"{X.shape[1]} features"
                )
        if self.split is not None:
            split = np.asarray(self.split).astype(str)
            if split.shape != (len(X),):
                raise ValueError(f"split must have shape ({len(X)},), got {split.shape}")
            bad = sorted(set(np.unique(split)) - set(SPLITS))
            if bad:
                raise ValueError(f"split values must be in {list(SPLITS)}, got {bad}")
            self.split = split
        self.X, self.y = X, y

    @property
    def n_classes(self) -> int:
        """Number of classes; 0 for a regression set."""
        return len(self.classes) if self.task == "classification" else 0

    @property
    def n_features(self) -> int:
        """Number of features per example (pixels for an image set)."""
        return int(self.X.shape[1])

    def fingerprint(self) -> str:
        """The SHA-256 of the examples: X and y, their shapes and dtypes, in hex.

        Two datasets with the same fingerprint hold the same numbers; a run records it, so
        that resuming on data that changed meanwhile is noticed.

        >>> a = Dataset(np.zeros((2, 2)), np.array([0, 1]))
        >>> b = Dataset(np.zeros((2, 2)), np.array([1, 0]))
        >>> a.fingerprint() == Dataset(np.zeros((2, 2)), np.array([0, 1])).fingerprint(), a.fingerprint() == b.fingerprint()
        (True, False)
        """
        import hashlib

        digest = hashlib.sha256()
        for array in (self.X, self.y):
            a = np.ascontiguousarray(array)
            digest.update(f"{a.dtype.str}{a.shape};".encode())
            digest.update(a.tobytes())
        return digest.hexdigest()

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def __repr__(self) -> str:
        extra = f", image_shape={self.image_shape}" if self.image_shape else ""
        if self.split is not None:
            extra += f", n_test={int((self.split == 'test').sum())}"
        return (
            f"Dataset(name={self.name!r}, n={len(self)}, n_features={self.n_features}, "
            f"task={self.task!r}, n_classes={self.n_classes}{extra})"
        )

    def subset(self, index) -> Dataset:
        """Return the examples selected by ``index`` (integer array, slice or boolean mask).

        Metadata (classes, image_shape, ...) is kept, so labels keep their meaning even when
        a class has no example in the subset.

        Examples
        --------
        >>> ds = Dataset(np.arange(6.0).reshape(3, 2), np.array([0, 1, 2]))
        >>> ds.subset([2, 0]).y.tolist()
        [2, 0]
        """
        if isinstance(index, (list, tuple)):
            index = np.asarray(index)
            if index.dtype != bool:
                index = index.astype(np.int64)
        return Dataset(
            self.X[index],
            self.y[index],
            name=self.name,
            classes=list(self.classes),
            image_shape=self.image_shape,
            task=self.task,
            feature_names=None if self.feature_names is None else list(self.feature_names),
            split=None if self.split is None else self.split[index],
        )

    def official_split(self) -> tuple[Dataset, Dataset]:
        """Return ``(train, test)`` as published by the dataset's authors.

        Raises ValueError for sets without an official split; use
        ``chainrule.data.train_val_test_split`` for those.

        Examples
        --------
        >>> ds = Dataset(np.zeros((3, 1)), np.array([0, 1, 0]), split=["train", "train", "test"])
        >>> [len(part) for part in ds.official_split()]
        [2, 1]
        """
        if self.split is None:
            raise ValueError(
                f"dataset {self.name!r} has no official train/test split; "
                "use train_val_test_split(X, y) instead"
            )
        is_test = self.split == "test"
        return self.subset(~is_test), self.subset(is_test)


def as_model_dtype(X, *, what: str, dtype=np.float32) -> np.ndarray:
    """``X`` converted to the models' dtype, refused if a value is not finite *after* the conversion.

    A value such as 1e39 is finite in float64 but becomes infinity in float32; it is named here
    rather than turning into NaN predictions later.

    >>> as_model_dtype([[1.0, 2.0]], what="X").dtype
    dtype('float32')
    >>> as_model_dtype([[1.0, 1e39]], what="X")
    Traceback (most recent call last):
    ...
    ValueError: X: the value 1e+39 at row 0, column 1 does not fit in float32 (its largest finite value is 3.4e+38)
    """
    raw = np.asarray(X)
    out = raw.astype(dtype, copy=False)
    if out.size and not np.isfinite(out).all():
        if raw.dtype.kind in "fc":
            check_finite(raw, what=what)
        first = tuple(int(i) for i in np.argwhere(~np.isfinite(out))[0])
        where = f"row {first[0]}, column {first[1]}" if len(first) == 2 else f"index {first}"
        raise ValueError(
            f"{what}: the value {raw[first].item():g} at {where} does not fit in "
            f"{np.dtype(dtype).name} (its largest finite value is {float(np.finfo(dtype).max):.2g})"
        )
    return out


def check_finite(a: np.ndarray, *, what: str) -> None:
    """Raise ValueError naming the first NaN or infinite entry of ``a``."""
    if a.size and not np.isfinite(a).all():
        bad = np.argwhere(~np.isfinite(a))
        first = tuple(int(i) for i in bad[0])
        where = first[0] if len(first) == 1 else first
        raise ValueError(
            f"{what} contains {len(bad)} NaN or infinite value(s); the first is "
            f"{a[first].item()!r} at index {where}"
        )


def _class_indices(y: np.ndarray) -> np.ndarray:
    """Check that ``y`` holds class indices 0..K-1 and return them as int64."""
    if y.dtype == bool:
        return y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.number):
        raise TypeError(
            f"classification labels must be integer class indices, got dtype {y.dtype}; "
            "map names to indices first"
        )
    if np.issubdtype(y.dtype, np.floating):
        if not np.isfinite(y).all() or not np.array_equal(y, np.round(y)):
            raise ValueError(
                "classification labels must be whole numbers 0..K-1, got non-integer "
                f"values such as {y[~np.isfinite(y) | (y != np.round(y))][:3].tolist()}"
            )
    if len(y) and y.min() < 0:
        raise ValueError(f"classification labels must be >= 0, got {y.min()!r}")
    return y.astype(np.int64, copy=False)
