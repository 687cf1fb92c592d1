"""CNN: a convolutional classifier described by a short layer string, and its default per input size.

The grammar (``--conv`` on the command line), layers separated by ``-``:

==================  ===========================================================================
``c16``             a 3×3 convolution with 16 filters, stride 1, padding 1 (k // 2), then ReLU
``c16k5``           … with a 5×5 kernel (padding 2); ``s2`` sets the stride, ``p0`` the padding
``c16k5s2p0``       all four; the order of ``k``, ``s``, ``p`` is fixed
``bn``              batch normalization of the current channels (BatchNorm2d)
``m2``, ``a2``      2×2 max / average pooling of stride 2 (any size: ``m3``)
``g``               global average pooling (each map becomes one number)
``d0.25``           dropout with p = 0.25 (of whole maps before ``fc`` / the output, Dropout2d)
``fc128``           a fully connected layer of 128 neurons, then ReLU (flattens first)
==================  ===========================================================================

The output layer (fully connected, one neuron per class) is always added at the end. Example:
``"c32-c32-m2-c64-bn-m2-fc128-d0.5"``.
"""
from __future__ import annotations

import inspect
import math
import re

import numpy as np

from chainrule.engine import Tensor
from chainrule.engine.conv import output_size
from chainrule.nn.conv import Conv2d
from chainrule.engine.api import as_generator
from chainrule.nn.layers import Dropout, Linear, ReLU, Sequential
from chainrule.nn.normalization import BatchNorm2d
from chainrule.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from chainrule.nn.spatial import Dropout2d, Flatten

GRAMMAR = "c<filters>[k<kernel>][s<stride>][p<padding>], bn, m<k>, a<k>, g, d<p>, fc<neurons>, joined by '-'"

_TOKENS = {
    "conv": re.compile(r"c(\d+)(?:k(\d+))?(?:s(\d+))?(?:p(\d+))?"),
    "bn": re.compile(r"bn"),
    "max": re.compile(r"m(\d+)"),
    "avg": re.compile(r"a(\d+)"),
    "global": re.compile(r"g"),
    "dropout": re.compile(r"d(0?\.\d+|0)"),
    "fc": re.compile(r"fc(\d+)"),
}

# Chosen by the smaller image side: the benchmark networks (issue 13); the digits one twice as
# wide, with batch normalization after each convolution: `chainrule train --model cnn` (Adam,
# 30 epochs, the data scaled by one mean and deviation) reached 99.3 / 98.9 / 98.9 % on the
# digits test split with seeds 0 / 1 / 2 (98.7-98.9 % with --crop 1), where "c32-m2-c64" gave
# 97.6-98.9 % over seeds 0-6 with and without crops, below the 98.5 % for several seeds.
# A side of one pixel (a row of features seen as a 1×n image, CNNClassifier's default) has
# nothing to pool.
DEFAULT_SPECS = ((1, "c32-c64"), (8, "c32-bn-m2-c64-bn"), (28, "c16k5-m2-c32k5-m2"), (None, "c32-m2-c64-m2"))


def default_spec(input_shape) -> str:
    """The default architecture for images of ``input_shape`` (C, H, W): digits-sized (≤ 8 px)
    "c32-bn-m2-c64-bn", MNIST-sized (≤ 28 px) "c16k5-m2-c32k5-m2" (LeNet-like), larger
    "c32-m2-c64-m2"; a side of one pixel (1×n "images": rows of features) "c32-c64".

    >>> default_spec((1, 8, 8)), default_spec((3, 32, 32)), default_spec((1, 1, 20))
    ('c32-bn-m2-c64-bn', 'c32-m2-c64-m2', 'c32-c64')
    """
    side = min(input_shape[1:])
    return next(spec for limit, spec in DEFAULT_SPECS if limit is None or side <= limit)


