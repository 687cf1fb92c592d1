"""Convolution layers: Conv1d and Conv2d, with PyTorch's constructor signatures and initialization."""
from __future__ import annotations

import math

import numpy as np

from chainrule.engine import Tensor, conv1d, conv2d
from chainrule.engine.api import as_generator
from chainrule.nn.module import Module, Parameter


def _positive_ints(value, nd, what, cls, low=1):
    items = (value,) * nd if isinstance(value, (int, np.integer)) else tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(items) != nd or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low for v in items):
        raise ValueError(f"{cls} {what} must be an int >= {low} or {nd} of them; got {value!r}")
    return tuple(int(v) for v in items)


class _ConvNd(Module):
    """The shared body of Conv1d and Conv2d (``nd`` spatial axes)."""

    nd = 0
    # Predictions go 256 examples at a time: a window matrix holds C·k·k numbers per output
    # position, 80 MiB for 256 28×28 MNIST images in LeNet's second layer (2.5 GiB at the
    # 8,192 rows an MLP takes), and the time per example is the same from 64 rows up.
    predict_batch_size = 256

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None, rng=None):
        super().__init__()
        cls = type(self).__name__
        in_channels, = _positive_ints(in_channels, 1, "in_channels", cls)
        out_channels, = _positive_ints(out_channels, 1, "out_channels", cls)
        groups, = _positive_ints(groups, 1, "groups", cls)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{cls}: groups={groups} must divide in_channels={in_channels} and "
                             f"out_channels={out_channels}")
        if padding_mode != "zeros":
            raise ValueError(f"{cls}: only padding_mode='zeros' is supported; got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _positive_ints(kernel_size, self.nd, "kernel_size", cls)
        self.stride = _positive_ints(stride, self.nd, "stride", cls)
        self.dilation = _positive_ints(dilation, self.nd, "dilation", cls)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{cls}: padding must be an int, a tuple, 'same' or 'valid'; got {padding!r}")
            if padding == "same" and max(self.stride) > 1:
                raise ValueError(f"{cls}: padding='same' needs stride 1; got stride {self.stride}")
            self.padding = padding
        else:
            self.padding = _positive_ints(padding, self.nd, "padding", cls, low=0)
        dtype = np.dtype(dtype or np.float32)
        # PyTorch's default: kaiming_uniform(a=√5) for the weight, which is U(−1/√fan_in, 1/√fan_in),
        # and the same bound for the bias; fan_in = in_channels/groups · prod(kernel_size).
        fan_in = in_channels // groups * math.prod(self.kernel_size)
        bound = 1.0 / math.sqrt(fan_in)
        gen = as_generator(rng)
        shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = Parameter(gen.uniform(-bound, bound, shape).astype(dtype), dtype=dtype)
        self.bias = Parameter(gen.uniform(-bound, bound, out_channels).astype(dtype), dtype=dtype) if bias else None
        if device is not None:  # drawn on the host, then moved: one seed, one layer on every device
            self.to(device)

    def extra_repr(self):
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self.nd:
            text += f", padding={self.padding!r}"
        if self.dilation != (1,) * self.nd:
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        return text + ("" if self.bias is not None else ", bias=False")

    def get_config(self) -> dict:
        """The constructor's arguments (JSON-able), to rebuild the layer when loading it."""
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
                "dilation": list(self.dilation), "groups": self.groups, "bias": self.bias is not None}

    def parameter_counts(self) -> tuple:
        """(weights, biases) counted the lecture's way: out·(in/groups·∏kernel) weights + out biases."""
        weights = self.out_channels * (self.in_channels // self.groups) * math.prod(self.kernel_size)
        return weights, self.out_channels if self.bias is not None else 0

    def neurons(self, output_shape=None) -> int:
        """One neuron per output value when the output shape is known (cs231n's count: they
        share their weights across positions), else one per output channel."""
        return int(np.prod(output_shape)) if output_shape is not None else self.out_channels


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L): ``y = conv1d(x, W, b)`` with W of shape (C_out, C_in/groups, k).

    Initialized like PyTorch: weight and bias uniform in ±1/√fan_in, fan_in = C_in/groups · k.

    >>> import chainrule as cr
    >>> layer = cr.nn.Conv1d(1, 25, 5, stride=2, padding=1, rng=0)
    >>> layer(cr.ones(100, 1, 40)).shape, layer.num_parameters()
    ((100, 25, 19), 150)
    """

    nd = 1

    def forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        return conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W) with W of shape (C_out, C_in/groups, kh, kw).

    PyTorch's signature: ``Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0,
    dilation=1, groups=1, bias=True, padding_mode='zeros')`` (plus ``rng``, a seed), and its
    initialization: weight and bias uniform in ±1/√fan_in, fan_in = C_in/groups · kh · kw.
    Each output side is ⌊(H + 2p − d(k − 1) − 1)/s⌋ + 1.

    >>> import chainrule as cr
    >>> layer = cr.nn.Conv2d(3, 32, 3, padding=1, rng=0)
    >>> layer(cr.ones(2, 3, 32, 32)).shape, layer.num_parameters()  # 32·3·3·3 + 32
    ((2, 32, 32, 32), 896)
    """

    nd = 2

    def forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
