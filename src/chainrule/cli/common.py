"""What the `chainrule` subcommands share: errors, output, data preparation and model heads.

Nothing outside the CLI imports this module. Heavy libraries (scikit-learn, matplotlib, tqdm)
are imported by the functions that need them, so ``chainrule --help`` and the commands that
fail on their arguments answer quickly.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chainrule.io import dumps_strict
from chainrule.data.preprocess import PREPROCESSING as _PREPROCESSING
from chainrule.data.preprocess import apply_preprocessing, fit_preprocessing


class UsageError(Exception):
    """Bad input from the user: reported as one line on stderr with exit code 2."""


# ====================================================================== parsing
class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``chainrule: error: ...``) and exit code 2."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


class Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog):
        super().__init__(prog, max_help_position=30, width=100)


# ====================================================================== argument types
def positive_float(text):
    value = finite_float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def nonnegative_float(text):
    value = finite_float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def finite_float(text):
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def int_at_least(minimum):
    """An argparse type: a whole number >= minimum, with a message naming the bad text."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {minimum}, got {text!r}")
        return value

    return parse


positive_int = int_at_least(1)
nonnegative_int = int_at_least(0)
MAX_SEED = 2**32 - 1  # NumPy's and scikit-learn's seeds are 32-bit


def seed_arg(text):
    """A seed: a whole number from 0 to 2**32 - 1, checked before anything runs."""
    value = nonnegative_int(text)
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to {MAX_SEED}, got {text!r}")
    return value


def batch_size_arg(text):
    """``full`` (all examples: vanilla gradient descent), N (mini-batches) or 1 (SGD)."""
    if str(text).strip().lower() in ("full", "all", "none"):
        return "full"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be 'full' or a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 'full' or a whole number >= 1, got {text!r}")
    return value


def fraction(text):
    value = finite_float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be a fraction in [0, 1), got {text!r}")
    return value


def strategy_step(text):
    name, sep, value = str(text).partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected STRATEGY=VALUE such as sgd=0.01, got {text!r}")
    return name.strip(), positive_float(value)


def registry_names(module: str, attr: str) -> list:
    import importlib

    return list(getattr(importlib.import_module(module), attr))


# ====================================================================== output
def say(*parts, quiet: bool = False) -> None:
    """Print a line for people on stdout (suppressed when ``--json`` owns stdout)."""
    if not quiet:
        print(*parts, flush=True)


def emit_json(obj) -> None:
    """Print one JSON object on stdout: the whole machine-readable answer of a command.

    Standard JSON only (``io.dumps_strict``): a NaN or infinite number is printed as ``null``.
    """
    print(dumps_strict(obj, indent=2), flush=True)


def one_line(text: str) -> str:
    """``text`` folded onto one line (error messages must stay one line on stderr)."""
    return " ".join(str(text).split())


# ====================================================================== file checks
def check_output_file(path, what: str = "--output") -> Path:
    """A file path that can be written: its folder exists and it is not a folder itself."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{what} {path} is a folder; give a file name")
    folder = path.parent
    if not folder.is_dir():
        why = "is not a folder" if folder.exists() else "does not exist"
        raise UsageError(f"cannot write {what} {path}: the folder {folder} {why}")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"cannot write {what} {path}: the folder {folder} is not writable")
    return path


def check_output_dir(path, what: str = "--out") -> Path:
    """A folder that exists and is writable, or can be created (not created here)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{what} {path} is a file, not a folder")
    ancestor = path
    while not ancestor.exists():
        if ancestor.parent == ancestor:
            break
        ancestor = ancestor.parent
    if ancestor.exists() and not ancestor.is_dir():
        raise UsageError(f"cannot create {what} {path}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {what} {path}: {ancestor} is not writable")
    return path


