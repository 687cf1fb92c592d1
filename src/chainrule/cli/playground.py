"""``chainrule playground``: the lecture, live in a browser (see :mod:`chainrule.playground`)."""
from __future__ import annotations

from chainrule import validation as check
from chainrule.cli.common import Formatter, UsageError, option_type, stderr_line


def add_parser(sub) -> None:
    """Add the subcommand's parser to ``sub`` (argparse subparsers); it runs :func:`run`."""
    p = sub.add_parser(
        "playground", help="circuits and networks, live in the browser", formatter_class=Formatter,
        description="Start a local web page, driven by chainrule: circuits you can step through (an expression\n"
                    "of `chainrule graph`'s language, forward values and gradients on every wire, the backward\n"
                    "pass one gate at a time) and networks you can watch learn (TensorFlow Playground's data\n"
                    "sets, features, layers and regularization, plus the lecture's random searches, a race\n"
                    "of strategies on equal budgets and the Python that reproduces a setup). The server binds\n"
                    "to 127.0.0.1 on a free port, prints the URL and opens it; Ctrl-C stops it. It needs the\n"
                    "extra: pip install 'chainrule[playground]'.",
        epilog="examples:\n  chainrule playground\n  chainrule playground --port 8000 --no-browser")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=option_type(check.integer, int, low=0, high=65535), default=0,
                   help="port to bind (default: 0, a free one)")
    p.add_argument("--no-browser", action="store_true", help="print the URL but do not open a browser")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a --host that other machines can reach (a warning is printed)")
    p.set_defaults(func=run)


def run(args) -> int:
    """``chainrule playground``: serve until Ctrl-C."""
    try:
        from chainrule import playground
        from chainrule.playground.server import is_loopback
    except ImportError as exc:
        stderr_line(f"chainrule: error: {exc}")
        return 1
    if not is_loopback(args.host) and not args.allow_remote:
        raise UsageError(f"--host {args.host} is not a loopback address: anyone who can reach it could run "
                         "trainings on this machine; add --allow-remote to bind there anyway")
    try:
        playground.serve(args.host, args.port, open_browser=not args.no_browser, allow_remote=args.allow_remote)
    except ImportError as exc:
        stderr_line(f"chainrule: error: {exc}")
        return 1
    except OSError as exc:  # the port is taken, the address is not this machine's: the environment
        stderr_line(f"chainrule: error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
        return 1
    return 0
