"""A small arithmetic-expression language that builds engine graphs, without ``eval``.

Text such as ``"(x + y) * z"`` or ``"1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))"`` is tokenized,
parsed by recursive descent into a tree of frozen dataclasses, and evaluated with engine ops,
so the result can be differentiated (``backward``) and drawn (:mod:`chainrule.viz`). Nothing
in the text is ever handed to Python's ``eval``/``exec``: an identifier is either one of the
known functions or a variable looked up in the values you pass.

Grammar (Python's precedence; ``**`` is right-associative and binds tighter than unary minus,
so ``-x**2`` is ``-(x**2)`` and ``2**3**2`` is ``2**9``)::

    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary)*
    unary   := ("+" | "-") unary | power
    power   := primary ("**" unary)?          # the exponent must be a numeric constant
    primary := NUMBER | NAME | NAME "(" expr ("," expr)* ")" | "(" expr ")"

Example:
    >>> f, inputs = evaluate("(x + y) * z", {"x": -2.0, "y": 5.0, "z": -4.0})
    >>> float(f.data)
    -12.0
    >>> f.backward(); [float(inputs[v].grad) for v in "xyz"]
    [-4.0, -4.0, 3.0]
"""
from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass, field
from typing import Callable, Mapping, NamedTuple, Union

import numpy as np

from . import engine as _engine

__all__ = [
    "ExpressionError",
    "Number",
    "Variable",
    "UnaryOp",
    "BinaryOp",
    "Call",
    "Node",
    "FUNCTIONS",
    "MAX_LENGTH",
    "MAX_DEPTH",
    "MAX_TREE_DEPTH",
    "parse",
    "variables",
    "evaluate",
]

MAX_LENGTH = 1000
"""Longest accepted expression text, in characters."""

MAX_DEPTH = 100
"""Deepest accepted nesting: parentheses, calls, signs and exponents one inside the other.

A flat chain such as a sum of 120 terms is not nesting and does not count here; it counts
against :data:`MAX_TREE_DEPTH`.
"""

MAX_TREE_DEPTH = 250
"""Deepest accepted tree: nesting plus the operators of chains (``a + b + c`` is two deep).

The caps keep parsing, evaluation and the dataclasses' own ``repr``/``==`` (which recurse)
far from Python's recursion limit, so hostile input gets an ExpressionError, never a
RecursionError.
"""


class ExpressionError(ValueError):
    """An expression that cannot be parsed or evaluated; the message is one line.

    ``column`` is the 1-based column of the offending token, or ``None`` when the error is
    not about one place in the text (empty input, a missing value).
    """

    def __init__(self, message: str, column: int | None = None):
        super().__init__(message)
        self.column = column


# --- the tree ------------------------------------------------------------------------------
# ``column`` (1-based) is kept for error messages only; it takes no part in equality, so two
# parses of the same expression with different spacing compare equal.


@dataclass(frozen=True)
class Number:
    """A numeric literal such as ``2``, ``0.5`` or ``1e-3``."""

    value: float
    column: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Variable:
    """A named input; evaluation makes it a leaf tensor that requires a gradient."""

    name: str
    column: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class UnaryOp:
    """A sign applied to an operand: ``op`` is ``"-"`` or ``"+"``."""

    op: str
    operand: "Node"
    column: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class BinaryOp:
    """``left op right`` with ``op`` one of ``+ - * / **``."""

    op: str
    left: "Node"
    right: "Node"
    column: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Call:
    """A call of a known function, e.g. ``max(x, 0)``."""

    func: str
    args: tuple
    column: int = field(default=0, compare=False, repr=False)


Node = Union[Number, Variable, UnaryOp, BinaryOp, Call]


# --- functions -----------------------------------------------------------------------------


class _Function(NamedTuple):
    arity: int
    on_tensors: Callable  # engine op, used when any argument is a tensor
    on_numbers: Callable  # float math, so constant sub-expressions stay plain numbers


FUNCTIONS: dict[str, _Function] = {}
"""The callable functions: name -> (number of arguments, tensor op, float op).

Filled from the engine's elementwise registry (``chainrule.engine.ELEMENTWISE``): every
registered op is callable under its ``expr_name`` (``max``/``min`` for maximum/minimum).
"""


