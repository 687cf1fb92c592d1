"""Layers: Linear, the activations, Dropout, LayerNorm, Sequential and MLP. Each stays micrograd-sized.

The activations of the engine's elementwise registry (ReLU, Sigmoid, Tanh, Softplus, and any op
registered with an ``activation`` name) are :class:`Elementwise` Modules: a class written here
gives one its docstring, and an op without one gets a class made for it, so a new elementwise op
needs nothing in this file to be an activation (docs/architecture.md, "Adding an op").
"""
from __future__ import annotations

import numpy as np

from chainrule import validation as check
from chainrule.engine import Tensor, fused, ops, subscribe
from chainrule.engine.api import as_generator
from chainrule.nn import functional as F
from chainrule.nn.init import get_init
from chainrule.nn.conv import Conv2d
from chainrule.nn.module import Module, Parameter
from chainrule.nn.pooling import MaxPool2d


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


class Linear(Module):
    """A fully connected layer: y = x Wᵀ + b, W of shape (out_features, in_features).

    ``init`` is "he" (default, for ReLU), "xavier" (tanh, sigmoid) or "small" (the lecture's
    0.01·randn); ``rng`` is an int seed or a numpy Generator. The bias starts at 0. ``device``
    ("cpu", "cuda", "cuda:N" or a Device) places the parameters, as ``.to(device)`` would: they
    are drawn on the host first, so a seed gives the same layer on every device.

    >>> import chainrule as cr
    >>> layer = cr.nn.Linear(3, 4, rng=0)
    >>> layer(cr.ones(2, 3)).shape, layer.num_parameters()
    ((2, 4), 16)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, init="he", rng=None, device=None):
        super().__init__()
        self.in_features = check.integer("Linear in_features", in_features, low=1)
        self.out_features = check.integer("Linear out_features", out_features, low=1)
        # Column-major storage: Wᵀ is then row-major and x·Wᵀ, the forward product, is BLAS's
        # fastest case at every batch size (benchmarks/README.md). The shape is PyTorch's.
        self.weight = Parameter(np.asfortranarray(get_init(init)((self.out_features, self.in_features), as_generator(rng))))
        self.bias = Parameter(np.zeros(self.out_features, dtype=np.float32)) if bias else None
        if device is not None:
            self.to(device)

    def forward(self, x):
        x = _as_tensor(x)
        if self.bias is None:
            return ops.Linear.apply(x, self.weight)
        return ops.Linear.apply(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"

    def get_config(self) -> dict:
        return {"in_features": self.in_features, "out_features": self.out_features, "bias": self.bias is not None}

    @classmethod
    def parameter_shapes(cls, config: dict) -> dict:
        """The shape of each parameter ``Linear(**config)`` would have, found without building it.

        >>> Linear.parameter_shapes({"in_features": 3, "out_features": 4})
        {'weight': (4, 3), 'bias': (4,)}
        """
        fan_in, fan_out = (check.integer(k, config.get(k), low=1) for k in ("in_features", "out_features"))
        return {"weight": (fan_out, fan_in), **({"bias": (fan_out,)} if config.get("bias", True) else {})}


class Elementwise(Module):
    """An activation that applies one registered elementwise engine op (its class attribute ``op``).

    Positional and keyword arguments are the op's options (Softplus's ``beta`` and
    ``threshold``), kept in ``options`` and shown by ``repr``.
    """

    op = None

    def __init__(self, *args, **options):
        super().__init__()
        names = self.op.options
        if len(args) > len(names) or set(options) - set(names):
            raise TypeError(f"{type(self).__name__} takes the options {list(names)}; got {args} {options}")
        self.options = {**dict(zip(names, args)), **options}

    def forward(self, x):
        return self.op.apply(_as_tensor(x), **self.options)

    def extra_repr(self):
        return ", ".join(f"{k}={v}" for k, v in self.options.items())


class ReLU(Elementwise):
    """max(x, 0)."""

    op = ops.ReLU


class Sigmoid(Elementwise):
    """σ(x) = 1 / (1 + e^-x)."""

    op = ops.Sigmoid


class Tanh(Elementwise):
    """tanh(x)."""

    op = ops.Tanh


class Softplus(Elementwise):
    """softplus(x) = log(1 + e^(βx))/β (x where βx > threshold): ``Softplus(beta=1.0, threshold=20.0)``."""

    op = ops.Softplus


class LeakyReLU(Module):
    """x for x > 0, negative_slope·x otherwise."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(_as_tensor(x), self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """x for x > 0, α·(e^x − 1) otherwise."""

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return F.elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class GELU(Module):
    """x·Φ(x) (``approximate="tanh"`` for the tanh form)."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x·σ(x)."""

    def forward(self, x):
        return F.silu(x)


