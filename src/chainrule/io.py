"""Archives of arrays plus JSON metadata, and atomic file writes. No pickle, ever.

An archive is an ordinary ``.npz`` file (a zip of ``.npy`` members) with one extra member,
``__meta__``: a 1-d uint8 array holding UTF-8 JSON. The metadata says what the archive is and
declares every array it holds, so a truncated, tampered or foreign file is refused when it is
loaded instead of misbehaving later::

    {"format": "chainrule", "format_version": 1, "kind": "model",
     "arrays": {"fc1.weight": {"shape": [256, 784], "dtype": "float32"}, ...},
     ...the caller's own keys...}

Every write goes to a temporary file in the destination folder, is flushed and fsynced, and then
replaces the destination with ``os.replace``: a reader sees the old file or the new one, never half
of one, and a failed write leaves the old file as it was.

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> path = save_archive(folder / "w.npz", {"w": np.ones((2, 3), np.float32)}, {"epoch": 3},
...                     kind="model")
>>> arrays, meta = load_archive(path, kind="model")
>>> arrays["w"].shape, meta["epoch"], meta["format_version"]
((2, 3), 3, 1)
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = [
    "FORMAT_VERSION",
    "FormatError",
    "load_archive",
    "load_model",
    "save_archive",
    "save_model",
    "write_json_atomic",
    "write_text_atomic",
]

FORMAT_VERSION = 1
FORMAT_NAME = "chainrule"
META_MEMBER = "__meta__"
RESERVED_META_KEYS = ("format", "format_version", "kind", "arrays")

# bool, signed and unsigned integers, floats, complex, fixed-width byte and unicode strings:
# all of them round-trip through .npy without pickle.
_STORABLE_KINDS = "biufcSU"


class FormatError(ValueError):
    """A file that is not a valid chainrule archive, or not the one that was asked for."""


# --------------------------------------------------------------------------------------------
# atomic writes
# --------------------------------------------------------------------------------------------


def _current_umask() -> int:
    # os.umask can only be read by setting it; set it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable; not possible on every platform, harmless where it is not.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomic(path: str | os.PathLike, write: Callable[[IO[bytes]], None], *, make_parents: bool = False) -> Path:
    """Call ``write(file)`` on a temporary file next to ``path``, then move it onto ``path``.

    The one atomic write of chainrule (archives, JSON, text, plots, drawings): a reader sees the
    old file or the new one, never a mix, and a failed write leaves nothing behind. The file gets
    the mode a plain ``open()`` would give it. ``make_parents`` creates missing folders first.

    >>> import tempfile, pathlib
    >>> p = write_atomic(pathlib.Path(tempfile.mkdtemp()) / "new" / "a.bin", lambda f: f.write(b"hi"),
    ...                  make_parents=True)
    >>> p.read_bytes()
    b'hi'
    """
    path = Path(path)
    folder = path.parent
    if make_parents:
        folder.mkdir(parents=True, exist_ok=True)
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise FileNotFoundError(f"cannot write {path}: the folder {folder} {what}")
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a folder")
    try:
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except PermissionError as exc:
        raise PermissionError(f"cannot write {path}: the folder {folder} is not writable") from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        # mkstemp makes the file private (0600); give it the mode a plain open() would have, or
        # keep the mode of the file it replaces.
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o666 & ~_current_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_folder(folder)
    return path


def write_text_atomic(path: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically: the old file or the new one, never a mix.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = write_text_atomic(pathlib.Path(tempfile.mkdtemp()) / "a.txt", "hello\\n")
    >>> p.read_text()
    'hello\\n'
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    data = text.encode(encoding)
    return write_atomic(path, lambda file: file.write(data))


def write_json_atomic(
    path: str | os.PathLike, obj: Any, *, indent: int | None = 2, sort_keys: bool = False
) -> Path:
    """Write ``obj`` as JSON (plus a final newline) to ``path`` atomically.

    NumPy scalars are written as the Python numbers they hold; anything else that JSON cannot
    hold raises TypeError naming where it is, before the file is touched. NaN and infinities are
    written as ``NaN`` / ``Infinity`` as Python's json module does.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> p = write_json_atomic(pathlib.Path(tempfile.mkdtemp()) / "m.json", {"acc": 0.5})
    >>> json.loads(p.read_text())
    {'acc': 0.5}
    """
    text = json.dumps(_jsonable(obj, "obj"), indent=indent, sort_keys=sort_keys) + "\n"
    return write_text_atomic(path, text)


def _jsonable(obj: Any, where: str) -> Any:
    """A copy of ``obj`` made of JSON types only; TypeError naming ``where`` the first bad value is.

    Tuples become lists and NumPy scalars Python numbers. Non-string keys are refused rather than
    silently turned into strings, so that what is loaded equals what was saved.
    """
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (np.bool_, np.integer, np.floating)):
        return obj.item()
    if isinstance(obj, Mapping):
        out = {}
        for key, value in obj.items():
            if not isinstance(key, str):
                raise TypeError(
                    f"{where} has the key {key!r} of type {type(key).__name__}: "
                    "JSON keys must be str"
                )
            out[key] = _jsonable(value, f"{where}[{key!r}]")
        return out
    if isinstance(obj, (list, tuple)):
        return [_jsonable(value, f"{where}[{i}]") for i, value in enumerate(obj)]
    hint = " (store arrays as arrays, not in meta)" if isinstance(obj, np.ndarray) else ""
    raise TypeError(
        f"{where} is of type {type(obj).__name__}, which is not JSON serializable{hint}"
    )


# --------------------------------------------------------------------------------------------
# archives
# --------------------------------------------------------------------------------------------


def _dtype_label(dtype: np.dtype) -> str:
    # "float32" for numbers; strings keep their width and byte order ("<U7"), which names do not.
    return dtype.name if dtype.kind in "biufc" else dtype.str


def _check_array_name(name: Any) -> None:
    if not isinstance(name, str):
        raise TypeError(f"array names must be str, got {name!r} ({type(name).__name__})")
    if name == META_MEMBER:
        raise ValueError(f"the array name {name!r} is reserved for the archive's metadata")
    if not name or "\x00" in name or "\\" in name or name.startswith("/"):
        raise ValueError(
            f"invalid array name {name!r}: names must be non-empty, without NUL or backslash, "
            "and must not start with '/'"
        )


def _prepare_array(name: str, value: Any) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.hasobject:
        raise ValueError(
            f"array {name!r} has dtype object, which cannot be stored without pickle"
        )
    if array.dtype.kind not in _STORABLE_KINDS or array.dtype.fields is not None:
        raise ValueError(f"array {name!r} has dtype {array.dtype}, which cannot be stored")
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    return array


def save_archive(
    path: str | os.PathLike,
    arrays: Mapping[str, np.ndarray],
    meta: Mapping[str, Any],
    *,
    kind: str,
    compress: bool = False,
) -> Path:
    """Save ``arrays`` and the JSON-able ``meta`` as a chainrule ``.npz`` archive, atomically.

    The archive's metadata is ``{"format": "chainrule", "format_version": 1, "kind": kind,
    "arrays": {name: {"shape": [...], "dtype": "..."}}, **meta}``. ``path`` is used as given (no
    ``.npz`` is appended). Nothing is written unless every array and every meta value can be
    stored; a failed save leaves an existing file at ``path`` untouched.

    Parameters
    ----------
    path : the file to write; its folder must exist.
    arrays : name -> array of bool, integer, float, complex or fixed-width string dtype.
    meta : JSON-serializable values; the keys format, format_version, kind and arrays are
        reserved.
    kind : what the archive holds ("model", "checkpoint", ...); checked by ``load_archive``.
    compress : deflate the members (smaller, slower); weights rarely shrink much.

    Returns
    -------
    The ``Path`` written.

    Raises
    ------
    ValueError : an object array, a reserved or invalid array name, a reserved meta key.
    TypeError : a meta value JSON cannot hold (the message names its key).
    FileNotFoundError, PermissionError : the folder is missing or not writable.
    """
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"kind must be a non-empty str, got {kind!r}")
    if not isinstance(meta, Mapping):
        raise TypeError(f"meta must be a mapping, got {type(meta).__name__}")
    if not isinstance(arrays, Mapping):
        raise TypeError(f"arrays must be a mapping of name -> array, got {type(arrays).__name__}")
    clashes = [key for key in RESERVED_META_KEYS if key in meta]
    if clashes:
        raise ValueError(f"meta may not set the reserved key(s) {', '.join(map(repr, clashes))}")
    prepared = {}
    for name, value in arrays.items():
        _check_array_name(name)
        prepared[name] = _prepare_array(name, value)
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "arrays": {
            name: {"shape": list(a.shape), "dtype": _dtype_label(a.dtype)}
            for name, a in prepared.items()
        },
    }
    header.update(_jsonable(dict(meta), "meta"))
    meta_bytes = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    compression = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED

    def write(file: IO[bytes]) -> None:
        # Written member by member rather than with np.savez, whose keyword arguments would
        # collide with arrays named "file" or "allow_pickle".
        with zipfile.ZipFile(file, "w", compression=compression, allowZip64=True) as archive:
            for name, array in [(META_MEMBER, meta_bytes), *prepared.items()]:
                with archive.open(name + ".npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, array, allow_pickle=False)

    return write_atomic(path, write)


def load_archive(
    path: str | os.PathLike, *, kind: str | None = None, allow_nonfinite: bool = False
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Load a chainrule archive: ``(arrays, meta)``, every array read and checked now.

    ``meta`` is the whole metadata dict: the caller's keys as saved, plus ``format``,
    ``format_version``, ``kind`` and ``arrays``. Arrays are read eagerly, so a truncated or
    corrupted file fails here and not at first use.

    Parameters
    ----------
    path : the archive.
    kind : when given, the archive's kind must equal it.
    allow_nonfinite : accept NaN and infinities in float and complex arrays (refused by default:
        weights that hold them are the remains of a diverged run, not a model).

    Raises
    ------
    FileNotFoundError : no file at ``path``.
    FormatError : not a chainrule archive (not a zip, truncated, garbled, no or bad metadata), a
        newer format version, another kind, or arrays that differ from what the metadata declares.
    """
    path = Path(path)
    with open(path, "rb") as file:
        try:
            npz = np.load(file, allow_pickle=False)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise _invalid(path, _reason(exc)) from exc
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise _invalid(path, "it holds a single .npy array, not an .npz archive")
        with npz:
            meta = _read_meta(path, npz)
            _check_header(path, meta, kind)
            declared = meta["arrays"]
            present = [name for name in npz.files if name != META_MEMBER]
            missing = [name for name in declared if name not in present]
            extra = [name for name in present if name not in declared]
            if missing:
                raise _invalid(path, f"declared array(s) missing: {', '.join(missing)}")
            if extra:
                raise _invalid(path, f"undeclared member(s): {', '.join(extra)}")
            arrays = {name: _read_member(path, npz, name) for name in declared}
    for name, array in arrays.items():
        _check_array(path, name, array, declared[name], allow_nonfinite)
    return arrays, meta