def _add_function(op):
    """Make registered elementwise op ``op`` a function of the language (called per registration)."""
    FUNCTIONS[op.expr_name] = _Function(
        op.arity,
        lambda *args: op.apply(*_engine_operands(args)),
        lambda *args: op().forward(*(np.asarray(a, np.float64) for a in args)),  # NumPy's float rules
    )


def _engine_operands(args):
    like = next(a for a in args if isinstance(a, _engine.Tensor))
    return [a if isinstance(a, _engine.Tensor) else _engine.full_like(like, float(a)) for a in args]


_engine.subscribe(_add_function)


def _known_functions() -> str:
    return ", ".join(sorted(FUNCTIONS))


# --- tokens --------------------------------------------------------------------------------


class _Token(NamedTuple):
    kind: str  # NUMBER, NAME, OP, ERROR (a character no token starts with), END
    text: str
    column: int  # 1-based


_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<NUMBER>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<NAME>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<OP>\*\*|[-+*/(),])
    """,
    re.VERBOSE | re.ASCII,  # only ASCII digits and spaces: "٣" is not a number here
)


def _tokenize(text: str) -> list[_Token]:
    """Split ``text`` into tokens; a stray character becomes an ERROR token.

    Stray characters are reported when the parser reaches them rather than here, so that
    ``__import__('os')`` is refused for what it is (an unknown function) and not for its quote.
    """
    tokens = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            tokens.append(_Token("ERROR", text[pos], pos + 1))
            pos += 1
            continue
        if m.lastgroup != "space":
            tokens.append(_Token(m.lastgroup, m.group(), pos + 1))
        pos = m.end()
    tokens.append(_Token("END", "", len(text) + 1))
    return tokens


def _describe(token: _Token) -> str:
    if token.kind == "END":
        return "end of input"
    if token.kind == "ERROR":
        return f"character {token.text!r}"
    return repr(token.text)


# --- parser --------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str):
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0  # of the tree being built
        self.nesting = 0  # parentheses, calls, signs, exponents

    # helpers
    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def advance(self) -> _Token:
        tok = self.tokens[self.i]
        if tok.kind != "END":
            self.i += 1
        return tok

    def at_op(self, *ops: str) -> bool:
        return self.tok.kind == "OP" and self.tok.text in ops

    def unexpected(self, expected: str | None = None) -> ExpressionError:
        tok = self.tok
        message = f"unexpected {_describe(tok)} at column {tok.column}"
        if expected:
            message += f"; expected {expected}"
        return ExpressionError(message, tok.column)

    def expect(self, op: str) -> _Token:
        if not self.at_op(op):
            raise self.unexpected(repr(op))
        return self.advance()

    def enter(self, column: int, *, chain: bool = False) -> None:
        self.depth += 1
        self.nesting += not chain
        if self.nesting > MAX_DEPTH:
            raise ExpressionError(
                f"expression nested too deeply at column {column} (limit {MAX_DEPTH} levels)",
                column,
            )
        if self.depth > MAX_TREE_DEPTH:
            raise ExpressionError(
                f"expression too large at column {column}: its tree would be more than "
                f"{MAX_TREE_DEPTH} operators deep (each operator of a chain a + b + ... counts)",
                column,
            )

    def leave(self) -> None:
        self.depth -= 1
        self.nesting -= 1

    # grammar
    def parse(self) -> Node:
        node = self.expr()
        if self.tok.kind != "END":
            raise self.unexpected("an operator or the end of the expression")
        return node

    def expr(self) -> Node:
        # A chain a+b+c+... grows the tree one level per operator: not nesting, but each
        # one counts against the tree's depth until the chain ends.
        entered = 0
        try:
            node = self.term()
            while self.at_op("+", "-"):
                op = self.advance()
                self.enter(op.column, chain=True)
                entered += 1
                node = BinaryOp(op.text, node, self.term(), op.column)
            return node
        finally:
            self.depth -= entered

    def term(self) -> Node:
        entered = 0
        try:
            node = self.unary()
            while self.at_op("*", "/"):
                op = self.advance()
                self.enter(op.column, chain=True)
                entered += 1
                node = BinaryOp(op.text, node, self.unary(), op.column)
            return node
        finally:
            self.depth -= entered

    def unary(self) -> Node:
        if self.at_op("-", "+"):
            op = self.advance()
            self.enter(op.column)
            try:
                return UnaryOp(op.text, self.unary(), op.column)
            finally:
                self.leave()
        return self.power()

    def power(self) -> Node:
        base = self.primary()
        if not self.at_op("**"):
            return base
        op = self.advance()
        self.enter(op.column)
        try:
            exponent = self.unary()
        finally:
            self.leave()
        bad = _first_non_constant(exponent)
        if bad is not None:
            what = f"variable {bad.name!r}" if isinstance(bad, Variable) else f"{bad.func}(...)"
            raise ExpressionError(
                f"the exponent of '**' at column {op.column} must be a numeric constant, "
                f"got {what} at column {bad.column}",
                bad.column,
            )
        return BinaryOp("**", base, exponent, op.column)

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind == "NUMBER":
            self.advance()
            return Number(float(tok.text), tok.column)
        if tok.kind == "NAME":
            self.advance()
            if self.at_op("("):
                return self.call(tok)
            if tok.text in FUNCTIONS:
                raise ExpressionError(
                    f"function {tok.text!r} at column {tok.column} must be called, "
                    f"e.g. {tok.text}(x)",
                    tok.column,
                )
            return Variable(tok.text, tok.column)
        if self.at_op("("):
            self.advance()
            self.enter(tok.column)
            try:
                node = self.expr()
            finally:
                self.leave()
            if not self.at_op(")"):
                raise self.unexpected(f"')' to close the '(' at column {tok.column}")
            self.advance()
            return node
        raise self.unexpected("a number, a name or '('")

    def call(self, name: _Token) -> Call:
        if name.text not in FUNCTIONS:
            raise ExpressionError(
                f"unknown function {name.text!r} at column {name.column}; "
                f"known functions: {_known_functions()}",
                name.column,
            )
        self.expect("(")
        self.enter(name.column)
        try:
            args = [] if self.at_op(")") else [self.expr()]
            while self.at_op(","):
                self.advance()
                args.append(self.expr())
        finally:
            self.leave()
        if not self.at_op(")"):
            raise self.unexpected(f"',' or ')' to close the call of {name.text!r} at column {name.column}")
        self.advance()
        arity = FUNCTIONS[name.text].arity
        if len(args) != arity:
            plural = "argument" if arity == 1 else "arguments"
            raise ExpressionError(
                f"{name.text}() at column {name.column} takes {arity} {plural}, got {len(args)}",
                name.column,
            )
        return Call(name.text, tuple(args), name.column)


def _children(node: Node) -> tuple:
    if isinstance(node, UnaryOp):
        return (node.operand,)
    if isinstance(node, BinaryOp):
        return (node.left, node.right)
    if isinstance(node, Call):
        return node.args
    return ()


def _walk(node: Node):
    """Yield the nodes of a tree in source order (pre-order), without recursion."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(_children(current)))


