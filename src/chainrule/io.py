"""Archives of arrays plus JSON metadata, and atomic file writes. No pickle, ever.

An archive is an ordinary ``.npz`` file (a zip of ``.npy`` members) with one extra member,
``__meta__``: a 1-d uint8 array holding UTF-8 JSON. The metadata says what the archive is and
declares every array it holds, so a truncated, tampered or foreign file is refused when it is
loaded instead of misbehaving later::

    {"format": "chainrule", "format_version": 1, "kind": "model",
     "arrays": {"fc1.weight": {"shape": [256, 784], "dtype": "float32"}, ...},
     ...the caller's own keys...}

The kinds chainrule writes ("model", "checkpoint") have a schema (:data:`SCHEMAS`) that their
metadata must follow, field by field; other kinds are free-form.

Every write goes to a temporary file in the destination folder, is flushed and fsynced, and then
replaces the destination with ``os.replace``: a reader sees the old file or the new one, never half
of one, and a failed write leaves the old file as it was.

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> path = save_archive(folder / "w.npz", {"w": np.ones((2, 3), np.float32)}, {"epoch": 3},
...                     kind="weights")
>>> arrays, meta = load_archive(path, kind="weights")
>>> arrays["w"].shape, meta["epoch"], meta["format_version"]
((2, 3), 3, 1)
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import zipfile
from zlib import error as zlib_error
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from chainrule import validation as check
from chainrule.engine import to_host

__all__ = [
    "FORMAT_VERSION",
    "FolderInUseError",
    "FolderLock",
    "FormatError",
    "MAX_ARCHIVE_BYTES",
    "SCHEMAS",
    "Schema",
    "dumps_strict",
    "parse_json",
    "format_bytes",
    "write_atomic",
    "load_archive",
    "load_json",
    "load_model",
    "max_archive_bytes",
    "model_widths",
    "save_archive",
    "save_model",
    "write_json_atomic",
    "write_text_atomic",
]

FORMAT_VERSION = 1
FORMAT_NAME = "chainrule"
META_MEMBER = "__meta__"
RESERVED_META_KEYS = ("format", "format_version", "kind", "arrays")
#: The default limit on the array data one archive may declare (see :func:`max_archive_bytes`).
MAX_ARCHIVE_BYTES = 8 * 2**30
#: The metadata member and every JSON document chainrule reads are refused above this size.
MAX_META_BYTES = 256 * 2**20

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

    The one atomic write of chainrule (archives, JSON, text, plots, drawings): the temporary file
    is flushed and fsynced before it replaces ``path``, and removed if anything fails, so a reader
    sees the old file or the new one, never a mix. The file gets the mode a plain ``open()`` would
    give it. An OSError while writing (a full disk) names ``path``. ``make_parents`` creates
    missing folders first.

    A symbolic link is written through: its target (``os.path.realpath``) gets the new file,
    made beside it, and the link stays a link. A ``path`` that exists and is not a regular file
    (a device such as ``/dev/full``, a pipe, a socket) is refused with a ValueError naming it:
    replacing it would turn it into a regular file.

    >>> import tempfile, pathlib
    >>> p = write_atomic(pathlib.Path(tempfile.mkdtemp()) / "new" / "a.bin", lambda f: f.write(b"hi"),
    ...                  make_parents=True)
    >>> p.read_bytes()
    b'hi'
    """
    path = given = Path(path)
    if path.is_symlink():  # write through the link: the target changes, the link stays
        path = Path(os.path.realpath(path))
    folder = path.parent
    if make_parents:
        folder.mkdir(parents=True, exist_ok=True)
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise FileNotFoundError(f"cannot write {given}: the folder {folder} {what}")
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {given}: it is a folder")
    if path.exists() and not path.is_file():
        raise ValueError(f"cannot write {given}: it is not a regular file (a device, pipe or socket); "
                         "give the path of a regular file")
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
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if exc.filename is None:  # a write() on the open file: say which file it was for
            raise OSError(exc.errno, f"cannot write it: {exc.strerror or exc}", str(given)) from exc
        raise
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_folder(folder)
    return given


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
    hold raises TypeError naming where it is, before the file is touched. The file is standard
    JSON: NaN and infinities are written as ``null`` (:func:`dumps_strict`), not as Python's
    ``NaN`` / ``Infinity``, which other JSON readers reject.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> p = write_json_atomic(pathlib.Path(tempfile.mkdtemp()) / "m.json", {"acc": 0.5})
    >>> json.loads(p.read_text())
    {'acc': 0.5}
    """
    text = dumps_strict(_jsonable(obj, "obj"), indent=indent, sort_keys=sort_keys) + "\n"
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
# folder locks
# --------------------------------------------------------------------------------------------


class FolderInUseError(RuntimeError, ValueError):
    """Another live process holds the folder's lock (a ValueError too: the CLI's exit 2)."""

    def __init__(self, message: str, pid: int | None):
        super().__init__(message)
        self.pid = pid


class FolderLock:
    """An exclusive lock on a folder, held by one process for as long as it works there.

    The lock is the file ``FOLDER/.lock``, created if missing and holding the owner's process
    id; where ``fcntl.flock`` exists the kernel holds the lock, so it ends with its process
    whatever way that process ends, and a lock file left by a killed process is stale and simply
    taken over. Elsewhere the pid in the file is checked: a lock whose process no longer runs
    is stale too. :meth:`release` removes the file.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with FolderLock(folder):
    ...     FolderLock(folder).acquire()
    Traceback (most recent call last):
    ...
    chainrule.io.FolderInUseError: ... is in use by process ... (its lock file ....lock)
    >>> sorted(p.name for p in folder.iterdir())
    []
    """

    NAME = ".lock"

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.path = self.folder / self.NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> "FolderLock":
        """Take the lock, or raise FolderInUseError naming the live process that holds it."""
        if self._fd is not None:
            return self
        for _ in range(100):  # retried only when a releasing owner removed the file under us
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                if not self._lock(fd):
                    pid = self._owner(fd)
                    raise FolderInUseError(
                        f"{self.folder} is in use by process {pid if pid is not None else '?'} "
                        f"(its lock file {self.path})", pid)
                if os.fstat(fd).st_ino != os.stat(self.path).st_ino:
                    raise FileNotFoundError  # released and removed meanwhile: take the new file
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                os.fsync(fd)
            except FileNotFoundError:
                os.close(fd)
                continue
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
            return self
        raise FolderInUseError(f"{self.folder}: could not take its lock {self.path}", None)

    @staticmethod
    def _lock(fd: int) -> bool:
        try:
            import fcntl
        except ImportError:  # no flock (Windows): the pid in the file decides
            pid = FolderLock._owner(fd)
            return pid is None or pid == os.getpid() or not _process_alive(pid)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    @staticmethod
    def _owner(fd: int) -> int | None:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            return int(os.read(fd, 64).decode("ascii").split()[0])
        except (OSError, ValueError, IndexError, UnicodeDecodeError):
            return None

    def release(self) -> None:
        """Give the lock up and remove its file (a no-op when not held)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            self.path.unlink()  # before unlocking: a waiter then finds the file gone and retries
        os.close(fd)

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


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
    array = to_host(value)  # files hold host arrays, whatever device the values came from
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
    # Standard JSON (NaN -> null): load_archive refuses NaN / Infinity as not JSON.
    meta_bytes = np.frombuffer(dumps_strict(header).encode("utf-8"), dtype=np.uint8)
    compression = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED

    def write(file: IO[bytes]) -> None:
        # Written member by member rather than with np.savez, whose keyword arguments would
        # collide with arrays named "file" or "allow_pickle".
        with zipfile.ZipFile(file, "w", compression=compression, allowZip64=True) as archive:
            for name, array in [(META_MEMBER, meta_bytes), *prepared.items()]:
                with archive.open(name + ".npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, array, allow_pickle=False)

    return write_atomic(path, write)


def max_archive_bytes() -> int:
    """The most bytes of array data a loaded archive may declare: ``CHAINRULE_MAX_ARCHIVE_BYTES``
    from the environment, else :data:`MAX_ARCHIVE_BYTES` (8 GiB).

    The metadata of an archive declares the shape of every array before a byte of them is read;
    a file that declares more than this is refused before anything is allocated, so a 2 kB file
    cannot ask for 400 GiB. Raise the limit (the ``max_bytes`` argument of :func:`load_archive`
    and :func:`load_model`, or the environment variable) to load a larger model on purpose.

    >>> max_archive_bytes() == int(os.environ.get("CHAINRULE_MAX_ARCHIVE_BYTES", MAX_ARCHIVE_BYTES))
    True
    """
    text = os.environ.get("CHAINRULE_MAX_ARCHIVE_BYTES")
    if text is None:
        return MAX_ARCHIVE_BYTES
    try:
        value = int(text)
    except ValueError:
        value = text  # not a number: validation's TypeError shows the text
    return check.integer("CHAINRULE_MAX_ARCHIVE_BYTES", value, low=0, what="a whole number of bytes")


def format_bytes(n: int) -> str:
    """``n`` bytes for people: ``'1.5 GiB'``.

    >>> format_bytes(3 * 2**30 // 2), format_bytes(512)
    ('1.5 GiB', '512 B')
    """
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def load_archive(
    path: str | os.PathLike,
    *,
    kind: str | None = None,
    allow_nonfinite: bool = False,
    max_bytes: int | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Load a chainrule archive: ``(arrays, meta)``, every array read and checked now.

    ``meta`` is the whole metadata dict: the caller's keys as saved, plus ``format``,
    ``format_version``, ``kind`` and ``arrays``. The file is read member by member without
    trusting it: the metadata first, then each member's ``.npy`` header, compared with what the
    metadata declares *before* its data is read; at most the declared number of bytes is ever
    decompressed from a member, and the declared total may not exceed ``max_bytes``. Arrays are
    read eagerly, so a truncated or corrupted file fails here and not at first use.

    Parameters
    ----------
    path : the archive.
    kind : when given, the archive's kind must equal it, and the metadata must follow that
        kind's schema (:data:`SCHEMAS`), which is checked field by field.
    allow_nonfinite : accept NaN and infinities in float and complex arrays (refused by default:
        weights that hold them are the remains of a diverged run, not a model).
    max_bytes : the most bytes of array data the file may declare (default
        :func:`max_archive_bytes`, 8 GiB).

    Raises
    ------
    FileNotFoundError : no file at ``path``.
    FormatError : not a chainrule archive (not a zip, truncated, garbled, no or bad metadata), a
        newer format version, another kind, metadata that breaks the kind's schema, arrays that
        differ from what the metadata declares, or more data than ``max_bytes``.
    """
    path = Path(path)
    limit = max_archive_bytes() if max_bytes is None else int(max_bytes)
    with open(path, "rb") as file:
        try:
            archive = zipfile.ZipFile(file)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise _invalid(path, _not_a_zip(file, exc)) from exc
        with archive:
            members = _members(path, archive)
            meta = _read_meta(path, archive, members)
            _check_header(path, meta, kind)
            declared = meta["arrays"]
            present = [name for name in members if name != META_MEMBER]
            missing = [name for name in declared if name not in present]
            extra = [name for name in present if name not in declared]
            if missing:
                raise _invalid(path, f"declared array(s) missing: {', '.join(missing)}")
            if extra:
                raise _invalid(path, f"undeclared member(s): {', '.join(extra)}")
            total = sum(_declared_nbytes(path, name, spec) for name, spec in declared.items())
            if total > limit:
                raise _invalid(
                    path,
                    f"its arrays declare {format_bytes(total)} ({total} bytes), more than the "
                    f"limit of {format_bytes(limit)} (raise it with max_bytes= or the "
                    "CHAINRULE_MAX_ARCHIVE_BYTES environment variable to load it on purpose)",
                )
            if kind is not None and kind in SCHEMAS:
                SCHEMAS[kind].check(meta, f"{path} is not a valid chainrule archive")
            arrays = {
                name: _read_member(path, archive, members[name], name, declared[name])
                for name in declared
            }
    for name, array in arrays.items():
        _check_array(path, name, array, declared[name], allow_nonfinite)
    return arrays, meta


def _invalid(path: Path, reason: str) -> FormatError:
    return FormatError(f"{path} is not a valid chainrule archive: {reason}")


def _not_a_zip(file: IO[bytes], exc: BaseException) -> str:
    """Why a file that zipfile cannot open is not an archive, from its first bytes."""
    from chainrule.data.formats import not_a_zip_reason

    with contextlib.suppress(OSError):
        file.seek(0)
        if file.read(2) == b"PK":
            return f"damaged or truncated zip ({exc})"
    return not_a_zip_reason(file)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, zipfile.BadZipFile):
        return f"damaged or truncated zip ({exc})"
    if isinstance(exc, EOFError):
        return "the member ends early (truncated)"
    return f"{type(exc).__name__}: {exc}"


def _members(path: Path, archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The archive's members by array name (``w`` for ``w.npy``; other names as they are)."""
    members: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        name = info.filename[: -len(".npy")] if info.filename.endswith(".npy") else info.filename
        if name in members:
            raise _invalid(path, f"the member {name!r} appears twice")
        members[name] = info
    return members


def _declared_nbytes(path: Path, name: str, spec: dict[str, Any]) -> int:
    try:
        dtype = np.dtype(spec["dtype"])
    except (TypeError, ValueError, SyntaxError) as exc:
        raise _invalid(path, f"array {name!r} declares an unknown dtype {spec['dtype']!r}") from exc
    if dtype.hasobject:
        raise _invalid(
            path, f"array {name!r} declares Python objects, which cannot be read without pickle"
        )
    if dtype.kind not in _STORABLE_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise _invalid(path, f"array {name!r} declares dtype {spec['dtype']!r}, which is not allowed")
    return math.prod(spec["shape"]) * dtype.itemsize


def _read_npy_header(path: Path, stream: IO[bytes], name: str) -> tuple[tuple, bool, np.dtype]:
    """``(shape, fortran_order, dtype)`` from a member's .npy header; nothing else is read."""
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ValueError(f".npy format version {version} is not one chainrule writes")
    except (ValueError, OSError, EOFError, SyntaxError, zipfile.BadZipFile) as exc:
        raise _invalid(path, f"cannot read {name!r}: {_reason(exc)}") from exc
    if dtype.hasobject:
        raise _invalid(
            path, f"array {name!r} holds Python objects, which cannot be read without pickle"
        )
    return shape, fortran, dtype


def _read_member(
    path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, spec: dict | None
) -> np.ndarray:
    """Read one member, refusing it when its header disagrees with ``spec`` before its data."""
    if not info.filename.endswith(".npy"):
        raise _invalid(path, f"member {name!r} is not a .npy array")
    try:
        stream = archive.open(info)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        raise _invalid(path, f"cannot read {name!r}: {_reason(exc)}") from exc
    with stream:
        shape, fortran, dtype = _read_npy_header(path, stream, name)
        if spec is not None:
            declared = tuple(spec["shape"])
            if shape != declared:
                raise _invalid(path, f"array {name!r} has shape {shape}, declared {declared}")
            if dtype != np.dtype(spec["dtype"]):
                raise _invalid(
                    path, f"array {name!r} has dtype {_dtype_label(dtype)}, declared {spec['dtype']}"
                )
        elif math.prod(shape) * dtype.itemsize > MAX_META_BYTES:
            raise _invalid(path, f"{name} declares more than {format_bytes(MAX_META_BYTES)}")
        array = np.empty(shape, dtype=dtype, order="F" if fortran else "C")
        buffer = memoryview(array.reshape(-1, order="A").view(np.uint8)) if array.size else None
        try:
            # Never more than the declared bytes, whatever the zip's directory claims: a member
            # that would inflate further is cut off and refused below.
            got = _read_into(stream, buffer) if buffer is not None else 0
            trailing = stream.read(1)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib_error) as exc:
            raise _invalid(path, f"cannot read {name!r}: {_reason(exc)}") from exc
        if buffer is not None and got < len(buffer):
            raise _invalid(path, f"cannot read {name!r}: its data ends early (truncated)")
        if trailing:
            raise _invalid(path, f"array {name!r} holds more data than its shape {shape}")
    return array


def _read_into(stream: IO[bytes], buffer: memoryview) -> int:
    got, chunk = 0, 1 << 24
    while got < len(buffer):
        n = stream.readinto(buffer[got : got + chunk])
        if not n:
            break
        got += n
    return got


def _read_meta(path: Path, archive: zipfile.ZipFile, members: dict) -> dict[str, Any]:
    if META_MEMBER not in members:
        raise _invalid(path, f"no {META_MEMBER} member (a plain .npz, not a chainrule archive)")
    raw = _read_member(path, archive, members[META_MEMBER], META_MEMBER, None)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise _invalid(
            path, f"{META_MEMBER} must be a 1-d uint8 array, found {raw.dtype} {raw.shape}"
        )
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
        raise _invalid(path, f"{META_MEMBER} is not UTF-8 JSON ({exc})") from exc
    except RecursionError:
        raise _invalid(path, f"{META_MEMBER} is nested too deeply to be chainrule metadata") from None
    if not isinstance(meta, dict):
        raise _invalid(path, f"{META_MEMBER} must be a JSON object, found {type(meta).__name__}")
    return meta


def _no_constant(name: str):
    # NaN / Infinity are not JSON; a file holding them was not written by chainrule.
    raise ValueError(f"{name} is not a JSON value")


def _check_header(path: Path, meta: dict[str, Any], kind: str | None) -> None:
    if meta.get("format") != FORMAT_NAME:
        raise _invalid(path, f"format is {meta.get('format')!r}, expected {FORMAT_NAME!r}")
    version = meta.get("format_version")
    try:
        with check.json_values():
            check.integer("format_version", version, low=1)
    except (TypeError, ValueError) as exc:
        raise _invalid(path, str(exc)) from None
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
# schemas: what each kind of file holds, checked field by field on load
# --------------------------------------------------------------------------------------------


def _field(path: str) -> str:
    """How a message names a field of a file: ``the field 'data.seed'``."""
    return f"the field {path!r}"


class _Check:
    """One field's rule: ``check(value, path)`` returns None, or raises :mod:`chainrule.validation`'s
    TypeError (the value's JSON type is wrong) or ValueError (its value is, or something in it),
    whose message names the field by its dotted ``path``; :class:`Schema` makes it a FormatError."""

    def check(self, value: Any, path: str) -> None:
        raise NotImplementedError


class Value(_Check):
    """A field checked by one of :mod:`chainrule.validation`'s rules, ``rule(the field 'x', value,
    *args, **kwargs)``: the same rule, and the same message, as the value gets anywhere else."""

    def __init__(self, rule: Callable[..., Any], *args: Any, **kwargs: Any):
        self.rule, self.args, self.kwargs = rule, args, kwargs

    def check(self, value, path):
        self.rule(_field(path), value, *self.args, **self.kwargs)


class Bool(Value):
    """``true`` or ``false`` (:func:`chainrule.validation.boolean`)."""

    def __init__(self):
        super().__init__(check.boolean)


class Int(Value):
    """A whole number in ``[low, high]`` (:func:`chainrule.validation.integer`); null too with ``null``."""

    def __init__(self, low: int | None = None, high: int | None = None, *, null: bool = False):
        super().__init__(check.integer, low, high, optional=null)


class Number(Value):
    """A finite number in the range the bounds give (:func:`chainrule.validation.number`); null
    too with ``null``."""

    def __init__(self, low=None, high=None, *, low_open: bool = False, high_open: bool = False,
                 null: bool = False):
        super().__init__(check.number, low, high, low_open=low_open, high_open=high_open, optional=null)


class Fraction(Value):
    """A share of a data set, in ``[0, 1)`` (:func:`chainrule.validation.fraction`)."""

    def __init__(self):
        super().__init__(check.fraction)


class Str(_Check):
    """A string (non-blank with ``nonempty``, at most ``max_len`` characters; null too with
    ``null``: :func:`chainrule.validation.text`), or one of ``choices`` (a tuple, or a function
    giving them lazily: :func:`chainrule.validation.choice`)."""

    def __init__(self, choices=None, *, nonempty: bool = False, max_len: int = 100_000, null: bool = False):
        if choices is not None and null:
            raise ValueError("Str: choices and null=True do not combine")
        self.choices, self.nonempty, self.max_len, self.null = choices, nonempty, max_len, null

    def check(self, value, path):
        if self.choices is None:
            check.text(_field(path), value, blank=not self.nonempty, max_len=self.max_len, optional=self.null)
        else:
            check.choice(_field(path), value, tuple(self.choices() if callable(self.choices) else self.choices))


class List(_Check):
    """A list of ``min_len`` to ``max_len`` items, each checked by ``item``; ``noun`` names the
    items in messages (``a list of strings``); null too with ``null``."""

    def __init__(self, item: _Check, noun: str = "items", *, min_len: int = 0, max_len: int = 10_000_000,
                 null: bool = False):
        self.item, self.noun, self.min_len, self.max_len, self.null = item, noun, min_len, max_len, null

    def check(self, value, path):
        if value is None and self.null:
            return
        if not isinstance(value, list):
            raise TypeError(check.message(_field(path), f"a list of {self.noun}", value, optional=self.null))
        if not self.min_len <= len(value) <= self.max_len:
            raise ValueError(check.message(_field(path), f"a list of {self.min_len} to {self.max_len} {self.noun}",
                                           value, optional=self.null))
        for i, item in enumerate(value):
            self.item.check(item, f"{path}[{i}]")


class Obj(_Check):
    """A JSON object: ``required`` and ``optional`` keys, each with its rule; others allowed
    unless ``closed``, each checked by ``others`` when given; null too with ``null``. ``then``,
    a function ``then(value, path)``, checks what the fields say together once each is checked
    (raising ValueError naming the fields)."""

    def __init__(self, required: dict | None = None, optional: dict | None = None, *,
                 closed: bool = False, null: bool = False, others: _Check | None = None,
                 then: Callable[[dict, str], None] | None = None):
        self.required, self.optional, self.closed, self.null = required or {}, optional or {}, closed, null
        self.others, self.then = others, then

    def check(self, value, path):
        if value is None and self.null:
            return
        if not isinstance(value, dict):
            raise TypeError(check.message(_field(path), "an object", value, optional=self.null))
        prefix = f"{path}." if path else ""
        for key in self.required:
            if key not in value:
                raise ValueError(f"{_field(prefix + key)} is missing")
        for key, item in value.items():
            rule = self.required.get(key) or self.optional.get(key)
            if rule is None:
                if self.closed:
                    raise ValueError(f"{_field(prefix + key)} is not one this file may have")
                rule = self.others
                if rule is None:
                    continue
            rule.check(item, prefix + key)
        if self.then is not None:
            self.then(value, path)


class Schema:
    """What one kind of chainrule file holds, version by version, checked field by field.

    ``versions`` maps a format version to the :class:`Obj` rule of the whole document. A file
    of a version the schema does not know is refused; every field's type and value is checked
    by :mod:`chainrule.validation`'s rules, and a problem is reported with the file's name, the
    field's dotted path and the value as the file holds it.

    >>> schema = Schema("example", {1: Obj({"epoch": Int(0)})})
    >>> schema.check({"format_version": 1, "epoch": 3}, "run.json")
    >>> schema.check({"format_version": 1, "epoch": "3"}, "run.json")
    Traceback (most recent call last):
    ...
    chainrule.io.FormatError: run.json: the field 'epoch' must be a whole number >= 0; got "3"
    """

    def __init__(self, kind: str, versions: dict[int, Obj], *, version_key: str = "format_version"):
        self.kind, self.versions, self.version_key = kind, versions, version_key

    @property
    def version(self) -> int:
        """The newest version: the one chainrule writes."""
        return max(self.versions)

    def check(self, document: Any, where: str) -> None:
        """Raise FormatError naming ``where`` and the field when ``document`` breaks the schema."""
        with check.json_values():  # a message shows a value as the file holds it: "3", null, true
            if not isinstance(document, dict):
                raise FormatError(f"{where}: {check.message('the file', 'a JSON object', document)}")
            version = document.get(self.version_key)
            if isinstance(version, bool) or not isinstance(version, int) or version not in self.versions:
                known = " or ".join(map(str, sorted(self.versions)))
                newer = (" (newer than this chainrule reads; upgrade chainrule)"
                         if isinstance(version, int) and not isinstance(version, bool)
                         and version > self.version else "")
                raise FormatError(f"{where}: " + check.message(
                    _field(self.version_key), f"{known} (the {self.kind} file versions this chainrule reads)",
                    version) + newer)
            try:
                self.versions[version].check(document, "")
            except (TypeError, ValueError) as exc:
                raise FormatError(f"{where}: {exc}") from None


def _loss_names() -> list[str]:
    from chainrule.nn import functional

    # The perceptron is trained by its own rule and saved under that name.
    return sorted({*functional.LOSSES, "perceptron"})


def _preprocessing_kinds() -> tuple[str, ...]:
    from chainrule.data import PREPROCESSING

    return PREPROCESSING


class RngState(_Check):
    """The state of a NumPy bit generator (``Generator.bit_generator.state``): one NumPy restores."""

    GENERATORS = ("MT19937", "PCG64", "PCG64DXSM", "Philox", "SFC64")
    FRAME = Obj({"bit_generator": Str(GENERATORS), "state": Obj()})

    def check(self, value, path):
        self.FRAME.check(value, path)
        try:  # restored on a fresh generator of its kind: the one test of every field it holds
            getattr(np.random, value["bit_generator"])().state = value
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            raise ValueError(f"{_field(path)} is not the state of a {value['bit_generator']} generator "
                             f"({' '.join(str(exc).split())})") from None


def _optimizer_fits(value: dict, path: str) -> None:
    """The parameter indices of an optimizer's state: 0 to n-1, once each, in order over its
    groups; its per-parameter state only for those."""
    indices = [i for group in value["param_groups"] for i in group["params"]]
    if indices != list(range(len(indices))):
        raise ValueError(f"{_field(path + '.param_groups')} must number its parameters 0 to "
                         f"{len(indices) - 1}, once each and in order; it lists {check.show(indices)}")
    for key in value["state"]:
        if not (key.isdigit() and int(key) < len(indices)):
            raise ValueError(f"{_field(path + '.state.' + key)} is the state of no parameter "
                             f"(there are {len(indices)}, numbered 0 to {len(indices) - 1})")


def _checkpoint_fits(meta: dict, path: str) -> None:
    """What a checkpoint's fields say together: one history record per finished epoch, numbered
    1, 2, ...; the evaluations of the last one; no more epochs than its config's; every array it
    refers to (``{"__array__": name}``) one it declares."""
    epoch, history = meta["epoch"], meta["history"]
    if epoch != len(history):
        raise ValueError(f"{_field('epoch')} is {epoch} but {_field('history')} holds {len(history)} "
                         "record(s); a checkpoint holds one record per finished epoch")
    for i, record in enumerate(history):
        if record["epoch"] != i + 1:
            raise ValueError(f"{_field(f'history[{i}].epoch')} is {record['epoch']}; the records number "
                             f"the epochs 1 to {len(history)} in order")
    last = history[-1].get("evaluations") if history else None
    if last is not None and "evaluations" in meta and meta["evaluations"] != last:
        raise ValueError(f"{_field('evaluations')} is {meta['evaluations']} but the last record of "
                         f"{_field('history')} has {last}")
    epochs = (meta.get("config") or {}).get("epochs")
    if epochs is not None and epoch > epochs:
        raise ValueError(f"{_field('epoch')} is {epoch}, more than the {epochs} epochs of "
                         f"{_field('config.epochs')}")
    declared = meta.get("arrays") or {}
    todo = [(meta.get(key), key) for key in ("optimizer", "callbacks")]
    while todo:  # not recursive: a deeply nested document fails as a FormatError, not a crash
        node, where = todo.pop()
        if isinstance(node, dict):
            if set(node) == {"__array__"}:
                if node["__array__"] not in declared:
                    raise ValueError(f"{_field(where)} refers to the array {check.show(node['__array__'])}, "
                                     "which the file does not hold")
                continue
            todo.extend((v, f"{where}.{k}") for k, v in node.items())
        elif isinstance(node, list):
            todo.extend((v, f"{where}[{i}]") for i, v in enumerate(node))


#: One epoch's record (``Trainer.train_epoch``): every value a number.
_RECORD = Obj({"epoch": Int(1), "loss": Number()},
              {"lr": Number(0), "train_acc": Number(0, 1), "val_loss": Number(), "val_acc": Number(0, 1),
               "seconds": Number(0), "evaluations": Int(0), "mistakes": Int(0)},
              others=Number(null=True))

_NUMBERS = List(Number(), "numbers")
_SIZE = Int(1)
_SIZES = "whole numbers >= 1"

#: The schema of every kind of file chainrule writes, by kind; the archives' ``format_version``
#: is their schema version. Every value is checked by the rule it has everywhere else (a seed by
#: :func:`chainrule.validation.seed`, a split's share by ``fraction``).
SCHEMAS: dict[str, Schema] = {
    "model": Schema("model", {1: Obj(
        # A config's dropout is checked before the model is sized: its value decides the layers'
        # names (MLP.parameter_shapes), so a bad one would read as missing arrays.
        {"model": Obj({"class": Str(nonempty=True),
                       "config": Obj(optional={"dropout": Number(0, 1, high_open=True)})})},
        {
            "chainrule_version": Str(),
            "task": Str(("classification", "regression")),
            "loss": Str(_loss_names),
            "classes": List(Str(max_len=1000), "strings"),
            "feature_names": List(Str(max_len=1000), "strings", null=True),
            "image_shape": List(_SIZE, _SIZES, min_len=2, max_len=3, null=True),
            "preprocess": Obj({"kind": Str(_preprocessing_kinds)},
                              {"mean": _NUMBERS, "scale": List(Number(0, low_open=True), "numbers > 0"),
                               "channels_first": List(_SIZE, _SIZES, min_len=3, max_len=3)}),
            "data": Obj(optional={
                "data": Str(nonempty=True), "n_samples": Int(1, null=True),
                "noise": Number(0, null=True), "label_column": Str(nonempty=True, null=True),
                "data_dir": Str(nonempty=True, null=True), "seed": Value(check.seed, optional=False),
                "test_size": Fraction(), "val_size": Fraction(),
            }),
            "name": Str(),
        },
    )}),
    "checkpoint": Schema("checkpoint", {1: Obj(
        {"epoch": Int(0), "history": List(_RECORD, "objects")},
        {
            "evaluations": Int(0),
            "config": Obj({"loss": Str(nonempty=True), "optimizer": Str(nonempty=True), "lr": Number(0, low_open=True),
                           "epochs": Int(1), "batch_size": Int(1, null=True), "reg": Number(0),
                           "schedule": Str(nonempty=True), "seed": Value(check.seed), "shuffle": Bool()},
                          {"optimizer_options": Obj()}),
            "step": Str(nonempty=True, max_len=100),  # the trainer checks it is its own
            "optimizer": Obj({"state": Obj(others=Obj(optional={"step": Int(0)})),
                              "param_groups": List(Obj({"params": List(Int(0), "parameter indices")}),
                                                   "parameter groups (objects)", min_len=1)},
                             null=True, then=_optimizer_fits),
            "schedule": Obj(null=True), "trainer": Str(), "settings": Obj(),
            "rng": RngState(),
            "callbacks": Obj({}, {"AugmentEachEpoch": Obj({"rng": RngState()}),
                                  "EarlyStopping": Obj({"best": Number(null=True), "wait": Int(0)},
                                                       {"best_state": Obj(null=True)})},
                             others=Obj()),
            "stopped": Bool(),
        },
        then=_checkpoint_fits,
    )}),
}


def load_json(path: str | os.PathLike, schema: Schema | None = None, *,
              max_bytes: int = MAX_META_BYTES) -> Any:
    """Read a JSON file strictly (no NaN / Infinity, at most ``max_bytes``), checked by ``schema``.

    >>> import tempfile, pathlib
    >>> p = write_json_atomic(pathlib.Path(tempfile.mkdtemp()) / "c.json", {"format": 1, "n": 2})
    >>> load_json(p, Schema("example", {1: Obj({"n": Int(1)})}, version_key="format"))
    {'format': 1, 'n': 2}
    """
    path = Path(path)
    with open(path, "rb") as file:
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FormatError(f"{path}: larger than {format_bytes(max_bytes)}; not a chainrule file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: not valid UTF-8 JSON ({' '.join(str(exc).split())})") from None
    what = f"a chainrule {schema.kind} file" if schema is not None else "a chainrule file"
    document = parse_json(text, str(path), what=what)
    if schema is not None:
        schema.check(document, str(path))
    return document


def parse_json(text: str | bytes, where: str, *, what: str = "a chainrule document") -> Any:
    """``json.loads`` for what a user or a file sends: strict JSON (no NaN / Infinity), and
    FormatError naming ``where`` for anything that is not, JSON nested too deeply for Python's
    parser (a RecursionError) included.

    >>> parse_json('{"n": 2}', "request")
    {'n': 2}
    >>> parse_json("[NaN]", "request")
    Traceback (most recent call last):
    ...
    chainrule.io.FormatError: request: not valid UTF-8 JSON (NaN is not a JSON value)
    >>> parse_json("[" * 100_000, "request")
    Traceback (most recent call last):
    ...
    chainrule.io.FormatError: request: nested too deeply to be a chainrule document
    """
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormatError(f"{where}: not valid UTF-8 JSON ({' '.join(str(exc).split())})") from None
    except RecursionError:
        raise FormatError(f"{where}: nested too deeply to be {what}") from None


def dumps_strict(obj: Any, **kwargs: Any) -> str:
    """``json.dumps`` that always gives standard JSON: NaN and infinities become ``null``.

    Python's json module writes ``NaN`` and ``Infinity``, which ``jq``, ``JSON.parse`` and most
    other readers reject. Every ``--json`` output of the CLI goes through this function; NumPy
    scalars and arrays become numbers and lists, paths strings.

    >>> dumps_strict({"loss": float("nan"), "acc": [0.5, float("inf")]})
    '{"loss": null, "acc": [0.5, null]}'
    """
    return json.dumps(_strict(obj), allow_nan=False, **kwargs)


def _strict(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (np.generic, np.ndarray)):
        return _strict(obj.tolist())
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, Mapping):
        return {k: _strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict(v) for v in obj]
    return obj


