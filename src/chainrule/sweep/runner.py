"""Running a sweep on Dask: a local cluster by default, or an existing one by its address.

The client (this process) owns the sweep: it plans the trials, submits each as a task with
``Client.submit``, takes the results as they complete (``as_completed``) and records them in
sweep.json. The worker that trains a trial also writes its run folder (:func:`execute`):

- in place, when it sees the sweep folder: same machine, or a shared file system at the same
  path. The client writes a new ``session`` id into sweep.json before it submits anything; a
  worker that reads that id at the path it was given sees the client's folder, and nothing else
  can (a folder of the same name on another machine holds another id, or none);
- otherwise (a cluster without a shared file system, or ``shared_folder=False``) into a
  temporary folder of its own, whose files travel back to the client, which writes each one
  atomically.

Either way the client never loads the data or draws a picture, and the folder holds the same
files. A trial that continues (successive halving) is sent its checkpoint. A worker that dies
mid-trial has its task rescheduled on another worker by the scheduler (the trial runs again
from its start and rewrites its folder with the same content); a trial that fails by itself
(divergence, settings that do not fit) comes back as a failed result with its message, and the
sweep goes on.

Nothing here imports Dask until a sweep runs, so ``import chainrule.sweep`` works without it.
"""
from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile
import time
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

__all__ = ["SchedulerUnreachable", "DaskMissing", "Destination", "execute", "open_client", "sees_sweep",
           "submit_all", "write_files", "write_folder", "draw_plots", "DEFAULT_CONNECT_TIMEOUT",
           "LOCAL_CLUSTER_CONFIG"]

DEFAULT_CONNECT_TIMEOUT = 10.0
# A task whose worker died is rescheduled by the scheduler itself (up to
# distributed.scheduler.allowed-failures times); these retries cover errors raised around the
# trial function (unpickling on a worker), which the trial's own try/except cannot see.
RETRIES = 2
_BLAS_ENV = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
# Dask settings of the local cluster a sweep starts (its workers get them from the client's
# config). Its workers run one trial at a time, and nobody profiles them, so what Dask
# does on the side for a dashboard is turned down: the statistical profiler (it samples each
# task's stack every 10 ms, interrupting the trial), the event loop's health check (every
# 20 ms) and the system and memory monitors (2 and 10 times a second). Measured on 16 trials
# of a short sweep: 15 % less CPU in all, the client's share a third of what it was
# (benchmarks/PERFORMANCE_LOG.md, "Sweeps, third pass"). A cluster started by hand keeps its own.
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
}


class SchedulerUnreachable(ConnectionError):
    """The Dask scheduler named by ``scheduler=`` did not answer within the connect timeout."""


class DaskMissing(ImportError):
    """``dask[distributed]`` is not installed; the message says what to install."""


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise DaskMissing('sweeps run on Dask, which is not installed: pip install "chainrule[sweep]" '
                          '(or pip install "dask[distributed]")') from None
    return distributed


def local_workers() -> int:
    """One worker per core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


@contextlib.contextmanager
def open_client(scheduler: str | None = None, *, workers: int | None = None,
                connect_timeout: float = DEFAULT_CONNECT_TIMEOUT):
    """A ``distributed.Client``: on the cluster at ``scheduler``, or on a new local cluster.

    With no ``scheduler`` a ``LocalCluster`` of ``workers`` processes (default: one per core),
    each with one thread and one BLAS thread and Dask's side work for dashboards turned down
    (:data:`LOCAL_CLUSTER_CONFIG`), is started and shut down on exit. Its scheduler's HTTP
    server (health checks; the dashboard, when bokeh is installed) listens on a free port of
    127.0.0.1 only, never on every interface, so two sweeps at once do not compete for 8787. With
    ``scheduler="tcp://HOST:PORT"`` the client connects to that scheduler and waits at most
    ``connect_timeout`` seconds for it (SchedulerUnreachable after that).
    """
    distributed = _import_distributed()
    if scheduler is None:
        import dask

        n = workers or local_workers()
        with dask.config.set(LOCAL_CLUSTER_CONFIG), \
                distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                         dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR,
                                         env=dict(_BLAS_ENV)) as cluster, \
                distributed.Client(cluster) as client:
            yield client
        return
    check_address(scheduler)
    try:
        client = distributed.Client(scheduler, timeout=connect_timeout)
    except (OSError, TimeoutError) as exc:
        raise SchedulerUnreachable(f"cannot reach the Dask scheduler at {scheduler} within "
                                   f"{connect_timeout:g} s ({_one_line(exc)}); is 'dask scheduler' "
                                   "running there, and the port open?") from None
    try:
        yield client
    finally:
        client.close()


def check_address(address: str) -> None:
    """ValueError unless ``address`` looks like ``tcp://HOST:PORT`` (or tls://, inproc://)."""
    text = str(address)
    scheme, sep, rest = text.partition("://")
    if scheme not in ("tcp", "tls", "inproc", "ucx", "ws", "wss") or not sep or not rest:
        raise ValueError(f"--scheduler {text!r}: expected an address such as tcp://HOST:8786")
    if scheme in ("tcp", "tls"):
        host, colon, port = rest.rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"--scheduler {text!r}: expected tcp://HOST:PORT with a port from 1 to 65535")


def _one_line(exc) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


@dataclass(frozen=True)
class Destination:
    """Where a trial's run folder goes: ``folder`` (absolute) of the sweep whose ``sweep.json``
    (``marker``) names ``session``. ``shared`` None lets the worker find out whether it sees the
    folder; False makes it send the files back even when it could write them in place."""

    folder: str
    marker: str
    session: str
    shared: bool | None = None


# What this process found out, per (sweep.json path, session): whether it sees that sweep folder.
_SEEN: dict = {}