def _first_non_constant(node: Node):
    # Calls are refused too: an exponent like exp(1) is legal maths, but keeping the rule
    # "numbers and signs only" makes the error message for exp(x) obviously right.
    for n in _walk(node):
        if isinstance(n, (Variable, Call)):
            return n
    return None


# --- public API ----------------------------------------------------------------------------


def parse(text: str) -> Node:
    """Parse an arithmetic expression into a tree of frozen dataclasses.

    Raises :class:`ExpressionError` (a ValueError) with a one-line message naming the bad token
    and its 1-based column, for unknown functions (the message lists the known ones), wrong
    argument counts, non-constant exponents, empty input, text longer than ``MAX_LENGTH`` and
    nesting deeper than ``MAX_DEPTH``.

    Example:
        >>> parse("-x**2")
        UnaryOp(op='-', operand=BinaryOp(op='**', left=Variable(name='x'), right=Number(value=2.0)))
    """
    if not isinstance(text, str):
        raise TypeError(f"expression must be a str, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression too long: {len(text)} characters (limit {MAX_LENGTH})")
    if not text.strip():
        raise ExpressionError("empty expression")
    return _Parser(text).parse()


def variables(ast: Node | str) -> list[str]:
    """The variable names of an expression, in order of first appearance.

    Example:
        >>> variables("x * y + max(x, z)")
        ['x', 'y', 'z']
    """
    if isinstance(ast, str):
        ast = parse(ast)
    seen: dict[str, None] = {}
    for node in _walk(ast):
        if isinstance(node, Variable):
            seen.setdefault(node.name)
    return list(seen)


