"""Circuits for the page: an expression's forward values, gradients and backward steps, as JSON.

The expression goes through :mod:`chainrule.expr` (a parser, never ``eval``), the drawing is
:func:`chainrule.viz.layout` (the same layered picture ``chainrule graph`` draws with
matplotlib), and every number is the engine's own: the forward values and the gradients of one
``backward()``, and for each gate the local gradients ``∂gate/∂input`` of a ``backward()`` started
at that gate. The page only draws them.
"""
from __future__ import annotations

import math

from chainrule import expr, viz
from chainrule.engine import trace
from chainrule.playground.settings import SettingsError, check_number

MAX_EXPRESSION = 200
"""Longest expression the playground accepts, in characters."""
MAX_VARIABLES = 16
MAX_GATES = 60
MAX_ABS_VALUE = 1e6

PRESETS = {
    "xyz": {"expression": "(x + y) * z", "values": {"x": -2.0, "y": 5.0, "z": -4.0}},
    "sigmoid": {"expression": "1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))",
                "values": {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}},
}
"""The lecture's two circuits: (x + y)·z at (−2, 5, −4) and the sigmoid neuron."""


def _number(v) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def circuit(expression, values) -> dict:
    """The expression's circuit at ``values``: layout, output, gradients and the backward steps.

    ``steps`` lists the gates in reverse topological order (the order the backward pass visits
    them); each step names the gate, its ``upstream`` gradient ∂f/∂gate and, for each input
    wire, the ``local`` gradient ∂gate/∂input and the chain-rule ``product`` local × upstream.

    >>> c = circuit("(x + y) * z", {"x": -2, "y": 5, "z": -4})
    >>> c["output"], c["gradients"]
    (-12.0, {'x': -4.0, 'y': -4.0, 'z': 3.0})
    >>> [s["label"] for s in c["steps"]]
    ['*', '+']
    """
    if not isinstance(expression, str):
        raise SettingsError(f"expression must be a string; got {type(expression).__name__}")
    if len(expression) > MAX_EXPRESSION:
        raise SettingsError(f"expression is {len(expression)} characters long; at most {MAX_EXPRESSION} are accepted")
    if not isinstance(values, dict):
        raise SettingsError(f"values must be an object of variable names to numbers; got {type(values).__name__}")
    try:
        ast = expr.parse(expression)
    except expr.ExpressionError as exc:
        raise SettingsError(f"expression: {exc}") from None
    names = expr.variables(ast)
    if len(names) > MAX_VARIABLES:
        raise SettingsError(f"expression has {len(names)} variables; at most {MAX_VARIABLES} are accepted")
    missing = [n for n in names if n not in values]
    if missing:
        raise SettingsError(f"no value for variable {missing[0]!r}")
    given = {n: check_number(f"value of {n}", values[n], -MAX_ABS_VALUE, MAX_ABS_VALUE) for n in names}
    if not names:
        raise SettingsError("expression has no variables: there is nothing to differentiate")
    f, inputs = expr.evaluate(ast, given)
    graph = trace(f)
    gates = [n for n in graph.nodes if not n.is_leaf]
    if len(gates) > MAX_GATES:
        raise SettingsError(f"expression has {len(gates)} gates; at most {MAX_GATES} are drawn")
    ids = {id(n): f"n{i}" for i, n in enumerate(graph.nodes)}

    def clear():
        for n in graph.nodes:
            n.grad = None

    local = {}
    for g in gates:  # each gate's own derivative with respect to each of its inputs
        clear()
        g.backward(retain_graph=True)
        local[id(g)] = [(p, None if p.grad is None else _number(p.grad)) for p in dict.fromkeys(g._parents)]
    clear()
    f.backward()
    drawing = viz.layout(f)
    labels = {n["id"]: n["label"] for n in drawing["nodes"]}
    steps = []
    for g in reversed(gates):
        upstream = _number(g.grad)
        wires = [{"node": ids[id(p)], "local": d, "product": None if d is None or upstream is None else _number(d * upstream),
                  "grad": None if p.grad is None else _number(p.grad)}
                 for p, d in local[id(g)]]
        steps.append({"node": ids[id(g)], "label": labels[ids[id(g)]], "value": _number(g.data),
                      "upstream": upstream, "inputs": wires})
    return {
        "expression": expression,
        "variables": names,
        "values": given,
        "output": _number(f.data),
        "gradients": {n: _number(inputs[n].grad) for n in names},
        "layout": drawing,
        "nodes": {ids[id(n)]: {"value": _number(n.data), "grad": None if n.grad is None else _number(n.grad)}
                  for n in graph.nodes},
        "steps": steps,
    }
