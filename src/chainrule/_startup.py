"""Ctrl-C while the `chainrule` command starts: one line and exit 130, never a traceback.

Loading the command's modules (NumPy, the engine, the layers, ...) takes a moment; a Ctrl-C in
it would print Python's KeyboardInterrupt traceback. When, and only when, this process *is* the
`chainrule` command (the console script, ``python -m chainrule`` or ``python -m chainrule.cli``),
``import chainrule`` installs a handler for that moment; ``chainrule.cli.main`` puts Python's
own back as soon as it runs, from where KeyboardInterrupt is caught and reported. A library
user's ``import chainrule`` changes nothing.
"""
from __future__ import annotations

import os
import signal
import sys


def interrupted_while_starting(signum, frame):
    """The SIGINT handler while the command starts: the one line, exit 130."""
    os.write(2, b"chainrule: error: interrupted\n")
    os._exit(130)


def _is_the_command() -> bool:
    if os.path.basename(sys.argv[0]) in ("chainrule", "chainrule.exe"):
        return True
    orig = list(getattr(sys, "orig_argv", []))
    if "-m" in orig[:-1]:
        return orig[orig.index("-m") + 1] in ("chainrule", "chainrule.cli")
    return False


# Only with Ctrl-C's default meaning (a background job ignores it: so do we).
if _is_the_command() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    signal.signal(signal.SIGINT, interrupted_while_starting)
