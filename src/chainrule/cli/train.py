"""``chainrule train``: one training run, from a dataset name to a folder of results.

A run folder holds, each file written whole or not at all (temporary file + ``os.replace``)::

    config.json       the run's settings (written before training; ``--resume`` reads it)
    checkpoint.npz    the whole training state after the latest epoch (see CheckpointWriter)
    model.npz         the trained model, with the preprocessing statistics and class names
    metrics.json      final and per-epoch metrics, test accuracy
    metrics.csv       one row per epoch
    curves.png        loss and accuracy per epoch
    decision_regions.png   for 2-D data
    weights.png       for image data: a linear model's weight rows (or an MLP's first layer)

A run killed at any moment (Ctrl-C, ``kill -9``, a power cut) continues with
``chainrule train --resume RUN_DIR`` and ends with the same weights as an uninterrupted run.
"""
from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from chainrule.cli.common import (
    seed_arg,
    PREPROCESSING, Formatter, Head, MadeDirs, UsageError, apply_preprocess, check_output_dir, classification_metrics,
    batch_size_arg, data_label, emit_json, load_data, nonnegative_float, nonnegative_int, positive_float,
    positive_int, prepare, regression_metrics, registry_names, say,
)


class Interrupted(Exception):
    """Ctrl-C during a run: reported on one line, exit code 130."""


MODELS = ("mlp", "softmax", "svm", "perceptron", "logistic", "binary-svm")
LOSSES = ("cross-entropy", "softmax", "svm", "hinge", "logistic", "binary-hinge", "mse")
LOSS_ALIASES = {"softmax": "cross-entropy", "hinge": "svm"}
# The loss each classic model is defined by (an MLP's loss is a choice, cross-entropy by default).
MODEL_LOSS = {"softmax": "cross-entropy", "svm": "svm", "logistic": "logistic",
              "binary-svm": "binary-hinge", "perceptron": "perceptron"}
BINARY_MODELS = ("logistic", "binary-svm")

# The defaults of `chainrule train` with no arguments: an MLP on digits that reaches >= 97 % test
# accuracy in a few seconds on two cores.
DEFAULTS = {
    "data": "digits", "n_samples": None, "noise": None, "label_column": None, "data_dir": None,
    "preprocess": "standardize", "model": "mlp", "hidden": [128], "activation": "relu",
    "loss": None, "optimizer": "adam", "lr": None, "schedule": "none", "reg": 0.0, "epochs": 30,
    "batch_size": 32, "seed": 0, "test_size": 0.25, "val_size": 0.1,
}
DEFAULT_LR = {"perceptron": 1.0}
DEFAULT_LR_OTHER = 1e-3
# Options that only some models take: giving one to another model is an error, not a no-op.
ONLY_FOR = {
    "hidden": ("mlp",), "activation": ("mlp",),
    "optimizer": tuple(m for m in MODELS if m != "perceptron"),
    "schedule": tuple(m for m in MODELS if m != "perceptron"),
    "batch_size": tuple(m for m in MODELS if m != "perceptron"),
    "reg": tuple(m for m in MODELS if m != "perceptron"),
}
RUN_FILES = ("config.json", "checkpoint.npz", "model.npz", "metrics.json", "metrics.csv",
             "curves.png", "decision_regions.png", "weights.png", "confusion.png")
CONFIG_FORMAT = 1


def option_name(key: str) -> str:
    return "--" + key.replace("_", "-")


# ====================================================================== the parser
TRAIN_HELP = """\
Train a model and write a run folder: model.npz, config.json, metrics.json, metrics.csv,
checkpoint.npz, curves.png, and decision_regions.png (2-D data) or weights.png (image data).

With no options it trains an MLP (one hidden layer of 128 ReLU units, Adam, lr 0.001, batches
of 32, 30 epochs, seed 0) on the 8x8 digits: about 97-98 % test accuracy in a few seconds.
The data is split into a stratified test part (25 %), a validation part (10 % of the rest)
and the training part, and standardized with the training part's statistics; the model file
keeps those statistics and the class names, so evaluate and predict reuse them.

While it runs: a progress bar with the live loss and accuracy (on stderr) and one line per epoch
(on stdout), then a summary with the test accuracy. A checkpoint is written after every epoch;
a run stopped at any moment (Ctrl-C, kill -9) continues with --resume RUN_DIR and ends with the
same weights as an uninterrupted run.
"""