# --------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------


#: Module classes a model file may name, by class name, beyond nn's MLP, CNN and Linear: the
#: layers above io add theirs with :func:`register_model_class` (chainrule.models registers the
#: classic models when it is imported, which ``import chainrule`` does).
MODEL_CLASSES: dict = {}


def register_model_class(cls) -> type:
    """Let :func:`load_model` rebuild ``cls``; returns ``cls``.

    ``cls`` must be a Module with ``get_config()`` and a classmethod ``parameter_shapes(config)``
    giving the shape of every array its ``state_dict`` holds (parameters and buffers) without
    building it: that is how :func:`load_model` refuses a small file whose config asks for a
    huge model before anything is allocated. It may also declare ``widths(config)``, its
    ``(inputs, outputs)``, when its first weight matrix does not tell them (as ``nn.CNN`` does).
    """
    from chainrule import nn

    if not (isinstance(cls, type) and issubclass(cls, nn.Module) and hasattr(cls, "get_config")):
        raise TypeError(f"a model class must be a chainrule Module with get_config(); got {cls!r}")
    if not callable(getattr(cls, "parameter_shapes", None)):
        raise TypeError(f"the model class {cls.__name__} has no parameter_shapes(config): load_model sizes a file's "
                        "model from it before building anything; give it a classmethod returning "
                        "{name: shape} for every array of its state_dict")
    MODEL_CLASSES[cls.__name__] = cls
    return cls