def _invalid(path: Path, reason: str) -> FormatError:
    return FormatError(f"{path} is not a valid chainrule archive: {reason}")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, zipfile.BadZipFile):
        return f"damaged or truncated zip ({exc})"
    if isinstance(exc, EOFError):
        return "the file is empty"
    if isinstance(exc, ValueError) and "pickled data" in str(exc):
        return "not a zip archive"
    return f"{type(exc).__name__}: {exc}"


def _read_member(path: Path, npz: np.lib.npyio.NpzFile, name: str) -> np.ndarray:
    try:
        value = npz[name]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise _invalid(path, f"cannot read {name!r}: {_reason(exc)}") from exc
    if not isinstance(value, np.ndarray):
        # NpzFile hands back raw bytes for a member that is not an .npy array.
        raise _invalid(path, f"member {name!r} is not a .npy array")
    return value


def _read_meta(path: Path, npz: np.lib.npyio.NpzFile) -> dict[str, Any]:
    if META_MEMBER not in npz.files:
        raise _invalid(path, f"no {META_MEMBER} member (a plain .npz, not a chainrule archive)")
    raw = _read_member(path, npz, META_MEMBER)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise _invalid(
            path, f"{META_MEMBER} must be a 1-d uint8 array, found {raw.dtype} {raw.shape}"
        )
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _invalid(path, f"{META_MEMBER} is not UTF-8 JSON ({exc})") from exc
    if not isinstance(meta, dict):
        raise _invalid(path, f"{META_MEMBER} must be a JSON object, found {type(meta).__name__}")
    return meta


