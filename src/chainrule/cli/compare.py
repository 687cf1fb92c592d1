"""``chainrule compare``: the lecture's optimization strategies side by side, with equal budgets.

Every strategy starts from the same initial weights and may evaluate the loss ``--budget``
times. One loss evaluation is one forward pass of the loss on one batch: random search and
random local search evaluate the full training set per step (and never use a gradient);
full-batch gradient descent pays one evaluation per step too, mini-batch gradient descent one
per mini-batch, SGD one per example. Every strategy trains in the one loop
(``chainrule.train.Trainer``, the loss plus ``λ Σ W²``); the budget is a callback (:class:`Budget`)
that stops it after the batch that spends the last evaluation.

The curves are the full training loss (with the L2 term) measured every few evaluations; that
measuring is not charged to the budget, nor to the wall time.
"""
from __future__ import annotations

import math
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np

from chainrule import validation as check
from chainrule.optim.strategies import BY_NAME, STRATEGIES, Strategy
from chainrule.cli.common import (
    Formatter, UsageError, batch_size_arg, check_output_dir, data_label, emit_json, image_shape_arg, load_data,
    nonnegative_float, positive_int, say, seed_arg, strategy_step,
)


CURVE_POINTS = 100


def add_parser(sub) -> None:
    """Add the subcommand's parser to ``sub`` (argparse subparsers); it runs :func:`run`."""
    names = "\n".join(f"  {s.name:<20} {s.description}" for s in STRATEGIES)
    p = sub.add_parser(
        "compare", help="the lecture's optimization strategies, equal budgets", formatter_class=Formatter,
        description="Train one model (a linear softmax classifier by default) with each of the lecture's\n"
                    "optimization strategies, from the same initial weights, for the same budget of loss\n"
                    "evaluations, and compare them: a table (final loss, accuracy, wall time, loss\n"
                    "evaluations), compare.json, and compare.png with every loss curve against the number\n"
                    "of loss evaluations. A loss evaluation is one forward pass of the loss on one batch\n"
                    "(the full batch, a mini-batch or a single example): what each strategy pays per step.\n\n"
                    "strategies:\n" + names,
        epilog="examples:\n  chainrule compare --data spiral --budget 300\n"
               "  chainrule compare --data digits --model mlp --budget 1000 --json\n"
               "  chainrule compare --data digits --model cnn --strategies sgd adam --budget 500")
    p.add_argument("--data", default="spiral", metavar="NAME|FILE", help="default: spiral")
    p.add_argument("--label-column", metavar="NAME", help="CSV only: the label column")
    p.add_argument("--n-samples", type=positive_int, metavar="N", help="as for train")
    p.add_argument("--data-dir", metavar="DIR", help="where downloaded datasets are kept")
    p.add_argument("--model", choices=("softmax", "svm", "mlp", "cnn"), default="softmax",
                   help="the model every strategy trains (default: softmax; cnn: on image data)")
    p.add_argument("--hidden", type=positive_int, nargs="+", metavar="N",
                   help="mlp: hidden layer sizes (default: 100)")
    p.add_argument("--conv", metavar="SPEC", help="cnn: its layers, as for train (default: per image size)")
    p.add_argument("--image-shape", type=image_shape_arg, metavar="CxHxW",
                   help="cnn: for data without an image shape, as for train")
    p.add_argument("--budget", type=positive_int, default=300, help="loss evaluations per strategy (default: 300)")
    p.add_argument("--batch-size", type=batch_size_arg, default=32, metavar="full|N",
                   help="the mini-batch size of mini-batch GD, momentum and Adam: N, or 'full' as for "
                        "train (default: 32)")
    p.add_argument("--reg", type=nonnegative_float, default=1e-3, help="L2 strength (default: 0.001)")
    p.add_argument("--strategies", nargs="+", metavar="NAME", help="a subset of the strategies (default: all)")
    p.add_argument("--lr", action="append", type=strategy_step, metavar="STRATEGY=VALUE",
                   help="change one strategy's step: the learning rate, or for the searches the scale of "
                        "the draws / the step size; e.g. --lr sgd=0.01 (repeatable)")
    p.add_argument("--seed", type=seed_arg, default=0, help="default: 0")
    p.add_argument("-o", "--out", metavar="DIR", help="where to write compare.json and compare.png "
                                                "(default: runs/compare-DATA-MODEL-YYYYmmdd-HHMMSS)")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    """``chainrule compare``: see the module docstring and ``chainrule compare --help``."""
    names = args.strategies or [s.name for s in STRATEGIES]
    for name in names:
        check.choice("--strategies", name, tuple(BY_NAME))
    if len(set(names)) != len(names):
        raise UsageError("--strategies names a strategy twice")
    from chainrule import runs

    for option in ("hidden", "conv", "image_shape"):  # an option of another model is an error, not a no-op
        if getattr(args, option) is not None and args.model not in runs.ONLY_FOR[option]:
            raise UsageError(f"{runs.option_name(option)} applies to --model {' or '.join(runs.ONLY_FOR[option])}, "
                             f"not --model {args.model}")
    steps = {}
    for name, value in args.lr or []:
        check.choice(f"the strategy of --lr {name}={value:g}", name, tuple(BY_NAME))
        if name in steps:
            raise UsageError(f"--lr names {name} twice ({name}={steps[name]:g} and {name}={value:g})")
        if name not in names:
            raise UsageError(f"--lr {name}={value:g} is for a strategy this comparison does not run "
                             f"(--strategies {' '.join(names)})")
        steps[name] = value
    out = Path(args.out) if args.out else _default_dir(args)
    check_output_dir(out)
    ds = load_data(args.data, seed=args.seed, n_samples=args.n_samples, data_dir=args.data_dir,
                   label_column=args.label_column)
    if ds.task != "classification" or ds.n_classes < 2:
        raise UsageError(f"compare needs a classification dataset with 2 or more classes; {ds.name} is not one")
    from chainrule.data import prepare_split

    cnn = _cnn_settings(args, ds)
    _, splits, _ = prepare_split(ds, test_size=0.25, val_size=0.0, seed=args.seed,
                                 preprocess=cnn.preprocess if cnn else "standardize", channels_first=bool(cnn))
    loss_name = "svm" if args.model == "svm" else "cross-entropy"

    def make_model():
        from chainrule import models, nn, runs

        if cnn is not None:  # the same network `chainrule train --model cnn` builds, from the same seed
            return runs.build_model(cnn, ds)[0]
        if args.model == "mlp":
            return nn.MLP(ds.n_features, args.hidden or [100], ds.n_classes, rng=args.seed)
        return models.LinearClassifier(ds.n_features, ds.n_classes, loss=args.model, reg=args.reg, seed=args.seed)

    results = []
    for name in names:
        strategy = BY_NAME[name]
        if name in steps:
            strategy = replace(strategy, step=steps[name])
        results.append(run_strategy(strategy, make_model, splits, loss_name, reg=args.reg,
                                    budget=args.budget, batch_size=None if args.batch_size == "full" else args.batch_size,
                                    seed=args.seed))
    summary = {
        "data": ds.name, "model": args.model, "loss": loss_name, "budget": args.budget,
        "batch_size": args.batch_size, "reg": args.reg, "seed": args.seed,
        "n_train": int(len(splits.y_train)), "n_test": int(len(splits.y_test)), "results": results,
    }
    out.mkdir(parents=True, exist_ok=True)
    from chainrule import io, viz

    json_path = io.write_json_atomic(out / "compare.json", summary)
    curves = {r["strategy"]: (r["curve"]["evaluations"], r["curve"]["loss"]) for r in results}
    png_path = viz.plot_loss_curves(curves, out / "compare.png", xlabel="loss evaluations", best=True,
                                    title=f"best loss so far per strategy, {args.budget:,} loss evaluations each")
    summary["files"] = {"json": str(json_path), "png": str(png_path)}
    if args.json:
        emit_json(summary)
        return 0
    say(f"{args.model} on {ds.name} ({summary['n_train']} train / {summary['n_test']} test examples), "
        f"budget {args.budget} loss evaluations each, reg {args.reg:g}, seed {args.seed}")
    say(format_table(results))
    say(f"wrote {json_path} and {png_path}")
    return 0


