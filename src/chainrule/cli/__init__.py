"""The `chainrule` command. Nothing imports this module.

Subcommands (each has ``--help``)::

    chainrule train      train a model on a dataset; a run folder with the model, metrics and plots
    chainrule sweep      a hyper-parameter search: many training runs on Dask, the best one kept
    chainrule evaluate   accuracy, per-class precision and recall, confusion matrix of a saved model
    chainrule predict    classes and probabilities (or scores) for the rows of a CSV file
    chainrule compare    the lecture's optimization strategies with equal budgets of loss evaluations
    chainrule graph      forward and backward through an expression; draw its circuit
    chainrule summary    neurons and learnable parameters per layer
    chainrule datasets   the datasets --data accepts
    chainrule playground circuits and networks, live in the browser

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
import errno
import os
import signal
import sys


from chainrule._version import __version__  # noqa: E402
from chainrule.cli import compare, datasets, evaluate, graph, playground, predict, summary, sweep, train  # noqa: E402
from chainrule.cli.common import Formatter, Parser, UsageError, one_line, stderr_line  # noqa: E402

__all__ = ["main", "build_parser", "COMMANDS", "UsageError"]

# The subcommands, in the order of `chainrule --help`. Each module has add_parser(subparsers), which
# creates its subparser and sets func=run, and run(args) -> int. A new subcommand is one module here.
COMMANDS = (train, sweep, evaluate, predict, compare, graph, summary, datasets, playground)





def build_parser() -> argparse.ArgumentParser:
    """The ``chainrule`` argument parser with every subcommand."""
    parser = Parser(
        prog="chainrule", formatter_class=Formatter,
        description="Neural networks from first principles: train, compare, inspect and draw.",
        epilog="Run 'chainrule COMMAND --help' for a command's options. Exit codes: 0 ok, 1 failure while "
               "running,\n2 bad input, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    parser.commands = sub.choices  # name -> subparser, for errors found after the subcommand parsed
    return parser


# ====================================================================== main
def main(argv=None) -> int:
    """Run the ``chainrule`` command line; returns the exit code (the console-script entry point)."""
    from chainrule._startup import interrupted_while_starting

    # chainrule/_startup.py installed a one-line handler when this process is the command; _run
    # puts Python's own back inside its try, and the command ends with the one-line one again.
    starting = signal.getsignal(signal.SIGINT) is interrupted_while_starting
    try:
        return _run(argv, starting)
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0
    finally:
        if starting:
            signal.signal(signal.SIGINT, interrupted_while_starting)


def _run(argv, starting=False) -> int:
    from chainrule.cli.train import Interrupted

    debug = bool(os.environ.get("CHAINRULE_DEBUG"))
    try:
        if starting:
            signal.signal(signal.SIGINT, signal.default_int_handler)  # from here KeyboardInterrupt is caught
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra:
            # argparse reports an unknown option from the top-level parser; point to the help
            # of the subcommand it was given to.
            target = parser.commands.get(args.command, parser)
            target.error(f"unrecognized arguments: {' '.join(extra)}")
        if args.command is None:
            parser.print_help()
            return 0
        from chainrule.engine.conv import jit_from_environment

        jit_from_environment()  # a bad CHAINRULE_JIT is refused before anything is printed or written
        with _quiet_warnings(debug):
            return args.func(args)
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
    except MemoryError as exc:
        # NumPy's message names the size ("Unable to allocate 74.5 GiB for an array with ...").
        detail = f": {exc}" if str(exc) else ""
        return _fail(f"not enough memory for what was asked{detail}; ask for less (smaller layers, "
                     "--n-samples, a smaller --batch-size)", 2, debug)
    except (ValueError, TypeError, OSError, LookupError) as exc:
        # FormatError, ExpressionError (ValueErrors), MissingFileError, a path that cannot be
        # read or written (OSErrors): the input was wrong, and the message says how. A full
        # disk, an I/O error or a failed download is the machine's failure: exit 1.
        if _is_divergence(exc) or _is_environment_failure(exc):
            return _fail(exc, 1, debug)
        return _fail(exc, 2, debug)
    except Exception as exc:  # TrainingDiverged (a FloatingPointError), and anything unexpected
        if _is_divergence(exc):
            return _fail(exc, 1, debug)
        return _fail(f"{type(exc).__name__}: {exc}", 1, debug)


def _is_divergence(exc) -> bool:
    return isinstance(exc, FloatingPointError)


# No space, over quota, a file larger than the system allows, an I/O error: the machine's
# failure while running, not something the user typed.
_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO}


def _is_environment_failure(exc) -> bool:
    from chainrule.data import DownloadError

    return isinstance(exc, DownloadError) or (isinstance(exc, OSError) and exc.errno in _ENVIRONMENT_ERRNOS)


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
    """Library warnings would add lines to stderr; the CLI reports problems itself. Warnings that
    say an option asked for did not take effect (``--capture`` on a step that cannot be captured:
    CaptureWarning) are shown, each once, as one line ``chainrule: note: ...`` on stderr."""

    def __init__(self, debug: bool):
        self.debug = debug

    def __enter__(self):
        import warnings

        from chainrule.train.capture import CaptureWarning

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        if not self.debug:
            warnings.simplefilter("ignore")
            warnings.simplefilter("once", CaptureWarning)
            warnings.showwarning = lambda message, *_: stderr_line(f"chainrule: note: {one_line(str(message))}")
        return self

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)