def evaluate(text_or_ast: Node | str, values: Mapping[str, object], *, dtype="float64"):
    """Build the engine graph of an expression and return ``(result, inputs)``.

    Each variable becomes a leaf tensor ``tensor(values[name], requires_grad=True, name=name,
    dtype=dtype)``; ``inputs`` maps the expression's variables, in order of first appearance,
    to those tensors, so after ``result.backward()`` their gradients are in ``inputs[v].grad``.
    A tensor given as a value is used as is. Numbers are plain Python floats, so constant
    sub-expressions are folded (``2**3**2`` is the constant 512) and constants that meet a
    tensor become the engine's constant inputs (``x + 1`` is an add gate with a constant 1).
    Values for names the expression does not use are ignored.

    Raises :class:`ExpressionError` for a parse error or a variable without a value (the
    message names it and lists the supplied names).

    Example:
        >>> f, inputs = evaluate("1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))",
        ...                      dict(w0=2.0, x0=-1.0, w1=-3.0, x1=-2.0, w2=-3.0))
        >>> round(float(f.data), 2)
        0.73
    """
    ast = parse(text_or_ast) if isinstance(text_or_ast, str) else text_or_ast
    if not isinstance(values, Mapping):
        raise TypeError(f"values must be a mapping of names to numbers, got {type(values).__name__}")

    inputs: dict = {}
    for node in _walk(ast):
        if isinstance(node, Variable) and node.name not in inputs:
            if node.name not in values:
                supplied = ", ".join(sorted(map(str, values))) or "none"
                raise ExpressionError(
                    f"no value for variable {node.name!r} at column {node.column}; "
                    f"supplied: {supplied}",
                    node.column,
                )
            value = values[node.name]
            if isinstance(value, _engine.Tensor):
                inputs[node.name] = value
            else:
                inputs[node.name] = _engine.tensor(
                    value, requires_grad=True, name=node.name, dtype=dtype
                )

    result = _evaluate_tree(ast, inputs)
    if not isinstance(result, _engine.Tensor):
        result = _engine.tensor(result, dtype=dtype)
    return result, inputs


def _evaluate_tree(ast: Node, inputs: Mapping[str, object]):
    # Post-order with an explicit stack: a long chain like x+x+...+x would otherwise recurse
    # once per operator.
    results: dict[int, object] = {}
    stack = [(ast, False)]
    with np.errstate(all="ignore"):  # constant folding follows float rules: 1/0 is inf
        while stack:
            node, ready = stack.pop()
            kids = _children(node)
            if kids and not ready:
                stack.append((node, True))
                stack.extend((kid, False) for kid in kids)
                continue
            args = [results.pop(id(kid)) for kid in kids]
            results[id(node)] = _apply(node, args, inputs)
    return results[id(ast)]


_BINARY = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


def _is_number(v) -> bool:
    return not isinstance(v, _engine.Tensor)


def _apply(node: Node, args: list, inputs: Mapping[str, object]):
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Variable):
        return inputs[node.name]
    if isinstance(node, UnaryOp):
        (a,) = args
        return -a if node.op == "-" else a
    if isinstance(node, BinaryOp):
        a, b = args
        if node.op == "**":
            # The parser guarantees a constant exponent; a whole one is passed as an int so
            # the drawn gate reads "**2", not "**2.0".
            b = float(b)
            if math.isfinite(b) and b.is_integer():
                b = int(b)
            if _is_number(a):
                return float(np.float64(a) ** b)
            return a ** b
        if _is_number(a) and _is_number(b):
            # NumPy scalars so that constant folding follows float rules (1/0 is inf, not
            # ZeroDivisionError), like the same arithmetic on tensors.
            return float(_BINARY[node.op](np.float64(a), np.float64(b)))
        return _BINARY[node.op](a, b)
    if isinstance(node, Call):
        fn = FUNCTIONS[node.func]
        if all(_is_number(a) for a in args):
            return float(fn.on_numbers(*(np.float64(a) for a in args)))
        return fn.on_tensors(*args)
    raise TypeError(f"not an expression node: {node!r}")
