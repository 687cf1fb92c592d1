"""Batch normalization: F.batch_norm (one fused Function) and the BatchNorm1d / BatchNorm2d layers.

Per channel c, over the batch and every spatial position (m values):
μ = mean(x), σ² = mean((x − μ)²), x̂ = (x − μ)/√(σ² + ε), y = γ·x̂ + β. In training the running
statistics move towards the batch's (the variance unbiased, m/(m − 1)·σ², as in PyTorch); in
evaluation they replace μ and σ². The backward of the training form is the closed form
∂L/∂x = γ/√(σ² + ε) · (g − mean(g) − x̂·mean(g·x̂)), one pass instead of the graph of the
composed ops.
"""
from __future__ import annotations

import numpy as np

from chainrule import validation as check
from chainrule.engine import Function, Tensor
from chainrule.engine.backend import array_module
from chainrule.nn.module import Module, Parameter


class _BatchNorm(Function):
    name = "batch_norm"
    # The keyword arguments that are a module's state, which the op reads and updates in place
    # itself (so a replayed step, chainrule.train.capture, keeps them up to date).
    state_kwargs = ("running_mean", "running_var", "num_batches_tracked")

    def forward(self, x, weight, bias, *, running_mean, running_var, training, momentum, eps,
                num_batches_tracked=None):
        xp = array_module(x)
        axes = (0, *range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)
        self.axes, self.shape, self.count = axes, shape, x.size // x.shape[1]
        if training:
            if num_batches_tracked is not None:
                num_batches_tracked += 1
                if momentum is None:  # a cumulative average, as in PyTorch
                    momentum = 1.0 / float(num_batches_tracked)
            mean = x.mean(axis=axes)
            var = x.var(axis=axes)
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += momentum * var * (self.count / max(self.count - 1, 1))
        else:
            mean, var = running_mean, running_var
        invstd = (1.0 / xp.sqrt(var + eps)).astype(x.dtype)
        xhat = (x - mean.astype(x.dtype).reshape(shape)) * invstd.reshape(shape)
        self.training = training
        self.save(xhat, invstd, weight)
        return xhat * weight.reshape(shape) + bias.reshape(shape)

    def backward(self, grad):
        xhat, invstd, weight = self.saved
        gb = grad.sum(axis=self.axes)
        gw = (grad * xhat).sum(axis=self.axes)
        gx = None
        if self.needs[0]:
            scale = (weight * invstd).reshape(self.shape)
            if self.training:
                gx = scale * (grad - (gb / self.count).reshape(self.shape) - xhat * (gw / self.count).reshape(self.shape))
            else:
                gx = grad * scale
        return gx, gw, gb


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5,
               *, num_batches_tracked=None):
    """Batch normalization over every axis but the channels (axis 1), as PyTorch's ``batch_norm``.

    y = γ·(x − μ)/√(σ² + ε) + β. With ``training=True`` μ and σ² are the batch's (biased) mean
    and variance and ``running_mean`` / ``running_var`` (NumPy arrays, or None) are updated in
    place: r ← (1 − momentum)·r + momentum·batch value (the variance unbiased). With
    ``training=False`` the running statistics are used. ``num_batches_tracked`` (a 0-d integer
    array, the layers' counter; not in PyTorch's functional form) is advanced by one in training,
    and ``momentum=None`` then makes the running statistics a cumulative average (momentum
    1/count), as PyTorch's layers do.

    >>> import chainrule as cr, numpy as np
    >>> x = cr.tensor([[1.0], [3.0]])
    >>> mean, var = np.zeros(1, np.float32), np.ones(1, np.float32)
    >>> [round(v, 3) for v in cr.nn.functional.batch_norm(x, mean, var, training=True).reshape(-1).tolist()]
    [-1.0, 1.0]
    >>> round(float(mean[0]), 6), round(float(var[0]), 6)  # 0.9·0 + 0.1·2, 0.9·1 + 0.1·2
    (0.2, 1.1)
    """
    x = input if isinstance(input, Tensor) else Tensor(input)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C, ...); got {x.shape}")
    channels = x.shape[1]
    if training and x.size // max(channels, 1) <= 1:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training; got input of shape {x.shape}")
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: evaluation (training=False) needs running_mean and running_var")
    for what, value in (("running_mean", running_mean), ("running_var", running_var)):
        if value is not None and np.shape(value) != (channels,):
            raise ValueError(f"batch_norm: {what} must have shape ({channels},) for {channels} channels; got {np.shape(value)}")
    check.number("batch_norm's momentum", momentum, 0, 1, optional=True)
    if num_batches_tracked is not None and not (getattr(num_batches_tracked, "shape", None) == ()
                                                and num_batches_tracked.dtype.kind in "iu"):
        raise TypeError(check.message("batch_norm's num_batches_tracked",
                                      "a 0-d integer array (advanced in place), or None", num_batches_tracked))
    if training and momentum is None and num_batches_tracked is None:
        raise ValueError("batch_norm: momentum=None (a cumulative average) needs num_batches_tracked, the count "
                         "of batches so far")
    weight = Tensor(np.ones(channels, dtype=x.dtype)) if weight is None else weight
    bias = Tensor(np.zeros(channels, dtype=x.dtype)) if bias is None else bias
    for what, value in (("weight", weight), ("bias", bias)):
        if value.shape != (channels,):
            raise ValueError(f"batch_norm: {what} must have shape ({channels},) for {channels} channels; got {value.shape}")
    return _BatchNorm.apply(x, weight, bias, running_mean=running_mean, running_var=running_var,
                            training=bool(training), momentum=momentum, eps=float(eps),
                            num_batches_tracked=num_batches_tracked)