class MadeDirs:
    """Create folders and remember which ones this command created, to remove them on failure."""

    def __init__(self):
        self.created: list[Path] = []
        self.files: list[Path] = []

    def make(self, path: Path) -> Path:
        missing = []
        p = Path(path)
        while not p.exists():
            missing.append(p)
            if p.parent == p:
                break
            p = p.parent
        for p in reversed(missing):
            try:
                p.mkdir()
            except OSError as exc:
                raise UsageError(f"cannot create the folder {p}: {exc.strerror or exc}") from None
            self.created.append(p)
        return Path(path)

    def wrote(self, path) -> Path:
        self.files.append(Path(path))
        return Path(path)

    def undo(self) -> None:
        """Remove the files recorded and the folders created (deepest first), if empty."""
        for f in self.files:
            try:
                f.unlink()
            except OSError:
                pass
        for d in reversed(self.created):
            try:
                d.rmdir()
            except OSError:
                pass


# ====================================================================== datasets
def load_data(name, *, seed=0, n_samples=None, noise=None, data_dir=None, label_column=None):
    """``chainrule.data.load_dataset`` with the CLI's messages for a missing file."""
    from chainrule.data import load_dataset

    text = str(name)
    if text.lower().endswith((".csv", ".npz")) and not Path(text).is_file():
        raise UsageError(f"--data {text}: no such file")
    if label_column is not None and not text.lower().endswith(".csv"):
        raise UsageError(f"--label-column applies to CSV files only, not to --data {text}")
    return load_dataset(text, seed=seed, n_samples=n_samples, noise=noise, data_dir=data_dir,
                        label_column=label_column)


@dataclass
class Splits:
    """The train / validation / test parts of a dataset, before and after preprocessing."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    raw_train: np.ndarray  # the training part before preprocessing (for pictures in data space)
    preprocess: dict = field(default_factory=lambda: {"kind": "none"})


def split_data(ds, *, test_size: float, val_size: float, seed: int) -> tuple:
    """Seeded (train, val, test) parts, stratified by class; val_size is a fraction of what test leaves.

    Sets published with an official split (mnist, fashion-mnist, cifar10) keep their test part.
    A set too small to stratify (a part would hold fewer examples than there are classes) is
    split without stratification.
    """
    if ds.split is not None:
        train, test = ds.official_split()
        parts = _split(train.X, train.y, val_size, 0.0, seed, ds.task == "classification")
        return parts.X_train, parts.y_train, parts.X_test, parts.y_test, test.X, test.y
    return _split(ds.X, ds.y, test_size, val_size * (1 - test_size), seed, ds.task == "classification")


def _split(X, y, test_size, val_size, seed, stratify):
    from chainrule.data import train_val_test_split

    if stratify:
        try:
            return train_val_test_split(X, y, test_size=test_size, val_size=val_size, seed=seed, stratify=True)
        except ValueError:
            pass  # scikit-learn's verdict: too few examples of some class for every part
    return train_val_test_split(X, y, test_size=test_size, val_size=val_size, seed=seed, stratify=False)


PREPROCESSING = _PREPROCESSING
fit_preprocess = fit_preprocessing


def apply_preprocess(spec: dict | None, X, *, what: str = "the data") -> np.ndarray:
    """``chainrule.data.apply_preprocessing``: float32, finite after the conversion and the step."""
    return apply_preprocessing(spec, X, what=what)


def prepare(ds, *, test_size: float, val_size: float, seed: int, preprocess: str) -> Splits:
    """Split ``ds`` and preprocess every part with statistics of the training part only."""
    X_tr, y_tr, X_va, y_va, X_te, y_te = split_data(ds, test_size=test_size, val_size=val_size, seed=seed)
    spec = fit_preprocess(preprocess, X_tr)
    return Splits(apply_preprocess(spec, X_tr), y_tr, apply_preprocess(spec, X_va), y_va,
                  apply_preprocess(spec, X_te), y_te, np.asarray(X_tr, dtype=np.float32), spec)


# ====================================================================== model heads
# How a trained model's outputs read: the loss it was trained with decides whether its scores
# are turned into probabilities (softmax, sigmoid) or shown as they are (SVM, perceptron).
LOSS_OUTPUT = {
    "cross-entropy": "softmax",
    "softmax": "softmax",
    "svm": "scores",
    "hinge": "scores",
    "perceptron": "scores",
    "logistic": "sigmoid",
    "binary-hinge": "binary-scores",
    "mse": "regression",
}


def implied_loss(model) -> str:
    """The loss a classic model is defined by; None for a network (its loss is a choice)."""
    from chainrule import models

    if isinstance(model, models.LinearModel):
        return {"softmax": "cross-entropy", "svm": "svm", "logistic": "logistic",
                "binary_svm": "binary-hinge", "perceptron": "perceptron"}[model.loss]
    return None


@dataclass
class Head:
    """Turns a model's raw outputs into labels, probabilities or scores, with column names."""

    model: object
    loss: str
    classes: list

    @property
    def output(self) -> str:
        out = LOSS_OUTPUT[self.loss]
        if out == "scores" and self.n_outputs == 1:
            return "binary-scores"
        return out

    @property
    def n_outputs(self) -> int:
        return int(getattr(self.model, "n_outputs", 0) or _out_features(self.model))

    @property
    def is_regression(self) -> bool:
        return self.loss == "mse"

    def scores(self, X) -> np.ndarray:
        """Raw outputs: (N, K) for multiclass models, (N,) for one-output models."""
        from chainrule.train import predict_scores

        s = predict_scores(self.model, X).astype(np.float64)
        return s[:, 0] if s.ndim == 2 and s.shape[1] == 1 else s

    def predict(self, X) -> np.ndarray:
        """Labels 0..K-1 (regression: the predicted values)."""
        s = self.scores(X)
        if self.is_regression:
            return s
        if s.ndim == 1:
            # The classic models take sign(0) = +1 (models.LinearModel.predict does the same).
            return (s >= 0).astype(np.int64)
        return s.argmax(axis=1)

    def columns(self, X) -> tuple[list, np.ndarray, np.ndarray]:
        """``(names, values, labels)``: the per-class output columns and the predicted labels."""
        s = self.scores(X)
        labels = self.predict(X)
        out = self.output
        if out == "regression":
            return ["prediction"], s[:, None], labels
        if out == "softmax":
            e = np.exp(s - s.max(axis=1, keepdims=True))
            return [f"p({c})" for c in self.classes], e / e.sum(axis=1, keepdims=True), labels
        if out == "sigmoid":
            # σ(−s) rather than 1 − σ(s): a confident model's small probability stays accurate.
            return [f"p({c})" for c in self.classes[:2]], np.column_stack([_sigmoid(-s), _sigmoid(s)]), labels
        if out == "binary-scores":
            return [f"score({self.classes[1]} vs {self.classes[0]})"], s[:, None], labels
        return [f"score({c})" for c in self.classes], s, labels