TRAIN_EXAMPLES = """\
examples:
  chainrule train                                      # the README's main job: MLP on digits
  chainrule train --out runs/my-run                    # the same, in a folder of your choice
  chainrule train --data spiral --hidden 100 --optimizer sgd --lr 1 --batch-size full --epochs 300
  chainrule train --data digits --model softmax --reg 1e-3 --out runs/softmax
  chainrule train --data cifar10 --model svm --preprocess mean-image --n-samples 5000
  chainrule train --data my.csv --label-column species --model logistic
  chainrule train --resume runs/softmax                # continue a stopped run
"""


def add_parser(sub) -> None:
    """Add the subcommand's parser to ``sub`` (argparse subparsers); it runs :func:`run`."""
    p = sub.add_parser("train", help="train a model; writes a run folder", description=TRAIN_HELP,
                       epilog=TRAIN_EXAMPLES, formatter_class=Formatter)
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
                   help="standardize every feature (default), subtract the mean image, or nothing; "
                        "fitted on the training part")
    g = p.add_argument_group("model")
    g.add_argument("--model", choices=MODELS,
                   help="mlp (default); the linear classifiers softmax and svm; the perceptron (its own "
                        "rule w <- w + lr(y - y')x); the binary logistic and binary-svm")
    g.add_argument("--hidden", type=positive_int, nargs="+", metavar="N",
                   help="mlp: hidden layer sizes, e.g. --hidden 256 128 (default: 128)")
    g.add_argument("--activation", choices=registry_names("chainrule.nn", "ACTIVATIONS"),
                   help="mlp: the hidden layers' activation (default: relu)")
    g.add_argument("--loss", choices=LOSSES,
                   help="mlp: cross-entropy (= softmax, default), svm (= hinge), logistic or binary-hinge "
                        "(two classes), mse (numeric targets). The other models have their own loss")
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
    g.add_argument("--seed", type=seed_arg,
                   help="seeds the data (synthetic sets, subsets, split), the initial weights and the "
                        "order of the batches (default: 0)")
    g = p.add_argument_group("output")
    g.add_argument("-o", "--out", metavar="DIR",
                   help="the run folder, new or empty (default: runs/DATA-MODEL-YYYYmmdd-HHMMSS)")
    g.add_argument("--resume", nargs="?", const="", metavar="RUN_DIR",
                   help="continue the run in RUN_DIR (or --out) from its checkpoint, with its saved settings")
    g.add_argument("--allow-changed-data", action="store_true",
                   help="with --resume: continue even if the training data differs from what the run "
                        "started on (its SHA-256 is recorded in config.json)")
    g.add_argument("-q", "--quiet", action="store_true",
                   help="no progress: neither the bar nor the line per epoch (the start and the result are printed)")
    g.add_argument("--json", action="store_true",
                   help="print one JSON object with the results on stdout instead of the progress bar and text")
    p.set_defaults(func=run)


# ====================================================================== settings
def resolve_settings(args) -> tuple[dict, Path, bool]:
    """The run's settings, its folder and whether it resumes one; UsageError for bad combinations."""
    given = {k: getattr(args, k) for k in DEFAULTS if getattr(args, k, None) is not None}
    if given.get("batch_size") == "full":
        given["batch_size"] = None  # the full batch; the option's absence is None too
    if "loss" in given:
        given["loss"] = LOSS_ALIASES.get(given["loss"], given["loss"])
    if args.resume is not None:
        run_dir = _resume_dir(args)
        saved = read_config(run_dir)
        clashes = [f"{option_name(k)} {_show(v)} (the run has {_show(saved.get(k))})"
                   for k, v in given.items() if saved.get(k) != v]
        if clashes:
            raise UsageError(
                f"--resume continues {run_dir} with its saved settings; these options differ: "
                f"{'; '.join(clashes)}. Drop them, or start a new run with another --out"
            )
        return saved, run_dir, True
    if getattr(args, "allow_changed_data", False):
        raise UsageError("--allow-changed-data applies to --resume only")
    settings = {**DEFAULTS, **given}
    model = settings["model"]
    for key, models in ONLY_FOR.items():
        if key in given and model not in models:
            raise UsageError(f"{option_name(key)} does not apply to --model {model}"
                             + (" (it trains with its own update rule)" if model == "perceptron" else ""))
    if "loss" in given and model != "mlp" and given["loss"] != MODEL_LOSS[model]:
        raise UsageError(f"--model {model} is trained with the {MODEL_LOSS[model]} loss; "
                         f"--loss {given['loss']} needs --model mlp")
    if settings["lr"] is None:
        settings["lr"] = DEFAULT_LR.get(model, DEFAULT_LR_OTHER)
    if model == "perceptron":
        for key in ONLY_FOR:
            if model not in ONLY_FOR[key]:
                settings[key] = None
    if model != "mlp":
        settings["hidden"] = settings["activation"] = None
    if settings["data_dir"] is not None:
        settings["data_dir"] = str(Path(settings["data_dir"]).expanduser().resolve())
    if str(settings["data"]).lower().endswith((".csv", ".npz")):
        settings["data"] = str(Path(settings["data"]).expanduser().resolve())
    run_dir = Path(args.out) if args.out is not None else _default_run_dir(settings)
    check_new_run_dir(run_dir)
    return settings, run_dir, False


