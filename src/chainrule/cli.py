"""The `chainrule` command. Nothing imports this module.

Subcommands (each has ``--help``)::

    chainrule train      train a model on a dataset; a run folder with the model, metrics and plots
    chainrule evaluate   accuracy, per-class precision and recall, confusion matrix of a saved model
    chainrule predict    classes and probabilities (or scores) for the rows of a CSV file
    chainrule compare    the lecture's optimization strategies with equal budgets of loss evaluations
    chainrule graph      forward and backward through an expression; draw its circuit
    chainrule summary    neurons and learnable parameters per layer
    chainrule datasets   the datasets --data accepts

Exit codes: 0 success; 1 a failure while running (the loss diverged, an unexpected error);
2 bad input (arguments, files, data, models); 130 interrupted with Ctrl-C. Every error is one
line on stderr that starts with ``chainrule: error:``, never a traceback (set
``CHAINRULE_DEBUG=1`` to see one). ``--json`` makes a command print one JSON object on stdout
and nothing else there.

No command leaves a half-written file: every file is written to a temporary name in its folder
and moved into place, and a command that fails on its input writes nothing at all.
"""
from __future__ import annotations

import argparse
import os
import sys

from chainrule._version import __version__
from chainrule.cli_common import UsageError, one_line, stderr_line

__all__ = ["main", "build_parser", "UsageError"]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``chainrule: error: ...``) and exit code 2."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog):
        super().__init__(prog, max_help_position=30, width=100)


# ====================================================================== argument types
def _positive_float(text):
    value = _float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def _nonnegative_float(text):
    value = _float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def _float(text):
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def _int_at_least(minimum):
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


_positive_int = _int_at_least(1)
_nonnegative_int = _int_at_least(0)


def _batch_size(text):
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


def _fraction(text):
    value = _float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be a fraction in [0, 1), got {text!r}")
    return value


def _strategy_step(text):
    name, sep, value = str(text).partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected STRATEGY=VALUE such as sgd=0.01, got {text!r}")
    return name.strip(), _positive_float(value)


def _registry_names(module: str, attr: str) -> list:
    import importlib

    return list(getattr(importlib.import_module(module), attr))


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


def _add_train(sub):
    from chainrule.cli_common import PREPROCESSING
    from chainrule.cli_train import LOSSES, MODELS

    p = sub.add_parser("train", help="train a model; writes a run folder", description=TRAIN_HELP,
                       epilog=TRAIN_EXAMPLES, formatter_class=_Formatter)
    g = p.add_argument_group("data")
    g.add_argument("--data", metavar="NAME|FILE",
                   help="a dataset name (see 'chainrule datasets'), or a .csv file with a header row "
                        "or an .npz file with arrays X and y (default: digits)")
    g.add_argument("--label-column", metavar="NAME",
                   help="CSV only: the label column (default: 'label' if present, else the last column)")
    g.add_argument("--n-samples", type=_positive_int, metavar="N",
                   help="synthetic sets: how many points; other sets: a seeded random subset of N examples")
    g.add_argument("--noise", type=_nonnegative_float, help="synthetic sets only: their noise level")
    g.add_argument("--data-dir", metavar="DIR",
                   help="where downloaded datasets are kept (default: $CHAINRULE_DATA or the platform's cache)")
    g.add_argument("--preprocess", choices=PREPROCESSING,
                   help="standardize every feature (default), subtract the mean image, or nothing; "
                        "fitted on the training part")
    g = p.add_argument_group("model")
    g.add_argument("--model", choices=MODELS,
                   help="mlp (default); the linear classifiers softmax and svm; the perceptron (its own "
                        "rule w <- w + lr(y - y')x); the binary logistic and binary-svm")
    g.add_argument("--hidden", type=_positive_int, nargs="+", metavar="N",
                   help="mlp: hidden layer sizes, e.g. --hidden 256 128 (default: 128)")
    g.add_argument("--activation", choices=_registry_names("chainrule.nn", "ACTIVATIONS"),
                   help="mlp: the hidden layers' activation (default: relu)")
    g.add_argument("--loss", choices=LOSSES,
                   help="mlp: cross-entropy (= softmax, default), svm (= hinge), logistic or binary-hinge "
                        "(two classes), mse (numeric targets). The other models have their own loss")
    g = p.add_argument_group("optimization")
    g.add_argument("--optimizer", choices=_registry_names("chainrule.optim", "OPTIMIZERS"),
                   help="default: adam")
    g.add_argument("--lr", type=_positive_float, help="learning rate (default: 0.001; perceptron: 1.0)")
    g.add_argument("--schedule", choices=_registry_names("chainrule.optim", "SCHEDULES"),
                   help="learning-rate schedule over the epochs (default: none)")
    g.add_argument("--reg", type=_nonnegative_float, help="L2 strength lambda: + lambda * sum W^2 (default: 0)")
    g.add_argument("--epochs", type=_positive_int, help="passes over the training data (default: 30)")
    g.add_argument("--batch-size", type=_batch_size, metavar="full|N",
                   help="'full' (vanilla gradient descent), N (mini-batch) or 1 (SGD) (default: 32)")
    g.add_argument("--seed", type=_nonnegative_int,
                   help="seeds the data (synthetic sets, subsets, split), the initial weights and the "
                        "order of the batches (default: 0)")
    g = p.add_argument_group("output")
    g.add_argument("--out", metavar="DIR",
                   help="the run folder, new or empty (default: runs/DATA-MODEL-YYYYmmdd-HHMMSS)")
    g.add_argument("--resume", nargs="?", const="", metavar="RUN_DIR",
                   help="continue the run in RUN_DIR (or --out) from its checkpoint, with its saved settings")
    g.add_argument("--json", action="store_true",
                   help="print one JSON object with the results on stdout instead of the progress bar and text")
    p.set_defaults(handler=("chainrule.cli_train", "run"))