class _BatchNormNd(Module):
    dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None):
        super().__init__()
        cls = type(self).__name__
        num_features = check.integer(f"{cls} num_features", num_features, low=1)
        if momentum is not None:
            check.number(f"{cls} momentum (or None)", momentum, 0, 1)
        dtype = np.dtype(dtype or np.float32)
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        self.weight = Parameter(np.ones(num_features, dtype), dtype=dtype) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype), dtype=dtype) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype))
            self.register_buffer("num_batches_tracked", np.zeros((), np.int64))
        if device is not None:
            self.to(device)

    def forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim not in self.dims:
            raise ValueError(f"{type(self).__name__}: expected a {' or '.join(map(str, self.dims))}-d input; got shape {x.shape}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}): the input has {x.shape[1]} channels (shape {x.shape})")
        track = self.track_running_stats
        counting = self.training and track  # the op advances the count; momentum matters only then
        return batch_norm(x, self.running_mean if track else None, self.running_var if track else None,
                          self.weight, self.bias, self.training or not track,
                          self.momentum if counting else 0.0, self.eps,
                          num_batches_tracked=self.num_batches_tracked if counting else None)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"

    def parameter_counts(self) -> tuple:
        """(weights, biases): the scales γ count as weights, the shifts β as biases."""
        return (self.num_features, self.num_features) if self.affine else (0, 0)

    def neurons(self, output_shape=None) -> int:
        """0: normalization rescales its inputs, it adds no units."""
        return 0

    def get_config(self) -> dict:
        return {"num_features": self.num_features, "eps": self.eps, "momentum": self.momentum,
                "affine": self.affine, "track_running_stats": self.track_running_stats}


class BatchNorm1d(_BatchNormNd):
    """Batch normalization of (N, C) or (N, C, L) inputs over N (and L), per channel.

    ``train()`` normalizes with the batch's statistics and updates ``running_mean`` /
    ``running_var`` (buffers: saved in ``state_dict``, not learned); ``eval()`` uses them.

    >>> import chainrule as cr
    >>> bn = cr.nn.BatchNorm1d(3)
    >>> sorted(bn.state_dict())
    ['bias', 'num_batches_tracked', 'running_mean', 'running_var', 'weight']
    """

    dims = (2, 3)


class BatchNorm2d(_BatchNormNd):
    """Batch normalization of (N, C, H, W) inputs over N, H and W, per channel (see BatchNorm1d).

    >>> import chainrule as cr
    >>> bn = cr.nn.BatchNorm2d(2)
    >>> y = bn(cr.randn(8, 2, 4, 4, rng=0))
    >>> [round(abs(v), 4) for v in y.mean(axis=(0, 2, 3)).tolist()]
    [0.0, 0.0]
    """

    dims = (4,)
