"""trace(): the nodes and edges of a computational graph."""
import pytest

import chainrule as cr


def test_trace_of_the_lecture_circuit():
    x, y, z = (cr.tensor(v, requires_grad=True, name=n) for v, n in ((-2.0, "x"), (5.0, "y"), (-4.0, "z")))
    q = x + y
    f = q * z
    graph = cr.trace(f)
    assert graph.nodes[-1] is f
    assert [n.name for n in graph.nodes if n.is_leaf] == ["x", "y", "z"]
    assert [(p.name or p._op, c._op) for p, c in graph.edges] == [
        ("x", "add"), ("y", "add"), ("add", "mul"), ("z", "mul"),
    ]
    f.backward()
    assert [n.grad.item() for n in graph.nodes] == [-4.0, -4.0, -4.0, 3.0, 1.0]


def test_trace_lists_constants_and_op_arguments():
    x = cr.tensor(3.0, requires_grad=True)
    y = (x**2 + 1).sum()
    graph = cr.trace(y)
    assert [n._op for n in graph.nodes] == [None, "pow", None, "add", "sum"]
    constant = graph.nodes[2]
    assert not constant.requires_grad and constant.item() == 1.0
    assert graph.nodes[1]._op_args == "2"
    assert len(graph.edges) == 4


def test_trace_of_a_shared_node_lists_each_edge_once_per_use():
    x = cr.tensor(2.0, requires_grad=True)
    y = x * x
    graph = cr.trace(y)
    assert len(graph.nodes) == 2 and len(graph.edges) == 2


def test_trace_needs_a_tensor():
    with pytest.raises(TypeError, match="list"):
        cr.trace([1, 2])
