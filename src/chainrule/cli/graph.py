"""``chainrule graph``: forward and backward through an expression; draw its circuit."""
from __future__ import annotations

import math
import re
from pathlib import Path

from chainrule.cli.common import Formatter, UsageError, check_output_file, emit_json, nonnegative_int, say

_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
GRAPH_SUFFIXES = (".svg", ".png", ".pdf", ".dot")



def add_parser(sub) -> None:
    """Add the subcommand's parser to ``sub`` (argparse subparsers); it runs :func:`run`."""
    p = sub.add_parser(
        "graph", help="forward and backward through an expression; draw the circuit", formatter_class=Formatter,
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
    p.add_argument("-o", "--out", default="circuit.svg", metavar="FILE",
                   help="the drawing: .svg, .png, .pdf or .dot; FILE.dot is written too (default: circuit.svg)")
    p.add_argument("--engine", choices=("auto", "graphviz", "matplotlib"), default="auto",
                   help="renderer (default: auto = Graphviz if installed, else matplotlib)")
    p.add_argument("--precision", type=nonnegative_int, default=2, help="decimals shown in the drawing (default: 2)")
    p.add_argument("--json", action="store_true", help="print value and gradients as one JSON object")
    p.set_defaults(func=run)


# ====================================================================== graph
def parse_var(text: str) -> tuple[str, float]:
    """``NAME=VALUE`` → (name, value); the argparse type of ``--var``."""
    import argparse

    name, sep, value = str(text).partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE such as x=-2, got {text!r}")
    if not _NAME.fullmatch(name):
        raise argparse.ArgumentTypeError(f"{name!r} is not a variable name (letters, digits, _), in {text!r}")
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"the value of {name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"the value of {name} must be finite, got {value!r}")
    return name, number


def run(args) -> int:
    """Forward and backward through an expression; print the value and gradients; draw it."""
    from chainrule import expr, viz

    values = {}
    for name, value in args.var or []:
        if name in values:
            raise UsageError(f"--var {name} is given twice")
        values[name] = value
    out = Path(args.out)
    if out.suffix.lower() not in GRAPH_SUFFIXES:
        raise UsageError(f"--out {out}: the file must end in {', '.join(GRAPH_SUFFIXES)}")
    check_output_file(out, "--out")
    ast = expr.parse(args.expression)
    names = expr.variables(ast)
    extra = [n for n in values if n not in names]
    if extra:
        raise UsageError(f"--var {extra[0]}: the expression has no variable {extra[0]!r}; its variables are "
                         f"{', '.join(names) or 'none'}")
    missing = [n for n in names if n not in values]
    if missing:
        raise UsageError(f"no value for the variable {missing[0]!r}; give --var {missing[0]}=VALUE")
    result, inputs = expr.evaluate(ast, values)
    if result.requires_grad:
        result.backward(retain_graph=True)
    grads = {n: float(t.grad) if t.grad is not None else 0.0 for n, t in inputs.items()}
    value = float(result.data)
    dot_path = out.with_suffix(".dot")
    had_dot = dot_path.exists()
    try:
        circuit = viz.draw(result, out, engine=args.engine, precision=args.precision)
    except BaseException:
        if not had_dot:  # draw() writes the DOT file first; a failed rendering takes it back
            dot_path.unlink(missing_ok=True)
        raise
    files = [str(circuit.dot_path)] + ([str(circuit.path)] if circuit.path else [])
    if args.json:
        emit_json({"expression": args.expression, "value": value, "inputs": values,
                   "gradients": grads, "files": files, "renderer": circuit.engine})
        return 0
    say(f"f = {args.expression}")
    say(f"f({', '.join(f'{n}={_num(v)}' for n, v in values.items())}) = {_num(value)}")
    for n, g in grads.items():
        say(f"df/d{n} = {_num(g)}")
    say(f"wrote {', '.join(files)}" + (f" (drawn with {circuit.engine})" if circuit.path else ""))
    return 0


def _num(v: float) -> str:
    return f"{v:.6g}"
