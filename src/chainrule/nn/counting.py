"""summary(): count a network's neurons and learnable parameters, layer by layer, like the lecture.

"No. of neurons (not counting the inputs): 4 + 2 = 6. No. of learnable parameters:
[3 × 4] + [4 × 2] = 20 weights + 4 + 2 = 6 biases = 26."
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from chainrule.nn.module import Module


@dataclass
class LayerRow:
    name: str
    kind: str
    neurons: int
    weights: int
    biases: int

    @property
    def parameters(self) -> int:
        return self.weights + self.biases


@dataclass
class ModelSummary:
    """Per-layer neurons and parameters, and their totals. ``str()`` gives the table."""

    rows: list = field(default_factory=list)

    @property
    def neurons(self) -> int:
        return sum(r.neurons for r in self.rows)

    @property
    def weights(self) -> int:
        return sum(r.weights for r in self.rows)

    @property
    def biases(self) -> int:
        return sum(r.biases for r in self.rows)

    @property
    def parameters(self) -> int:
        return self.weights + self.biases

    def to_dict(self) -> dict:
        return {
            "layers": [dict(r.__dict__, parameters=r.parameters) for r in self.rows],
            "neurons": self.neurons, "weights": self.weights, "biases": self.biases,
            "parameters": self.parameters,
        }

    def __str__(self) -> str:
        header = ("layer", "type", "neurons", "weights", "biases", "parameters")
        body = [(r.name, r.kind, r.neurons, r.weights, r.biases, r.parameters) for r in self.rows]
        total = ("total", "", self.neurons, self.weights, self.biases, self.parameters)
        table = [header, *body, total]
        widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]

        def fmt(row):
            return "  ".join(str(v).ljust(w) if i < 2 else str(v).rjust(w) for i, (v, w) in enumerate(zip(row, widths)))

        rule = "-" * len(fmt(header))
        return "\n".join([fmt(header), rule, *map(fmt, body), rule, fmt(total)])

    __repr__ = __str__


def summary(model: Module) -> ModelSummary:
    """Neurons (not counting the inputs) and learnable parameters of each layer with weights.

    A layer's neurons are its outputs (a Linear layer's ``out_features``); its parameters are
    its weights plus its biases. Layers without parameters (activations) are not listed.

    >>> import chainrule as cr
    >>> s = cr.nn.summary(cr.nn.MLP(3, [4], 2))
    >>> s.neurons, s.weights, s.biases, s.parameters
    (6, 20, 6, 26)
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary() needs a Module; got {type(model).__name__}")
    result = ModelSummary()
    for name, module in model.named_modules():
        own = [(n, p) for n, p in module._parameters.items() if p is not None]
        if not own:
            continue
        weights = sum(p.size for n, p in own if p.ndim >= 2)
        biases = sum(p.size for n, p in own if p.ndim < 2)
        neurons = getattr(module, "out_features", None)
        if neurons is None:
            weight = next((p for n, p in own if p.ndim >= 2), None)
            neurons = weight.shape[0] if weight is not None else biases
        result.rows.append(LayerRow(name or type(module).__name__, type(module).__name__, int(neurons), int(weights), int(biases)))
    return result


def summary_from_shapes(shapes, kind: str = "Linear") -> ModelSummary:
    """The same counts from the parameters' shapes alone: nothing is allocated.

    ``shapes`` maps dotted parameter names to shapes, as ``MLP.parameter_shapes(config)`` gives
    them; parameters are grouped by layer (the name before the last dot). A 2-D or larger
    parameter is a weight, the layer's neurons are its rows; the rest are biases. This is how
    ``chainrule summary --layers 100000 100000 10`` counts a billion parameters in no memory.

    >>> from chainrule.nn import MLP
    >>> s = summary_from_shapes(MLP.parameter_shapes({"in_features": 3, "hidden_sizes": [4, 4], "out_features": 1}))
    >>> s.neurons, s.parameters
    (9, 41)
    """
    layers: dict = {}
    for name, shape in shapes.items():
        layers.setdefault(name.rpartition(".")[0], []).append(tuple(int(n) for n in shape))
    result = ModelSummary()
    for name, own in layers.items():
        weights = sum(math.prod(s) for s in own if len(s) >= 2)
        biases = sum(math.prod(s) for s in own if len(s) < 2)
        weight = next((s for s in own if len(s) >= 2), None)
        neurons = weight[0] if weight is not None else biases
        result.rows.append(LayerRow(name or kind, kind, int(neurons), int(weights), int(biases)))
    return result
