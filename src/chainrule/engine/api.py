"""Creation functions and the functional forms of the ops (``cr.exp(x)``, ``cr.stack([...])``)."""
from __future__ import annotations

import numpy as np

from chainrule.engine import backend, fused, ops
from chainrule.engine.devices import device_of, scope, to_device
from chainrule.engine.tensor import Tensor, lift


# ====================================================================== creation
def tensor(data, dtype=None, requires_grad=False, name=None, device=None) -> Tensor:
    """A new tensor holding a copy of ``data`` (float32 unless ``dtype`` says otherwise).

    ``device`` ("cpu", "cuda", "cuda:N" or a Device) places it; by default it stays where
    ``data`` is (the CPU for lists and NumPy arrays). Every creation function takes ``device=``.

    >>> import chainrule as cr
    >>> cr.tensor([[1, 2], [3, 4]], dtype="float32").shape
    (2, 2)
    >>> str(cr.zeros(2, device="cpu").device)
    'cpu'
    """
    if isinstance(data, Tensor):
        data = data.data
    with scope(data):  # a device array is copied on its device
        array = backend.to_array(data, dtype, copy=True)
    if device is not None:
        array = to_device(array, device)
    return Tensor(array, dtype=array.dtype, requires_grad=requires_grad, name=name)


def _new(array, requires_grad, device=None):
    # Made on the host, then copied once: seeded random draws are then the same on every device.
    if device is not None:
        array = to_device(array, device)
    return Tensor(array, dtype=array.dtype, requires_grad=requires_grad)


def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"shape entries must be non-negative integers; got {s!r} in {shape}")
    return tuple(int(s) for s in shape)


def _float_dtype(dtype):
    dtype = backend.as_dtype(dtype) or backend.default_float()
    return dtype


def zeros(*shape, dtype=None, requires_grad=False, device=None) -> Tensor:
    """A tensor of zeros: ``cr.zeros(2, 3)`` or ``cr.zeros((2, 3))``."""
    return _new(np.zeros(_shape(shape), dtype=_float_dtype(dtype)), requires_grad, device)


def ones(*shape, dtype=None, requires_grad=False, device=None) -> Tensor:
    """A tensor of ones."""
    return _new(np.ones(_shape(shape), dtype=_float_dtype(dtype)), requires_grad, device)


def full(shape, fill_value, dtype=None, requires_grad=False, device=None) -> Tensor:
    """A tensor of ``shape`` filled with ``fill_value``."""
    shape = _shape((shape,) if isinstance(shape, (int, np.integer)) else (shape,))
    return _new(np.full(shape, fill_value, dtype=_float_dtype(dtype)), requires_grad, device)


def arange(start, stop=None, step=1, dtype=None, requires_grad=False, device=None) -> Tensor:
    """Evenly spaced values in [start, stop), like ``np.arange`` (integers stay integers)."""
    data = np.arange(start, stop, step) if stop is not None else np.arange(start)
    return _new(backend.to_array(data, dtype), requires_grad, device)


def as_generator(rng) -> np.random.Generator:
    """``rng`` (None, an int seed or a ``numpy.random.Generator``) as a Generator; else TypeError."""
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError):
        raise TypeError(f"rng must be None, an int seed or a numpy Generator; got {rng!r}") from None


def randn(*shape, rng=None, dtype=None, requires_grad=False, device=None) -> Tensor:
    """Standard normal samples; ``rng`` is an int seed or a ``numpy.random.Generator``.

    >>> import chainrule as cr
    >>> bool((cr.randn(3, rng=0).data == cr.randn(3, rng=0).data).all())
    True
    """
    dtype = _float_dtype(dtype)
    return _new(as_generator(rng).standard_normal(_shape(shape), dtype=dtype), requires_grad, device)


def rand(*shape, rng=None, dtype=None, requires_grad=False, device=None) -> Tensor:
    """Uniform samples in [0, 1); ``rng`` is an int seed or a ``numpy.random.Generator``."""
    dtype = _float_dtype(dtype)
    return _new(as_generator(rng).random(_shape(shape), dtype=dtype), requires_grad, device)