def _cnn_settings(args, ds):
    """For --model cnn: the run settings whose network every strategy trains (checked up
    front: the layer string, the image shape); None for the other models."""
    from chainrule import runs

    if args.model != "cnn":
        return None
    try:
        settings = runs.RunSettings(data=args.data, model="cnn", conv=args.conv, image_shape=args.image_shape,
                                    seed=args.seed)
        runs.build_model(settings, ds)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return settings


def _default_dir(args) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"compare-{data_label(args.data)}-{args.model}-{stamp}"


class Budget:
    """A callback of the one loop: stop at ``budget`` loss evaluations; sample the full loss on the way.

    A search's evaluations are its optimizer's own count (it scores the whole training set per
    try); a gradient strategy pays one per batch. The sampling of the curve is not charged to
    the wall time, nor is the loop's evaluation after each epoch.
    """

    def __init__(self, budget: int, full_loss, every: int):
        self.budget, self.full_loss, self.every = budget, full_loss, every
        self.xs, self.ys, self.seconds, self.evaluations = [0], [full_loss()], 0.0, 0
        self.clock = None

    def on_train_begin(self, trainer):
        self.clock = time.perf_counter()

    def on_batch_end(self, trainer, loss):
        self.seconds += time.perf_counter() - self.clock
        opt = trainer.optimizer
        self.evaluations = opt.loss_evaluations if opt.requires_closure else trainer.evaluations
        done = self.evaluations >= self.budget
        if self.evaluations % self.every == 0 or done:
            self.xs.append(self.evaluations)
            self.ys.append(self.full_loss())
        self.clock = time.perf_counter()
        return done

    def on_epoch_end(self, trainer, record):
        self.clock = time.perf_counter()

    def on_train_end(self, trainer):
        pass


