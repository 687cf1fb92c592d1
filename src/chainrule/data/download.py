"""Downloads into a cache folder, verified by SHA-256 and written atomically.

A file is only ever visible under its final name once its digest has been checked: it is
streamed into a temporary file in the same folder and moved into place with `os.replace`,
so an interrupted or corrupted download can never be mistaken for a good one.

Tests (and users behind a proxy) replace the network by assigning `urlopen` in this module
or by passing ``opener=`` to `fetch`.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import logging
import os
import re
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

#: The opener `fetch` uses unless given one: called as ``urlopen(url, timeout=seconds)``, it
#: must return a context manager with ``read(size)``. Monkeypatch it to keep tests offline.
urlopen: Callable = urllib.request.urlopen

_CHUNK = 1 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")


class DownloadError(OSError):
    """A file could not be downloaded (offline, HTTP error, timeout): the machine's or the
    network's failure, not the user's input (the CLI exits with 1).

    The message names the URL(s) tried and the path where the file can be placed by hand;
    ``reason`` is why the first URL failed, ``files`` the file names still missing and
    ``folder`` where they belong.
    """

    def __init__(self, message: str, *, reason: str = "", files=(), folder=None):
        super().__init__(message)
        self.reason, self.files, self.folder = reason or message, list(files), folder


def cache_dir() -> Path:
    """Return the folder downloaded datasets are kept in.

    ``$CHAINRULE_DATA`` if set; otherwise ``chainrule`` inside the platform's cache folder:
    ``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux and other Unixes, ``~/Library/Caches`` on
    macOS, ``%LOCALAPPDATA%`` on Windows. The folder is not created here.

    Examples
    --------
    >>> cache_dir()  # doctest: +SKIP
    PosixPath('/home/ada/.cache/chainrule')
    """
    return _cache_dir(sys.platform, os.environ, Path.home)


def _cache_dir(platform: str, environ: Mapping[str, str], home: Callable[[], Path]) -> Path:
    if environ.get("CHAINRULE_DATA"):
        return Path(environ["CHAINRULE_DATA"]).expanduser()
    if platform == "darwin":
        root = home() / "Library" / "Caches"
    elif platform.startswith(("win32", "cygwin")):
        root = Path(environ["LOCALAPPDATA"]) if environ.get("LOCALAPPDATA") else (
            home() / "AppData" / "Local"
        )
    else:
        # The XDG spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
        xdg = environ.get("XDG_CACHE_HOME", "")
        root = Path(xdg) if xdg and os.path.isabs(xdg) else home() / ".cache"
    return root / "chainrule"


def sha256_file(path) -> str:
    """Return the hex SHA-256 digest of a file, read in 1 MiB chunks.

    Examples
    --------
    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "empty"
    >>> _ = f.write_bytes(b"")
    >>> sha256_file(f)[:16]
    'e3b0c44298fc1c14'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(
    url: str | Sequence[str],
    filename: str,
    sha256: str,
    data_dir=None,
    *,
    opener: Callable | None = None,
    timeout: float = 60.0,
) -> Path:
    """Return the path of a verified local copy of a file, downloading it if needed.

    If ``data_dir/filename`` exists and its SHA-256 is ``sha256`` it is used as is. Otherwise
    the file is streamed into a temporary file in ``data_dir``, its digest checked, and the
    temporary file renamed over ``data_dir/filename`` (atomic on one filesystem).

    Parameters
    ----------
    url : str or sequence of str
        Where to download from; with several, mirrors tried in order until one answers.
    filename : str
        Name of the file inside ``data_dir``.
    sha256 : str
        Expected hex digest (64 characters).
    data_dir : str or os.PathLike, optional
        Folder to keep the file in, created if missing; `cache_dir()` by default.
    opener : callable, optional
        Replaces the module's `urlopen` (``opener(url, timeout=...)``).
    timeout : float
        Seconds to wait for the server on each blocking operation.

    Returns
    -------
    pathlib.Path
        ``data_dir / filename``, with the expected digest.

    Raises
    ------
    DownloadError
        No URL could be read; the message names them and the path to place the file at.
    ValueError
        The downloaded bytes have the wrong digest; nothing is left on disk.

    Examples
    --------
    >>> import io, tempfile
    >>> payload = b"hello"
    >>> digest = hashlib.sha256(payload).hexdigest()
    >>> path = fetch("https://example.org/hello.txt", "hello.txt", digest, tempfile.mkdtemp(),
    ...              opener=lambda url, timeout: io.BytesIO(payload))
    >>> path.read_bytes()
    b'hello'
    """
    urls = [url] if isinstance(url, str) else list(url)
    if not urls:
        raise ValueError("fetch needs at least one URL, got an empty list")
    if not isinstance(filename, str) or not filename or Path(filename).name != filename:
        raise ValueError(f"filename must be a bare file name, got {filename!r}")
    expected = str(sha256).lower()
    if not _SHA256.fullmatch(expected):
        raise ValueError(f"sha256 must be 64 hexadecimal characters, got {sha256!r}")
    folder = Path(data_dir).expanduser() if data_dir is not None else cache_dir()
    target = folder / filename
    if target.is_file():
        actual = sha256_file(target)
        if actual == expected:
            return target
        logger.warning(
            "%s has SHA-256 %s, expected %s; downloading it again", target, actual, expected
        )
    created = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    open_url = opener if opener is not None else urlopen
    failures = []
    for source in urls:
        logger.info("downloading %s to %s", source, target)
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{filename}.", suffix=".part")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                try:
                    actual = _stream(open_url, source, timeout, out)
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    # URLError, HTTPError, timeouts and resets are OSErrors; a short read is an
                    # HTTPException; urllib raises ValueError for a malformed URL.
                    failures.append(f"{source} ({_reason(exc)})")
                    continue
            if actual != expected:
                raise ValueError(
                    f"checksum mismatch for {filename} downloaded from {source}: expected "
                    f"SHA-256 {expected}, got {actual}; the file was deleted"
                )
            os.replace(tmp, target)
            return target
        finally:
            tmp.unlink(missing_ok=True)
    for made in created:  # a failed download leaves no empty folders behind (deepest first)
        with contextlib.suppress(OSError):
            made.rmdir()
    raise DownloadError(
        f"could not download {filename} from {', '.join(failures)}; download it by hand "
        f"and place it at {target}",
        reason=", ".join(failures), files=[filename], folder=folder,
    )


def _stream(open_url: Callable, url: str, timeout: float, out) -> str:
    """Copy ``url`` into the open file ``out``; return the SHA-256 of what was written."""
    digest = hashlib.sha256()
    with open_url(url, timeout=timeout) as response:
        for chunk in iter(lambda: response.read(_CHUNK), b""):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__
