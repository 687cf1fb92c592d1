"""A small trial for testing the sweep machinery without the training core: logistic regression
by gradient descent on a fixed synthetic set, exact and fast, with a checkpoint to resume from.

Workers started by the tests import it (they get this folder on PYTHONPATH).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

DEFAULTS = {"lr": 0.1, "reg": 0.0, "epochs": 4, "seed": 0, "sleep": 0.0, "hidden": [8], "model": "toy"}


def _data(seed: int):
    rng = np.random.default_rng(12345)  # the same data for every trial, like a fixed split
    X = rng.normal(size=(200, 3))
    y = (X @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.normal(size=200) > 0).astype(float)
    return X[:150], y[:150], X[150:], y[150:]


class ToyTrial:
    def __init__(self, log_dir=None):
        self.log_dir = log_dir  # where each run drops a line (to count how often a trial ran)

    def base_settings(self, given: dict) -> dict:
        unknown = set(given) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown settings {sorted(unknown)}")
        return {**DEFAULTS, **given}

    def __call__(self, settings: dict, resume=None) -> dict:
        if self.log_dir is not None:
            try:
                from distributed import get_worker

                worker = get_worker().name
            except (ImportError, ValueError):
                worker = "client"
            with open(Path(self.log_dir) / f"{settings['lr']!r}-{settings['epochs']}@{worker}@{time.time_ns()}", "w"):
                pass
        if settings["model"] != "toy":
            raise ValueError(f"unknown model {settings['model']!r}")
        if settings["lr"] > 50:
            raise FloatingPointError(f"the loss diverged at lr {settings['lr']:g}")
        X, y, Xv, yv = _data(settings["seed"])
        w0 = np.random.default_rng(settings["seed"]).normal(size=3) * 0.1
        start, w = (0, w0) if resume is None else (resume["epoch"], np.array(resume["w"]))
        history = [] if resume is None else list(resume["history"])
        for epoch in range(start, settings["epochs"]):
            time.sleep(settings["sleep"])
            p = 1 / (1 + np.exp(-(X @ w)))
            w = w - settings["lr"] * (X.T @ (p - y) / len(y) + 2 * settings["reg"] * w)
            pv = 1 / (1 + np.exp(-(Xv @ w)))
            val_loss = float(-np.mean(yv * np.log(pv + 1e-12) + (1 - yv) * np.log(1 - pv + 1e-12)))
            val_acc = float(np.mean((pv >= 0.5) == yv))
            history.append({"epoch": epoch + 1, "val_loss": val_loss, "val_acc": val_acc})
        metrics = dict(history[-1])
        state = {"epoch": settings["epochs"], "w": w.tolist(), "history": history}
        return {"metrics": metrics, "history": history, "checkpoint": state,
                "result": {"w": w.tolist(), "settings": settings}}

    def write(self, folder: Path, outcome: dict) -> None:
        # Where it was written: the trial folder itself, or a worker's temporary folder.
        (Path(folder) / "result.json").write_text(json.dumps({**outcome["result"], "written_in": str(folder)}))
        (Path(folder) / "checkpoint.json").write_text(json.dumps(outcome["checkpoint"]))

    def read_checkpoint(self, folder: Path):
        return json.loads((Path(folder) / "checkpoint.json").read_text())