def parse_spec(spec: str) -> list:
    """The layer string as a list of ``(kind, values)``; a token that does not parse is a
    ValueError naming it and the grammar.

    >>> parse_spec("c16k5-m2-fc64")
    [('conv', (16, 5, 1, 2)), ('max', (2,)), ('fc', (64,))]
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"a CNN layer string must be a non-empty string like 'c16-m2-c32'; got {spec!r} "
                         f"(grammar: {GRAMMAR})")
    layers = []
    for token in spec.strip().lower().split("-"):
        for kind, pattern in _TOKENS.items():
            match = pattern.fullmatch(token)
            if match:
                break
        else:
            raise ValueError(f"cannot parse {token!r} in the CNN layer string {spec!r}; expected {GRAMMAR}")
        if kind == "conv":
            filters, k, s, p = match.groups()
            k = int(k) if k else 3
            values = (int(filters), k, int(s) if s else 1, int(p) if p is not None else k // 2)
            if min(values[:3]) < 1:
                raise ValueError(f"{token!r} in {spec!r}: filters, kernel and stride must be at least 1")
        elif kind == "dropout":
            values = (float(match.group(1)),)
        else:
            values = tuple(int(g) for g in match.groups())
            if values and values[0] < 1:
                raise ValueError(f"{token!r} in {spec!r}: sizes must be at least 1")
        layers.append((kind, values))
    return layers


#: The most values any one size of a CNN config may have, and the most values one example may
#: hold at any layer (the image or a feature map): beyond it a config is refused as absurd
#: before anything is built (a model file cannot ask for a 10^10-pixel input).
MAX_SIZE = 2**31 - 1


def _checked_input(input_shape, n_classes) -> tuple:
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else ()
    if len(shape) != 3 or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in shape):
        raise ValueError(f"CNN input_shape must be (channels, height, width) of positive ints; got {input_shape!r}")
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ValueError(f"CNN n_classes must be an int >= 2; got {n_classes!r}")
    shape = tuple(int(s) for s in shape)
    if max(*shape, n_classes) > MAX_SIZE or math.prod(shape) > MAX_SIZE:
        raise ValueError(f"CNN input_shape {shape} with {n_classes} classes is absurdly large: an image may hold "
                         f"at most {MAX_SIZE} values, and so may each size")
    return shape


def plan(input_shape, n_classes: int, spec: str | None = None) -> list:
    """The network a config describes, worked out from the sizes alone: nothing is built.

    One ``(module class, constructor arguments, parameter shapes, buffer shapes, output shape)``
    per module of the :class:`CNN`, in order. The shapes follow the engine's arithmetic, per
    spatial axis out = ⌊(size + 2·padding − kernel) / stride⌋ + 1; a kernel larger than its
    padded input, or a size beyond :data:`MAX_SIZE`, is a ValueError naming the layer.

    >>> [(cls.__name__, out) for cls, _, _, _, out in plan((1, 8, 8), 10, "c4-m2")]
    [('Conv2d', (4, 8, 8)), ('ReLU', (4, 8, 8)), ('MaxPool2d', (4, 4, 4)), ('Flatten', (64,)), ('Linear', (10,))]
    """
    shape = _checked_input(input_shape, n_classes)
    spec = default_spec(shape) if spec is None else spec
    layers, out = [], shape

    def add(cls, args, params=None, buffers=None):
        layers.append((cls, args, params or {}, buffers or {}, out))

    def refuse(cls, message, at=None):
        at = len(layers) if at is None else at
        raise ValueError(f"CNN layer string {spec!r} does not fit {shape} images at layer {at} ({cls.__name__}): "
                         f"{message}")

    def window(cls, k, s, p):
        nonlocal out
        for axis, size in (("height", out[1]), ("width", out[2])):
            if k > size + 2 * p:
                refuse(cls, f"the kernel ({k} wide) is larger than the padded input ({size} + padding {2 * p} "
                            f"= {size + 2 * p}) along the {axis}")
        out = (out[0], *(output_size(size, k, s, (p, p)) for size in out[1:]))

    for kind, values in parse_spec(spec):
        first = len(layers)
        if kind in ("conv", "bn", "max", "avg", "global") and len(out) == 1:
            raise ValueError(f"CNN layer string {spec!r}: {kind} works on feature maps; put it before 'fc'")
        if any(v > MAX_SIZE for v in values):
            raise ValueError(f"CNN layer string {spec!r}: {kind} {values} is absurdly large (at most {MAX_SIZE})")
        if kind == "conv":
            filters, k, s, p = values
            channels = out[0]
            window(Conv2d, k, s, p)
            out = (filters, *out[1:])
            add(Conv2d, {"in_channels": channels, "out_channels": filters, "kernel_size": k, "stride": s,
                         "padding": p}, {"weight": (filters, channels, k, k), "bias": (filters,)})
            add(ReLU, {})
        elif kind == "bn":
            c = out[0]
            add(BatchNorm2d, {"num_features": c}, {"weight": (c,), "bias": (c,)},
                {"running_mean": (c,), "running_var": (c,), "num_batches_tracked": ()})
        elif kind in ("max", "avg"):
            cls = MaxPool2d if kind == "max" else AvgPool2d
            window(cls, values[0], values[0], 0)
            add(cls, {"kernel_size": values[0]})
        elif kind == "global":
            out = (out[0], 1, 1)
            add(AdaptiveAvgPool2d, {"output_size": 1})
        elif kind == "dropout":
            add(Dropout if len(out) == 1 else Dropout2d, {"p": values[0]})
        elif kind == "fc":
            if len(out) == 3:
                out = (math.prod(out),)
                add(Flatten, {})
            features, out = out[0], (values[0],)
            add(Linear, {"in_features": features, "out_features": values[0]},
                {"weight": (values[0], features), "bias": (values[0],)})
            add(ReLU, {})
        if math.prod(out) > MAX_SIZE:
            refuse(layers[first][0], f"its output {out} holds {math.prod(out)} values per example, more than "
                                     f"{MAX_SIZE}", at=first)  # the token's first module: a convolution, not its ReLU
    if len(out) == 3:
        out = (math.prod(out),)
        add(Flatten, {})
    features, out = out[0], (int(n_classes),)
    add(Linear, {"in_features": features, "out_features": int(n_classes)},
        {"weight": (int(n_classes), features), "bias": (int(n_classes),)})
    return layers


def _config_plan(config) -> list:
    if not isinstance(config, dict):
        raise TypeError(f"a CNN config must be a dict; got {type(config).__name__}")
    unknown = sorted(set(config) - {"input_shape", "n_classes", "spec"})
    if unknown:
        raise TypeError(f"a CNN config has the unknown key(s) {unknown}; expected input_shape, n_classes, spec")
    return plan(config.get("input_shape"), config.get("n_classes"), config.get("spec"))


class CNN(Sequential):
    """A convolutional classifier: the layers of ``spec`` (see the module's grammar), then a
    fully connected output layer of ``n_classes``.

    It accepts images (N, C, H, W) or flat rows of C·H·W pixels (what ``fit``, the estimators
    and the command line feed), which it reshapes to ``input_shape`` = (C, H, W). ``spec=None``
    picks :func:`default_spec` for the image size. The layers are sized by :func:`plan` from
    the config alone, so :meth:`parameter_shapes` and the built network agree by construction.

    >>> import chainrule as cr
    >>> net = cr.nn.CNN((1, 8, 8), 10, rng=0)
    >>> net.spec, net(cr.zeros(5, 64)).shape, net.num_parameters()
    ('c32-bn-m2-c64-bn', (5, 10), 29258)
    """

    def __init__(self, input_shape, n_classes: int, spec: str | None = None, rng=None):
        spec = default_spec(_checked_input(input_shape, n_classes)) if spec is None else spec
        layers = plan(input_shape, n_classes, spec)
        gen = as_generator(rng)
        # Built in order from one generator: equal seeds give equal networks.
        super().__init__(*(cls(**args, rng=gen) if "rng" in inspect.signature(cls).parameters else cls(**args)
                           for cls, args, *_ in layers))
        self.input_shape, self.n_classes, self.spec = _checked_input(input_shape, n_classes), int(n_classes), spec

    @classmethod
    def parameter_shapes(cls, config: dict) -> dict:
        """The shape of every array ``CNN(**config)``'s ``state_dict`` holds, found without building it:
        the parameters, then the buffers (BatchNorm's running statistics), by dotted name.

        This is how ``io.load_model`` sizes a saved CNN before anything is allocated; a config
        that does not describe a network (a bad layer string, a kernel larger than its padded
        input, absurd sizes) is a ValueError, unknown keys a TypeError.

        >>> CNN.parameter_shapes({"input_shape": [1, 8, 8], "n_classes": 3, "spec": "c4-bn"})
        ... # doctest: +NORMALIZE_WHITESPACE
        {'0.weight': (4, 1, 3, 3), '0.bias': (4,), '2.weight': (4,), '2.bias': (4,), '4.weight': (3, 256),
         '4.bias': (3,), '2.running_mean': (4,), '2.running_var': (4,), '2.num_batches_tracked': ()}
        """
        layers = _config_plan(config)
        params = {f"{i}.{name}": shape for i, (_, _, own, _, _) in enumerate(layers) for name, shape in own.items()}
        return {**params, **cls.buffer_shapes(config)}

    @classmethod
    def buffer_shapes(cls, config: dict) -> dict:
        """The buffers among :meth:`parameter_shapes` (BatchNorm's running statistics): saved, not learned.

        >>> CNN.buffer_shapes({"input_shape": [1, 8, 8], "n_classes": 3, "spec": "c4-bn"})
        {'2.running_mean': (4,), '2.running_var': (4,), '2.num_batches_tracked': ()}
        """
        layers = _config_plan(config)
        return {f"{i}.{name}": shape for i, (_, _, _, own, _) in enumerate(layers) for name, shape in own.items()}

    @classmethod
    def widths(cls, config: dict) -> tuple:
        """``(inputs, outputs)`` of ``CNN(**config)``: C·H·W values per row, one score per class.

        >>> CNN.widths({"input_shape": [3, 32, 32], "n_classes": 10})
        (3072, 10)
        """
        shape = _checked_input(config.get("input_shape"), config.get("n_classes"))
        return math.prod(shape), int(config["n_classes"])

    def forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim == 2:
            size = int(np.prod(self.input_shape))
            if x.shape[1] != size:
                raise ValueError(f"CNN: rows of {x.shape[1]} values cannot be images of shape {self.input_shape} "
                                 f"({size} values each)")
            x = x.reshape(x.shape[0], *self.input_shape)
        elif x.ndim != 4 or x.shape[1:] != self.input_shape:
            raise ValueError(f"CNN: expected images of shape (N, {', '.join(map(str, self.input_shape))}) or rows "
                             f"of {int(np.prod(self.input_shape))} values; got {x.shape}")
        # Sequential's fused ops (nn.layers.FUSED): each convolution with its ReLU, or with its
        # ReLU and max pooling; the maps stay channels-last from one convolution to the next.
        return super().forward(x)

    def get_config(self) -> dict:
        """The constructor's arguments (JSON-able), to rebuild the network when loading it."""
        return {"input_shape": list(self.input_shape), "n_classes": self.n_classes, "spec": self.spec}

