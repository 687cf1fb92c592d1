"""What the `chainrule` subcommands share: argument types, errors, output, files, saved models.

Nothing outside the CLI imports this module. Heavy libraries (scikit-learn, matplotlib, tqdm)
are imported by the functions that need them, so ``chainrule --help`` and the commands that
fail on their arguments answer quickly.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import numpy as np

from chainrule import validation as check
from chainrule.io import dumps_strict


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
def option_type(rule, parse, **bounds):
    """An argparse type: the text parsed by ``parse``, then checked by a :mod:`chainrule.validation` rule.

    The rule is the library's own (one rule for a value, wherever it is given); argparse puts the
    option's name in front of the message: ``argument --lr: must be a finite number > 0; got -0.1``.
    Text that does not parse is handed to the rule as it is, which names it as the wrong type.
    """

    def convert(text):
        try:
            value = parse(text)
        except (TypeError, ValueError):
            value = text
        try:
            return rule("", value, **bounds)
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc).strip()) from None

    return convert


positive_float = option_type(check.number, float, low=0, low_open=True)
nonnegative_float = option_type(check.number, float, low=0)


def int_at_least(minimum):
    """An argparse type: a whole number >= ``minimum``."""
    return option_type(check.integer, int, low=minimum)


positive_int = int_at_least(1)
nonnegative_int = int_at_least(0)
#: A seed: a whole number from 0 to 2**32 - 1 (validation.SEED_MAX), checked before anything runs.
seed_arg = option_type(check.seed, int, optional=False)
_batch_count = option_type(check.integer, int, low=1, what="'full' or a whole number")


def batch_size_arg(text):
    """``full`` (all examples: vanilla gradient descent), N (mini-batches) or 1 (SGD)."""
    if str(text).strip().lower() in ("full", "all", "none"):
        return "full"
    return _batch_count(text)


def image_shape_arg(text):
    """An image shape: CxHxW (channels, height, width) or HxW, such as 1x28x28 or 3x32x32."""
    parts = str(text).lower().replace("×", "x").split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (2, 3) or min(values) < 1:
        raise argparse.ArgumentTypeError(f"must be CxHxW or HxW of whole numbers >= 1, such as 1x28x28; got {text!r}")
    return values


def strategy_step(text):
    name, sep, value = str(text).partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected STRATEGY=VALUE such as sgd=0.01, got {text!r}")
    return name.strip(), positive_float(value)


def registry_names(module: str, attr: str) -> list:
    import importlib

    return list(getattr(importlib.import_module(module), attr))


class Interrupted(Exception):
    """Ctrl-C during a run or a sweep: reported on one line, exit code 130."""


def add_training_options(p) -> None:
    """The options that define a training run (data, model, optimization): train's and sweep's.

    Declared once here so the two commands cannot drift apart; each adds its own output options.
    """
    from chainrule.data import PREPROCESSING
    from chainrule.nn.cnn import GRAMMAR
    from chainrule.runs import MODELS, network_losses

    g = p.add_argument_group("data")
    g.add_argument("--data", metavar="NAME|FILE",
                   help="a dataset name (see 'chainrule datasets'), or a .csv file with a header row "
                        "or an .npz file with arrays X and y (default: digits)")
    g.add_argument("--label-column", metavar="NAME",
                   help="CSV only: the label column (default: 'label' if present, else the last column)")
    g.add_argument("--n-samples", type=positive_int, metavar="N",
                   help="synthetic sets: how many points; other sets: a seeded random subset of N examples")
    g.add_argument("--noise", type=nonnegative_float, help="synthetic sets only: their noise level")
    g.add_argument("--data-dir", metavar="DIR",
                   help="where downloaded datasets are kept (default: $CHAINRULE_DATA or the platform's cache)")
    g.add_argument("--preprocess", choices=PREPROCESSING,
                   help="standardize every feature (default), global-standardize (one mean and standard "
                        "deviation for all pixels: the default of --model cnn), subtract the mean image, "
                        "or nothing; fitted on the training part")
    g = p.add_argument_group("model")
    g.add_argument("--model", choices=MODELS,
                   help="mlp (default); cnn (a convolutional network on image data, see --conv); the "
                        "linear classifiers softmax and svm; the perceptron (its own rule "
                        "w <- w + lr(y - y')x); the binary logistic and binary-svm")
    g.add_argument("--hidden", type=positive_int, nargs="+", metavar="N",
                   help="mlp: hidden layer sizes, e.g. --hidden 256 128 (default: 128)")
    g.add_argument("--activation", choices=registry_names("chainrule.nn", "ACTIVATIONS"),
                   help="mlp: the hidden layers' activation (default: relu)")
    g.add_argument("--conv", metavar="SPEC",
                   help="cnn: the layers, e.g. c16k5-m2-c32k5-m2 (" + GRAMMAR + "; each conv is followed by "
                        "ReLU, the output layer is added). Default per image size: c32-bn-m2-c64-bn up to 8 px "
                        "(digits), c16k5-m2-c32k5-m2 up to 28 px (MNIST), c32-m2-c64-m2 above (CIFAR-10)")
    g.add_argument("--image-shape", type=image_shape_arg, metavar="CxHxW",
                   help="cnn: how a row folds into an image, for data without an image shape (CSV, NPZ): "
                        "CxHxW with the row channel after channel, or HxW (channels: what the row length "
                        "leaves)")
    g.add_argument("--crop", type=nonnegative_int, metavar="PAD",
                   help="cnn: augment the training images with random crops, new ones every epoch: pad PAD "
                        "zero pixels on every side, cut the image size at a random offset (seeded; default 0: none)")
    g.add_argument("--flip", action="store_true", default=None,
                   help="cnn: augment the training images with random horizontal flips, new ones every epoch "
                        "(for natural images such as cifar10, not digits)")
    g.add_argument("--loss", choices=network_losses(),
                   help="mlp: cross-entropy (= softmax, default), svm (= hinge), logistic or binary-hinge "
                        "(two classes), mse (numeric targets); cnn: cross-entropy or svm. The other models "
                        "have their own loss")
    g = p.add_argument_group("optimization")
    g.add_argument("--optimizer", choices=registry_names("chainrule.optim", "OPTIMIZERS"),
                   help="default: adam")
    g.add_argument("--lr", type=positive_float, help="learning rate (default: 0.001; perceptron: 1.0)")
    g.add_argument("--schedule", choices=registry_names("chainrule.optim", "SCHEDULES"),
                   help="learning-rate schedule over the epochs (default: none)")
    g.add_argument("--reg", type=nonnegative_float, help="L2 strength lambda: + lambda * sum W^2 (default: 0)")
    g.add_argument("--epochs", type=positive_int, help="passes over the training data (default: 30)")
    g.add_argument("--batch-size", type=batch_size_arg, metavar="full|N",
                   help="'full' (vanilla gradient descent), N (mini-batch) or 1 (SGD) (default: 32)")
    g.add_argument("--patience", type=positive_int, metavar="N",
                   help="stop after N epochs without a better validation loss, keeping the best weights "
                        "(default: train every epoch)")
    g.add_argument("--seed", type=seed_arg,
                   help="seeds the data (synthetic sets, subsets, split), the initial weights and the "
                        "order of the batches (default: 0)")
    g.add_argument("--device", metavar="auto|cpu|cuda|cuda:N",
                   help="where to train: auto (CUDA when CuPy sees a GPU), cpu or cuda[:N] (default: cpu; "
                        "a resumed run may change it)")
    g.add_argument("--capture", action="store_true", default=None,
                   help="record each batch shape's step once and replay it: the same results, "
                        "less Python per step (steps that cannot be captured, e.g. with dropout, say why)")


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


# ====================================================================== naming
def slug(text: str) -> str:
    """A file-name-safe version of ``text`` (for default run-folder names)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-.") or "data"


