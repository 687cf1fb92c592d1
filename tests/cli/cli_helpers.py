"""What the tests of the `chainrule` command share: running it in a subprocess with a private
data cache, checking a clean exit, and reading what it wrote (PNG pictures, saved weights).

pytest puts this folder on ``sys.path`` (its default import mode), so a test imports it as
``from cli_helpers import ...``.
"""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from chainrule import io

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def cli_env(tmp: Path) -> dict:
    env = dict(os.environ)
    env["CHAINRULE_DATA"] = str(tmp / "cache")  # never touch the user's cache
    env.pop("CHAINRULE_DEBUG", None)
    env["PYTHONWARNINGS"] = "ignore"
    return env


def command(*args) -> list:
    return [sys.executable, "-m", "chainrule.cli", *map(str, args)]


def run_cli(*args, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(command(*args), cwd=cwd, env=cli_env(Path(cwd)), capture_output=True, text=True,
                          timeout=timeout)


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
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