def _show(v) -> str:
    if isinstance(v, list):
        return " ".join(map(str, v))
    return "full" if v is None else str(v)


def _resume_dir(args) -> Path:
    if args.resume and args.out is not None and Path(args.resume).resolve() != Path(args.out).resolve():
        raise UsageError(f"--resume {args.resume} and --out {args.out} name different folders; give one")
    text = args.resume or args.out
    if not text:
        raise UsageError("--resume needs the run folder: chainrule train --resume RUN_DIR")
    run_dir = Path(text)
    if not run_dir.is_dir():
        raise UsageError(f"--resume {run_dir}: no such run folder")
    return run_dir


def config_schema():
    """The schema of a run's config.json (version :data:`CONFIG_FORMAT`): every setting's type and value."""
    from chainrule import io, nn, optim
    from chainrule.cli.common import MAX_SEED, PREPROCESSING

    S, I, N, L, Null, O = io.Str, io.Int, io.Number, io.List, io.Null, io.Obj
    settings = {
        "data": S(nonempty=True), "n_samples": Null() | I(1), "noise": Null() | N(0),
        "label_column": Null() | S(nonempty=True), "data_dir": Null() | S(nonempty=True),
        "preprocess": S(PREPROCESSING), "model": S(MODELS), "hidden": Null() | L(I(1), min_len=1),
        "activation": Null() | S(tuple(nn.ACTIVATIONS)), "loss": Null() | S(LOSSES),
        "optimizer": Null() | S(tuple(optim.OPTIMIZERS)), "lr": N(positive=True),
        "schedule": Null() | S(tuple(optim.SCHEDULES)), "reg": Null() | N(0), "epochs": I(1),
        "batch_size": Null() | I(1), "seed": I(0, MAX_SEED), "test_size": N(0, below=1),
        "val_size": N(0, below=1),
    }
    assert set(settings) == set(DEFAULTS)
    return io.Schema("run configuration", {CONFIG_FORMAT: O({
        "command": S(("train",)), "settings": O(settings, closed=True)},
        {"chainrule_version": S(), "created": S(), "data_sha256": S()})}, version_key="format")


def _check_same_data(run_dir: Path, ds, fingerprint: str, *, allow: bool) -> None:
    """Refuse to resume on data that is not what the run started on (unless allowed)."""
    recorded = _read_config_file(run_dir).get("data_sha256")
    if recorded is None or recorded == fingerprint or allow:
        return
    raise UsageError(f"--resume {run_dir}: the training data {ds.name} changed since the run started "
                     f"(SHA-256 {fingerprint[:12]}..., the run recorded {recorded[:12]}...); restore it, "
                     "start a new run, or pass --allow-changed-data to continue on the new data")


def read_config(run_dir: Path) -> dict:
    """The settings saved in a run folder's config.json, every one checked (:func:`config_schema`)."""
    path = run_dir / "config.json"
    if not path.is_file():
        if list(run_dir.glob(".config.json.*.tmp")):
            raise UsageError(f"{run_dir} holds no config.json: its run was stopped while it started; "
                             f"start it again with chainrule train --out {run_dir} (and the same options)")
        raise UsageError(f"{run_dir} holds no config.json; it is not a chainrule run folder")
    return _read_config_file(run_dir)["settings"]


def _read_config_file(run_dir: Path) -> dict:
    from chainrule import io

    return io.load_json(run_dir / "config.json", config_schema())


