"""Tests for chainrule.expr: the tokenizer, the parser, the error messages and evaluation."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
from chainrule import expr
from chainrule.expr import (
    MAX_DEPTH,
    MAX_TREE_DEPTH,
    MAX_LENGTH,
    BinaryOp,
    Call,
    FUNCTIONS,
    ExpressionError,
    Number,
    UnaryOp,
    Variable,
    evaluate,
    parse,
    variables,
)


def value(text, **values):
    result, _ = evaluate(text, values)
    return float(result.data)


def grads(text, **values):
    result, inputs = evaluate(text, values)
    result.backward()
    return float(result.data), {k: float(t.grad) for k, t in inputs.items()}


def error(text, values=None):
    with pytest.raises(ExpressionError) as info:
        if values is None:
            parse(text)
        else:
            evaluate(text, values)
    return info.value


# --- the tree --------------------------------------------------------------------------------


def test_parse_builds_the_tree_of_a_small_expression():
    assert parse("(x + y) * z") == BinaryOp(
        "*", BinaryOp("+", Variable("x"), Variable("y")), Variable("z")
    )
    assert parse("max(a, 0)") == Call("max", (Variable("a"), Number(0.0)))


def test_power_binds_tighter_than_unary_minus():
    assert parse("-x**2") == UnaryOp("-", BinaryOp("**", Variable("x"), Number(2.0)))
    assert parse("-2**2") == UnaryOp("-", BinaryOp("**", Number(2.0), Number(2.0)))


def test_power_is_right_associative():
    assert parse("2**3**2") == BinaryOp("**", Number(2.0), BinaryOp("**", Number(3.0), Number(2.0)))


def test_minus_and_divide_are_left_associative():
    assert parse("a - b - c") == BinaryOp("-", BinaryOp("-", Variable("a"), Variable("b")), Variable("c"))
    assert parse("a / b / c") == BinaryOp("/", BinaryOp("/", Variable("a"), Variable("b")), Variable("c"))


def test_tree_equality_ignores_spacing_and_nodes_are_frozen():
    assert parse("x*(y+1)") == parse("  x * ( y + 1 )  ")
    node = parse("x")
    with pytest.raises(AttributeError):
        node.name = "y"


def test_numbers_in_every_notation():
    assert parse("3") == Number(3.0)
    assert parse("0.25") == Number(0.25)
    assert parse(".5") == Number(0.5)
    assert parse("5.") == Number(5.0)
    assert parse("1e-3") == Number(0.001)
    assert parse("2.5E+2") == Number(250.0)


def test_variables_in_order_of_first_appearance():
    assert variables("x * y + max(x, z) - y") == ["x", "y", "z"]
    assert variables(parse("w0*x0 + w1*x1 + w2")) == ["w0", "x0", "w1", "x1", "w2"]
    assert variables("2 + 3") == []


# --- values with Python's precedence ------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2**3**2", 512.0),
        ("(2**3)**2", 64.0),
        ("-2**2", -4.0),
        ("(-2)**2", 4.0),
        ("2**-1", 0.5),
        ("1 + 2 * 3", 7.0),
        ("(1 + 2) * 3", 9.0),
        ("8 / 4 / 2", 1.0),
        ("8 - 4 - 2", 2.0),
        ("-3 * -2", 6.0),
        ("--3", 3.0),
        ("+3", 3.0),
        ("2 * 3 ** 2", 18.0),
        ("1e-3 * 1000", 1.0),
    ],
)
def test_constant_expressions_follow_python_precedence(text, expected):
    assert value(text) == expected


@pytest.mark.parametrize(
    "text", ["x*y - z/x", "-x**2 + y**3", "x - y - z", "x / y / z", "(x + y) * (y - z) ** 2 / 4"]
)
def test_values_agree_with_python_on_the_same_text(text):
    env = {"x": 1.5, "y": -2.0, "z": 0.75}
    # The test's own oracle: Python evaluating trusted text with only these names.
    expected = eval(text, {"__builtins__": {}}, dict(env))  # noqa: S307
    assert value(text, **env) == pytest.approx(expected, rel=1e-12)


def test_the_lecture_circuit_value_and_gradients():
    f, g = grads("(x + y) * z", x=-2.0, y=5.0, z=-4.0)
    assert f == -12.0
    assert g == {"x": -4.0, "y": -4.0, "z": 3.0}


def test_the_lecture_sigmoid_circuit():
    f, g = grads("1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))", w0=2.0, x0=-1.0, w1=-3.0, x1=-2.0, w2=-3.0)
    assert f == pytest.approx(0.7310585786, abs=1e-9)
    s = f * (1 - f)
    expected = {"w0": -1 * s, "x0": 2 * s, "w1": -2 * s, "x1": -3 * s, "w2": s}
    assert g == pytest.approx(expected, abs=1e-12)
    assert [round(g[k], 2) for k in ("w0", "w1", "w2", "x0", "x1")] == [-0.2, -0.39, 0.2, 0.39, -0.59]


@pytest.mark.parametrize(
    "text, x, fx, dfdx",
    [
        ("exp(x)", 0.5, math.exp(0.5), math.exp(0.5)),
        ("log(x)", 2.0, math.log(2.0), 0.5),
        ("sigmoid(x)", 0.3, 1 / (1 + math.exp(-0.3)), (1 / (1 + math.exp(-0.3))) * (1 - 1 / (1 + math.exp(-0.3)))),
        ("relu(x)", -1.5, 0.0, 0.0),
        ("relu(x)", 2.5, 2.5, 1.0),
        ("tanh(x)", 0.7, math.tanh(0.7), 1 - math.tanh(0.7) ** 2),
        ("max(x, 1)", 3.0, 3.0, 1.0),
        ("max(1, x)", 0.0, 1.0, 0.0),
        ("min(x, 1)", 3.0, 1.0, 0.0),
        ("min(x, 1)", -2.0, -2.0, 1.0),
        ("x**2", 3.0, 9.0, 6.0),
        ("x**-1", 4.0, 0.25, -1 / 16),
        ("x**0.5", 4.0, 2.0, 0.25),
        ("1/x", 4.0, 0.25, -1 / 16),
        ("-x", 2.0, -2.0, -1.0),
        ("x*x", -3.0, 9.0, -6.0),
    ],
)
def test_every_function_value_and_gradient(text, x, fx, dfdx):
    f, g = grads(text, x=x)
    assert f == pytest.approx(fx, rel=1e-12, abs=1e-15)
    assert g["x"] == pytest.approx(dfdx, rel=1e-12, abs=1e-15)


def test_max_and_min_of_two_variables_route_the_gradient_to_the_winner():
    assert grads("max(x, y)", x=1.0, y=4.0) == (4.0, {"x": 0.0, "y": 1.0})
    assert grads("min(x, y)", x=1.0, y=4.0) == (1.0, {"x": 1.0, "y": 0.0})


@pytest.mark.parametrize(
    "text, expected",
    [
        ("exp(0)", 1.0),
        ("log(1)", 0.0),
        ("sigmoid(0)", 0.5),
        ("sigmoid(-1000)", 0.0),
        ("relu(-2)", 0.0),
        ("tanh(0)", 0.0),
        ("max(2, 3)", 3.0),
        ("min(2, 3)", 2.0),
        ("1/0", math.inf),
    ],
)
def test_constant_function_calls_are_folded_with_float_rules(text, expected):
    assert value(text) == expected


def test_inputs_are_named_float64_leaves_that_require_grad():
    f, inputs = evaluate("x * y + 2", {"x": 3, "y": 4.5, "unused": 1.0})
    assert list(inputs) == ["x", "y"]
    for name, t in inputs.items():
        assert isinstance(t, cr.Tensor)
        assert t.name == name and t.requires_grad and t._op is None
        assert t.data.dtype == np.float64
    assert f.data.dtype == np.float64 and float(f.data) == 15.5


def test_dtype_float32_is_honoured():
    f, inputs = evaluate("x * 2", {"x": 1.5}, dtype="float32")
    assert inputs["x"].data.dtype == np.float32
    assert f.data.dtype == np.float32


def test_a_constant_expression_still_returns_a_tensor_and_no_inputs():
    f, inputs = evaluate("2**3**2", {})
    assert isinstance(f, cr.Tensor) and float(f.data) == 512.0 and inputs == {}


def test_a_tensor_value_is_used_as_is():
    w = cr.tensor(3.0, requires_grad=True, name="w", dtype="float64")
    f, inputs = evaluate("w * w", {"w": w})
    assert inputs["w"] is w
    f.backward()
    assert float(w.grad) == 6.0


def test_array_values_build_elementwise_graphs():
    f, inputs = evaluate("x * y", {"x": [1.0, 2.0], "y": [3.0, -1.0]})
    np.testing.assert_array_equal(f.data, [3.0, -2.0])


def test_constants_become_the_engines_constant_inputs():
    f, inputs = evaluate("x + 1", {"x": 2.0})
    assert f._op == "add"
    const = [p for p in f._parents if p is not inputs["x"]]
    assert len(const) == 1 and float(const[0].data) == 1.0 and not const[0].requires_grad


def test_an_integer_exponent_reaches_the_engine_as_an_int():
    f, _ = evaluate("x ** 2", {"x": 3.0})
    assert f._op == "pow" and f._op_args == "2"


def test_an_ast_can_be_evaluated_many_times():
    tree = parse("x * y")
    assert [float(evaluate(tree, {"x": a, "y": 2.0})[0].data) for a in (1.0, 2.0)] == [2.0, 4.0]


# --- errors --------------------------------------------------------------------------------


def test_unexpected_token_names_the_token_and_column():
    e = error("(x + y))")
    assert "unexpected ')' at column 8" in str(e) and e.column == 8
    e = error("x * (y + )")
    assert "unexpected ')' at column 10" in str(e) and e.column == 10
    e = error("2x")
    assert "unexpected 'x' at column 2" in str(e)
    e = error("1.2.3")
    assert "unexpected '.3' at column 4" in str(e)


def test_unexpected_character_and_end_of_input():
    e = error("x $ y")
    assert "unexpected character '$' at column 3" in str(e) and e.column == 3
    e = error("x +")
    assert "unexpected end of input at column 4" in str(e)
    e = error("((x)")
    assert "at column 5" in str(e) and "close the '(' at column 1" in str(e)
    e = error("max(x, y")
    assert "end of input at column 9" in str(e)


def test_unknown_function_lists_the_known_ones():
    e = error("  foo(x)")
    assert "unknown function 'foo' at column 3" in str(e)
    assert ", ".join(sorted(FUNCTIONS)) in str(e)  # every function, in order
    assert {"exp", "log", "max", "min", "relu", "sigmoid", "tanh"} <= set(FUNCTIONS)


@pytest.mark.parametrize(
    "text", ["__import__('os')", "__import__('os').system('true')", "open('f')", "eval('1')",
             "x.__class__", "lambda: 1", "[x for x in y]", "x if y else z"]
)
def test_python_syntax_and_builtins_are_refused_not_run(text):
    e = error(text, {"x": 1.0, "y": 1.0, "z": 1.0})
    assert isinstance(e, ValueError)
    assert "\n" not in str(e)


def test_import_is_an_unknown_function():
    e = error("__import__('os')")
    assert str(e).startswith("unknown function '__import__' at column 1;")


def test_wrong_argument_counts():
    assert "max() at column 1 takes 2 arguments, got 1" in str(error("max(x)"))
    assert "exp() at column 3 takes 1 argument, got 2" in str(error("1+exp(x, y)"))
    assert "relu() at column 1 takes 1 argument, got 0" in str(error("relu()"))


def test_a_function_name_must_be_called():
    assert "function 'exp' at column 1 must be called" in str(error("exp + 1"))


def test_exponent_must_be_a_numeric_constant():
    e = error("x ** y")
    assert "exponent of '**' at column 3 must be a numeric constant" in str(e)
    assert "variable 'y' at column 6" in str(e) and e.column == 6
    assert "exp(...) at column 4" in str(error("x**exp(2)"))
    assert value("(-2) ** -(1 + 1)") == 0.25  # signs and parentheses of numbers are fine


def test_missing_value_names_the_variable_and_lists_the_supplied():
    e = error("x + w * y", {"y": 1.0, "x": 2.0})
    assert str(e) == "no value for variable 'w' at column 5; supplied: x, y"
    e = error("a", {})
    assert "supplied: none" in str(e)


def test_empty_input():
    assert str(error("")) == "empty expression"
    assert str(error(" \t ")) == "empty expression"


def test_too_long_input():
    e = error("x+" * (MAX_LENGTH // 2) + "x")
    assert f"expression too long: {MAX_LENGTH + 1} characters (limit {MAX_LENGTH})" == str(e)
    parse("x" + " " * (MAX_LENGTH - 1))  # exactly at the limit is fine


@pytest.mark.parametrize(
    "text",
    [
        "(" * 300 + "x" + ")" * 300,
        "-" * 400 + "x",
        "exp(" * 150 + "x" + ")" * 150,
        "x" + "**2" * 200,
    ],
)
def test_deep_nesting_is_an_expression_error_not_a_recursion_error(text):
    e = error(text)
    assert "nested too deeply" in str(e) and f"(limit {MAX_DEPTH} levels)" in str(e)


def test_nesting_just_under_the_limit_parses_evaluates_and_compares():
    depth = MAX_DEPTH - 1
    for text in ("(" * depth + "x" + ")" * depth, "tanh(" * depth + "x" + ")" * depth,
                 "+".join(["x"] * MAX_DEPTH), "-" * depth + "x"):
        tree = parse(text)
        assert tree == parse(text) and repr(tree)
        f, _ = evaluate(tree, {"x": 0.0})
        assert np.isfinite(f.data)
    assert value("+".join(["x"] * MAX_DEPTH), x=1.0) == MAX_DEPTH


def test_a_long_flat_chain_is_not_nesting():
    # 120 terms: a sum, not 119 levels of nesting.
    assert value("+".join(["x"] * 120), x=1.0) == 120
    assert value("*".join(["x"] * 120), x=1.0) == 1
    tree = parse("+".join(["x"] * (MAX_TREE_DEPTH + 1)))
    assert tree == parse("+".join(["x"] * (MAX_TREE_DEPTH + 1))) and repr(tree)
    e = error("+".join(["x"] * (MAX_TREE_DEPTH + 2)))
    assert f"more than {MAX_TREE_DEPTH} operators deep" in str(e)
    # nesting inside a chain still counts as nesting
    e = error("x + " + "(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1))
    assert "nested too deeply" in str(e)


def test_type_errors_for_non_text():
    with pytest.raises(TypeError):
        parse(42)
    with pytest.raises(TypeError):
        evaluate("x", [("x", 1.0)])


def test_expression_error_is_a_value_error():
    assert issubclass(ExpressionError, ValueError)


def test_no_eval_or_exec_in_the_module_source():
    import ast
    import inspect

    names, attributes = set(), set()
    for node in ast.walk(ast.parse(inspect.getsource(expr))):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name):
                names.add(node.func.id)
            elif isinstance(node.func, ast.Attribute):
                attributes.add(node.func.attr)
    assert names.isdisjoint({"eval", "exec", "compile", "__import__"})
    assert attributes.isdisjoint({"eval", "exec", "literal_eval", "import_module"})


# --- properties ------------------------------------------------------------------------------

_names = st.sampled_from(["a", "b", "c"])


@st.composite
def _expressions(draw, depth=3):
    if depth == 0 or draw(st.booleans()):
        if draw(st.booleans()):
            return draw(_names)
        return str(draw(st.integers(1, 9)))
    kind = draw(st.sampled_from(["+", "-", "*", "neg", "paren", "tanh", "max"]))
    a = draw(_expressions(depth=depth - 1))
    if kind == "neg":
        return f"-{a}"
    if kind == "paren":
        return f"({a})"
    if kind == "tanh":
        return f"tanh({a})"
    b = draw(_expressions(depth=depth - 1))
    if kind == "max":
        return f"max({a}, {b})"
    return f"{a} {kind} {b}"


@given(_expressions(), st.floats(-3, 3), st.floats(-3, 3), st.floats(-3, 3))
def test_random_expressions_agree_with_a_python_oracle(text, a, b, c):
    env = {"a": a, "b": b, "c": c}
    oracle_env = dict(env, tanh=math.tanh, max=max)
    expected = eval(text, {"__builtins__": {}}, oracle_env)  # noqa: S307 - trusted, generated
    assert value(text, **env) == pytest.approx(expected, rel=1e-9, abs=1e-9)