def _check_header(path: Path, meta: dict[str, Any], kind: str | None) -> None:
    if meta.get("format") != FORMAT_NAME:
        raise _invalid(path, f"format is {meta.get('format')!r}, expected {FORMAT_NAME!r}")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _invalid(path, f"format_version is {version!r}, expected an integer >= 1")
    if version > FORMAT_VERSION:
        raise _invalid(
            path,
            f"format_version {version} is newer than the newest this chainrule reads "
            f"({FORMAT_VERSION}); upgrade chainrule",
        )
    if kind is not None and meta.get("kind") != kind:
        raise _invalid(path, f"kind is {meta.get('kind')!r}, expected {kind!r}")
    declared = meta.get("arrays")
    if not isinstance(declared, dict):
        raise _invalid(path, f"'arrays' must be a JSON object, found {declared!r}")
    for name, spec in declared.items():
        ok = (
            isinstance(spec, dict)
            and isinstance(spec.get("dtype"), str)
            and isinstance(spec.get("shape"), list)
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                    for n in spec["shape"])
        )
        if not ok:
            raise _invalid(path, f"array {name!r} has an invalid declaration {spec!r}")


def _check_array(
    path: Path, name: str, array: np.ndarray, spec: dict[str, Any], allow_nonfinite: bool
) -> None:
    shape = tuple(spec["shape"])
    if array.shape != shape:
        raise _invalid(path, f"array {name!r} has shape {array.shape}, declared {shape}")
    try:
        declared_dtype = np.dtype(spec["dtype"])
    except TypeError as exc:
        raise _invalid(path, f"array {name!r} declares an unknown dtype {spec['dtype']!r}") from exc
    if array.dtype != declared_dtype:
        raise _invalid(
            path, f"array {name!r} has dtype {_dtype_label(array.dtype)}, declared {spec['dtype']}"
        )
    if array.dtype.hasobject or array.dtype.kind not in _STORABLE_KINDS:
        raise _invalid(path, f"array {name!r} has dtype {array.dtype}, which is not allowed")
    if not allow_nonfinite and array.dtype.kind in "fc":
        bad = array.size - int(np.count_nonzero(np.isfinite(array)))
        if bad:
            raise _invalid(
                path,
                f"array {name!r} has {bad} non-finite value(s) (NaN or infinity), expected none "
                "(pass allow_nonfinite=True to load it anyway)",
            )



