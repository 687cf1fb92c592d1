"""The `chainrule` command. Nothing imports this module.

Exit codes: 0 success, 1 a failure while running (e.g. training diverged), 2 bad input. Errors
are one line on stderr, never a traceback.
"""
from __future__ import annotations

import argparse
import sys

from chainrule._version import __version__


class UsageError(Exception):
    """Bad input from the user: reported as one line on stderr with exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="Neural networks from first principles: train, compare, inspect and draw.",
    )
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