def _model_classes() -> dict:
    """The Module classes a model file may name: nn's MLP, CNN and Linear, and the registered ones."""
    from chainrule import nn

    return {"MLP": nn.MLP, "CNN": nn.CNN, "Linear": nn.Linear, **MODEL_CLASSES}


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


def model_widths(model) -> tuple[int, int]:
    """``(inputs, outputs)`` of a model: what its class declares (``widths(config)``, as ``nn.CNN``
    does), else its first weight matrix's columns and its last parameter's rows.

    >>> import chainrule as cr
    >>> model_widths(cr.nn.MLP(3, [4], 2)), model_widths(cr.nn.CNN((1, 8, 8), 3, "c2"))
    ((3, 2), (64, 3))
    """
    if hasattr(type(model), "widths"):
        return type(model).widths(model.get_config())
    return _widths({name: tuple(p.shape) for name, p in model.named_parameters()})


def _widths(shapes: Mapping[str, tuple]) -> tuple[int, int]:
    matrices = [s for s in shapes.values() if len(s) == 2]
    if not matrices:
        raise ValueError("the model has no weight matrix, so its input width is unknown")
    return int(matrices[0][1]), int(list(shapes.values())[-1][0])


def load_model(path: str | os.PathLike, device=None, *, max_bytes: int | None = None):
    """Load a model saved by :func:`save_model`: ``(model, meta)``, everything checked first.

    The metadata follows the ``"model"`` schema (:data:`SCHEMAS`); the class's
    ``parameter_shapes(config)`` (every class a file may name has one) must equal the arrays the
    file declares *before* the model is built, so a small file cannot make chainrule allocate a
    huge network (the message names the size the config describes); and what the metadata says
    about the model must fit it: as many class names as outputs (two for one output), feature
    names, image shape and preprocessing statistics as wide as its input (the widths the class
    declares, ``widths(config)``, else its first weight matrix's).
    ``max_bytes`` is :func:`load_archive`'s limit.

    The file holds host arrays whatever device the model was trained on; the model is built on
    the CPU, or moved to ``device`` ("cuda", "cuda:N", a Device) when one is given.
    """
    path = Path(path)
    arrays, meta = load_archive(path, kind="model", max_bytes=max_bytes)
    spec = meta["model"]
    classes = _model_classes()
    try:
        with check.json_values():
            cls = classes[check.choice(_field("model.class"), spec["class"], sorted(classes))]
    except ValueError as exc:
        raise _invalid(path, str(exc)) from None
    declared = {name: tuple(d["shape"]) for name, d in meta["arrays"].items()}
    try:
        shapes = {name: tuple(shape) for name, shape in cls.parameter_shapes(spec["config"]).items()}
        widths = cls.widths(spec["config"]) if hasattr(cls, "widths") else None
    except (TypeError, ValueError, KeyError) as exc:
        raise _invalid(path, f"the {spec['class']} config {spec['config']} is invalid: {exc}") from exc
    if shapes != declared:
        wrong = next((n for n in shapes if shapes[n] != declared.get(n)), None)
        detail = (f"'{wrong}' of shape {shapes[wrong]}, but the file holds "
                  f"{declared[wrong] if wrong in declared else 'no such array'}") if wrong else \
            f"the parameters {sorted(shapes)}, but the file holds {sorted(declared)}"
        size = 4 * sum(math.prod(shape) for shape in shapes.values())  # float32, the models' dtype
        raise _invalid(path, f"its model config {spec['config']} builds {detail} (the config describes "
                             f"{format_bytes(size)} of float32 arrays)")
    # The metadata must fit the widths: the class's own, or those of its first weight matrix.
    if widths is None and any(len(shape) == 2 for shape in shapes.values()):
        widths = _widths(shapes)
    if widths is not None:
        _check_model_meta(path, meta, *widths)
    try:
        model = cls(**spec["config"])
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
    if device is not None:
        model.to(device)
    return model, meta