def _like(t, dtype, device):
    # The result is on t's device unless device= says otherwise (PyTorch's rule).
    t = t if isinstance(t, Tensor) else Tensor(t)
    return t.shape, (backend.as_dtype(dtype) or t.dtype), (device_of(t.data) if device is None else device)


def zeros_like(t, dtype=None, requires_grad=False, device=None) -> Tensor:
    """Zeros with ``t``'s shape (and dtype unless given)."""
    shape, dtype, device = _like(t, dtype, device)
    return zeros(shape, dtype=dtype, requires_grad=requires_grad, device=device)


def ones_like(t, dtype=None, requires_grad=False, device=None) -> Tensor:
    """Ones with ``t``'s shape (and dtype unless given)."""
    shape, dtype, device = _like(t, dtype, device)
    return ones(shape, dtype=dtype, requires_grad=requires_grad, device=device)


def full_like(t, fill_value, dtype=None, requires_grad=False, device=None) -> Tensor:
    """``fill_value`` everywhere, with ``t``'s shape (and dtype unless given)."""
    shape, dtype, device = _like(t, dtype, device)
    return full(shape, fill_value, dtype=dtype, requires_grad=requires_grad, device=device)


def randn_like(t, rng=None, dtype=None, requires_grad=False, device=None) -> Tensor:
    """Standard normal samples with ``t``'s shape; ``rng`` is an int seed or a Generator."""
    shape, dtype, device = _like(t, dtype, device)
    return randn(shape, rng=rng, dtype=dtype, requires_grad=requires_grad, device=device)


def rand_like(t, rng=None, dtype=None, requires_grad=False, device=None) -> Tensor:
    """Uniform samples in [0, 1) with ``t``'s shape; ``rng`` is an int seed or a Generator."""
    shape, dtype, device = _like(t, dtype, device)
    return rand(shape, rng=rng, dtype=dtype, requires_grad=requires_grad, device=device)


# ====================================================================== functional forms
def _t(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _operands(*values):
    """The operands as tensors, non-tensors lifted beside the first tensor among them: the
    rule of the operators (``lift``), so ``cr.matmul(a, x)`` promotes exactly as ``a @ x``."""
    like = next((v for v in values if isinstance(v, Tensor)), None)
    if like is None:
        return [_t(v) for v in values]
    return [lift(v, like) for v in values]


def exp(x):
    """e**x elementwise."""
    return _t(x).exp()


def log(x):
    """Natural logarithm elementwise."""
    return _t(x).log()


def sqrt(x):
    """√x elementwise; d/dx = 1 / (2√x)."""
    return _t(x).sqrt()


def relu(x):
    """max(x, 0) elementwise, with gradient 1(x > 0)."""
    return _t(x).relu()


def sigmoid(x):
    """σ(x) = 1 / (1 + e^-x) elementwise."""
    return _t(x).sigmoid()


def tanh(x):
    """tanh(x) elementwise; d/dx = 1 − tanh²(x)."""
    return _t(x).tanh()


def maximum(x, y):
    """Elementwise max with the lecture's gate rule ∂/∂x = 1(x ≥ y), ∂/∂y = 1(y ≥ x)."""
    x, y = _operands(x, y)
    return ops.Maximum.apply(x, y)


def minimum(x, y):
    """Elementwise min with ∂/∂x = 1(x ≤ y), ∂/∂y = 1(y ≤ x)."""
    x, y = _operands(x, y)
    return ops.Minimum.apply(x, y)


def matmul(x, y):
    """Matrix product with NumPy's rules (1-D, 2-D and batched operands)."""
    x, y = _operands(x, y)
    return ops.MatMul.apply(x, y)


def _linear_inputs(x, weight, bias):
    inputs = _operands(x, weight) if bias is None else _operands(x, weight, bias)
    x, weight = inputs[:2]
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out, in); got shape {weight.shape}")
    if bias is not None and inputs[2].shape != (weight.shape[0],):
        raise ValueError(f"linear: bias must have shape ({weight.shape[0]},); got {inputs[2].shape}")
    return inputs