def check_new_run_dir(run_dir: Path, *, locked: bool = False) -> None:
    """A folder a new run may use: new, empty, or holding only what a killed start left behind
    (the temporary file of a write that never finished, a stale lock file). With ``locked``
    (this process holds the folder's lock) those leftovers are removed."""
    check_output_dir(run_dir)
    if not run_dir.is_dir():
        return
    leftovers = _leftovers(run_dir)
    others = [p for p in run_dir.iterdir() if p not in leftovers]
    if others:
        if (run_dir / "config.json").exists():
            raise UsageError(f"--out {run_dir} already holds a run; continue it with "
                             f"--resume {run_dir}, or choose another --out")
        raise UsageError(f"--out {run_dir} is a folder that is not empty; choose another --out")
    if locked:
        _remove_stale_temporaries(run_dir)


def _leftovers(run_dir: Path) -> set:
    """What a run killed while it started leaves: temporaries of its files, its lock file."""
    from chainrule import io

    found = {p for name in RUN_FILES for p in run_dir.glob(f".{name}.*.tmp")}
    lock = run_dir / io.FolderLock.NAME
    return found | ({lock} if lock.exists() else set())


def _default_run_dir(settings: dict) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path("runs") / f"{data_label(settings['data'])}-{settings['model']}-{stamp}"
    run_dir, n = base, 1
    while run_dir.exists():
        n += 1
        run_dir = base.with_name(f"{base.name}-{n}")
    return run_dir


# ====================================================================== model
def build_model(settings: dict, ds):
    """A fresh model for ``ds`` and the loss that trains it; UsageError when they do not fit."""
    from chainrule import models, nn

    model_name, seed = settings["model"], settings["seed"]
    D = ds.n_features
    if ds.task == "regression":
        if model_name != "mlp":
            raise UsageError(f"{ds.name} has numeric targets (regression); only --model mlp "
                             f"(with the squared-error loss) can fit them, not --model {model_name}")
        if settings["loss"] not in (None, "mse"):
            raise UsageError(f"{ds.name} has numeric targets (regression); use --loss mse, "
                             f"not --loss {settings['loss']}")
        _check_size(nn.MLP.parameter_shapes({"in_features": D, "hidden_sizes": settings["hidden"],
                                             "out_features": 1}))
        return nn.MLP(D, settings["hidden"], 1, activation=settings["activation"], rng=seed), "mse"
    K = ds.n_classes
    present = len(np.unique(ds.y))
    if K < 2 or present < 2:
        raise UsageError(f"{ds.name} has {present} class(es) in its labels; a classifier needs 2 or more")
    loss = settings["loss"] or MODEL_LOSS.get(model_name, "cross-entropy")
    if loss == "mse":
        raise UsageError(f"--loss mse is for numeric targets; {ds.name} has {K} classes "
                         "(use cross-entropy or svm)")
    binary = model_name in BINARY_MODELS or loss in ("logistic", "binary-hinge")
    if binary and K != 2:
        what = f"--model {model_name}" if model_name in BINARY_MODELS else f"--loss {loss}"
        raise UsageError(f"{what} is a binary classifier but {ds.name} has {K} classes "
                         f"{ds.classes[:10]}; use --model softmax, svm, perceptron or mlp")
    reg = settings["reg"] or 0.0
    if model_name == "mlp":
        out = 1 if binary else K
        _check_size(nn.MLP.parameter_shapes({"in_features": D, "hidden_sizes": settings["hidden"],
                                             "out_features": out}))
        return nn.MLP(D, settings["hidden"], out, activation=settings["activation"], rng=seed), loss
    if model_name in ("softmax", "svm"):
        return models.LinearClassifier(D, K, loss=model_name, reg=reg, seed=seed), loss
    if model_name == "logistic":
        return models.LogisticRegression(D, reg=reg, seed=seed), loss
    if model_name == "binary-svm":
        return models.BinarySVM(D, reg=reg, seed=seed), loss
    return models.Perceptron(D, K, lr=settings["lr"], epochs=settings["epochs"], seed=seed), "perceptron"


def _check_size(shapes: dict) -> None:
    """Refuse, before allocating, a network larger than a model file may be (io's limit) or
    than this machine can train: about six float32 copies of the weights (the weights, their
    gradients, two optimizer buffers, the checkpoint's copy and a temporary)."""
    import math

    from chainrule import io

    n = sum(math.prod(shape) for shape in shapes.values())
    limit = io.max_archive_bytes()
    what = f"--hidden {_show(_hidden_of(shapes))} makes a network of {n} parameters ({io.format_bytes(4 * n)} as float32)"
    if 4 * n > limit:
        raise UsageError(f"{what}, more than the {io.format_bytes(limit)} a model file may hold; use smaller "
                         "layers (or raise CHAINRULE_MAX_ARCHIVE_BYTES)")
    available = _available_memory()
    if available is not None and 24 * n > available:
        raise UsageError(f"{what}; training it needs about {io.format_bytes(24 * n)} (weights, gradients, "
                         f"optimizer state), more than the {io.format_bytes(available)} of memory available; "
                         "use smaller layers")


