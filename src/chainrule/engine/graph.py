"""trace(): walk a result's computational graph, for drawings and inspection."""
from __future__ import annotations

from typing import NamedTuple

from chainrule.engine.tensor import Tensor


class Graph(NamedTuple):
    """The nodes of a graph in topological order (inputs first) and its ``(parent, child)`` edges."""

    nodes: list
    edges: list


def trace(root: Tensor) -> Graph:
    """Every tensor that ``root`` was computed from, and the edges between them.

    Constants (Python numbers lifted into the graph) are included, so a drawing can show them.
    Iterative, like the backward pass.

    >>> import chainrule as cr
    >>> x = cr.tensor(3.0, requires_grad=True)
    >>> g = cr.trace(x * 2 + 1)
    >>> [n._op for n in g.nodes if n._op]
    ['mul', 'add']
    >>> len(g.edges)
    4
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"trace() needs a Tensor; got {type(root).__name__}")
    order, edges, visited = [], [], set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in reversed(node._parents):
            edges.append((parent, node))
            if id(parent) not in visited:
                stack.append((parent, False))
    position = {id(n): i for i, n in enumerate(order)}
    edges.sort(key=lambda e: (position[id(e[1])], position[id(e[0])]))
    return Graph(order, edges)
