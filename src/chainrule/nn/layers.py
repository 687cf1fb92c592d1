"""Layers: Linear, the activations, Dropout, Sequential and MLP. Each stays micrograd-sized."""
from __future__ import annotations

import numpy as np

from chainrule.engine import Tensor, device_of, ops, to_device
from chainrule.nn import functional as F
from chainrule.nn.init import as_rng, get_init
from chainrule.nn.module import Module, Parameter


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


class Linear(Module):
    """A fully connected layer: y = x Wᵀ + b, W of shape (out_features, in_features).

    ``init`` is "he" (default, for ReLU), "xavier" (tanh, sigmoid) or "small" (the lecture's
    0.01·randn); ``rng`` is an int seed or a numpy Generator. The bias starts at 0.

    >>> import chainrule as cr
    >>> layer = cr.nn.Linear(3, 4, rng=0)
    >>> layer(cr.ones(2, 3)).shape, layer.num_parameters()
    ((2, 4), 16)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, init="he", rng=None):
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Linear {name} must be a positive integer; got {value!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        # Column-major storage: Wᵀ is then row-major and x·Wᵀ, the forward product, is BLAS's
        # fastest case at every batch size (benchmarks/README.md). The shape is PyTorch's.
        self.weight = Parameter(np.asfortranarray(get_init(init)((self.out_features, self.in_features), as_rng(rng))))
        self.bias = Parameter(np.zeros(self.out_features, dtype=np.float32)) if bias else None

    def forward(self, x):
        x = _as_tensor(x)
        if self.bias is None:
            return ops.Linear.apply(x, self.weight)
        return ops.Linear.apply(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"

    def get_config(self) -> dict:
        return {"in_features": self.in_features, "out_features": self.out_features, "bias": self.bias is not None}


class ReLU(Module):
    """max(x, 0)."""

    def forward(self, x):
        return _as_tensor(x).relu()


class LeakyReLU(Module):
    """x for x > 0, negative_slope·x otherwise."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(_as_tensor(x), self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Module):
    """σ(x) = 1 / (1 + e^-x)."""

    def forward(self, x):
        return _as_tensor(x).sigmoid()


class Tanh(Module):
    """tanh(x)."""

    def forward(self, x):
        return _as_tensor(x).tanh()


class Identity(Module):
    """Passes its input through unchanged."""

    def forward(self, x):
        return _as_tensor(x)


class Dropout(Module):
    """Zero each entry with probability p while training, scaling the rest by 1/(1 − p).

    In evaluation mode (``model.eval()``) it passes its input through unchanged.
    """

    def __init__(self, p: float = 0.5, rng=None):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout probability must be in [0, 1); got {p}")
        self.p = float(p)
        self.rng = as_rng(rng)

    def forward(self, x):
        x = _as_tensor(x)
        if not self.training or self.p == 0:
            return x
        # Drawn on the host from the layer's seeded generator, then copied to x's device: the
        # same seed drops the same entries on every device.
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.p
        return x * Tensor(to_device(keep.astype(x.dtype) / (1 - self.p), device_of(x.data)), dtype=x.dtype)

    def extra_repr(self):
        return f"p={self.p}"


def run_fused(modules, x, fused: dict):
    """Apply ``modules`` in order, except that two consecutive modules whose types are a key of
    ``fused`` run as ``fused[(type_a, type_b)](x, first_module)``: one fused op instead of two,
    with the same values and gradients (``nn.MLP``: Linear + ReLU, ``nn.CNN``: Conv2d + ReLU)."""
    modules = list(modules)
    i = 0
    while i < len(modules):
        pair = (type(modules[i]), type(modules[i + 1])) if i + 1 < len(modules) else None
        if pair in fused:
            x = fused[pair](x, modules[i])
            i += 2
        else:
            x = modules[i](x)
            i += 1
    return x


class Sequential(Module):
    """Modules applied one after another; they are named "0", "1", ….

    >>> import chainrule as cr
    >>> net = cr.nn.Sequential(cr.nn.Linear(3, 4, rng=0), cr.nn.ReLU(), cr.nn.Linear(4, 2, rng=1))
    >>> net(cr.ones(5, 3)).shape
    (5, 2)
    """

    def __init__(self, *modules: Module):
        super().__init__()
        for i, module in enumerate(modules):
            self.add_module(str(i), module)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def __getitem__(self, index):
        return list(self._modules.values())[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


ACTIVATIONS = {
    "relu": ReLU,
    "leaky-relu": LeakyReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "identity": Identity,
}

_DEFAULT_INIT = {"relu": "he", "leaky-relu": "he", "sigmoid": "xavier", "tanh": "xavier", "identity": "xavier"}


def get_activation(name) -> type:
    """Look up an activation Module class by name; an unknown name lists the valid ones."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}") from None


class MLP(Sequential):
    """A multi-layer perceptron: Linear → activation → … → Linear (no activation on the output).

    The lecture's two networks: ``MLP(3, [4], 2)`` has 6 neurons and 26 parameters,
    ``MLP(3, [4, 4], 1)`` has 9 neurons and 41.

    Parameters
    ----------
    in_features, out_features : int
    hidden_sizes : sequence of int
        One entry per hidden layer, e.g. ``[256, 256]``; ``[]`` gives a linear model.
    activation : str
        One of ``ACTIVATIONS``: "relu", "leaky-relu", "sigmoid", "tanh", "identity".
    init : str, optional
        Weight initialization; by default He for ReLU-like activations, Xavier otherwise.
    dropout : float
        Dropout probability after each hidden activation (0 disables it).
    rng : int or numpy Generator, optional
        Seeds the initialization (and dropout), so equal seeds give equal networks.

    >>> import chainrule as cr
    >>> cr.nn.MLP(3, [4, 4], 1).num_parameters()
    41
    """

    def __init__(self, in_features: int, hidden_sizes, out_features: int, activation: str = "relu",
                 init=None, dropout: float = 0.0, rng=None):
        act = get_activation(activation)
        if isinstance(hidden_sizes, (int, np.integer)):
            hidden_sizes = [hidden_sizes]
        hidden_sizes = list(hidden_sizes)
        for h in hidden_sizes:
            if not isinstance(h, (int, np.integer)) or isinstance(h, bool) or h <= 0:
                raise ValueError(f"hidden layer sizes must be positive integers; got {h!r} in {hidden_sizes}")
        gen = as_rng(rng)
        init = init or _DEFAULT_INIT[activation]
        sizes = [in_features, *hidden_sizes, out_features]
        layers = []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Linear(fan_in, fan_out, init=init, rng=gen))
            if i < len(sizes) - 2:
                layers.append(act())
                if dropout:
                    layers.append(Dropout(dropout, rng=gen))
        super().__init__(*layers)
        self.config = {
            "in_features": int(in_features), "hidden_sizes": [int(h) for h in hidden_sizes],
            "out_features": int(out_features), "activation": activation, "init": init, "dropout": dropout,
        }

    def forward(self, x):
        # Each Linear followed by a ReLU runs as one fused op (F.linear_relu): the same values
        # and gradients, one graph node and one activation array per layer instead of two.
        return run_fused(self._modules.values(), _as_tensor(x), _MLP_FUSED)

    def get_config(self) -> dict:
        """The constructor's arguments (JSON-able), to rebuild the network when loading it."""
        return dict(self.config)


_MLP_FUSED = {(Linear, ReLU): lambda x, layer: F.linear_relu(x, layer.weight, layer.bias)}