def _out_features(model) -> int:
    last = None
    for _, p in model.named_parameters():
        last = p
    if last is None:
        raise ValueError(f"the model {type(model).__name__} has no parameters")
    return int(last.shape[0])


def _sigmoid(s):
    out = np.empty_like(s, dtype=np.float64)
    pos = s >= 0
    out[pos] = 1 / (1 + np.exp(-s[pos]))
    e = np.exp(s[~pos])
    out[~pos] = e / (1 + e)
    return out


def in_features(model) -> int:
    """The input width of a model (its first weight matrix's columns)."""
    for _, p in model.named_parameters():
        if p.ndim == 2:
            return int(p.shape[1])
    raise ValueError(f"cannot tell the input width of {type(model).__name__}")


# ====================================================================== metrics
def classification_metrics(y_true, y_pred, classes) -> dict:
    """Accuracy, per-class precision / recall / support and the confusion matrix.

    Rows of the confusion matrix are the true classes, columns the predicted ones. A class that
    is never predicted has precision ``None`` (undefined), one without examples recall ``None``.
    """
    K = len(classes)
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    cm = np.zeros((K, K), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    per_class = []
    for k, name in enumerate(classes):
        tp = int(cm[k, k])
        predicted, support = int(cm[:, k].sum()), int(cm[k, :].sum())
        per_class.append({
            "class": str(name),
            "precision": tp / predicted if predicted else None,
            "recall": tp / support if support else None,
            "support": support,
        })
    n = len(y_true)
    return {
        "n": n,
        "accuracy": float(np.mean(y_true == y_pred)) if n else None,
        "per_class": per_class,
        "confusion_matrix": cm.tolist(),
    }


def regression_metrics(y_true, y_pred) -> dict:
    """Mean squared error, mean absolute error and R² of predictions."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(y_true.shape)
    err = y_pred - y_true
    var = float(np.var(y_true))
    return {
        "n": len(y_true),
        "mse": float(np.mean(err ** 2)),
        "mae": float(np.mean(np.abs(err))),
        "r2": 1 - float(np.mean(err ** 2)) / var if var > 0 else None,
    }


def format_metrics_table(metrics: dict) -> str:
    """The per-class table and the confusion matrix as text."""
    rows = [("class", "precision", "recall", "support")]
    for r in metrics["per_class"]:
        rows.append((r["class"], _pct(r["precision"]), _pct(r["recall"]), str(r["support"])))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    names = [r["class"] for r in metrics["per_class"]]
    cm = metrics["confusion_matrix"]
    width = max([len(n) for n in names] + [len(str(v)) for row in cm for v in row] + [4])
    lines += ["", "confusion matrix (rows: true class, columns: predicted class)",
              " " * (width + 2) + " ".join(n[:width].rjust(width) for n in names)]
    for name, row in zip(names, cm):
        lines.append(name[:width].rjust(width) + "  " + " ".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)


def _pct(v) -> str:
    return "-" if v is None else f"{v:.2%}"


# ====================================================================== naming
def slug(text: str) -> str:
    """A file-name-safe version of ``text`` (for default run-folder names)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-.") or "data"


def data_label(data: str) -> str:
    """The short name of a dataset argument: the name itself, or a file's stem."""
    text = str(data)
    return slug(Path(text).stem if text.lower().endswith((".csv", ".npz")) else text)


def stderr_line(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ====================================================================== loading a model
class SavedModel:
    """A model file with what it says about itself (or sensible defaults for a bare model)."""

    def __init__(self, path: Path):
        from chainrule import io

        self.path = path
        self.model, meta = io.load_model(path)
        self.meta = meta
        self.loss = meta.get("loss") or implied_loss(self.model) or "cross-entropy"
        if self.loss not in LOSS_OUTPUT:
            raise UsageError(f"{path}: unknown loss {self.loss!r} in the model file")
        self.task = "regression" if self.loss == "mse" else "classification"
        width = Head(self.model, self.loss, []).n_outputs
        classes = meta.get("classes")
        if self.task == "classification" and not classes:
            classes = [str(k) for k in range(2 if width == 1 else width)]
        self.classes = [str(c) for c in classes or []]
        self.preprocess = meta.get("preprocess") or {"kind": "none"}
        self.feature_names = meta.get("feature_names")
        self.n_features = in_features(self.model)
        self.data = meta.get("data") or {}
        self.head = Head(self.model, self.loss, self.classes)

    def transform(self, X, what: str = "the data") -> np.ndarray:
        """The model's input: ``X`` preprocessed, in float32, checked finite after the conversion."""
        X = np.asarray(X)
        if X.shape[1] != self.n_features:
            raise UsageError(f"the model expects {self.n_features} features per example; the data has {X.shape[1]}")
        return apply_preprocess(self.preprocess, X, what=what)


def the_model(args, command: str) -> str:
    """The model a command was given, as its argument (``chainrule COMMAND RUN_DIR``) or with
    ``--model``: evaluate and predict take it the same way."""
    given = [m for m in (args.model_arg, args.model) if m is not None]
    if not given:
        raise UsageError(f"give the model: chainrule {command} RUN_DIR (or MODEL.npz, or --model FILE|RUN_DIR)")
    if len(given) == 2 and given[0] != given[1]:
        raise UsageError(f"two models given ({given[0]} and --model {given[1]}); give one")
    return given[0]


def model_path(text) -> Path:
    """A model file, or the model.npz inside a run folder."""
    path = Path(text)
    if path.is_dir():
        path = path / "model.npz"
        if not path.is_file():
            raise UsageError(f"{text} holds no model.npz (did its training run finish?)")
    elif not path.is_file():
        raise UsageError(f"no such model file: {text}")
    return path