def _available_memory() -> int | None:
    """Bytes of memory available now (Linux's MemAvailable), or None where it cannot be told."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _hidden_of(shapes: dict) -> list:
    return [shape[0] for name, shape in shapes.items() if name.endswith("weight")][:-1]


# ====================================================================== the command
def run(args) -> int:
    """``chainrule train``: see the module docstring and ``chainrule train --help``."""
    from chainrule import io

    settings, run_dir, resuming = resolve_settings(args)
    # The run folder is this process's alone while it runs (io.FolderLock: RUN_DIR/.lock holds
    # its pid): a second run or a second --resume of the same folder is refused, never mixed in.
    lock = io.FolderLock(run_dir)
    try:
        return _run_locked(args, settings, run_dir, resuming, lock)
    finally:
        lock.release()


def _hold(lock, run_dir: Path, resuming: bool) -> None:
    from chainrule import io

    try:
        lock.acquire()
    except io.FolderInUseError as exc:
        how = "--resume" if resuming else "--out"
        raise UsageError(f"{how} {run_dir}: the run folder is in use by another chainrule (process "
                         f"{exc.pid}, lock file {lock.path}); wait for it to end, or choose another "
                         "--out") from None


def _run_locked(args, settings, run_dir: Path, resuming: bool, lock) -> int:
    quiet = bool(args.json)
    # The progress: a live bar on a terminal; one line per epoch into a log or a pipe; nothing
    # with --quiet (or --json, whose stdout is the JSON object).
    progress = None if quiet or getattr(args, "quiet", False) else ("bar" if sys.stderr.isatty() else "lines")
    checkpoint = run_dir / "checkpoint.npz"
    if resuming and checkpoint.exists():
        _check_checkpoint(checkpoint, perceptron=settings["model"] == "perceptron")
    ds = load_data(settings["data"], seed=settings["seed"], n_samples=settings["n_samples"],
                   noise=settings["noise"], data_dir=settings["data_dir"],
                   label_column=settings["label_column"])
    fingerprint = ds.fingerprint()
    if resuming:
        _check_same_data(run_dir, ds, fingerprint, allow=getattr(args, "allow_changed_data", False))
        # Everything was read (files written atomically: old or new, never half); a resume that
        # is refused never touched the folder. From here the folder is this process's.
        _hold(lock, run_dir, resuming)
        _remove_stale_temporaries(run_dir)
    model, loss = build_model(settings, ds)
    splits = prepare(ds, test_size=settings["test_size"], val_size=settings["val_size"],
                     seed=settings["seed"], preprocess=settings["preprocess"])
    dirs = MadeDirs()
    try:
        if not resuming:
            dirs.make(run_dir)
            _hold(lock, run_dir, resuming)
            check_new_run_dir(run_dir, locked=True)  # again, now that no other run can start here
            _write_config(run_dir, settings, dirs, fingerprint)
        say(_banner(settings, ds, model, splits, run_dir, resuming and checkpoint.exists()), quiet=quiet)
        began = time.perf_counter()
        if loss == "perceptron":
            records = train_perceptron(model, splits, settings, checkpoint,
                                       resume=resuming and checkpoint.exists(), quiet=progress is None)
            test = {}
        else:
            trainer = make_trainer(model, loss, splits, settings, checkpoint, progress=progress)
            if resuming and checkpoint.exists():
                trainer.load_checkpoint(checkpoint)
            trainer.run()
            records = trainer.history.records
            test = trainer.evaluate(splits.X_test, trainer.task.targets(splits.y_test),
                                    prefix="test_") if len(splits.y_test) else {}
        seconds = time.perf_counter() - began
        # Inside the try: Ctrl-C while the model and plots are written still names the checkpoint.
        return _finish(model, loss, ds, splits, settings, run_dir, records, test, seconds, quiet)
    except KeyboardInterrupt:
        done = _checkpoint_epoch(checkpoint)
        where = (f"the checkpoint of epoch {done} is in {checkpoint}; continue with "
                 f"chainrule train --resume {run_dir}") if done else \
            f"no epoch had finished; start again with chainrule train --resume {run_dir}"
        raise Interrupted(f"interrupted: {where}") from None
    except BaseException:
        # A run that failed before its first checkpoint leaves nothing behind (a resumed run's
        # folder is not this command's to remove: `dirs` is empty then).
        if not checkpoint.exists() and dirs.created + dirs.files:
            lock.release()
            dirs.undo()
        raise


def _write_config(run_dir: Path, settings: dict, dirs: MadeDirs, fingerprint: str) -> None:
    from chainrule import __version__, io

    config = {"format": CONFIG_FORMAT, "command": "train", "chainrule_version": __version__,
              "created": datetime.now().isoformat(timespec="seconds"), "settings": settings,
              "data_sha256": fingerprint}
    dirs.wrote(io.write_json_atomic(run_dir / "config.json", config))


def _banner(settings, ds, model, splits, run_dir, resuming) -> str:
    what = settings["model"] + (f" {settings['hidden']} {settings['activation']}" if settings["model"] == "mlp" else "")
    parts = [f"{'resuming' if resuming else 'training'} {what} on {ds.name}: "
             f"{len(splits.y_train)} train / {len(splits.y_val)} validation / {len(splits.y_test)} test "
             f"examples, {ds.n_features} features",
             f"{'' if ds.task == 'regression' else f', {ds.n_classes} classes'}"]
    if settings["model"] == "perceptron":
        parts.append(f"; perceptron rule, lr {settings['lr']:g}, {settings['epochs']} epochs")
    else:
        batch = "full batch" if settings["batch_size"] is None else f"batch {settings['batch_size']}"
        parts.append(f"; {settings['optimizer']} lr {settings['lr']:g}, {batch}, {settings['epochs']} epochs")
    parts.append(f"; {model.num_parameters()} parameters -> {run_dir}")
    return "".join(parts)


def make_trainer(model, loss, splits, settings, checkpoint, *, progress: str | None):
    """A chainrule.train.Trainer wired with the progress bar and the checkpoint writer."""
    from chainrule.train import TrainConfig, Trainer

    config = TrainConfig(loss=loss, optimizer=settings["optimizer"], lr=settings["lr"],
                         epochs=settings["epochs"], batch_size=settings["batch_size"],
                         reg=settings["reg"] or 0.0, schedule=settings["schedule"], seed=settings["seed"])
    callbacks = {"bar": [_live_bar()], "lines": [_epoch_lines()], None: []}[progress]
    callbacks.append(_checkpoint_callback(CheckpointWriter(checkpoint)))
    validation = (splits.X_val, splits.y_val) if len(splits.y_val) else None
    return Trainer(model, splits.X_train, splits.y_train, config, validation=validation, callbacks=callbacks)


class CheckpointWriter:
    """Writes the training state after epochs, atomically, at most once every ``every`` seconds.

    The state of every finished epoch is kept in memory; it is written when the first epoch
    ends, when ``every`` seconds have passed since the last write, after the last epoch, and
    by :meth:`flush` when training stops for any other reason (Ctrl-C, divergence). A run
    killed outright resumes from an older epoch and replays the same epochs, so it still ends
    with the same weights; the throttle only spares a run of many tiny epochs an fsync each.
    """

    def __init__(self, path: Path, every: float = 1.0):
        self.path, self.every = Path(path), every
        self.pending, self.last = None, None

    def offer(self, arrays: dict, meta: dict, *, last: bool = False) -> None:
        import copy

        self.pending = ({k: np.array(v, copy=True) for k, v in arrays.items()}, copy.deepcopy(meta))
        if last or self.last is None or time.monotonic() - self.last >= self.every:
            self.flush()

    def flush(self) -> None:
        from chainrule import io

        if self.pending is not None:
            io.save_archive(self.path, *self.pending, kind="checkpoint")
            self.pending, self.last = None, time.monotonic()


def _checkpoint_callback(writer: CheckpointWriter):
    from chainrule.train import Callback

    class WriteCheckpoint(Callback):
        def on_epoch_end(self, trainer, record):
            writer.offer(*trainer.state(), last=trainer.epoch >= trainer.config.epochs)

        def on_train_end(self, trainer):
            writer.flush()

    return WriteCheckpoint()


def _epoch_lines():
    """One line per epoch on stdout and nothing else: the progress where stderr is no terminal."""
    from chainrule.train import Callback, format_record

    class EpochLines(Callback):
        def on_epoch_end(self, trainer, record):
            say(format_record(record, trainer.config.epochs))

    return EpochLines()


def _live_bar():
    """train.ProgressBar with the latest validation (or training) accuracy beside the live loss."""
    from chainrule.train import ProgressBar

    class LiveBar(ProgressBar):
        acc = None

        def on_batch_end(self, trainer, loss):
            self.bar.update(1)
            post = {"loss": f"{loss:.4f}"}
            if self.acc is not None:
                post["acc"] = f"{self.acc:.2%}"
            self.bar.set_postfix(post, refresh=False)

        def on_epoch_end(self, trainer, record):
            acc = record.get("val_acc", record.get("train_acc"))
            self.acc = acc if acc is not None else self.acc
            return super().on_epoch_end(trainer, record)

    return LiveBar()


def _remove_stale_temporaries(run_dir: Path) -> None:
    # A run killed while it wrote a file leaves the temporary file of that write behind.
    for name in RUN_FILES:
        for tmp in run_dir.glob(f".{name}.*.tmp"):
            try:
                tmp.unlink()
            except OSError:
                pass


def _check_checkpoint(path: Path, *, perceptron: bool) -> None:
    from chainrule import io

    _, meta = io.load_archive(path, kind="checkpoint")
    needed = ("trainer", "epoch", "history", "settings") if perceptron else \
        ("epoch", "evaluations", "config", "optimizer", "rng", "history")
    missing = [k for k in needed if k not in meta]
    if missing:
        raise UsageError(f"{path} is not a checkpoint of this run (it lacks {', '.join(missing)}); "
                         "delete it to start the run again")


def _checkpoint_epoch(path: Path):
    from chainrule import io

    try:
        return int(io.load_archive(path, kind="checkpoint")[1]["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


# ====================================================================== the perceptron's own loop
def train_perceptron(model, splits, settings, checkpoint: Path, *, resume: bool, quiet: bool) -> list:
    """Epochs of the perceptron rule (``Perceptron.fit``), checkpointed after each one.

    Epoch e visits the examples in an order drawn from ``SeedSequence([seed, e])``, so a resumed
    run repeats exactly what an uninterrupted one does. Training stops after a pass without
    mistakes, like ``Perceptron.fit``.
    """
    from chainrule import io
    from chainrule.train import format_record

    epochs, seed = settings["epochs"], settings["seed"]
    records, start = [], 0
    if resume:
        arrays, meta = io.load_archive(checkpoint, kind="checkpoint")
        if meta.get("trainer") != "perceptron" or meta.get("settings") != settings:
            raise UsageError(f"{checkpoint} was written by a run with other settings; delete it to start again")
        model.load_state_dict({"weight": arrays["weight"], "bias": arrays["bias"]})
        records, start = list(meta["history"]), int(meta["epoch"])
    X, y = splits.X_train, splits.y_train
    writer = CheckpointWriter(checkpoint)
    try:
        for epoch in range(start, epochs):
            if records and records[-1]["mistakes"] == 0:
                break
            began = time.perf_counter()
            order_seed = int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])
            model.fit(X, y, epochs=1, seed=order_seed)
            record = {"epoch": epoch + 1, "loss": model.loss_and_grad(X, y)[0],
                      "mistakes": int(model.history_[0]), "train_acc": model.score(X, y)}
            if len(splits.y_val):
                record["val_loss"] = model.loss_and_grad(splits.X_val, splits.y_val)[0]
                record["val_acc"] = model.score(splits.X_val, splits.y_val)
            record.update(lr=settings["lr"], seconds=time.perf_counter() - began,
                          evaluations=(epoch + 1) * len(y))
            records.append(record)
            writer.offer({"weight": model.weight.numpy(), "bias": model.bias.numpy()},
                         {"trainer": "perceptron", "epoch": epoch + 1, "history": records, "settings": settings},
                         last=epoch + 1 == epochs or record["mistakes"] == 0)
            say(format_record(record, epochs) + f"  mistakes {record['mistakes']}", quiet=quiet)
    finally:
        writer.flush()
    return records


# ====================================================================== results
def model_meta(settings: dict, ds, loss: str, preprocess: dict) -> dict:
    """What evaluate / predict need besides the weights: classes, preprocessing, the loss."""
    from chainrule import __version__

    return {
        "chainrule_version": __version__,
        "task": ds.task,
        "loss": loss,
        "classes": list(ds.classes),
        "feature_names": ds.feature_names,
        "image_shape": list(ds.image_shape) if ds.image_shape else None,
        "preprocess": preprocess,
        "data": {k: settings[k] for k in ("data", "n_samples", "noise", "label_column", "data_dir",
                                          "seed", "test_size", "val_size")},
        "name": ds.name,
    }


def _finish(model, loss, ds, splits, settings, run_dir, records, test, seconds, quiet) -> int:
    from chainrule import io

    head = Head(model, loss, list(ds.classes))
    files = {}
    meta = model_meta(settings, ds, loss, splits.preprocess)
    if ds.task == "regression":
        summary = regression_metrics(splits.y_test, head.predict(splits.X_test)) if len(splits.y_test) else {}
    else:
        summary = classification_metrics(splits.y_test, head.predict(splits.X_test), ds.classes) \
            if len(splits.y_test) else {}
    if "test_loss" in test:
        summary["loss"] = test["test_loss"]
    files["model"] = io.save_model(run_dir / "model.npz", model, meta)
    metrics = {"epochs": len(records), "seconds": seconds, "final": records[-1] if records else {},
               "test": summary, "history": records}
    files["metrics"] = io.write_json_atomic(run_dir / "metrics.json", metrics)
    files["metrics_csv"] = io.write_text_atomic(run_dir / "metrics.csv", _records_csv(records))
    files["checkpoint"] = run_dir / "checkpoint.npz"
    files.update(_plots(model, head, ds, splits, records, run_dir))
    files = {k: str(v) for k, v in files.items()}
    if quiet:
        emit_json({"run_dir": str(run_dir), "settings": settings, "epochs": len(records), "seconds": seconds,
                   "final": records[-1] if records else {}, "test": summary, "files": files})
        return 0
    if ds.task == "regression":
        result = f"test MSE {summary['mse']:.4g}" if summary else "no test examples"
    else:
        result = f"test accuracy {summary['accuracy']:.2%}" if summary else "no test examples"
        if "loss" in summary:
            result += f" (test loss {summary['loss']:.4f})"
    say(f"done: {result} after {len(records)} epochs in {seconds:.1f}s")
    say(f"run folder {run_dir}: " + ", ".join(Path(v).name for v in files.values()))
    return 0


def _records_csv(records: list) -> str:
    keys = ["epoch", "loss", "train_acc", "val_loss", "val_acc", "lr", "seconds", "evaluations"]
    keys = list(dict.fromkeys(keys + [k for r in records for k in r]))  # then extras ("mistakes")
    rows = [",".join(keys)]
    for r in records:
        rows.append(",".join("" if r.get(k) is None else f"{r[k]:.6g}" if isinstance(r[k], float) else str(r[k])
                             for k in keys))
    return "\n".join(rows) + "\n"


def _plots(model, head, ds, splits, records, run_dir: Path) -> dict:
    from chainrule import viz

    files = {}
    if records:
        files["curves"] = viz.plot_history(records, run_dir / "curves.png")
    if ds.task == "classification" and ds.n_features == 2:
        spec = splits.preprocess
        files["decision_regions"] = viz.plot_decision_regions(
            lambda grid: head.predict(apply_preprocess(spec, grid)), splits.raw_train, splits.y_train,
            run_dir / "decision_regions.png", class_names=list(ds.classes))
    if ds.image_shape is not None and _image_shape_ok(ds.image_shape):
        W, names, title, total = weight_rows(model, head)
        files["weights"] = viz.plot_weight_images(W, ds.image_shape, run_dir / "weights.png", class_names=names,
                                                  title=title, total=total)
    return files


def _image_shape_ok(shape) -> bool:
    return len(shape) == 2 or (len(shape) == 3 and shape[2] == 3)


MAX_UNIT_IMAGES = 20


def weight_rows(model, head):
    """``(rows, names, title, total)``: a linear model's per-class templates, else first-layer units."""
    from chainrule import nn

    if isinstance(model, nn.MLP):
        first = next(m for m in model if isinstance(m, nn.Linear))
        W = first.weight.numpy()[:MAX_UNIT_IMAGES]
        return W, [f"unit {i}" for i in range(len(W))], "first hidden layer's weights, one image per unit", \
            first.out_features
    W = model.weight.numpy()
    if len(W) == 1:
        return W, [f"{head.classes[1]} vs {head.classes[0]}"], "the weights of the one output", 1
    return W, list(head.classes), "class templates: the weights of each class's score", len(W)
