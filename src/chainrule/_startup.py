"""Ctrl-C while the `chainrule` command starts or ends: one line and exit 130, never a traceback.

Loading the command's modules (NumPy, the engine, the layers, ...) takes a moment; a Ctrl-C in it
would print Python's KeyboardInterrupt traceback. When, and only when, this process *is* the
`chainrule` command (the console script, ``python -m chainrule`` or ``python -m chainrule.cli``),
``import chainrule`` runs this module as its very first statement, and it installs a handler for
that moment. ``chainrule.cli.main`` puts Python's own handler back inside the ``try`` that
reports KeyboardInterrupt, and installs this one again when it returns, so that a Ctrl-C while
the interpreter shuts down (threads joined, modules torn down) cannot print a traceback either.
A library user's ``import chainrule`` changes nothing.

What is left is Python's own start-up, before any chainrule code runs: the interpreter's
initialization, ``site`` (the virtual environment's ``.pth`` files, an editable install's
finder), then for the console script its ``import sys`` and the search for the ``chainrule``
package, for ``python -m`` the ``runpy`` module. A Ctrl-C there is Python's to report (about
20 ms; the same for every Python program). This module keeps the rest short: it imports only
what that start-up has already loaded (``os``, ``sys``) and the C module ``_signal`` (not
``signal``, which would load ``enum`` first: about 20 ms more of window).
"""
import os
import sys

import _signal


def interrupted_while_starting(signum, frame):
    """The SIGINT handler while the command starts and ends: the one line, exit 130."""
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
if _is_the_command() and _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
    _signal.signal(_signal.SIGINT, interrupted_while_starting)