def _check_model_meta(path: Path, meta: dict, inputs: int, outputs: int) -> None:
    """What the metadata says about the model must fit its input and output widths."""
    loss, task = meta.get("loss"), meta.get("task")
    if loss is not None and task is not None and (loss == "mse") != (task == "regression"):
        raise _invalid(path, f"the field 'loss' is {loss!r} but the field 'task' is {task!r}")
    names = meta.get("classes")
    if names is not None:
        regression = task == "regression" or loss == "mse"
        wanted = 0 if regression else (2 if outputs == 1 else outputs)
        if len(names) != wanted and not (regression and not names):
            what = "a regression model has none" if regression else \
                f"a model with {outputs} output(s) has {wanted}"
            raise _invalid(path, f"the field 'classes' names {len(names)} class(es); {what}")
        if len(set(names)) != len(names):
            raise _invalid(path, f"the field 'classes' repeats a name: {names[:10]}")
    features = meta.get("feature_names")
    if features is not None and len(features) != inputs:
        raise _invalid(path, f"the field 'feature_names' names {len(features)} feature(s); "
                             f"the model takes {inputs}")
    image = meta.get("image_shape")
    if image is not None and math.prod(image) != inputs:
        raise _invalid(path, f"the field 'image_shape' {image} holds {math.prod(image)} values; "
                             f"the model takes {inputs}")
    pre = meta.get("preprocess")
    if pre is not None:
        check_preprocess_widths(path, pre, inputs)


def check_preprocess_widths(path, pre: dict, inputs: int | None) -> None:
    """A model file's preprocessing must hold the statistics its kind needs, as many as the
    model's ``inputs`` (one for ``global-standardize``), and reorder rows of ``inputs`` values."""
    needed = {"standardize": ("mean", "scale"), "global-standardize": ("mean", "scale"),
              "mean-image": ("mean",)}.get(pre["kind"], ())
    for key in needed:
        if key not in pre:
            raise _invalid(path, f"the field 'preprocess.{key}' is missing ({pre['kind']} needs it)")
        wanted = 1 if pre["kind"] == "global-standardize" else inputs
        if wanted is not None and len(pre[key]) != wanted:
            raise _invalid(path, f"the field 'preprocess.{key}' has {len(pre[key])} values; "
                                 + ("global-standardize keeps one" if wanted == 1 and inputs != 1
                                    else f"the model takes {inputs} features"))
    order = pre.get("channels_first")
    if order is not None and inputs is not None and math.prod(order) != inputs:
        raise _invalid(path, f"the field 'preprocess.channels_first' {order} holds {math.prod(order)} values; "
                             f"the model takes {inputs}")
