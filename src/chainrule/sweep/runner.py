"""Running a sweep on Dask: a local cluster by default, or an existing one by its address.

The client (this process) owns the sweep: it plans the trials, submits each as a task with
``Client.submit``, takes the results as they complete (``as_completed``) and writes them. The
workers need nothing but chainrule: a trial returns its model, metrics and history to the
client, and a trial that continues (successive halving) is sent its checkpoint, so no shared
file system is needed. A worker that dies mid-trial has its task rescheduled on another worker
by the scheduler; a trial that fails by itself (divergence, settings that do not fit) comes back
as a failed result with its message, and the sweep goes on.

Nothing here imports Dask until a sweep runs, so ``import chainrule.sweep`` works without it.
"""
from __future__ import annotations

import contextlib
import logging
import math
import os
import time
import traceback
import uuid

__all__ = ["SchedulerUnreachable", "DaskMissing", "execute", "open_client", "DEFAULT_CONNECT_TIMEOUT"]

DEFAULT_CONNECT_TIMEOUT = 10.0
# A task whose worker died is rescheduled by the scheduler itself (up to
# distributed.scheduler.allowed-failures times); these retries cover errors raised around the
# trial function (unpickling on a worker), which the trial's own try/except cannot see.
RETRIES = 2
_BLAS_ENV = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}


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
    each with one thread and one BLAS thread, is started and shut down on exit. With
    ``scheduler="tcp://HOST:PORT"`` the client connects to that scheduler and waits at most
    ``connect_timeout`` seconds for it (SchedulerUnreachable after that).
    """
    distributed = _import_distributed()
    if scheduler is None:
        n = workers or local_workers()
        with distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                      dashboard_address=":0", silence_logs=logging.ERROR,
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


def execute(trial, settings: dict, resume=None, blas_threads: int = 1) -> dict:
    """Run one trial on a worker: ``trial(settings, resume=...)``, timed, its failures caught.

    Returns the trial's outcome dict (``status``, ``metrics``, ``history``, ``seconds``, and
    whatever the trial adds for writing it), or ``{"status": "failed", "error": ...}`` when the
    trial raised: a trial that fails by itself is a result, not an error of the sweep.
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
                "seconds": time.perf_counter() - began, "metrics": {}, "history": []}
    outcome.setdefault("status", "ok")
    outcome.setdefault("seconds", time.perf_counter() - began)
    return outcome


def submit_all(client, trial, jobs, *, blas_threads: int = 1):
    """Submit ``jobs`` (``(key, settings, resume)``) and yield ``(key, outcome)`` as they complete.

    A task that Dask itself gives up on (its workers kept dying: ``KilledWorker``) yields a failed
    outcome naming why; losing the scheduler raises ConnectionError.
    """
    distributed = _import_distributed()
    futures = {}
    for key, settings, resume in jobs:
        future = client.submit(execute, trial, settings, resume, blas_threads, pure=False, retries=RETRIES,
                               key=f"chainrule-trial-{key}-{uuid.uuid4().hex[:8]}")
        futures[future] = key
    try:
        for future in distributed.as_completed(list(futures)):
            key = futures[future]
            try:
                outcome = future.result()
            except distributed.KilledWorker as exc:
                outcome = {"status": "failed", "metrics": {}, "history": [], "seconds": math.nan,
                           "error": f"the workers running it died repeatedly ({_one_line(exc)})"}
            except (distributed.client.FutureCancelledError, OSError) as exc:
                raise ConnectionError(f"lost the Dask cluster while trial {key} ran ({_one_line(exc)})") from None
            except Exception as exc:  # raised outside the trial function, after the retries
                outcome = {"status": "failed", "metrics": {}, "history": [], "seconds": math.nan,
                           "error": f"{type(exc).__name__}: {_one_line(exc)}"}
            future.release()
            yield key, outcome
    finally:
        for future in futures:
            if not future.done():
                future.cancel()