def _add_evaluate(sub):
    from chainrule.cli_inspect import SPLITS

    p = sub.add_parser(
        "evaluate", help="accuracy, precision, recall and confusion matrix of a saved model",
        formatter_class=_Formatter,
        description="Evaluate a saved model: accuracy, per-class precision and recall, the confusion matrix\n"
                    "(as text and as confusion.png). The model's saved preprocessing and class names are used.\n"
                    "On the data the model was trained on it evaluates the test part by default (the run's own\n"
                    "split, recreated from its seed); on other data, all of it.",
        epilog="examples:\n  chainrule evaluate runs/my-run\n"
               "  chainrule evaluate --model runs/my-run/model.npz --data digits --split all --json\n"
               "  chainrule evaluate --model model.npz --data new.csv --label-column species")
    p.add_argument("run", nargs="?", metavar="RUN_DIR", help="a run folder written by chainrule train")
    p.add_argument("--model", metavar="FILE", help="a model file (model.npz) instead of a run folder")
    p.add_argument("--data", metavar="NAME|FILE", help="the data to evaluate on (default: the training data)")
    p.add_argument("--label-column", metavar="NAME", help="CSV only: the label column")
    p.add_argument("--n-samples", type=_positive_int, metavar="N", help="evaluate on a seeded random subset")
    p.add_argument("--seed", type=_nonnegative_int, default=0, help="seed for --n-samples on other data (default: 0)")
    p.add_argument("--data-dir", metavar="DIR", help="where downloaded datasets are kept")
    p.add_argument("--split", choices=SPLITS,
                   help="which part: test (default on the training data), val, train, or all (default on other data)")
    p.add_argument("--out", metavar="DIR", help="where to write confusion.png (default: the model's folder)")
    p.add_argument("--no-plot", action="store_true", help="do not write confusion.png")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.set_defaults(handler=("chainrule.cli_inspect", "run_evaluate"))


def _add_predict(sub):
    p = sub.add_parser(
        "predict", help="classes and probabilities for the rows of a CSV file", formatter_class=_Formatter,
        description="Predict with a saved model. Each row of the input CSV is one example (a header row is\n"
                    "optional; with one, columns are matched to the training features by name and a 'label'\n"
                    "column is ignored). The output has the predicted class (its original name) and one\n"
                    "column per class: p(CLASS), the softmax probabilities, for softmax and MLP models;\n"
                    "p(CLASS) from the sigmoid for logistic regression; score(CLASS) for SVMs and the\n"
                    "perceptron, whose scores are not probabilities; a single 'score(B vs A)' column for\n"
                    "binary SVMs (positive means B). Regression models give one 'prediction' column.",
        epilog="examples:\n  chainrule predict --model runs/my-run --input new.csv\n"
               "  chainrule predict --model model.npz --input new.csv --output predictions.json")
    p.add_argument("--model", required=True, metavar="FILE|RUN_DIR", help="a model file or a run folder")
    p.add_argument("--input", required=True, metavar="CSV", help="the examples, one per row ('-': standard input)")
    p.add_argument("--output", metavar="FILE", help="write here instead of stdout (written whole or not at all)")
    p.add_argument("--format", choices=("csv", "json"),
                   help="default: json for an --output ending in .json, else csv")
    p.set_defaults(handler=("chainrule.cli_inspect", "run_predict"))


