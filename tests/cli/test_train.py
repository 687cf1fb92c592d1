"""`chainrule train`, end to end: each test runs the command (in-process through ``cli.main``,
as a process where the process is the point: kill -9 and Ctrl-C) and checks its exit code, the run
folder it writes, its JSON and its pictures; --resume; divergence.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import json
import signal
import subprocess
import time
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from chainrule import cli, io
from chainrule.data import DATASETS
from chainrule.data import download as download_module

from cli_helpers import assert_png, cli_env, command, load_weights, ok, run_cli, three_class_rows, write_csv


# ====================================================================== the main job
def test_default_train_reaches_97_percent_and_writes_the_run_folder(default_run):
    run_dir, out, seconds = default_run
    assert seconds < 60
    assert out["test"]["accuracy"] >= 0.97
    assert out["epochs"] == 30 and out["settings"] == {
        "data": "digits", "n_samples": None, "noise": None, "label_column": None, "data_dir": None,
        "preprocess": "standardize", "model": "mlp", "hidden": [128], "activation": "relu", "loss": None,
        "optimizer": "adam", "lr": 1e-3, "schedule": "none", "reg": 0.0, "epochs": 30, "batch_size": 32,
        "seed": 0, "test_size": 0.25, "val_size": 0.1, "patience": None, "device": "cpu", "capture": False}
    for name in ("model.npz", "config.json", "metrics.json", "metrics.csv", "checkpoint.npz", "curves.png",
                 "weights.png"):
        assert (run_dir / name).is_file(), name
    assert not (run_dir / "decision_regions.png").exists()  # 64-D data has no plane to shade
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".")]  # no temporary files
    config = json.loads((run_dir / "config.json").read_text())
    assert config["command"] == "train" and config["settings"]["hidden"] == [128]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] == out["test"]["accuracy"]
    assert [r["epoch"] for r in metrics["history"]] == list(range(1, 31))
    assert metrics["history"][-1]["loss"] < metrics["history"][0]["loss"] / 10
    lines = (run_dir / "metrics.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,loss,train_acc,val_loss,val_acc") and len(lines) == 31
    assert float(lines[-1].split(",")[1]) == pytest.approx(metrics["history"][-1]["loss"], rel=1e-5)
    model, meta = io.load_model(run_dir / "model.npz")
    assert type(model).__name__ == "MLP" and model.get_config()["hidden_sizes"] == [128]
    assert meta["classes"] == [str(k) for k in range(10)] and meta["loss"] == "cross-entropy"
    assert meta["preprocess"]["kind"] == "standardize" and len(meta["preprocess"]["mean"]) == 64
    assert_png(run_dir / "curves.png")
    assert_png(run_dir / "weights.png")
    _, ckpt = io.load_archive(run_dir / "checkpoint.npz", kind="checkpoint")
    assert ckpt["epoch"] == 30


# ====================================================================== other models and data
def test_two_dimensional_run_prints_progress_and_draws_decision_regions(tmp_path):
    result = ok(run_cli("train", "--data", "spiral", "--hidden", "32", "--lr", "0.01", "--epochs", "3",
                        "--out", "spiral", cwd=tmp_path))
    lines = result.stdout.splitlines()
    assert lines[0].startswith("training mlp [32] relu on spiral")
    assert [line.split()[1] for line in lines if line.startswith("epoch")] == ["1/3", "2/3", "3/3"]
    assert "done: test accuracy" in lines[-2]
    assert result.stderr == ""  # stderr is a pipe here, not a terminal: no bar, the lines above
    assert_png(tmp_path / "spiral" / "decision_regions.png")
    assert not (tmp_path / "spiral" / "weights.png").exists()


def test_linear_models_train_through_fit_and_report_scores_or_probabilities(tmp_path):
    from sklearn.datasets import load_breast_cancer

    out = json.loads(ok(run_cli("train", "--data", "digits", "--model", "softmax", "--epochs", "5", "--lr", "0.01",
                                "--out", "softmax", "--json", cwd=tmp_path)).stdout)
    assert out["test"]["accuracy"] > 0.9 and out["files"]["weights"].endswith("weights.png")
    image = assert_png(tmp_path / "softmax" / "weights.png")
    assert image.shape[1] > 2 * image.shape[0]  # ten 8x8 templates side by side
    model, meta = io.load_model(tmp_path / "softmax" / "model.npz")
    assert type(model).__name__ == "LinearClassifier" and model.weight.shape == (10, 64)
    _, ckpt = io.load_archive(tmp_path / "softmax" / "checkpoint.npz", kind="checkpoint")
    assert ckpt["config"]["loss"] == "cross-entropy" and ckpt["epoch"] == 5

    data = load_breast_cancer()
    write_csv(tmp_path / "rows.csv", None, data.data[:10].tolist())
    for model_name, column in (("logistic", "p(benign)"), ("binary-svm", "score(benign vs malignant)")):
        res = json.loads(ok(run_cli("train", "--data", "breast-cancer", "--model", model_name, "--epochs", "10",
                                    "--out", model_name, "--json", cwd=tmp_path)).stdout)
        assert res["test"]["accuracy"] > 0.85
        rows = list(csv.DictReader(ok(run_cli("predict", "--model", model_name, "--input", tmp_path / "rows.csv",
                                              cwd=tmp_path)).stdout.splitlines()))
        assert len(rows) == 10 and column in rows[0]
        for r in rows:
            positive = float(r[column]) > 0.5 if model_name == "logistic" else float(r[column]) >= 0
            assert r["class"] == ("benign" if positive else "malignant")
        if model_name == "logistic":
            assert float(rows[0]["p(malignant)"]) + float(rows[0]["p(benign)"]) == pytest.approx(1, abs=1e-5)


def test_perceptron_uses_its_own_rule_and_resumes(tmp_path):
    rows = three_class_rows()
    write_csv(tmp_path / "flowers.csv", ["x1", "x2", "species"], rows)
    args = ["train", "--data", tmp_path / "flowers.csv", "--model", "perceptron", "--epochs", "4", "--json"]
    out = json.loads(ok(run_cli(*args, "--out", "p", cwd=tmp_path)).stdout)
    history = json.loads((tmp_path / "p" / "metrics.json").read_text())["history"]
    assert "mistakes" in history[0] and out["test"]["accuracy"] >= 0.9
    assert out["settings"]["optimizer"] is None and out["settings"]["lr"] == 1.0
    _, meta = io.load_model(tmp_path / "p" / "model.npz")
    assert meta["classes"] == ["setosa", "versicolor", "virginica"] and meta["loss"] == "perceptron"
    assert_png(tmp_path / "p" / "decision_regions.png")
    evaluation = json.loads(ok(run_cli("evaluate", "p", "--json", cwd=tmp_path)).stdout)
    assert [r["class"] for r in evaluation["per_class"]] == ["setosa", "versicolor", "virginica"]
    # A resumed finished run rewrites the same model.
    before = load_weights(tmp_path / "p" / "model.npz")
    ok(run_cli("train", "--resume", "p", "--json", cwd=tmp_path))
    after = load_weights(tmp_path / "p" / "model.npz")
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_regression_csv_trains_with_squared_error(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(160, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.05 * rng.normal(size=160)
    write_csv(tmp_path / "reg.csv", ["a", "b", "c", "target"], np.column_stack([X, y]).round(5).tolist())
    out = json.loads(ok(run_cli("train", "--data", "reg.csv", "--epochs", "40", "--out", "r", "--json",
                                cwd=tmp_path)).stdout)
    assert out["test"]["r2"] > 0.9 and "accuracy" not in out["test"]
    write_csv(tmp_path / "x.csv", ["c", "a", "b"], [[0, 1, 0], [0, 0, 1]])  # columns matched by name
    rows = list(csv.DictReader(ok(run_cli("predict", "--model", "r", "--input", "x.csv", cwd=tmp_path)).stdout.splitlines()))
    assert [float(r["prediction"]) for r in rows] == pytest.approx([1.0, -2.0], abs=0.4)


# ====================================================================== kill -9, Ctrl-C and --resume
RESUME_ARGS = ["train", "--data", "digits", "--hidden", "32", "--batch-size", "2", "--epochs", "20", "--json"]


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"the run ended early: {proc.communicate()}"
        assert time.monotonic() < deadline, f"no {path} after {timeout}s"
        time.sleep(0.02)


def test_kill_9_then_resume_gives_bit_identical_weights_and_ctrl_c_exits_130(tmp_path):
    env = cli_env(tmp_path)
    reference = subprocess.Popen(command(*RESUME_ARGS, "--out", "reference"), cwd=tmp_path, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    killed = subprocess.Popen(command(*RESUME_ARGS, "--out", "killed"), cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Python turns SIGINT into KeyboardInterrupt only when it is not ignored at startup, which it
    # is for background jobs of some shells: give the child the default disposition.
    interrupted = subprocess.Popen(command(*RESUME_ARGS, "--out", "interrupted"), cwd=tmp_path, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        _wait_for(tmp_path / "killed" / "checkpoint.npz", killed)
        time.sleep(0.05)  # into the second epoch (an epoch takes ~0.1 s here)
        assert killed.poll() is None
        killed.send_signal(signal.SIGKILL)
        killed.wait(10)
        _wait_for(tmp_path / "interrupted" / "checkpoint.npz", interrupted)
        time.sleep(0.15)
        interrupted.send_signal(signal.SIGINT)
        out, err = interrupted.communicate(timeout=30)
    finally:
        for proc in (killed, interrupted):
            if proc.poll() is None:
                proc.kill()
    assert killed.returncode == -signal.SIGKILL
    assert not (tmp_path / "killed" / "model.npz").exists()
    _, meta = io.load_archive(tmp_path / "killed" / "checkpoint.npz", kind="checkpoint")
    assert 1 <= meta["epoch"] < 20

    assert interrupted.returncode == 130 and out == ""
    assert err.splitlines() == [err.strip()] and err.startswith("chainrule: error: interrupted: the checkpoint of epoch")
    assert "--resume interrupted" in err

    for name in ("killed", "interrupted"):
        resumed = json.loads(ok(run_cli("train", "--resume", name, "--json", cwd=tmp_path)).stdout)
        assert resumed["epochs"] == 20
    assert reference.wait(120) == 0, reference.stderr.read()
    expected = load_weights(tmp_path / "reference" / "model.npz")
    for name in ("killed", "interrupted"):
        weights = load_weights(tmp_path / name / "model.npz")
        assert weights.keys() == expected.keys()
        for key in expected:
            assert np.array_equal(weights[key], expected[key]), (name, key)
        assert not [p for p in (tmp_path / name).iterdir() if p.name.startswith(".")]


def test_divergence_is_exit_1_with_one_line_and_no_folder(tmp_path):
    result = run_cli("train", "--data", "spiral", "--optimizer", "sgd", "--lr", "1e30", "--epochs", "2",
                     "--out", "d", "--json", cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("chainrule: error: the loss became") and result.stderr.count("\n") == 1
    assert not (tmp_path / "d").exists()  # no epoch finished: nothing worth keeping


# ====================================================================== downloads, faked in-process
def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    return gzip.compress(header + array.astype(">u1").tobytes())


def test_mnist_from_generated_idx_files_trains_and_draws_templates(tmp_path, monkeypatch, capsys):
    rng = np.random.default_rng(0)
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    for prefix, n in (("train", 200), ("t10k", 50)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 60, size=(n, 28, 28))
        for k in range(10):  # each class lights up its own band of rows
            images[labels == k, 2 * k + 4: 2 * k + 6, 4:24] = 250
        for name, array in ((f"{prefix}-images-idx3-ubyte.gz", images), (f"{prefix}-labels-idx1-ubyte.gz", labels)):
            data = _idx(np.asarray(array))
            (folder / name).write_bytes(data)
            monkeypatch.setitem(DATASETS["mnist"].files, name, hashlib.sha256(data).hexdigest())
    code = cli.main(["train", "--data", "mnist", "--data-dir", str(tmp_path / "data"), "--model", "softmax",
                     "--epochs", "3", "--lr", "0.01", "--out", str(tmp_path / "run"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["test"]["n"] == 50 and out["test"]["accuracy"] >= 0.9
    image = assert_png(tmp_path / "run" / "weights.png")
    assert image.shape[1] > 3 * image.shape[0]
    _, meta = io.load_model(tmp_path / "run" / "model.npz")
    assert meta["image_shape"] == [28, 28] and meta["data"]["data"] == "mnist"


def test_offline_download_is_one_line_naming_the_url_and_the_path(tmp_path, monkeypatch, capsys):
    def offline(url, timeout):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(download_module, "urlopen", offline)
    code = cli.main(["train", "--data", "fashion-mnist", "--data-dir", str(tmp_path / "data"),
                     "--out", str(tmp_path / "run")])
    captured = capsys.readouterr()
    # The network failed, not the user: exit 1, and the one line lists what to fetch by hand.
    assert code == 1 and captured.out == ""
    line = captured.err.strip()
    assert line.startswith("chainrule: error: could not download fashion-mnist") and "\n" not in line
    assert f"put them in {tmp_path / 'data' / 'fashion-mnist'}: " in line
    spec = DATASETS["fashion-mnist"]
    for name, digest in spec.files.items():
        assert f"{name} from {spec.mirrors[0]}{name} (SHA-256 {digest})" in line
    assert not (tmp_path / "run").exists()


def test_random_search_trains_through_fit_with_lr_as_the_draw_scale(tmp_path):
    out = json.loads(ok(run_cli("train", "--data", "blobs", "--model", "softmax", "--optimizer", "random-search",
                                "--lr", "2", "--epochs", "30", "--batch-size", "full", "--out", "rs", "--json",
                                cwd=tmp_path)).stdout)
    history = json.loads((tmp_path / "rs" / "metrics.json").read_text())["history"]
    assert [r["evaluations"] for r in history] == list(range(1, 31))  # one draw per full-batch epoch
    assert history[0]["lr"] == 2  # the scale of the draws
    assert out["test"]["accuracy"] >= 0.5  # the best of 30 random linear classifiers; chance is 1/3


@pytest.mark.parametrize("epochs", ["1", "5"])
def test_a_diverging_run_exits_1_and_writes_no_model_or_checkpoint(tmp_path, epochs):
    res = run_cli("train", "--data", "spiral", "--optimizer", "sgd", "--lr", "1e30", "--batch-size", "full",
                  "--epochs", epochs, "--out", "run", "--json", cwd=tmp_path)
    assert res.returncode == 1 and res.stdout == "" and "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chainrule: error: after the last step of epoch 1 the ")
    assert "smaller learning rate (--lr)" in lines[0]
    assert not (tmp_path / "run").exists()  # nothing of the run is left: no model, no checkpoint
