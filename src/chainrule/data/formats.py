"""Parsers for the file formats datasets come in: IDX, CIFAR binary, CSV and NPZ.

Every parser validates what it reads and raises ValueError naming the file and what was
wrong (truncated payload, bad magic number, non-numeric cell, missing key), because a
half-read dataset trains silently to a wrong answer.
"""

from __future__ import annotations

import csv
import gzip
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .dataset import Dataset, check_finite

# IDX type codes (third byte of the magic number), from the MNIST page's format description.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"

CIFAR_IMAGE_SHAPE = (32, 32, 3)
CIFAR_RECORD_BYTES = 1 + 32 * 32 * 3


class MissingFileError(FileNotFoundError, ValueError):
    """A data file that does not exist; both a FileNotFoundError and a ValueError.

    It is a ValueError too so that callers treating every bad input alike (the CLI) need
    one ``except`` clause.
    """


def not_a_zip_reason(file) -> str:
    """Why an open binary file that is not a zip is not an .npz archive, from its first bytes.

    What the file *is not* and what it looks like, never a suggestion to load it some other way.

    >>> import io
    >>> not_a_zip_reason(io.BytesIO(b"x1,x2,label\\n1,2,a\\n"))
    'it is not a zip file (an .npz archive is a zip of .npy arrays); it looks like a text file'
    """
    try:
        file.seek(0)
        head = file.read(512)
    except OSError:
        head = b""
    if not head:
        return "the file is empty"
    if head.startswith(b"\x93NUMPY"):
        return "it holds a single .npy array, not an .npz archive"
    try:
        head.decode("utf-8")
        what = "a text file"
    except UnicodeDecodeError:
        what = "a binary file of another kind"
    return f"it is not a zip file (an .npz archive is a zip of .npy arrays); it looks like {what}"


