"""Real Dask clusters for the sweep tests: a scheduler and workers started as subprocesses on
127.0.0.1 (free ports), and stopped at the end. Workers import this folder's toy trial."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

HERE = Path(__file__).resolve().parent
START_TIMEOUT = 90  # seconds: a busy 2-core machine starts Python processes slowly


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


class Cluster:
    """``dask scheduler`` and ``dask worker`` processes; ``kill(worker)`` ends one with SIGKILL."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.scheduler_file = folder / "scheduler.json"
        self.procs = []
        self.workers = {}
        self.scheduler = self._start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                      "--scheduler-file", str(self.scheduler_file)], "scheduler")
        deadline = time.monotonic() + START_TIMEOUT
        while not self._address():
            if time.monotonic() > deadline or self.scheduler.poll() is not None:
                raise RuntimeError(f"the dask scheduler did not start: {(folder / 'scheduler.log').read_text()}")
            time.sleep(0.1)

    def _start(self, args, name):
        log = open(self.folder / f"{name}.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "dask", *args], env=_env(), stdout=log,
                                stderr=subprocess.STDOUT, cwd=self.folder, start_new_session=True)
        self.procs.append(proc)
        return proc

    def _address(self):
        try:
            return json.loads(self.scheduler_file.read_text())["address"]
        except (OSError, ValueError, KeyError):
            return None

    @property
    def address(self) -> str:
        return self._address()

    def add_workers(self, *names) -> None:
        for name in names:
            (self.folder / name).mkdir(exist_ok=True)
            # No nanny: the process is the worker, so killing it kills the worker outright.
            self.workers[name] = self._start(
                ["worker", self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard", "--name", name,
                 "--host", "127.0.0.1", "--local-directory", str(self.folder / name)], name)
        with distributed.Client(self.address, timeout=START_TIMEOUT) as client:
            client.wait_for_workers(len(self.workers), timeout=START_TIMEOUT)

    def kill(self, name: str) -> None:
        self.workers[name].send_signal(signal.SIGKILL)
        self.workers[name].wait(10)

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@pytest.fixture
def new_cluster(tmp_path_factory):
    """A factory of fresh clusters (scheduler only; add workers), all stopped after the test."""
    made = []

    def make():
        cluster = Cluster(tmp_path_factory.mktemp("cluster"))
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        cluster.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two workers, shared by a test module's tests."""
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        c.add_workers("w0", "w1")
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster.address, timeout=START_TIMEOUT) as c:
        yield c