def _add_compare(sub):
    from chainrule.cli_compare import STRATEGIES

    names = "\n".join(f"  {s.name:<20} {s.description}" for s in STRATEGIES)
    p = sub.add_parser(
        "compare", help="the lecture's optimization strategies, equal budgets", formatter_class=_Formatter,
        description="Train one model (a linear softmax classifier by default) with each of the lecture's\n"
                    "optimization strategies, from the same initial weights, for the same budget of loss\n"
                    "evaluations, and compare them: a table (final loss, accuracy, wall time, loss\n"
                    "evaluations), compare.json, and compare.png with every loss curve against the number\n"
                    "of loss evaluations. A loss evaluation is one forward pass of the loss on one batch\n"
                    "(the full batch, a mini-batch or a single example): what each strategy pays per step.\n\n"
                    "strategies:\n" + names,
        epilog="examples:\n  chainrule compare --data spiral --budget 300\n"
               "  chainrule compare --data digits --model mlp --budget 1000 --json")
    p.add_argument("--data", default="spiral", metavar="NAME|FILE", help="default: spiral")
    p.add_argument("--label-column", metavar="NAME", help="CSV only: the label column")
    p.add_argument("--n-samples", type=_positive_int, metavar="N", help="as for train")
    p.add_argument("--data-dir", metavar="DIR", help="where downloaded datasets are kept")
    p.add_argument("--model", choices=("softmax", "svm", "mlp"), default="softmax",
                   help="the model every strategy trains (default: softmax)")
    p.add_argument("--hidden", type=_positive_int, nargs="+", default=[100], metavar="N",
                   help="mlp: hidden layer sizes (default: 100)")
    p.add_argument("--budget", type=_positive_int, default=300, help="loss evaluations per strategy (default: 300)")
    p.add_argument("--batch-size", type=_positive_int, default=32, metavar="N",
                   help="the mini-batch size of mini-batch GD, momentum and Adam (default: 32)")
    p.add_argument("--reg", type=_nonnegative_float, default=1e-3, help="L2 strength (default: 0.001)")
    p.add_argument("--strategies", nargs="+", metavar="NAME", help="a subset of the strategies (default: all)")
    p.add_argument("--lr", action="append", type=_strategy_step, metavar="STRATEGY=VALUE",
                   help="change one strategy's step: the learning rate, or for the searches the scale of "
                        "the draws / the step size; e.g. --lr sgd=0.01 (repeatable)")
    p.add_argument("--seed", type=_nonnegative_int, default=0, help="default: 0")
    p.add_argument("--out", metavar="DIR", help="where to write compare.json and compare.png "
                                                "(default: runs/compare-DATA-MODEL-YYYYmmdd-HHMMSS)")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.set_defaults(handler=("chainrule.cli_compare", "run_compare"))


def _add_graph(sub):
    from chainrule.cli_tools import parse_var

    p = sub.add_parser(
        "graph", help="forward and backward through an expression; draw the circuit", formatter_class=_Formatter,
        description="Parse an arithmetic expression (+ - * / ** and exp, log, max, min, sigmoid, relu, tanh,\n"
                    "... with Python's precedence; never eval), compute it and its gradient with respect to\n"
                    "every variable, and draw the circuit the way the lecture does: each gate with its forward\n"
                    "value and each wire with its gradient. The DOT file is always written; the picture is\n"
                    "rendered with Graphviz's dot when it is installed and with matplotlib otherwise.",
        epilog='examples:\n  chainrule graph "(x + y) * z" --var x=-2 --var y=5 --var z=-4\n'
               '  chainrule graph "1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))" --var w0=2 --var x0=-1 \\\n'
               '      --var w1=-3 --var x1=-2 --var w2=-3 --out sigmoid.png')
    p.add_argument("expression", metavar="EXPR", help="the expression, quoted")
    p.add_argument("--var", action="append", type=parse_var, metavar="NAME=VALUE",
                   help="a variable's value; one --var per variable")
    p.add_argument("--out", default="circuit.svg", metavar="FILE",
                   help="the drawing: .svg, .png, .pdf or .dot; FILE.dot is written too (default: circuit.svg)")
    p.add_argument("--engine", choices=("auto", "graphviz", "matplotlib"), default="auto",
                   help="renderer (default: auto = Graphviz if installed, else matplotlib)")
    p.add_argument("--precision", type=_nonnegative_int, default=2, help="decimals shown in the drawing (default: 2)")
    p.add_argument("--json", action="store_true", help="print value and gradients as one JSON object")
    p.set_defaults(handler=("chainrule.cli_tools", "run_graph"))