def _read_source(source, what: str) -> tuple[bytes, str]:
    """Return the bytes of ``source`` (a path or bytes) and a label for error messages."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), f"<{what} bytes>"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise MissingFileError(2, f"{what} file not found", str(path))
        return path.read_bytes(), str(path)
    raise TypeError(f"expected a path or bytes for the {what} data, got {type(source).__name__}")


def _gunzip(data: bytes, label: str) -> bytes:
    if not data.startswith(_GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as exc:
        raise ValueError(f"{label}: corrupt or truncated gzip data ({exc})") from None


def read_idx(source) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzip-compressed or not.

    The header is two zero bytes, a type code, the number of dimensions, then one big-endian
    uint32 per dimension; the payload follows in big-endian order. The header, the type code
    and the payload length are all checked.

    Parameters
    ----------
    source : str, os.PathLike or bytes
        A file path, or the file's contents. Gzip data is recognised by its magic bytes,
        not by the file name.

    Returns
    -------
    ndarray
        Shape given by the header, dtype by the type code (uint8 for MNIST), native byte order.

    Raises
    ------
    ValueError
        Bad magic number, unknown type code, or a payload shorter or longer than the
        header promises (a truncated download).

    Examples
    --------
    >>> header = bytes([0, 0, 0x08, 1]) + (3).to_bytes(4, "big")
    >>> read_idx(header + bytes([7, 8, 9])).tolist()
    [7, 8, 9]
    """
    raw, label = _read_source(source, "IDX")
    data = _gunzip(raw, label)
    if len(data) < 4:
        raise ValueError(f"{label}: {len(data)} bytes is too short for an IDX header")
    if data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{label}: bad IDX magic number 0x{data[:4].hex()}; expected 0x0000TTNN with type "
            f"TT in {[f'{t:02x}' for t in _IDX_DTYPES]} and NN dimensions"
        )
    dtype, ndim = _IDX_DTYPES[data[2]], data[3]
    if ndim == 0:
        raise ValueError(f"{label}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(
            f"{label}: truncated IDX header: {ndim} dimensions need {header} bytes, "
            f"got {len(data)}"
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header
    if actual != expected:
        problem = "truncated" if actual < expected else "has trailing bytes"
        raise ValueError(
            f"{label}: IDX payload {problem}: shape {shape} of {dtype.name} needs "
            f"{expected} bytes, got {actual}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def read_cifar_binary(source, *, records: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read one file of the CIFAR-10 *binary* version (``data_batch_1.bin``, ``test_batch.bin``).

    Each record is 1 label byte followed by 3072 pixel bytes: the 1024 red values of the
    32×32 image row by row, then green, then blue (CHW). Images are returned transposed to
    HWC, the layout ``Dataset.image_shape == (32, 32, 3)`` describes.

    Parameters
    ----------
    source : str, os.PathLike or bytes
        A file path, or the file's contents.
    records : int, optional
        Number of records the file must hold (10,000 for the official files). Any positive
        whole number of records is accepted when omitted.

    Returns
    -------
    images : ndarray of uint8, shape (n, 32, 32, 3)
    labels : ndarray of int64, shape (n,), values 0..9

    Raises
    ------
    ValueError
        Empty or truncated file (length not a multiple of 3073 bytes), wrong record count,
        or a label byte above 9 (for instance the pickled "python version" of CIFAR-10).

    Examples
    --------
    >>> record = bytes([3]) + bytes(3072)
    >>> images, labels = read_cifar_binary(record * 2)
    >>> images.shape, labels.tolist()
    ((2, 32, 32, 3), [3, 3])
    """
    data, label = _read_source(source, "CIFAR-10 binary")
    if len(data) == 0 or len(data) % CIFAR_RECORD_BYTES:
        raise ValueError(
            f"{label}: {len(data)} bytes is not a whole number of {CIFAR_RECORD_BYTES}-byte "
            "CIFAR-10 records (1 label byte + 3072 pixel bytes); the file is truncated or "
            "is not the binary version"
        )
    n = len(data) // CIFAR_RECORD_BYTES
    if records is not None and n != records:
        raise ValueError(f"{label}: expected {records} CIFAR-10 records, got {n}")
    table = np.frombuffer(data, dtype=np.uint8).reshape(n, CIFAR_RECORD_BYTES)
    labels = table[:, 0].astype(np.int64)
    if labels.max() > 9:
        first = int(np.argmax(labels > 9))
        raise ValueError(
            f"{label}: record {first} has label byte {labels[first]}, expected 0..9; "
            "is this the pickled python version instead of the binary version?"
        )
    images = table[:, 1:].reshape(n, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def _parse_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def read_csv(
    path, *, label_column: str | None = None, task: str | None = None, name: str | None = None
) -> Dataset:
    """Read a CSV file with a header row into a `Dataset`.

    The label column is ``label_column`` if given, else the column named ``"label"``, else
    the last column; every other column is a numeric feature. Labels that are not all
    numbers are class names: they are mapped to indices in sorted order and ``classes``
    keeps the names. Numeric labels are classes when they are all whole numbers and
    regression targets otherwise, unless ``task`` says which.

    Parameters
    ----------
    path : str or os.PathLike
    label_column : str, optional
    task : {"classification", "regression"}, optional
        Overrides the guess from the label values.
    name : str, optional
        Dataset name; the file's stem by default.

    Raises
    ------
    ValueError
        Missing file, no header, ragged rows, a missing label column, an empty or
        non-numeric feature cell (the message names the column and the line).

    Examples
    --------
    A file holding ``x1,x2,species`` then ``1.0,2.0,setosa`` and ``3.0,4.0,virginica``
    loads as ``X == [[1, 2], [3, 4]]``, ``y == [0, 1]``, ``classes == ["setosa", "virginica"]``.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(2, "CSV file not found", str(path))
    numbered = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            for row in reader:
                # Blank lines (often a trailing one) carry no data; line numbers still count
                # them, so messages point at the right line in an editor.
                if any(cell.strip() for cell in row):
                    numbered.append((reader.line_num, row))
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable UTF-8 CSV file ({exc})") from None
    if not numbered:
        raise ValueError(f"{path}: the CSV file is empty; expected a header row and data rows")
    header = [cell.strip() for cell in numbered[0][1]]
    if all(_parse_float(cell) is not None for cell in header):
        raise ValueError(
            f"{path}: the first row {header[:5]} looks like data; a header row of column "
            "names is required"
        )
    if len(header) < 2:
        raise ValueError(
            f"{path}: need at least one feature column and one label column, "
            f"got columns {header}"
        )
    if label_column is None:
        label_index = header.index("label") if "label" in header else len(header) - 1
    elif label_column in header:
        label_index = header.index(label_column)
    else:
        raise ValueError(f"{path}: label column {label_column!r} not found; columns are {header}")
    data = numbered[1:]
    if not data:
        raise ValueError(f"{path}: the CSV file has a header but no data rows")
    feature_index = [j for j in range(len(header)) if j != label_index]
    X = np.empty((len(data), len(feature_index)), dtype=np.float64)
    labels = []
    for r, (line, row) in enumerate(data):
        if len(row) != len(header):
            raise ValueError(
                f"{path}, line {line}: expected {len(header)} fields like the header, "
                f"got {len(row)}"
            )
        for c, j in enumerate(feature_index):
            value = _parse_float(row[j])
            if value is None:
                raise ValueError(
                    f"{path}, line {line}, column {header[j]!r}: expected a number, "
                    f"got {row[j]!r}"
                )
            if not np.isfinite(value):
                raise ValueError(
                    f"{path}, line {line}, column {header[j]!r}: features must be finite, "
                    f"got {row[j]!r}"
                )
            X[r, c] = value
        if not row[label_index].strip():
            raise ValueError(
                f"{path}, line {line}: the label column {header[label_index]!r} is empty"
            )
        labels.append(row[label_index].strip())
    y, classes, task = _labels_to_targets(np.asarray(labels), task, f"{path}")
    return Dataset(
        X,
        y,
        name=name or path.stem,
        classes=classes,
        task=task,
        feature_names=[header[j] for j in feature_index],
    )


def _labels_to_targets(
    labels: np.ndarray, task: str | None, label: str
) -> tuple[np.ndarray, list[str], str]:
    """Turn raw labels (strings or numbers) into ``(y, classes, task)``."""
    if task not in (None, "classification", "regression"):
        raise ValueError(f"task must be 'classification', 'regression' or None, got {task!r}")
    if labels.dtype.kind in "USO":
        numbers = [_parse_float(str(v)) for v in labels]
        numeric = all(v is not None for v in numbers)
        values = np.asarray(numbers, dtype=np.float64) if numeric else labels.astype(str)
    else:
        numeric, values = True, labels
    if not numeric:
        if task == "regression":
            bad = next(str(v) for v in labels if _parse_float(str(v)) is None)
            raise ValueError(f"{label}: regression targets must be numbers, got {bad!r}")
        classes, y = np.unique(values, return_inverse=True)
        return y.astype(np.int64), [str(c) for c in classes], "classification"
    values = np.asarray(values)
    if values.dtype == bool:
        values = values.astype(np.int64)
    check_finite(values.astype(np.float64), what=f"{label}: labels")
    whole = np.array_equal(values, np.round(values))
    if task is None:
        task = "classification" if whole else "regression"
    if task == "regression":
        return values.astype(np.float32), [], "regression"
    if not whole:
        raise ValueError(
            f"{label}: classification labels must be whole numbers or names, "
            f"got {values[values != np.round(values)][:3].tolist()}"
        )
    ints = values.astype(np.int64)
    if ints.min() >= 0 and np.array_equal(np.unique(ints), np.arange(ints.max() + 1)):
        # Already 0..K-1: keep the indices, so a saved model's outputs still line up.
        return ints, [str(k) for k in range(int(ints.max()) + 1)], "classification"
    classes, y = np.unique(ints, return_inverse=True)
    return y.astype(np.int64), [str(c) for c in classes], "classification"


def read_npz(path, *, task: str | None = None, name: str | None = None) -> Dataset:
    """Read a `.npz` archive holding arrays ``X`` and ``y`` into a `Dataset`.

    Optional arrays: ``classes`` (names, one per class index), ``feature_names``,
    ``image_shape`` and ``split``. ``X`` with more than two dimensions is taken as images
    and flattened, its trailing shape becoming ``image_shape``. Labels follow the same rules
    as `read_csv`. Pickled object arrays are refused.

    Raises
    ------
    ValueError
        Missing file, missing ``X`` or ``y`` (the message lists the keys present), length
        mismatch, NaN or infinite features.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "toy.npz"
    >>> np.savez(f, X=np.eye(3), y=np.array(["a", "b", "a"]))
    >>> ds = read_npz(f)
    >>> ds.y.tolist(), ds.classes
    ([0, 1, 0], ['a', 'b'])
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(2, "NPZ file not found", str(path))
    with open(path, "rb") as fh:
        if not zipfile.is_zipfile(fh):
            raise ValueError(f"{path}: not a readable .npz archive: {not_a_zip_reason(fh)}")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not a readable .npz archive ({exc})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(
            f"{path}: expected an .npz archive of named arrays, got a single .npy array"
        )
    with archive:
        keys = sorted(archive.files)
        missing = [k for k in ("X", "y") if k not in keys]
        if missing:
            raise ValueError(
                f"{path}: the archive needs arrays 'X' and 'y', missing {missing}; found {keys}"
            )
        optional = ("classes", "feature_names", "image_shape", "split")
        try:
            X, raw_y = archive["X"], archive["y"]
            extra = {k: archive[k] for k in optional if k in keys}
        except ValueError as exc:
            # Object arrays need pickle, which can run code; they are refused, not loaded.
            why = ("an array holds Python objects (dtype object), which chainrule never loads; "
                   "store numbers or fixed-width strings") if "pickle" in str(exc) else str(exc)
            raise ValueError(f"{path}: cannot read the arrays: {why}") from None
    if X.ndim < 2:
        raise ValueError(f"{path}: X must have shape (n, d) or (n, *image_shape), got {X.shape}")
    image_shape = tuple(int(s) for s in extra["image_shape"]) if "image_shape" in extra else None
    if X.ndim > 2:
        image_shape = image_shape or X.shape[1:]
        X = X.reshape(len(X), -1)
    if raw_y.ndim != 1 or len(raw_y) != len(X):
        raise ValueError(
            f"{path}: y must have shape ({len(X)},) to match X's {len(X)} rows, got {raw_y.shape}"
        )
    if not np.issubdtype(X.dtype, np.number):
        raise ValueError(f"{path}: X must hold numbers, got dtype {X.dtype}")
    check_finite(X, what=f"{path}: X")
    if "classes" in extra and raw_y.dtype.kind in "iub" and task != "regression":
        # Named classes mean y already holds indices into them; keep those indices as they are.
        classes = [str(c) for c in extra["classes"]]
        y, task = raw_y.astype(np.int64), "classification"
        if len(y) and (y.min() < 0 or y.max() >= len(classes)):
            raise ValueError(
                f"{path}: y holds labels {int(y.min())}..{int(y.max())} but 'classes' names "
                f"only {len(classes)} classes {classes}"
            )
    else:
        y, classes, task = _labels_to_targets(raw_y, task, str(path))
    return Dataset(
        X,
        y,
        name=name or path.stem,
        classes=classes,
        task=task,
        image_shape=image_shape,
        feature_names=list(extra["feature_names"]) if "feature_names" in extra else None,
        split=extra.get("split"),
    )
