"""summary(): count a network's neurons and learnable parameters, layer by layer, like the lecture.

"No. of neurons (not counting the inputs): 4 + 2 = 6. No. of learnable parameters:
[3 × 4] + [4 × 2] = 20 weights + 4 + 2 = 6 biases = 26."
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field


from chainrule.engine import no_grad, zeros
from chainrule.nn.layers import Sequential
from chainrule.nn.module import Module


@dataclass
class LayerRow:
    name: str
    kind: str
    neurons: int
    weights: int
    biases: int
    output_shape: tuple | None = None

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
        shapes = any(r.output_shape is not None for r in self.rows)
        header = ("layer", "type") + (("output",) if shapes else ()) + ("neurons", "weights", "biases", "parameters")
        body = [(r.name, r.kind) + ((_shape_text(r.output_shape),) if shapes else ())
                + (r.neurons, r.weights, r.biases, r.parameters) for r in self.rows]
        total = ("total", "") + (("",) if shapes else ()) + (self.neurons, self.weights, self.biases, self.parameters)
        text_columns = 3 if shapes else 2
        table = [header, *body, total]
        widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]

        def fmt(row):
            return "  ".join(str(v).ljust(w) if i < text_columns else str(v).rjust(w) for i, (v, w) in enumerate(zip(row, widths)))

        rule = "-" * len(fmt(header))
        return "\n".join([fmt(header), rule, *map(fmt, body), rule, fmt(total)])

    __repr__ = __str__


def _shape_text(shape):
    return "" if shape is None else "×".join(map(str, shape))


def _output_shapes(model: Module, input_shape) -> dict:
    """Run ``model`` on zeros of shape (1, *input_shape) and record each module's output shape
    (without the batch axis): each module's ``forward`` is wrapped for the one call."""
    shapes = {}
    modules = list(model.named_modules())
    for name, module in modules:
        def wrapped(*args, _forward=module.forward, _name=name, **kwargs):
            out = _forward(*args, **kwargs)
            shapes[_name] = tuple(out.shape[1:])
            return out
        object.__setattr__(module, "forward", wrapped)
    was_training = model.training
    try:
        model.eval()
        with no_grad():
            # A Sequential (MLP and CNN included) runs layer by layer here, so layers that its
            # own forward fuses (nn.layers.FUSED: Linear + ReLU, Conv2d + ReLU + MaxPool2d, …)
            # still report their shapes.
            x = zeros(1, *input_shape)
            for layer in (model if isinstance(model, Sequential) else [model]):
                x = layer(x)
    finally:
        for _, module in modules:
            object.__delattr__(module, "forward")
        model.train(was_training)
    return shapes


def summary(model: Module, input_shape=None) -> ModelSummary:
    """Neurons (not counting the inputs) and learnable parameters of each layer with weights.

    A layer's neurons are its outputs (a Linear layer's ``out_features``); its parameters are
    its weights plus its biases. A convolution counts the lecture's way:
    out·(in/groups·kh·kw) weights + out biases, and, given ``input_shape`` (one example's shape,
    e.g. ``(1, 28, 28)``), one neuron per output value (C_out·H_out·W_out, the cs231n count).
    With ``input_shape`` every layer is listed with its output shape; without it, layers
    without parameters (activations, pooling) are left out.

    >>> import chainrule as cr
    >>> s = cr.nn.summary(cr.nn.MLP(3, [4], 2))
    >>> s.neurons, s.weights, s.biases, s.parameters
    (6, 20, 6, 26)
    >>> net = cr.nn.Sequential(cr.nn.Conv2d(1, 16, 3, padding=1), cr.nn.ReLU(), cr.nn.MaxPool2d(2))
    >>> [(r.kind, r.output_shape, r.weights, r.biases) for r in cr.nn.summary(net, (1, 8, 8)).rows]
    [('Conv2d', (16, 8, 8), 144, 16), ('ReLU', (16, 8, 8), 0, 0), ('MaxPool2d', (16, 4, 4), 0, 0)]
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary() needs a Module; got {type(model).__name__}")
    shapes = {}
    if input_shape is not None:
        input_shape = tuple(int(s) for s in input_shape)
        try:
            shapes = _output_shapes(model, input_shape)
        except ValueError as exc:
            raise ValueError(f"summary(): the model does not accept inputs of shape {input_shape}: {exc}") from None
    result = ModelSummary()
    for name, module in model.named_modules():
        own = [(n, p) for n, p in module._parameters.items() if p is not None]
        leaf = not module._modules
        if not own and not (shapes and leaf and name):
            continue
        if hasattr(module, "parameter_counts"):
            weights, biases = module.parameter_counts()
        else:
            weights = sum(p.size for n, p in own if p.ndim >= 2)
            biases = sum(p.size for n, p in own if p.ndim < 2)
        shape = shapes.get(name)
        if hasattr(module, "neurons"):
            neurons = module.neurons(shape)
        elif not own:
            neurons = 0
        else:
            neurons = getattr(module, "out_features", None)
            if neurons is None:
                weight = next((p for n, p in own if p.ndim >= 2), None)
                neurons = weight.shape[0] if weight is not None else biases
        result.rows.append(LayerRow(name or type(module).__name__, type(module).__name__, int(neurons),
                                    int(weights), int(biases), shape))
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
