"""What the tests of the `chainrule` command share: running it (in this process through
``cli.main``, or as a process) with a private data cache and offline, checking a clean exit, and
reading what it wrote (PNG pictures, saved weights).

pytest puts this folder on ``sys.path`` (its default import mode), so a test imports it as
``from cli_helpers import ...``.
"""
from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

import numpy as np

from chainrule import io

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def cli_env(tmp: Path) -> dict:
    """The environment a test runs the command in: a data cache of its own under ``tmp``, no
    debug tracebacks, no warnings, and offline for certain (every download goes to a closed
    local port)."""
    env = dict(os.environ)
    env["CHAINRULE_DATA"] = str(tmp / "cache")  # never touch the user's cache
    env.pop("CHAINRULE_DEBUG", None)
    env["PYTHONWARNINGS"] = "ignore"
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env[proxy] = "http://127.0.0.1:9"
    env.pop("no_proxy", None)
    env.pop("NO_PROXY", None)
    return env


def command(*args) -> list:
    """The command line of ``python -m chainrule ARGS`` with this interpreter."""
    return [sys.executable, "-m", "chainrule", *map(str, args)]


def run_cli(*args, cwd: Path):
    """``chainrule ARGS`` in ``cwd``, in this process (:func:`run_in_process`): what the tests of
    a subcommand's results use. A test about the process itself (a kill, Ctrl-C, two at once, the
    console script) starts one with :func:`command`."""
    return run_in_process(args, cwd)


def run_in_process(args, cwd: Path, env: dict | None = None):
    """``chainrule ARGS`` run in this process: ``cli.main(args)``, all the console script calls
    (``sys.exit(main())``), in ``cwd`` with ``env`` (default ``cli_env(cwd)``) as the whole
    environment, stdout and stderr captured. A CompletedProcess-like result; an exception that
    escapes main gives ``returncode`` None and its traceback in ``stderr``.

    For what a separate process shows nothing more about: a second's interpreter start less per
    command. Not thread-safe (the working folder and the environment are the process's).
    """
    from contextlib import redirect_stderr, redirect_stdout
    from io import StringIO
    from types import SimpleNamespace

    from chainrule import cli

    env = cli_env(Path(cwd)) if env is None else env
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    out, err = StringIO(), StringIO()
    try:
        os.environ.clear()
        os.environ.update(env)
        os.chdir(cwd)
        with redirect_stdout(out), redirect_stderr(err):
            code = cli.main([str(a) for a in args])
    except BaseException:  # noqa: BLE001  what escaped main is the command's failure, shown with it
        import traceback

        code, err = None, StringIO(err.getvalue() + traceback.format_exc())
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def ok(result):
    assert result.returncode == 0, f"exit {result.returncode}\nstdout: {result.stdout[-2000:]}\nstderr: {result.stderr[-2000:]}"
    assert "Traceback" not in result.stderr
    return result


def assert_png(path: Path, min_width: int = 200, min_height: int = 150) -> np.ndarray:
    """A real PNG picture: its signature, decodable, big enough and not one flat colour."""
    import matplotlib.image

    path = Path(path)
    assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] >= min_height and image.shape[1] >= min_width, image.shape
    assert float(image[..., :3].std()) > 0.01, f"{path} is blank"
    return image


def load_weights(path: Path) -> dict:
    model, _ = io.load_model(path)
    return model.state_dict()


def write_csv(path: Path, header, rows) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        if header is not None:
            writer.writerow(header)
        writer.writerows(rows)
    return path


def three_class_rows(n_per_class=20, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for k, (name, centre) in enumerate([("setosa", (-2, 0)), ("versicolor", (2, 0)), ("virginica", (0, 3))]):
        for x in rng.normal(centre, 0.6, size=(n_per_class, 2)):
            rows.append([f"{x[0]:.4f}", f"{x[1]:.4f}", name])
    return rows
