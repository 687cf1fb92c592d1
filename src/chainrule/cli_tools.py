"""``chainrule graph``, ``chainrule summary`` and ``chainrule datasets``: the small commands."""
from __future__ import annotations

import math
import re
from pathlib import Path

from chainrule.cli_common import UsageError, check_output_file, emit_json, say

_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
GRAPH_SUFFIXES = (".svg", ".png", ".pdf", ".dot")


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


def run_graph(args) -> int:
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


# ====================================================================== summary
def run_summary(args) -> int:
    """Neurons and learnable parameters per layer, counted the lecture's way."""
    from chainrule import nn

    if (args.layers is None) == (args.model is None):
        raise UsageError("give --layers IN HIDDEN... OUT or --model FILE, not both")
    if args.model is not None:
        from chainrule import io
        from chainrule.cli_inspect import model_path

        model, _ = io.load_model(model_path(args.model))
        title = f"{type(model).__name__} from {args.model}"
    else:
        sizes = args.layers
        if len(sizes) < 2:
            raise UsageError("--layers needs at least two sizes: the inputs and the outputs, e.g. --layers 3 4 2")
        model = nn.MLP(sizes[0], sizes[1:-1], sizes[-1], activation=args.activation)
        title = f"MLP {' -> '.join(map(str, sizes))} ({args.activation})"
    s = nn.summary(model)
    if args.json:
        emit_json({"model": title, **s.to_dict()})
        return 0
    say(title)
    say(str(s))
    say(f"neurons (not counting the inputs): {' + '.join(str(r.neurons) for r in s.rows)} = {s.neurons}")
    shapes = " + ".join(f"[{_fan_in(r)} x {r.neurons}]" for r in s.rows)
    say(f"learnable parameters: {shapes} = {s.weights} weights + "
        f"{' + '.join(str(r.biases) for r in s.rows)} = {s.biases} biases = {s.parameters}")
    return 0


def _fan_in(row) -> int:
    return row.weights // row.neurons if row.neurons else 0


# ====================================================================== datasets
def run_datasets(args) -> int:
    """List the datasets ``--data`` accepts."""
    from chainrule.data import DATASETS, cache_dir

    rows = [{"name": s.name, "kind": s.kind, "description": s.description} for s in DATASETS.values()]
    if args.json:
        emit_json({"datasets": rows, "cache_dir": str(cache_dir())})
        return 0
    width = max(len(r["name"]) for r in rows)
    kind_width = max(len(r["kind"]) for r in rows)
    for r in rows:
        say(f"{r['name'].ljust(width)}  {r['kind'].ljust(kind_width)}  {r['description']}")
    say("")
    say("or a path to a .csv file (a header row; the label column is 'label' or the last one, "
        "or --label-column) or an .npz file (arrays X and y)")
    say(f"downloads are kept in {cache_dir()} (set CHAINRULE_DATA to change it)")
    return 0
