"""Run folders a user can trust: one run per folder (a lock for the run's life), a kill while
any file of the run is written leaves a folder that --resume or a new run finishes, and
--resume refuses data that changed since the run started.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from chainrule import io

from cli_helpers import cli_env as env, command, run_in_process

ROWS = "\n".join(f"{x:.3f},{(x * 7) % 3 - 1:.3f},{'ab'[int(x * 10) % 2]}" for x in np.linspace(-1, 1, 40))


def chainrule(*args, cwd: Path, **kw) -> subprocess.CompletedProcess:
    """The command as a process: for what needs one (two at once, a lock held by another
    process, a kill, a terminal, a resource limit)."""
    return subprocess.run(command(*args), cwd=cwd, env=env(cwd), capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL, **kw)


def here(*args, cwd: Path):
    """The command in this process (``cli.main``): for a run that a process shows nothing more about."""
    return run_in_process(args, cwd)


def one_error_line(result) -> str:
    assert result.returncode == 2 and result.stdout == "", (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("chainrule: error: ") and "Traceback" not in result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("runs")
    (folder / "points.csv").write_text("x1,x2,label\n" + ROWS + "\n")
    return folder


TRAIN = ["train", "--data", "points.csv", "--model", "softmax", "--epochs", "6", "--batch-size", "4"]


def test_two_runs_started_together_on_one_folder_never_mix(data):
    # Started at the same moment, with different seeds: one run owns the folder; the other is
    # refused with one line (the folder is in use, or already holds a run) and changes nothing.
    cwd = data / "together"
    cwd.mkdir()
    shutil.copy(data / "points.csv", cwd)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda seed: chainrule(*TRAIN, "--seed", seed, "--out", "same", "--json", cwd=cwd),
                                (1, 2)))
    codes = sorted(r.returncode for r in results)
    assert codes == [0, 2], [r.stderr for r in results]
    winner = next(r for r in results if r.returncode == 0)
    loser = next(r for r in results if r.returncode == 2)
    line = one_error_line(loser)
    assert "in use by another chainrule" in line or "already holds a run" in line
    seed = json.loads(winner.stdout)["settings"]["seed"]
    config = json.loads((cwd / "same" / "config.json").read_text())
    _, model_meta = io.load_model(cwd / "same" / "model.npz")
    _, ckpt = io.load_archive(cwd / "same" / "checkpoint.npz", kind="checkpoint")
    assert config["settings"]["seed"] == model_meta["data"]["seed"] == ckpt["config"]["seed"] == seed
    assert not (cwd / "same" / ".lock").exists()


def test_a_second_resume_of_a_running_run_is_refused(data):
    cwd = data / "second"
    cwd.mkdir()
    shutil.copy(data / "points.csv", cwd)
    # A long run (many tiny epochs); once it has a checkpoint, resuming it from elsewhere is refused.
    proc = subprocess.Popen([sys.executable, "-m", "chainrule", *TRAIN[:5], "--epochs", "100000", "--out", "r",
                             "--json"], cwd=cwd, env=env(cwd), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = 200
        import time

        start = time.monotonic()
        while not (cwd / "r" / "checkpoint.npz").exists():
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() - start < deadline
            time.sleep(0.05)
        before = {p.name for p in (cwd / "r").iterdir()}
        line = one_error_line(chainrule("train", "--resume", "r", cwd=cwd))
        assert f"--resume r: the run folder is in use by another chainrule (process {proc.pid}" in line
        line = one_error_line(chainrule(*TRAIN, "--out", "r", cwd=cwd))
        assert "already holds a run" in line or "in use" in line
        assert {p.name for p in (cwd / "r").iterdir()} <= before | {"checkpoint.npz"}
    finally:
        proc.kill()
        proc.wait(10)


RUN_FILES = ("config.json", "checkpoint.npz", "model.npz", "metrics.json", "metrics.csv", "curves.png",
             "decision_regions.png")


@pytest.fixture(scope="module")
def reference(data) -> Path:
    """An uninterrupted run: what every killed and resumed run must end with."""
    cwd = data / "reference"
    cwd.mkdir()
    shutil.copy(data / "points.csv", cwd)
    result = here(*TRAIN, "--out", "run", "--json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return cwd / "run"


def _killed_folder(data: Path, reference: Path, killed_while: str) -> Path:
    """The folder a kill during the write of ``killed_while`` leaves: the files written before it
    (copied from an uninterrupted run), half of its temporary file, the dead run's lock."""
    cwd = data / f"kill-{killed_while}"
    cwd.mkdir()
    shutil.copy(data / "points.csv", cwd)
    run = cwd / "run"
    run.mkdir()
    for name in RUN_FILES[: RUN_FILES.index(killed_while)]:
        shutil.copy(reference / name, run / name)
    half = (reference / killed_while).read_bytes()
    (run / f".{killed_while}.k1ll3d.tmp").write_bytes(half[: len(half) // 2])
    (run / ".lock").write_text("999999999\n")  # the killed run's lock: stale
    return cwd


@pytest.fixture(scope="module")
def killed(data, reference) -> dict:
    """Every kill case finished, in this process (the folder on disk is all a resume reads; the
    killed run's lock names a process that does not exist): {file: (cwd, [results])}."""
    def finish(name):
        cwd = _killed_folder(data, reference, name)
        if name == "config.json":
            # The run never started: --resume says so, and a new run on the folder just works.
            return cwd, [here("train", "--resume", "run", cwd=cwd), here(*TRAIN, "--out", "run", "--json", cwd=cwd)]
        return cwd, [here("train", "--resume", "run", "--json", cwd=cwd)]

    return {name: finish(name) for name in RUN_FILES}


# Every file of a run is written to .NAME.XXXX.tmp and then renamed: a kill during the write
# leaves the temporary file and the previous version of the file (or none). These folders are
# that state, made on purpose for each file in turn. (A kill during a later checkpoint write
# leaves the previous checkpoint beside the temporary: tests/cli/test_train.py's kill -9 test resumes
# from exactly that.)
@pytest.mark.parametrize("killed_while", RUN_FILES)
def test_a_kill_while_each_file_is_written_leaves_a_folder_that_is_finished(killed, reference, killed_while):
    cwd, results = killed[killed_while]
    if killed_while == "config.json":
        line = one_error_line(results[0])
        assert "its run was stopped while it started; start it again with chainrule train --out run" in line
    result = results[-1]
    assert result.returncode == 0, result.stderr
    run = cwd / "run"
    assert sorted(p.name for p in run.iterdir()) == sorted(RUN_FILES)  # no temporary, no lock left
    expected, _ = io.load_model(reference / "model.npz")
    got, _ = io.load_model(run / "model.npz")
    for (name, a), (_, b) in zip(expected.named_parameters(), got.named_parameters()):
        assert np.array_equal(a.numpy(), b.numpy()), name


def test_resume_refuses_changed_data_unless_asked(data, reference):
    cwd = data / "changed"
    cwd.mkdir()
    (cwd / "points.csv").write_text("x1,x2,label\n" + ROWS + "\n")
    first = here(*TRAIN, "--epochs", "2", "--out", "run", "--json", cwd=cwd)
    assert first.returncode == 0, first.stderr
    config = json.loads((cwd / "run" / "config.json").read_text())
    assert len(config["data_sha256"]) == 64
    # Continue it for more epochs? Not with other settings; but the data file itself changed:
    (cwd / "points.csv").write_text("x1,x2,label\n" + ROWS.replace("0.", "1.", 3) + "\n")
    before = {p.name: p.stat().st_mtime_ns for p in (cwd / "run").iterdir()}
    line = one_error_line(here("train", "--resume", "run", cwd=cwd))
    assert "--resume run: the training data points changed since the run started (SHA-256 " in line
    assert "pass --allow-changed-data to continue on the new data" in line
    assert {p.name: p.stat().st_mtime_ns for p in (cwd / "run").iterdir()} == before
    allowed = here("train", "--resume", "run", "--allow-changed-data", "--json", cwd=cwd)
    assert allowed.returncode == 0, allowed.stderr
    line = one_error_line(here(*TRAIN, "--out", "new", "--allow-changed-data", cwd=cwd))
    assert "--allow-changed-data applies to --resume only" in line


def test_progress_is_a_live_bar_on_a_terminal_lines_in_a_log_and_nothing_with_quiet(data):
    import pty

    cwd = data / "progress"
    cwd.mkdir()
    shutil.copy(data / "points.csv", cwd)
    logged = here(*TRAIN, "--epochs", "3", "-o", "log", cwd=cwd)  # stderr captured: not a terminal
    assert logged.returncode == 0 and logged.stderr == ""  # not a terminal: no bar at all
    assert [line.split()[1] for line in logged.stdout.splitlines() if line.startswith("epoch")] == ["1/3", "2/3", "3/3"]
    quiet = here(*TRAIN, "--epochs", "3", "-o", "quiet", "-q", cwd=cwd)
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert not [line for line in quiet.stdout.splitlines() if line.startswith("epoch")]
    assert "done: test accuracy" in quiet.stdout
    import threading

    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()  # stderr on a terminal: tqdm's live bar
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 100-column terminal
    shown = []

    def read():
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            shown.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        proc = subprocess.run([sys.executable, "-m", "chainrule", *TRAIN, "--epochs", "3", "-o", "tty"], cwd=cwd,
                              env=env(cwd), stdout=subprocess.PIPE, stderr=slave, text=True, timeout=300,
                              stdin=subprocess.DEVNULL)
    finally:
        os.close(slave)
        reader.join(10)
        os.close(master)
    assert proc.returncode == 0
    bar = b"".join(shown)
    assert b"batch/s" in bar and b"loss=" in bar, bar[-500:]


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="watches /proc/PID/maps for NumPy to load")
def test_ctrl_c_while_the_command_starts_is_one_line_and_exit_130(data):
    import signal
    import time

    # Interrupted while its modules load: the moment NumPy's core library appears in the process,
    # chainrule's own imports are under way (Python's own start-up, before any chainrule code, is
    # not chainrule's to report).
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-m", "chainrule", *TRAIN], cwd=data, env=env(data),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        maps = Path(f"/proc/{proc.pid}/maps")
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                if "_multiarray_umath" in maps.read_text():
                    break
            except OSError:
                pass
            time.sleep(0.002)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert "Traceback" not in err, err
        assert proc.returncode == 130 and out == "" and err == "chainrule: error: interrupted\n", (proc.returncode, err)
    assert not (data / "runs").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="uses RLIMIT_FSIZE to make the disk refuse a write")
def test_a_disk_that_refuses_a_write_is_exit_1_naming_the_file_and_the_run_resumes(data):
    import resource

    cwd = data / "full-disk"
    cwd.mkdir()
    shutil.copy(data / "points.csv", cwd)

    def small_files():  # no file may grow past 20 kB: the first larger write fails (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    failed = chainrule(*TRAIN, "-o", "run", cwd=cwd, preexec_fn=small_files)
    lines = failed.stderr.splitlines()
    assert failed.returncode == 1 and len(lines) == 1 and "Traceback" not in failed.stderr, failed.stderr
    assert lines[0].startswith("chainrule: error: run/") and lines[0].endswith(": cannot write it: File too large")
    assert not [p for p in (cwd / "run").iterdir() if p.name.startswith(".")]  # no temporary, no lock
    resumed = chainrule("train", "--resume", "run", "--json", cwd=cwd)  # room again: it finishes
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(p.name for p in (cwd / "run").iterdir()) == sorted(RUN_FILES)
