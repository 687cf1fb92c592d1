"""``chainrule train``: one training run, from a dataset name to a folder of results.

The run itself is :mod:`chainrule.runs` (``RunSettings`` → ``train_run`` → ``write_run``); this
module turns the options into settings, owns the run folder and reports. A run folder holds,
each file written whole or not at all (temporary file + ``os.replace``)::

    config.json       the run's settings (written before training; ``--resume`` reads it)
    checkpoint.npz    the whole training state after the latest epoch (chainrule.train.Checkpoint)
    model.npz         the trained model, with the preprocessing statistics and class names
    metrics.json      final and per-epoch metrics, test accuracy
    metrics.csv       one row per epoch
    curves.png        loss and accuracy per epoch
    decision_regions.png   for 2-D data
    weights.png       for image data: a linear model's weight rows (or an MLP's first layer)
    filters.png       --model cnn: the first convolution's filters
    feature_maps.png  --model cnn: that convolution's feature maps (after its ReLU) for one test
                      example, the first of the test part unless --feature-maps N says which

A run killed at any moment (Ctrl-C, ``kill -9``, a power cut) continues with
``chainrule train --resume RUN_DIR`` and ends with the same weights as an uninterrupted run. A
run whose loss diverges writes no model and no checkpoint of the diverged state, and exits 1.
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from chainrule.cli.common import (  # noqa: F401  (Interrupted: cli's main catches it from here)
    Formatter, Interrupted, MadeDirs, UsageError, add_training_options, check_output_dir, emit_json, new_folder,
    nonnegative_int, say,
)
from chainrule.runs import RUN_ONLY, RunSettings, option_name

SETTINGS = tuple(f.name for f in dataclasses.fields(RunSettings))


# ====================================================================== the parser
TRAIN_HELP = """\
Train a model and write a run folder: model.npz, config.json, metrics.json, metrics.csv,
checkpoint.npz, curves.png, and decision_regions.png (2-D data) or weights.png (image data);
for --model cnn, filters.png (the first convolution's filters) and feature_maps.png (what they
make of one test example: --feature-maps N, default the first).

With no options it trains an MLP (one hidden layer of 128 ReLU units, Adam, lr 0.001, batches
of 32, 30 epochs, seed 0) on the 8x8 digits: about 97-98 % test accuracy in a few seconds.
The data is split into a stratified test part (25 %), a validation part (10 % of the rest)
and the training part, and standardized with the training part's statistics; the model file
keeps those statistics and the class names, so evaluate and predict reuse them.

While it runs: a progress bar with the live loss and accuracy (on stderr) and one line per epoch
(on stdout), then a summary with the test accuracy. A checkpoint is written after every epoch;
a run stopped at any moment (Ctrl-C, kill -9) continues with --resume RUN_DIR and ends with the
same weights as an uninterrupted run.