# --------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------


#: Module classes a model file may name, by class name, beyond nn's MLP and Linear: the layers
#: above io add theirs with :func:`register_model_class` (chainrule.models registers the classic
#: models when it is imported, which ``import chainrule`` does).
MODEL_CLASSES: dict = {}


def register_model_class(cls) -> type:
    """Let :func:`load_model` rebuild ``cls`` (a Module with ``get_config()``); returns ``cls``."""
    from chainrule import nn

    if not (isinstance(cls, type) and issubclass(cls, nn.Module) and hasattr(cls, "get_config")):
        raise TypeError(f"a model class must be a chainrule Module with get_config(); got {cls!r}")
    MODEL_CLASSES[cls.__name__] = cls
    return cls


def _model_classes() -> dict:
    """The Module classes a model file may name: nn's MLP and Linear, and the registered ones."""
    from chainrule import nn

    return {"MLP": nn.MLP, "Linear": nn.Linear, **MODEL_CLASSES}


def save_model(path: str | os.PathLike, model, meta: Mapping[str, Any] | None = None) -> Path:
    """Save a model as ``.npz`` + JSON: its class, its constructor config and its parameters.

    ``meta`` adds the caller's own JSON-able keys (class names, preprocessing statistics, …).
    The model must be one of the classes :func:`load_model` can rebuild (``MLP``, ``Linear``
    and the classic models) and provide ``get_config()``.

    >>> import tempfile, pathlib, chainrule as cr
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "net.npz"
    >>> _ = save_model(path, cr.nn.MLP(3, [4], 2, rng=0), {"classes": ["a", "b"]})
    >>> model, meta = load_model(path)
    >>> type(model).__name__, model.num_parameters(), meta["classes"]
    ('MLP', 26, ['a', 'b'])
    """
    name = type(model).__name__
    if name not in _model_classes() or not hasattr(model, "get_config"):
        raise TypeError(f"cannot save a {name}: expected one of {sorted(_model_classes())}")
    extra = dict(meta or {})
    if "model" in extra:
        raise ValueError("meta may not set the key 'model' (it holds the model's class and config)")
    header = {"model": {"class": name, "config": model.get_config()}, **extra}
    return save_archive(path, model.state_dict(), header, kind="model")


def load_model(path: str | os.PathLike):
    """Load a model saved by :func:`save_model`: ``(model, meta)``, shapes and dtypes checked."""
    path = Path(path)
    arrays, meta = load_archive(path, kind="model")
    spec = meta.get("model")
    classes = _model_classes()
    if not isinstance(spec, dict) or spec.get("class") not in classes or not isinstance(spec.get("config"), dict):
        raise _invalid(path, f"its 'model' entry {spec!r} does not name one of {sorted(classes)} with a config")
    try:
        model = classes[spec["class"]](**spec["config"])
    except (TypeError, ValueError) as exc:
        raise _invalid(path, f"the {spec['class']} config {spec['config']} is invalid: {exc}") from exc
    expected = {name: p for name, p in model.named_parameters()}
    for name, array in arrays.items():
        p = expected.get(name)
        if p is not None and array.dtype != p.dtype:
            raise _invalid(path, f"array {name!r} has dtype {array.dtype}, expected {p.dtype}")
    try:
        model.load_state_dict(arrays, strict=True)
    except (TypeError, ValueError) as exc:
        raise _invalid(path, str(exc)) from exc
    return model, meta