def data_label(data: str) -> str:
    """The short name of a dataset argument: the name itself, or a file's stem."""
    text = str(data)
    return slug(Path(text).stem if text.lower().endswith((".csv", ".npz")) else text)


def new_folder(root: str, data: str, model: str) -> Path:
    """A default output folder ``ROOT/DATA-MODEL-YYYYmmdd-HHMMSS`` (``-2``, ``-3``, ... when taken)."""
    from datetime import datetime

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{data_label(data)}-{model}-{stamp}"
    folder, n = base, 1
    while folder.exists():
        n += 1
        folder = base.with_name(f"{base.name}-{n}")
    return folder


def stderr_line(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ====================================================================== loading a model
class SavedModel:
    """A model file with what it says about itself (or sensible defaults for a bare model)."""

    def __init__(self, path: Path):
        from chainrule import io
        from chainrule.runs import Head, implied_loss, in_features
        from chainrule.train import TASKS, get_task

        self.path = path
        self.model, meta = io.load_model(path)
        self.meta = meta
        self.loss = meta.get("loss") or implied_loss(self.model) or "cross-entropy"
        if not isinstance(self.loss, str) or self.loss not in TASKS:
            raise UsageError(f"{path}: unknown loss {self.loss!r} in the model file")
        self.task = "regression" if get_task(self.loss).kind == "regression" else "classification"
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
        from chainrule.data import apply_preprocess

        X = np.asarray(X)
        if X.shape[1] != self.n_features:
            image = getattr(self.model, "input_shape", None)
            if image is not None:  # a convolutional network: say the images it takes
                raise UsageError(f"the model takes {'x'.join(map(str, image))} images, rows of {self.n_features} "
                                 f"values; the data has rows of {X.shape[1]} values")
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
