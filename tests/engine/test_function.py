"""function.py: the elementwise registry and the new-op recipe (docs/architecture.md, "Adding an op")."""
import subprocess
import sys
import textwrap

import chainrule as cr
from chainrule import expr
from chainrule.engine import ELEMENTWISE

# The recipe, verbatim: one decorated Function. It runs in a fresh interpreter so the throwaway
# op never joins the registry of the test session.
RECIPE = textwrap.dedent('''
    import numpy as np
    import chainrule as cr
    from chainrule.engine import Function, elementwise
    from chainrule.engine.backend import array_module

    @elementwise(symbol="x\\u00b3", activation="Cube")
    class Cube(Function):
        """x³; d/dx = 3x²."""

        name = "cube"

        def forward(self, x, *, scale=1.0):
            self.scale = scale
            self.save(x)
            return scale * x ** 3

        def backward(self, grad):
            (x,) = self.saved
            return grad * 3 * self.scale * x * x

    # 1. a Tensor method, with the op's options as keywords
    x = cr.tensor([1.0, -2.0], dtype="float64", requires_grad=True)
    y = x.cube(scale=2.0)
    y.sum().backward()
    assert y.tolist() == [2.0, -16.0] and x.grad.tolist() == [6.0, 24.0]
    assert cr.gradcheck(lambda t: t.cube(), [x])
    # 2. an nn activation, by name and in an MLP
    act = cr.nn.get_activation("cube")
    assert act.__name__ == "Cube" and act(2.0)(cr.tensor([1.0])).tolist() == [2.0]
    assert cr.nn.MLP(2, [3], 1, activation="cube", rng=0)(cr.ones(4, 2)).shape == (4, 1)
    # 3. a function of the expression language, on tensors and on constants (expr is imported
    #    after the registration here, nn before it: both orders reach the op)
    from chainrule import expr
    f, inputs = expr.evaluate("cube(x) + cube(2)", {"x": 3.0})
    f.backward()
    assert f.item() == 35.0 and inputs["x"].grad.item() == 27.0
    # 4. a labelled gate in the circuit drawings
    from chainrule.viz.circuit import to_dot
    assert "x\\u00b3" in to_dot(cr.tensor(2.0, requires_grad=True).cube())
    print("reachable from all four places")
''')


def test_a_throwaway_op_added_through_the_recipe_is_reachable_from_all_four_places():
    run = subprocess.run([sys.executable, "-c", RECIPE], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "reachable from all four places"
    assert "cube" not in ELEMENTWISE  # this session's registry is untouched


def test_every_registered_op_is_a_method_an_expression_function_and_has_a_symbol():
    for name, op in ELEMENTWISE.items():
        assert getattr(cr.Tensor, name).__doc__.startswith((op.__doc__ or "").strip().splitlines()[0])
        assert expr.FUNCTIONS[op.expr_name].arity == op.arity
        assert op.symbol
        if op.activation:
            assert cr.nn.ACTIVATIONS[name].op is op


def test_the_registry_holds_the_lectures_gates_and_the_new_ops():
    assert {"exp", "log", "relu", "sigmoid", "tanh", "maximum", "minimum", "softplus", "log1p",
            "expm1", "sign", "sin", "cos", "sqrt", "abs"} <= set(ELEMENTWISE)
    assert expr.FUNCTIONS["max"].arity == 2 and ELEMENTWISE["maximum"].expr_name == "max"


def test_function_module_imports_nothing_else_of_the_engine():
    import ast
    import inspect

    from chainrule.engine import function

    tree = ast.parse(inspect.getsource(function))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    assert not any(m and m.startswith("chainrule") for m in imported), imported