--model cnn trains a convolutional network on image data (digits, mnist, fashion-mnist, cifar10,
or a file with --image-shape). --conv describes its layers, joined by '-':
  c16        a 3x3 convolution with 16 filters, stride 1, padding 1, then ReLU
  c16k5s1p2  ... kernel 5, stride 1, padding 2 (k, s, p optional, in that order; padding k//2)
  bn         batch normalization         m2, a2   2x2 max / average pooling (stride 2)
  g          global average pooling      d0.25    dropout (of whole maps before fc)
  fc128      a fully connected layer of 128 neurons, then ReLU
The output layer (one neuron per class) is added. Defaults: c32-bn-m2-c64-bn for 8x8 images,
c16k5-m2-c32k5-m2 up to 28x28, c32-m2-c64-m2 above. Its data is scaled by one mean and standard
deviation (--preprocess global-standardize); --crop PAD and --flip augment the training images.
"""

TRAIN_EXAMPLES = """\
examples:
  chainrule train                                      # the README's main job: MLP on digits
  chainrule train --out runs/my-run                    # the same, in a folder of your choice
  chainrule train --data spiral --hidden 100 --optimizer sgd --lr 1 --batch-size full --epochs 300
  chainrule train --data digits --model softmax --reg 1e-3 --out runs/softmax
  chainrule train --model cnn                          # a CNN on the digits: 99.3 % in under a minute
  chainrule train --data mnist --model cnn --epochs 5 --crop 2
  chainrule train --data cifar10 --model cnn --conv c32-c32-m2-c64-c64-m2-fc128-d0.5 --crop 4 --flip
  chainrule train --data cifar10 --model svm --preprocess mean-image --n-samples 5000
  chainrule train --data my.csv --label-column species --model logistic
  chainrule train --resume runs/softmax                # continue a stopped run
"""


def add_parser(sub) -> None:
    """Add the subcommand's parser to ``sub`` (argparse subparsers); it runs :func:`run`."""
    p = sub.add_parser("train", help="train a model; writes a run folder", description=TRAIN_HELP,
                       epilog=TRAIN_EXAMPLES, formatter_class=Formatter)
    add_training_options(p)
    g = p.add_argument_group("output")
    g.add_argument("-o", "--out", metavar="DIR",
                   help="the run folder, new or empty (default: runs/DATA-MODEL-YYYYmmdd-HHMMSS)")
    g.add_argument("--resume", nargs="?", const="", metavar="RUN_DIR",
                   help="continue the run in RUN_DIR (or --out) from its checkpoint, with its saved settings")
    g.add_argument("--allow-changed-data", action="store_true",
                   help="with --resume: continue even if the training data differs from what the run "
                        "started on (its SHA-256 is recorded in config.json)")
    g.add_argument("--feature-maps", type=nonnegative_int, default=None, metavar="N",
                   help="--model cnn: feature_maps.png shows test example N (its index in the test part; "
                        "default 0, the first)")
    g.add_argument("-q", "--quiet", action="store_true",
                   help="no progress: neither the bar nor the line per epoch (the start and the result are printed)")
    g.add_argument("--json", action="store_true",
                   help="print one JSON object with the results on stdout instead of the progress bar and text")
    p.set_defaults(func=run)


# ====================================================================== settings
def resolve_settings(args) -> tuple[RunSettings, Path, bool]:
    """The run's settings, its folder and whether it resumes one; UsageError for bad combinations."""
    given = {k: getattr(args, k) for k in SETTINGS if getattr(args, k, None) is not None}
    if args.resume is not None:
        run_dir = _resume_dir(args)
        saved = read_config(run_dir, {k: v for k, v in given.items() if k in RUN_ONLY})[0]
        now = saved.to_dict()
        clashes = [f"{option_name(k)} {_show(v)} (the run has {_show(now.get(k))})"
                   for k, v in given.items() if k not in RUN_ONLY and _normal(k, v) != now.get(k)]
        if clashes:
            raise UsageError(
                f"--resume continues {run_dir} with its saved settings; these options differ: "
                f"{'; '.join(clashes)}. Drop them, or start a new run with another --out"
            )
        return saved, run_dir, True
    if getattr(args, "allow_changed_data", False):
        raise UsageError("--allow-changed-data applies to --resume only")
    try:
        settings = RunSettings(**given)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    run_dir = Path(args.out) if args.out is not None else _default_run_dir(settings)
    check_new_run_dir(run_dir)
    return settings, run_dir, False


def _normal(key, value):
    """An option's value as the settings store it (a path resolved, a loss by its own name)."""
    from chainrule.train import get_task

    if key == "loss":
        return get_task(value).name
    if key == "conv":
        return str(value).strip().lower()
    if key == "data_dir" or (key == "data" and str(value).lower().endswith((".csv", ".npz"))):
        return str(Path(value).expanduser().resolve())
    return value


def _show(v) -> str:
    if isinstance(v, list):
        return " ".join(map(str, v))
    return "none" if v is None else str(v)


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


def read_config(run_dir: Path, changes=None) -> tuple[RunSettings, str | None]:
    """``runs.read_config``: the run folder's settings (``changes`` of :data:`RUN_ONLY` applied)
    and data fingerprint; UsageError when bad."""
    from chainrule import runs

    try:
        return runs.read_config(run_dir, changes)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def check_new_run_dir(run_dir: Path) -> None:
    from chainrule import runs

    check_output_dir(run_dir)
    try:
        runs.check_new_folder(run_dir)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _default_run_dir(settings: RunSettings) -> Path:
    return new_folder("runs", settings.data, settings.model)


# ====================================================================== the command
def run(args) -> int:
    """``chainrule train``: see the module docstring and ``chainrule train --help``."""
    from chainrule import runs
    from chainrule.train import Checkpoint

    settings, run_dir, resuming = resolve_settings(args)
    quiet = bool(args.json)
    # The progress: a live bar on a terminal; one line per epoch into a log or a pipe; nothing
    # with --quiet (or --json, whose stdout is the JSON object).
    progress = [] if quiet or args.quiet else [_live_bar() if sys.stderr.isatty() else _epoch_lines()]
    checkpoint = run_dir / "checkpoint.npz"
    state = None
    lock = None
    dirs = MadeDirs()
    try:
        try:
            if resuming and (checkpoint.exists() or checkpoint.is_symlink()):
                state = runs.read_checkpoint(checkpoint)
            prepared = runs.prepare_run(settings)
            example = _feature_map_example(args, settings, prepared)
            fingerprint = prepared.dataset.fingerprint()
            if resuming:
                runs.check_same_data(run_dir, read_config(run_dir)[1], prepared.dataset,
                                     allow_changed_data=args.allow_changed_data)
                # Everything was read (run files are written atomically); a refused resume never
                # touched the folder. From here the folder is this process's (runs.lock_folder).
                lock = runs.lock_folder(run_dir, how="--resume")
                runs.remove_stale_temporaries(run_dir)
            else:
                dirs.make(run_dir)
                lock = runs.lock_folder(run_dir)
                runs.check_new_folder(run_dir)  # again, now that no other run can start here
                runs.remove_stale_temporaries(run_dir)
                dirs.wrote(runs.write_config(run_dir, settings, data_sha256=fingerprint))
            # The checkpoint is loaded into the trainer, and checked whole, before anything is printed.
            callbacks = progress + [Checkpoint(checkpoint, every=1.0)]
            started = runs.start_run(settings, callbacks=callbacks, resume=state, prepared=prepared,
                                     source=checkpoint)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        say(_banner(settings, prepared, run_dir, state is not None), quiet=quiet)
        result = started.finish()
        # Inside the try: Ctrl-C while the model and plots are written still names the checkpoint.
        files = runs.write_run(run_dir, result, example=example)
        return _report(result, run_dir, files, quiet)
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
            if lock is not None:
                lock.release()
            dirs.undo()
        raise
    finally:
        if lock is not None:
            lock.release()


def _feature_map_example(args, settings: RunSettings, prepared) -> int:
    """The test example feature_maps.png shows (--feature-maps), checked before training."""
    from chainrule import runs

    if args.feature_maps is None:
        return 0
    if settings.model != "cnn":
        raise ValueError(f"--feature-maps applies to --model cnn, not --model {settings.model}")
    return runs.check_example(args.feature_maps, len(prepared.split.y_test))


def _banner(settings: RunSettings, prepared, run_dir, resuming) -> str:
    ds, split, model = prepared.dataset, prepared.split, prepared.model
    what = settings.model + (f" {settings.hidden} {settings.activation}" if settings.model == "mlp" else "")
    if settings.model == "cnn":
        augment = [f"crop {settings.crop}"] * bool(settings.crop) + ["flip"] * bool(settings.flip)
        what += (f" {model.spec} on {'x'.join(map(str, model.input_shape))} images"
                 + (f" ({', '.join(augment)})" if augment else ""))
    parts = [f"{'resuming' if resuming else 'training'} {what} on {ds.name}: "
             f"{len(split.y_train)} train / {len(split.y_val)} validation / {len(split.y_test)} test "
             f"examples, {ds.n_features} features",
             f"{'' if ds.task == 'regression' else f', {ds.n_classes} classes'}"]
    if settings.model == "perceptron":
        parts.append(f"; perceptron rule, lr {settings.lr:g}, {settings.epochs} epochs")
    else:
        batch = "full batch" if settings.batch_size == "full" else f"batch {settings.batch_size}"
        parts.append(f"; {settings.optimizer} lr {settings.lr:g}, {batch}, {settings.epochs} epochs")
    parts.append(f"; {model.num_parameters()} parameters -> {run_dir}")
    return "".join(parts)


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


def _checkpoint_epoch(path: Path):
    from chainrule import io

    try:
        return int(io.load_archive(path, kind="checkpoint")[1]["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _report(result, run_dir: Path, files: dict, quiet: bool) -> int:
    files = {k: str(v) for k, v in files.items() if k != "config"}
    summary, records, seconds = result.metrics["test"], result.history, result.seconds
    if quiet:
        emit_json({"run_dir": str(run_dir), "settings": result.settings.to_dict(), "epochs": len(records),
                   "seconds": seconds, "final": records[-1] if records else {}, "test": summary, "files": files})
        return 0
    if result.dataset.task == "regression":
        text = f"test MSE {summary['mse']:.4g}" if summary else "no test examples"
    else:
        text = f"test accuracy {summary['accuracy']:.2%}" if summary else "no test examples"
        if "loss" in summary:
            text += f" (test loss {summary['loss']:.4f})"
    say(f"done: {text} after {len(records)} epochs in {seconds:.1f}s")
    say(f"run folder {run_dir}: " + ", ".join(Path(v).name for v in files.values()))
    return 0