def run_strategy(strategy: Strategy, make_model, splits, loss_name: str, *, reg: float, budget: int,
                 batch_size: int, seed: int) -> dict:
    """Train a fresh model with one strategy for ``budget`` loss evaluations; its result row."""
    from chainrule.engine import Tensor, no_grad
    from chainrule.train import TrainConfig, Trainer, TrainingDiverged, predict_scores

    model = make_model()
    size = strategy.batch_size(batch_size)
    n = len(splits.y_train)
    per_epoch = 1 if size is None else math.ceil(n / size)
    config = TrainConfig(loss=loss_name, optimizer=strategy.optimizer, lr=strategy.step, batch_size=size,
                         epochs=math.ceil(budget / per_epoch) + 1, reg=reg, seed=seed)
    trainer = Trainer(model, splits.X_train, splits.y_train, config)
    Xfull, y = Tensor(trainer.X), trainer.y

    def full_loss() -> float:
        with no_grad():
            return float(trainer.loss(model(Xfull), y).item())

    counter = Budget(budget, full_loss, max(1, budget // CURVE_POINTS))
    trainer.callbacks.append(counter)
    diverged = False
    try:
        trainer.run()
    except TrainingDiverged:
        diverged = True
        counter.xs.append(counter.evaluations)
        counter.ys.append(math.nan)

    def accuracy(Xp, yp):
        return float(np.mean(predict_scores(model, Xp).argmax(axis=1) == yp)) if len(yp) else None

    xs, ys = counter.xs, counter.ys
    final = ys[-1]
    return {
        "strategy": strategy.name, "optimizer": strategy.optimizer,
        "batch_size": "full" if size is None else size, "step": strategy.step,
        "final_loss": final if math.isfinite(final) else None, "diverged": diverged or not math.isfinite(final),
        "train_acc": accuracy(splits.X_train, splits.y_train), "test_acc": accuracy(splits.X_test, splits.y_test),
        "seconds": counter.seconds, "evaluations": int(counter.evaluations),
        "curve": {"evaluations": xs, "loss": [v if math.isfinite(v) else None for v in ys]},
    }


def format_table(results: list) -> str:
    header = ("strategy", "batch", "final loss", "train acc", "test acc", "seconds", "loss evals")
    rows = [header]
    for r in results:
        loss = "diverged" if r["final_loss"] is None else f"{r['final_loss']:.4f}"
        rows.append((r["strategy"], str(r["batch_size"]), loss, _pct(r["train_acc"]), _pct(r["test_acc"]),
                     f"{r['seconds']:.3f}", str(r["evaluations"])))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def _pct(v) -> str:
    return "-" if v is None else f"{v:.2%}"