def sees_sweep(marker: str, session: str) -> bool:
    """Whether the sweep.json at ``marker`` names ``session``: this process sees the client's folder."""
    from chainrule import io

    key = (marker, session)
    if key not in _SEEN:
        try:
            _SEEN[key] = io.parse_json(Path(marker).read_text(encoding="utf-8"), marker).get("session") == session
        except (OSError, ValueError, AttributeError):
            _SEEN[key] = False
    return _SEEN[key]


# What a finished trial sends back besides its folder: what sweep.json records of it.
_RECORDED = ("status", "metrics", "seconds", "error")


def execute(trial, settings: dict, resume=None, blas_threads: int = 1, destination: Destination | None = None) -> dict:
    """Run one trial on a worker: ``trial(settings, resume=...)``, timed, its failures caught,
    and its run folder written (``trial.write``) when ``destination`` says where.

    Returns what the client records: ``status``, ``metrics``, ``seconds`` (and ``error`` for a
    failed trial); with no destination also the ``checkpoint`` (a halving sweep kept in memory
    continues from it). The folder is written in place when this worker sees the sweep folder
    (:func:`sees_sweep`), else its files come back as ``files`` (``{relative path: bytes}``)
    for the client to write (:func:`write_files`). A trial that raised is a failed result, not
    an error of the sweep.
    """
    began = time.perf_counter()
    limits = contextlib.nullcontext()
    if blas_threads:
        with contextlib.suppress(ImportError):
            from threadpoolctl import threadpool_limits

            limits = threadpool_limits(limits=blas_threads)
    try:
        with limits:
            outcome = dict(trial(settings, resume=resume))
    except Exception as exc:  # the trial's own failure (divergence, bad settings): recorded
        if os.environ.get("CHAINRULE_DEBUG"):
            traceback.print_exc()
        return {"status": "failed", "error": f"{type(exc).__name__}: {_one_line(exc)}",
                "seconds": time.perf_counter() - began, "metrics": {}}
    outcome.setdefault("status", "ok")
    outcome.setdefault("seconds", time.perf_counter() - began)
    sent = {k: outcome[k] for k in _RECORDED if k in outcome}
    if destination is None:
        if "checkpoint" in outcome:
            sent["checkpoint"] = outcome["checkpoint"]
    elif sent["status"] == "ok":
        sent.update(write_folder(lambda folder: trial.write(folder, outcome), destination))
    return sent


def write_folder(write, destination: Destination) -> dict:
    """Call ``write(folder)`` on ``destination.folder`` when this process sees the sweep folder
    (``{"written": True}``), else on a temporary folder whose files it returns (``{"files": ...}``,
    for :func:`write_files` on the client)."""
    if destination.shared is not False and sees_sweep(destination.marker, destination.session):
        folder = Path(destination.folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write(folder)
            return {"written": True}
        except PermissionError:  # visible but not writable here: the client writes it
            pass
    with tempfile.TemporaryDirectory(prefix="chainrule-trial-") as tmp:
        write(Path(tmp))
        return {"files": {p.relative_to(tmp).as_posix(): p.read_bytes()
                          for p in sorted(Path(tmp).rglob("*")) if p.is_file()}}


def draw_plots(records: list, space, metric: str, destination: Destination, only=None) -> dict:
    """The sweep's plots (:func:`chainrule.sweep.plots.write_plots`; ``only`` one of them), drawn
    on a worker: its matplotlib is imported already (it drew the trials' pictures), the client's
    need not be."""
    from chainrule.sweep.plots import write_plots

    return write_folder(lambda folder: write_plots(folder, records, space, metric, only), destination)


def write_files(folder: Path, files: dict) -> None:
    """Write a trial folder's ``files`` (``{relative path: bytes}``, from a worker) into ``folder``,
    each one atomically; ValueError for a path that would leave the folder."""
    from chainrule import io

    folder = Path(folder)
    for name, data in files.items():
        rel = PurePosixPath(name)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts or not isinstance(data, bytes):
            raise ValueError(f"a worker sent the trial file {name!r}; expected a relative path and bytes")
        io.write_atomic(folder.joinpath(*rel.parts), lambda fh, data=data: fh.write(data), make_parents=True)


def submit_all(client, trial, jobs, *, blas_threads: int = 1):
    """Submit ``jobs`` (``(key, settings, resume, destination)``) and yield ``(key, outcome)`` as
    they complete (:func:`execute`'s outcome).

    A task that Dask itself gives up on (its workers kept dying: ``KilledWorker``) yields a failed
    outcome naming why; losing the scheduler raises ConnectionError.
    """
    distributed = _import_distributed()
    futures = {}
    for key, settings, resume, destination in jobs:
        future = client.submit(execute, trial, settings, resume, blas_threads, destination, pure=False, retries=RETRIES,
                               key=f"chainrule-trial-{key}-{uuid.uuid4().hex[:8]}")
        futures[future] = key
    try:
        for future in distributed.as_completed(list(futures)):
            key = futures[future]
            try:
                outcome = future.result()
            except distributed.KilledWorker as exc:
                outcome = {"status": "failed", "metrics": {}, "seconds": math.nan,
                           "error": f"the workers running it died repeatedly ({_one_line(exc)})"}
            except (distributed.client.FutureCancelledError, OSError) as exc:
                raise ConnectionError(f"lost the Dask cluster while trial {key} ran ({_one_line(exc)})") from None
            except Exception as exc:  # raised outside the trial function, after the retries
                outcome = {"status": "failed", "metrics": {}, "seconds": math.nan,
                           "error": f"{type(exc).__name__}: {_one_line(exc)}"}
            future.release()
            yield key, outcome
    finally:
        for future in futures:
            if not future.done():
                future.cancel()