class Softmax(Module):
    """e^x / Σ e^x along ``dim`` (default the last axis)."""

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return _as_tensor(x).softmax(self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """x − log Σ e^x along ``dim`` (default the last axis)."""

    def forward(self, x):
        return _as_tensor(x).log_softmax(self.dim)


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
        self.p = check.number("Dropout probability", p, 0, 1, high_open=True)
        self.rng = as_generator(rng)

    def forward(self, x):
        return F.dropout(x, self.p, self.training, self.rng)

    def extra_repr(self):
        return f"p={self.p}"


def run_fused(modules, x, fused: dict):
    """Apply ``modules`` in order, except that consecutive modules whose types are a key of
    ``fused`` (a tuple of exact types; the longest match first) run as
    ``fused[types](x, *those_modules)``: one fused op instead of several, with the same values
    and gradients (:data:`FUSED`: Linear + ReLU, Conv2d + ReLU, Conv2d + ReLU + MaxPool2d,
    ReLU + MaxPool2d)."""
    modules = list(modules)
    lengths = sorted({len(key) for key in fused}, reverse=True)
    i = 0
    while i < len(modules):
        for n in lengths:
            run = fused.get(tuple(type(m) for m in modules[i:i + n])) if i + n <= len(modules) else None
            if run is not None:
                x = run(x, *modules[i:i + n])
                i += n
                break
        else:
            x = modules[i](x)
            i += 1
    return x


class Sequential(Module):
    """Modules applied one after another; they are named "0", "1", ….

    A ``Linear`` directly followed by a ``ReLU`` (exactly those types) runs as one fused op,
    ``F.linear_relu``: the same values and gradients bit for bit, one graph node and one
    activation array instead of two, so the PyTorch-style ``Sequential(Linear, ReLU, …)`` trains
    as fast as ``nn.MLP`` (benchmarks/PERFORMANCE_LOG.md entry 17). Drawings show the pair as
    one ``linear_relu`` gate. Image layers fuse the same way (:data:`FUSED`): ``Conv2d, ReLU``
    as ``F.conv2d_relu``, and ``ReLU, MaxPool2d`` as ``F.max_pool2d_relu``, the ReLU after the
    pooling on the k·k times smaller result (also right after a ``Conv2d``: PERFORMANCE_LOG.md,
    convolution entry 20).

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
        return run_fused(self._modules.values(), x, FUSED)

    def __getitem__(self, index):
        return list(self._modules.values())[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class LayerNorm(Module):
    """Normalize over the last axes: (x − mean) / √(var + ε) · weight + bias (PyTorch's LayerNorm).

    ``weight`` starts at 1 and ``bias`` at 0, both of shape ``normalized_shape``.

    >>> import chainrule as cr
    >>> y = cr.nn.LayerNorm(3)(cr.tensor([[1.0, 2.0, 3.0]]))
    >>> [round(v, 3) for v in y.tolist()[0]]
    [-1.225, 0.0, 1.225]
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
        if not shape:
            raise ValueError(f"LayerNorm normalized_shape must be one or more sizes; got {normalized_shape!r}")
        shape = tuple(check.integer("each of LayerNorm's normalized_shape", n, low=1) for n in shape)
        self.normalized_shape, self.eps = shape, float(eps)
        self.weight = Parameter(np.ones(self.normalized_shape, np.float32)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(self.normalized_shape, np.float32)) if elementwise_affine and bias else None

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.weight is not None}"


ACTIVATIONS = {
    "leaky-relu": LeakyReLU,
    "identity": Identity,
    "elu": ELU,
    "gelu": GELU,
    "silu": SiLU,
}
"""Activation Modules by name; the registered elementwise ops add theirs (relu, sigmoid, …)."""

_DEFAULT_INIT = {"leaky-relu": "he", "identity": "xavier", "elu": "he", "gelu": "he", "silu": "he"}


def _add_activation(op):
    """Make registered elementwise op ``op`` an activation (called for each registration)."""
    if not op.activation:
        return
    cls = globals().get(op.activation)
    if not (isinstance(cls, type) and issubclass(cls, Elementwise) and cls.op is op):
        summary = (op.__doc__ or op.name).strip().splitlines()[0]
        cls = type(op.activation, (Elementwise,), {"op": op, "__doc__": summary, "__module__": __name__})
    name = op.name.replace("_", "-")
    ACTIVATIONS[name] = cls
    _DEFAULT_INIT[name] = op.default_init


subscribe(_add_activation)


def get_activation(name) -> type:
    """Look up an activation Module class by name; an unknown name lists the valid ones."""
    return ACTIVATIONS[check.choice("activation", name, sorted(ACTIVATIONS))]


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
        One of ``ACTIVATIONS``: "relu", "leaky-relu", "sigmoid", "tanh", "identity", "softplus",
        "elu", "gelu", "silu".
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
        if isinstance(hidden_sizes, (str, bytes, dict)) or not hasattr(hidden_sizes, "__iter__"):
            raise TypeError("MLP hidden_sizes must be a whole number or a list of them ([] for none); "
                            f"got {check.show(hidden_sizes)}")
        hidden_sizes = list(hidden_sizes)
        for h in hidden_sizes:
            check.integer(f"each hidden layer size (of {hidden_sizes})", h, low=1)
        gen = as_generator(rng)
        init = init or _DEFAULT_INIT.get(activation, "xavier")
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
        return run_fused(self._modules.values(), _as_tensor(x), FUSED)

    def get_config(self) -> dict:
        """The constructor's arguments (JSON-able), to rebuild the network when loading it."""
        return dict(self.config)

    @classmethod
    def parameter_shapes(cls, config: dict) -> dict:
        """The shape of each parameter ``MLP(**config)`` would have, found without building it.

        This is how a saved network (``io.load_model``) or ``chainrule summary --layers`` is
        sized before anything is allocated.

        >>> MLP.parameter_shapes({"in_features": 3, "hidden_sizes": [4], "out_features": 2})
        {'0.weight': (4, 3), '0.bias': (4,), '2.weight': (2, 4), '2.bias': (2,)}
        """
        hidden = config.get("hidden_sizes", [])
        hidden = [hidden] if isinstance(hidden, (int, np.integer)) else list(hidden)
        sizes = [config.get("in_features"), *hidden, config.get("out_features")]
        sizes = [check.integer("each of the layer sizes", n, low=1) for n in sizes]
        stride = 3 if config.get("dropout") else 2  # Linear, activation (, Dropout)
        shapes = {}
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            shapes[f"{i * stride}.weight"] = (fan_out, fan_in)
            shapes[f"{i * stride}.bias"] = (fan_out,)
        return shapes


def _pool_relu(x, pool):
    return F.max_pool2d_relu(x, pool.kernel_size, pool.stride, pool.padding, pool.dilation, pool.ceil_mode)


#: The module sequences Sequential (MLP and CNN included) runs as one fused op, by exact types.
#: The layers' own parameters are valid, so Linear + ReLU skips linear_relu's argument checks.
FUSED = {
    (Linear, ReLU): lambda x, layer, _: fused.LinearReLU.apply(
        *((_as_tensor(x), layer.weight) if layer.bias is None else (_as_tensor(x), layer.weight, layer.bias))),
    (Conv2d, ReLU): lambda x, c, _: F.conv2d_relu(x, c.weight, c.bias, c.stride, c.padding, c.dilation, c.groups),
    # The ReLU goes after the pooling, so the convolution runs unfused (its ReLU would be 4× larger).
    (Conv2d, ReLU, MaxPool2d): lambda x, c, _, pool: _pool_relu(c(x), pool),
    (ReLU, MaxPool2d): lambda x, _, pool: _pool_relu(x, pool),
}