def linear(x, weight, bias=None):
    """``x @ weight.T + bias`` as one fused op (``weight`` has shape (out, in)).

    >>> import chainrule as cr
    >>> cr.linear(cr.ones(1, 2), cr.tensor([[1.0, -2.0], [3.0, 1.0]]), cr.tensor([0.5, 0.0])).tolist()
    [[-0.5, 4.0]]
    """
    return ops.Linear.apply(*_linear_inputs(x, weight, bias))


def linear_relu(x, weight, bias=None):
    """relu(x Wᵀ + b), fused: the same values and gradients as ``linear(x, W, b).relu()``, and
    the same inputs accepted and refused (the same checks run first).

    ``nn.MLP`` uses it for every Linear layer followed by a ReLU: one graph node and one
    activation array per layer instead of two.

    >>> import chainrule as cr
    >>> cr.linear_relu(cr.ones(1, 2), cr.tensor([[1.0, -2.0], [3.0, 1.0]]), cr.tensor([0.5, 0.0])).tolist()
    [[0.0, 4.0]]
    """
    return fused.LinearReLU.apply(*_linear_inputs(x, weight, bias))


def _sequence(tensors, what):
    if isinstance(tensors, Tensor) or not len(tensors):
        raise ValueError(f"{what} needs a non-empty list of tensors")
    return _operands(*tensors)


def concatenate(tensors, axis=0):
    """Join tensors along an existing axis."""
    tensors = _sequence(tensors, "concatenate")
    first = tensors[0]
    ax = _check_axis(axis, first.ndim)
    for t in tensors[1:]:
        if t.ndim != first.ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, first.shape)) if i != ax):
            raise ValueError(
                f"concatenate along axis {axis}: shapes {first.shape} and {t.shape} differ off that axis"
            )
    return ops.Concatenate.apply(*tensors, axis=ax)


cat = concatenate


def stack(tensors, axis=0):
    """Join tensors of equal shape along a new axis."""
    tensors = _sequence(tensors, "stack")
    for t in tensors[1:]:
        if t.shape != tensors[0].shape:
            raise ValueError(f"stack needs tensors of one shape; got {tensors[0].shape} and {t.shape}")
    ax = _check_axis(axis, tensors[0].ndim + 1)
    return ops.Stack.apply(*tensors, axis=ax)


def where(condition, x, y):
    """Elements of ``x`` where ``condition`` is true, else of ``y`` (the condition has no gradient)."""
    cond = condition.data if isinstance(condition, Tensor) else condition
    cond = cond if hasattr(cond, "dtype") else np.asarray(cond)  # an array stays where it lives
    if cond.dtype != bool:
        raise TypeError(f"where() needs a boolean condition; got dtype {cond.dtype}")
    x, y = _operands(x, y)
    try:
        np.broadcast_shapes(cond.shape, x.shape, y.shape)
    except ValueError:
        raise ValueError(f"where: shapes {cond.shape}, {x.shape} and {y.shape} cannot broadcast") from None
    return ops.Where.apply(x, y, condition=cond)


def clip(x, min=None, max=None):
    """x limited to [min, max] (numbers or tensors); the gradient is 1 inside the range and 0 outside."""
    return _t(x).clip(min, max)


clamp = clip


def softmax(x, axis=-1, *, dim=None):
    """e^{x_j} / Σ_k e^{x_k} along ``axis``, computed after subtracting the max (stable)."""
    return _t(x).softmax(axis, dim=dim)


def log_softmax(x, axis=-1, *, dim=None):
    """x_j − log Σ_k e^{x_k} along ``axis`` (stable)."""
    return _t(x).log_softmax(axis, dim=dim)


def _check_axis(axis, ndim):
    if not isinstance(axis, (int, np.integer)) or not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis!r} is out of range for {ndim} dimensions")
    return int(axis) % ndim
