"""Layers that reshape or mask whole feature maps: Flatten, Unflatten, Dropout2d."""
from __future__ import annotations

import numpy as np

from chainrule import validation as check
from chainrule.engine import Tensor, device_of, to_device
from chainrule.engine.api import as_generator
from chainrule.nn.module import Module


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


class Flatten(Module):
    """Flatten axes ``start_dim`` .. ``end_dim`` into one (by default all but the batch axis).

    The order is PyTorch's: a (N, C, H, W) map becomes rows of C·H·W entries, channel by channel.

    >>> import chainrule as cr
    >>> cr.nn.Flatten()(cr.ones(2, 3, 4, 4)).shape
    (2, 48)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        x = _t(x)
        nd = max(x.ndim, 1)
        start, end = self.start_dim % nd, self.end_dim % nd
        if start > end:
            raise ValueError(f"Flatten: start_dim {self.start_dim} comes after end_dim {self.end_dim} for shape {x.shape}")
        shape = x.shape[:start] + (int(np.prod(x.shape[start:end + 1])),) + x.shape[end + 1:]
        return x.reshape(*shape)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split axis ``dim`` into ``unflattened_size``: ``Unflatten(1, (1, 8, 8))`` turns rows of 64
    pixels into 1×8×8 images.

    >>> import chainrule as cr
    >>> cr.nn.Unflatten(1, (1, 8, 8))(cr.ones(5, 64)).shape
    (5, 1, 8, 8)
    """

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(int(s) for s in unflattened_size)

    def forward(self, x):
        x = _t(x)
        dim = self.dim % x.ndim
        if int(np.prod(self.unflattened_size)) != x.shape[dim]:
            raise ValueError(f"Unflatten: axis {self.dim} of shape {x.shape} has {x.shape[dim]} entries, "
                             f"which is not {' × '.join(map(str, self.unflattened_size))}")
        return x.reshape(*x.shape[:dim], *self.unflattened_size, *x.shape[dim + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Dropout2d(Module):
    """Zero whole channels with probability p while training, scaling the rest by 1/(1 − p).

    Neighbouring pixels of a feature map are strongly correlated, so dropping single entries
    hardly regularizes a convolution; dropping the whole map does. In ``eval()`` it is the identity.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False, rng=None):
        super().__init__()
        self.p, self.rng = check.number("Dropout2d probability", p, 0, 1, high_open=True), as_generator(rng)

    def forward(self, x):
        x = _t(x)
        if not self.training or self.p == 0:
            return x
        if x.ndim not in (3, 4):
            raise ValueError(f"Dropout2d: expected a (N, C, H, W) or (C, H, W) input; got shape {x.shape}")
        mask_shape = x.shape[:-2] + (1, 1)
        keep = self.rng.random(mask_shape) >= self.p
        # Drawn on the host from the seeded generator, then copied to x's device (as F.dropout).
        return x * Tensor(to_device(keep.astype(x.dtype) / (1 - self.p), device_of(x.data)), dtype=x.dtype)

    def extra_repr(self):
        return f"p={self.p}"
