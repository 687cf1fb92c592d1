"""Pooling layers: max, average and adaptive average pooling in 1-D and 2-D (PyTorch's signatures)."""
from __future__ import annotations

from chainrule.engine import (
    Tensor, adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d, avg_pool2d, max_pool1d, max_pool2d,
)
from chainrule.nn.module import Module


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


class _MaxPool(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        if return_indices:
            raise ValueError(f"{type(self).__name__}: return_indices=True is not supported")
        self.kernel_size, self.stride, self.padding = kernel_size, stride if stride is not None else kernel_size, padding
        self.dilation, self.ceil_mode = dilation, ceil_mode

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool1d(_MaxPool):
    """The maximum of each window of (N, C, L); ``stride`` defaults to ``kernel_size``."""

    def forward(self, x):
        return max_pool1d(_t(x), self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)


class MaxPool2d(_MaxPool):
    """The maximum of each kh×kw window of (N, C, H, W); ``stride`` defaults to ``kernel_size``.

    >>> import chainrule as cr
    >>> cr.nn.MaxPool2d(2)(cr.ones(1, 3, 8, 8)).shape
    (1, 3, 4, 4)
    """

    def forward(self, x):
        return max_pool2d(_t(x), self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)


class _AvgPool(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        if divisor_override is not None:
            raise ValueError(f"{type(self).__name__}: divisor_override is not supported")
        self.kernel_size, self.stride, self.padding = kernel_size, stride if stride is not None else kernel_size, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPool):
    """The mean of each window of (N, C, L)."""

    def forward(self, x):
        return avg_pool1d(_t(x), self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)


class AvgPool2d(_AvgPool):
    """The mean of each kh×kw window of (N, C, H, W).

    >>> import chainrule as cr
    >>> cr.nn.AvgPool2d(2)(cr.ones(1, 1, 4, 4)).tolist()
    [[[[1.0, 1.0], [1.0, 1.0]]]]
    """

    def forward(self, x):
        return avg_pool2d(_t(x), self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)


class AdaptiveAvgPool1d(Module):
    """Average pooling of (N, C, L) to ``output_size`` entries."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return adaptive_avg_pool1d(_t(x), self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(AdaptiveAvgPool1d):
    """Average pooling of (N, C, H, W) to ``output_size`` ((h, w) or an int), whatever H and W.

    >>> import chainrule as cr
    >>> cr.nn.AdaptiveAvgPool2d(1)(cr.ones(2, 5, 7, 9)).shape
    (2, 5, 1, 1)
    """

    def forward(self, x):
        return adaptive_avg_pool2d(_t(x), self.output_size)