def _add_summary(sub):
    p = sub.add_parser(
        "summary", help="neurons and learnable parameters per layer", formatter_class=_Formatter,
        description="Count a network's neurons (not counting the inputs) and learnable parameters (weights\n"
                    "and biases) layer by layer, like the lecture: --layers 3 4 2 has 4 + 2 = 6 neurons and\n"
                    "[3x4] + [4x2] = 20 weights + 6 biases = 26 parameters; --layers 3 4 4 1 has 9 and 41.",
        epilog="examples:\n  chainrule summary --layers 3 4 2\n  chainrule summary --model runs/my-run --json")
    p.add_argument("--layers", type=_positive_int, nargs="+", metavar="N",
                   help="layer sizes from the inputs to the outputs")
    p.add_argument("--activation", choices=_registry_names("chainrule.nn", "ACTIVATIONS"), default="relu",
                   help="the hidden layers' activation (default: relu; it has no parameters)")
    p.add_argument("--model", metavar="FILE|RUN_DIR", help="count a saved model instead")
    p.add_argument("--json", action="store_true", help="print the counts as one JSON object")
    p.set_defaults(handler=("chainrule.cli_tools", "run_summary"))


def _add_datasets(sub):
    p = sub.add_parser("datasets", help="list the datasets --data accepts", formatter_class=_Formatter,
                       description="List the built-in, synthetic and downloadable datasets.")
    p.add_argument("--json", action="store_true", help="print the list as one JSON object")
    p.set_defaults(handler=("chainrule.cli_tools", "run_datasets"))


def build_parser() -> argparse.ArgumentParser:
    """The ``chainrule`` argument parser with every subcommand."""
    parser = _Parser(
        prog="chainrule", formatter_class=_Formatter,
        description="Neural networks from first principles: train, compare, inspect and draw.",
        epilog="Run 'chainrule COMMAND --help' for a command's options. Exit codes: 0 ok, 1 failure while "
               "running,\n2 bad input, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in (_add_train, _add_evaluate, _add_predict, _add_compare, _add_graph, _add_summary, _add_datasets):
        add(sub)
    return parser


# ====================================================================== main
def main(argv=None) -> int:
    """Run the ``chainrule`` command line; returns the exit code (the console-script entry point)."""
    try:
        return _run(argv)
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0


def _run(argv) -> int:
    import importlib

    from chainrule.cli_train import Interrupted

    debug = bool(os.environ.get("CHAINRULE_DEBUG"))
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        module, name = args.handler
        handler = getattr(importlib.import_module(module), name)
        with _quiet_warnings(debug):
            return handler(args)
    except UsageError as exc:
        return _fail(exc, 2, debug)
    except BrokenPipeError:
        # The reader went away (`chainrule ... | head`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Interrupted as exc:
        return _fail(exc, 130, debug)
    except KeyboardInterrupt:
        return _fail("interrupted", 130, debug)
    except (ValueError, TypeError, OSError, LookupError) as exc:
        # FormatError, ExpressionError (ValueErrors), DownloadError, MissingFileError (OSErrors):
        # the input was wrong, and the message says how.
        if _is_divergence(exc):
            return _fail(exc, 1, debug)
        return _fail(exc, 2, debug)
    except Exception as exc:  # TrainingDiverged (a FloatingPointError), and anything unexpected
        if _is_divergence(exc):
            return _fail(exc, 1, debug)
        return _fail(f"{type(exc).__name__}: {exc}", 1, debug)


def _is_divergence(exc) -> bool:
    return isinstance(exc, FloatingPointError)


def _fail(exc, code: int, debug: bool) -> int:
    if debug and isinstance(exc, BaseException):
        import traceback

        traceback.print_exception(exc)
    message = one_line(exc if isinstance(exc, str) else _message(exc))
    stderr_line(f"chainrule: error: {message}")
    return code


def _message(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    if isinstance(exc, KeyError):
        return f"missing {text}"
    return text or type(exc).__name__


class _quiet_warnings:
    """Library warnings would add lines to stderr; the CLI reports problems itself."""

    def __init__(self, debug: bool):
        self.debug = debug

    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        if not self.debug:
            warnings.simplefilter("ignore")
        return self

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


if __name__ == "__main__":
    sys.exit(main())
