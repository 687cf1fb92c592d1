"""Tensor: an array with a gradient, and the iterative reverse-mode backward pass.

Scalars are 0-d tensors, so the lecture's circuits and a network's layers run on one engine.
The elementwise ops of the registry (``function.ELEMENTWISE``: exp, log, relu, sigmoid, …) are
installed as methods when they are registered; everything else is written out below.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from chainrule import validation as check
from chainrule.engine import backend, fused, ops
from chainrule.engine import devices as _device
from chainrule.engine.function import GraphFreedError, subscribe, unbroadcast


class Tensor:
    """An n-dimensional array that records the operations applied to it.

    Parameters
    ----------
    data : array_like
        Numbers, nested lists or an ndarray. Floating data becomes float32 unless ``dtype`` says
        otherwise; integer and bool data keep their dtype. The constructor does not copy an
        ndarray that already has the right dtype (use :func:`tensor` for a copy).
    dtype : dtype or str, optional
        For example ``"float64"`` for gradient checking.
    requires_grad : bool
        Record operations on this tensor so ``backward()`` can fill ``.grad``.
    name : str, optional
        A label shown in circuit drawings.

    Notes
    -----
    Axis arguments are called ``axis``/``keepdims`` (NumPy's names); PyTorch's ``dim``/``keepdim``
    are accepted too.

    Examples
    --------
    >>> import chainrule as cr
    >>> x, y, z = (cr.tensor(v, requires_grad=True) for v in (-2.0, 5.0, -4.0))
    >>> f = (x + y) * z
    >>> f.backward()
    >>> f.item(), x.grad.item(), y.grad.item(), z.grad.item()
    (-12.0, -4.0, -4.0, 3.0)
    """

    __slots__ = {
        "data": "The values: an ndarray (NumPy's, or CuPy's on a GPU).",
        "grad": "dL/d(self) after ``backward()``: an array of the tensor's shape, or None.",
        "requires_grad": "Whether ops on this tensor are recorded so ``backward()`` reaches it.",
        "name": "A label shown in circuit drawings (None for none).",
        "_ctx": "The Function that made this tensor (None for a leaf).",
        "__weakref__": None,
    }
    # Make NumPy hand `ndarray + Tensor` to Tensor.__radd__ instead of building an object array.
    __array_ufunc__ = None

    def __init__(self, data, dtype=None, requires_grad=False, name=None):
        if isinstance(data, Tensor):
            data = data.data
        self.data = backend.to_array(data, dtype)
        self.grad = None
        self.name = name
        self._ctx = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _make(data, requires_grad, ctx):
        # The ops' fast path (Function.apply): the array is already valid, so skip conversion
        # and checks. Always a plain Tensor, whatever the class it is called on.
        t = object.__new__(Tensor)
        t.data = data
        t.grad = None
        t.requires_grad = requires_grad
        t.name = None
        t._ctx = ctx
        return t

    # ---------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple:
        """The size of each axis, a tuple of ints (``()`` for a scalar)."""
        return self.data.shape

    @property
    def ndim(self) -> int:
        """The number of axes (0 for a scalar)."""
        return self.data.ndim

    @property
    def size(self) -> int:
        """The number of elements (the product of the shape)."""
        return self.data.size

    @property
    def dtype(self):
        """The NumPy dtype of the data (float32 unless asked otherwise)."""
        return self.data.dtype

    @property
    def device(self):
        """The :class:`~chainrule.engine.devices.Device` holding the data (``cpu``, ``cuda:0``, …)."""
        return _device.device_of(self.data)

    @property
    def T(self) -> "Tensor":
        """The tensor with its axes reversed (``transpose()``); for a matrix, its transpose."""
        return self.transpose()

    @property
    def is_leaf(self) -> bool:
        """True for a tensor made by the user rather than by an op (its ``.grad`` accumulates)."""
        return self._ctx is None

    @property
    def _op(self):
        """Name of the op that made this tensor (``None`` for a leaf)."""
        return None if self._ctx is None else self._ctx.name

    @property
    def _op_args(self) -> str:
        return "" if self._ctx is None else self._ctx.describe()

    @property
    def _op_symbol(self):
        """The drawing symbol of the op that made this tensor (``None`` for a leaf)."""
        return None if self._ctx is None else (self._ctx.symbol or self._ctx.name)

    @property
    def _parents(self) -> tuple:
        return () if self._ctx is None else self._ctx.parents

    def requires_grad_(self, requires_grad=True) -> "Tensor":
        """Set ``requires_grad`` in place; only floating tensors can require a gradient."""
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require gradients; this tensor has dtype "
                f"{self.data.dtype} (make it with dtype='float32' or 'float64')"
            )
        self.requires_grad = bool(requires_grad)
        return self

    # ---------------------------------------------------------------- conversion
    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element; this one has shape {self.shape}")
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array: shared on the CPU, copied to the host from a device."""
        return _device.to_host(self.data)

    def to(self, device) -> "Tensor":
        """This tensor on ``device`` ("cpu", "cuda", "cuda:N" or a Device); itself if already there.

        The copy is differentiable: its gradient flows back to this tensor's device.

        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0])
        >>> x.to("cpu") is x, str(x.device)
        (True, 'cpu')
        """
        dev = _device.device(device)
        if _device.device_of(self.data) == dev:
            return self
        return _device.ToDevice.apply(self, dev=dev)

    def cpu(self) -> "Tensor":
        """This tensor on the CPU (``to("cpu")``)."""
        return self.to(_device.CPU)

    def cuda(self, index: int = 0) -> "Tensor":
        """This tensor on GPU ``index`` (``to(f"cuda:{index}")``); needs CuPy."""
        return self.to(_device.Device("cuda", index))

    def tolist(self):
        """The data as (nested) Python lists of numbers."""
        return self.numpy().tolist()

    def detach(self) -> "Tensor":
        """A tensor sharing this one's data, cut from the graph."""
        return Tensor._make(self.data, False, None)

    def clone(self) -> "Tensor":
        """A copy of the data that stays in the graph (the gradient passes through unchanged)."""
        if self.requires_grad:
            return ops.Cast.apply(self, dtype=self.data.dtype)
        with _device.scope(self.data):
            return Tensor._make(self.data.copy(), False, None)

    def astype(self, dtype) -> "Tensor":
        """A copy with another dtype (differentiable between floating dtypes)."""
        return ops.Cast.apply(self, dtype=backend.as_dtype(dtype))

    def float(self) -> "Tensor":
        """A float32 copy (``astype("float32")``)."""
        return self.astype(np.float32)

    def double(self) -> "Tensor":
        """A float64 copy (``astype("float64")``)."""
        return self.astype(np.float64)

    def numel(self) -> int:
        """The number of elements (PyTorch's name for ``size``)."""
        return self.data.size

    def dim(self) -> int:
        """The number of axes (PyTorch's name for ``ndim``)."""
        return self.data.ndim

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous; use .any() or .all()"
            )
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __array__(self, dtype=None, copy=None):
        if type(self.data) is not np.ndarray and _device.device_of(self.data) != _device.CPU:
            raise TypeError(
                f"cannot convert a tensor on {self.device} to a NumPy array implicitly; call "
                f".numpy() (an explicit copy to the host) or .cpu() first"
            )
        return self.numpy() if dtype is None else self.numpy().astype(dtype)

    def __repr__(self) -> str:
        body = np.array2string(self.numpy(), separator=", ", precision=4, prefix="tensor(")
        extras = []
        if self.data.dtype != backend.default_float() and self.data.dtype.kind == "f":
            extras.append(f"dtype={self.data.dtype}")
        if self._ctx is not None:
            extras.append(f"op={self._ctx.name}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        if self.name:
            extras.append(f"name={self.name!r}")
        if type(self.data) is not np.ndarray and self.device != _device.CPU:
            extras.append(f"device='{self.device}'")
        return "tensor(" + ", ".join([body] + extras) + ")"

    __hash__ = object.__hash__

    # ---------------------------------------------------------------- backward
    def backward(self, grad=None, retain_graph=False, keep_grads=True) -> None:
        """Back-propagate from this tensor, filling ``.grad`` of every node that requires one.

        Nodes are visited in reverse topological order found without recursion, so a chain of a
        million ops works. Each op's gradient is reduced to its input's shape (un-broadcast) and
        summed when a node feeds several ops. Leaves accumulate ``.grad`` across calls; results
        in between get this pass's gradient. The saved arrays are freed afterwards unless
        ``retain_graph=True``. Every leaf's ``.grad`` is a writable array of its own (never the
        caller's ``grad``, a read-only view or another leaf's array), so in-place gradient
        clipping works.

        Parameters
        ----------
        grad : array_like, optional
            dL/d(self). May be omitted only for a one-element tensor (it is then 1). It is
            copied, so changing it afterwards changes no gradient.
        retain_graph : bool
            Keep the saved arrays so backward can run through this graph again.
        keep_grads : bool
            Keep every intermediate result's gradient in its ``.grad`` (the default, so graphs
            can be inspected and drawn). ``False`` releases each one as soon as it has been
            passed on, as PyTorch does: training loops that only need the parameters'
            gradients use less memory (``fit`` does this).
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a tensor that does not require grad: no input of it has "
                "requires_grad=True (or it was computed under no_grad)"
            )
        with _device.scope(self.data):  # a device graph runs on its device
            if grad is None:
                if self.data.size != 1:
                    raise ValueError(
                        f"backward() without a gradient needs a one-element (scalar) output; this "
                        f"output has shape {self.shape}: pass grad= of that shape"
                    )
                seed = backend.array_module(self.data).ones_like(self.data)
            else:
                seed = backend.to_array(grad.data if isinstance(grad, Tensor) else grad, self.data.dtype, copy=True)
                if seed.shape != self.shape:
                    raise ValueError(
                        f"backward() got a gradient of shape {seed.shape} for an output of shape {self.shape}"
                    )
                _device.check_same_device([self.data, seed], "backward() (output and gradient)")
            order = _topological_order(self)  # also clears the intermediate nodes' old .grad
            if self._ctx is None:
                self.grad = seed if self.grad is None else self.grad + seed
            else:
                self.grad = seed
            leaf_grads = set()  # ids of the arrays leaves hold: one array is never held by two
            # Gradients accumulate in .grad itself: a node's total is complete when it is reached,
            # because every node that uses it comes earlier in the reversed order.
            for node in reversed(order):
                ctx = node._ctx
                g = node.grad
                if ctx is None:
                    if type(g) is not np.ndarray and isinstance(g, np.generic):
                        node.grad = np.asarray(g)  # arithmetic on 0-d arrays returns NumPy scalars
                    elif not g.flags.writeable or id(g) in leaf_grads:  # a broadcast view, or shared
                        node.grad = g.copy()
                    leaf_grads.add(id(node.grad))
                    continue
                if g is None:
                    continue
                if ctx.saved is None:
                    raise GraphFreedError(
                        f"backward() through the graph a second time: the values saved by "
                        f"'{ctx.name}' were freed by the first backward(); pass retain_graph=True to "
                        f"the first call to back-propagate twice"
                    )
                parent_grads = ctx.backward(g)
                if type(parent_grads) is not tuple:
                    parent_grads = (parent_grads,)
                for parent, pg in zip(ctx.parents, parent_grads):
                    if pg is None or not parent.requires_grad:
                        continue
                    pdata = parent.data
                    if pg.shape != pdata.shape:
                        pg = unbroadcast(pg, pdata.shape, repr(ctx.name))
                    if pg.dtype != pdata.dtype:
                        pg = pg.astype(pdata.dtype)
                    prev = parent.grad
                    parent.grad = pg if prev is None else prev + pg
                if not retain_graph:
                    ctx.saved = None  # freed: see Function.freed
                if not keep_grads:
                    node.grad = None
                    g = parent_grads = pg = None  # drop the loop's references too, or nothing is freed

    # ---------------------------------------------------------------- operators
    def __add__(self, other):
        """``self + other``: the add gate (numbers and arrays are lifted to constant tensors)."""
        return ops.Add.apply(self, lift(other, self))

    def __radd__(self, other):
        return ops.Add.apply(lift(other, self), self)

    def __sub__(self, other):
        return ops.Sub.apply(self, lift(other, self))

    def __rsub__(self, other):
        return ops.Sub.apply(lift(other, self), self)

    def __mul__(self, other):
        return ops.Mul.apply(self, lift(other, self))

    def __rmul__(self, other):
        return ops.Mul.apply(lift(other, self), self)

    def __truediv__(self, other):
        return ops.Div.apply(self, lift(other, self))

    def __rtruediv__(self, other):
        if not isinstance(other, Tensor) and np.isscalar(other) and other == 1:
            return ops.Reciprocal.apply(self)  # the lecture's 1/x gate
        return ops.Div.apply(lift(other, self), self)

    def __neg__(self):
        return ops.Neg.apply(self)

    def __pos__(self):
        return self

    def __pow__(self, exponent):
        return self.pow(exponent)

    def __rpow__(self, base):
        return ops.TensorPow.apply(lift(base, self), self)

    def __matmul__(self, other):
        return ops.MatMul.apply(self, lift(other, self))

    def __rmatmul__(self, other):
        return ops.MatMul.apply(lift(other, self), self)

    def __getitem__(self, index):
        return ops.GetItem.apply(self, index=_index_arrays(index))

    def __eq__(self, other):
        """Elementwise ``==``: a bool tensor with no gradient (as every comparison)."""
        return _compare(np.equal, self, other)

    def __ne__(self, other):
        return _compare(np.not_equal, self, other)

    def __lt__(self, other):
        return _compare(np.less, self, other)

    def __le__(self, other):
        return _compare(np.less_equal, self, other)

    def __gt__(self, other):
        return _compare(np.greater, self, other)

    def __ge__(self, other):
        return _compare(np.greater_equal, self, other)

    # ---------------------------------------------------------------- elementwise
    def pow(self, exponent):
        """``self ** exponent`` for a number or a tensor exponent.

        d/dx = p·x^(p−1) (0 for p = 0, even at x = 0); for a tensor exponent also
        d/dp = x^p·ln x (0 where x = 0 and p ≥ 0).
        """
        if isinstance(exponent, Tensor) or isinstance(exponent, np.ndarray):
            return ops.TensorPow.apply(self, lift(exponent, self))
        if not np.isscalar(exponent) or isinstance(exponent, (str, bytes)):
            raise TypeError(f"the exponent of a tensor power must be a number or a tensor; got {exponent!r}")
        return ops.Pow.apply(self, exponent=exponent)

    def reciprocal(self):
        """1/x, the lecture's 1/x gate; d/dx = −1/x²."""
        return ops.Reciprocal.apply(self)

    def clip(self, min=None, max=None):
        """x limited to [min, max]; bounds are numbers or tensors (broadcast against x).

        The gradient passes to x where min ≤ x ≤ max; a tensor bound receives it where it won.
        """
        if min is None and max is None:
            raise ValueError("clip() needs at least one of min and max")
        if not isinstance(min, Tensor) and not isinstance(max, Tensor):
            return ops.Clip.apply(self, lo=min, hi=max)
        lo, hi = (None if b is None else lift(b, self) for b in (min, max))
        named = [(k, t.data) for k, t in (("x", self), ("min", lo), ("max", hi)) if t is not None]
        _device.check_same_device([a for _, a in named], "clip", [k for k, _ in named])
        out = self
        with _device.scope(self.data):
            if lo is not None:
                out = ops.Where.apply(lo, out, condition=out.data < lo.data)
            if hi is not None:
                out = ops.Where.apply(hi, out, condition=out.data > hi.data)
        return out

    clamp = clip

    def masked_fill(self, mask, value):
        """``value`` where ``mask`` is true, x elsewhere; the gradient passes where mask is false."""
        cond = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
        if cond.dtype != bool:
            raise TypeError(f"masked_fill() needs a boolean mask; got dtype {cond.dtype}")
        return ops.Where.apply(lift(value, self), self, condition=cond)

    def softmax(self, axis=-1, *, dim=None):
        """e^x / Σ e^x along ``axis`` (stable: shifted by the max)."""
        return self._along(fused.Softmax, _pick(axis, dim, -1))

    def log_softmax(self, axis=-1, *, dim=None):
        """x − log Σ e^x along ``axis`` (stable)."""
        return self._along(fused.LogSoftmax, _pick(axis, dim, -1))

    def _along(self, op, axis):
        # An op along one axis; a 0-d tensor is treated as one entry along axis 0 or −1 (PyTorch).
        axis = _one_axis(axis, self.ndim)
        if self.ndim:
            return op.apply(self, axis=axis)
        return op.apply(self.reshape(1), axis=0).reshape(())

    # ---------------------------------------------------------------- reductions
    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """The sum over ``axis`` (an int, a tuple, or None for all); the gradient is 1 everywhere."""
        return ops.Sum.apply(self, **_reduction_args(self, axis, dim, keepdims, keepdim))

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """The mean over ``axis`` (NaN over zero elements); the gradient is 1/n everywhere."""
        return ops.Mean.apply(self, **_reduction_args(self, axis, dim, keepdims, keepdim))

    def max(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """The largest entry over ``axis`` (values only, as NumPy; use ``argmax`` for indices).

        Tied maxima share the gradient equally.
        """
        return ops.Max.apply(self, **_reduction_args(self, axis, dim, keepdims, keepdim))

    def min(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """The smallest entry over ``axis``; tied minima share the gradient equally."""
        return ops.Min.apply(self, **_reduction_args(self, axis, dim, keepdims, keepdim))

    def prod(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """The product over ``axis``; ∂/∂x_i is the product of the other entries."""
        return ops.Prod.apply(self, **_reduction_args(self, axis, dim, keepdims, keepdim))

    def logsumexp(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """log Σ e^x over ``axis``, stable for large x (−inf over zero elements)."""
        return ops.LogSumExp.apply(self, **_reduction_args(self, axis, dim, keepdims, keepdim))

    def norm(self, p=2, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """The p-norm (Σ|x|^p)^(1/p) over ``axis`` (all entries by default); ``p="fro"`` is 2.

        ``p=float("inf")`` is max |x|. The gradient at x = 0 is taken as 0.
        """
        args = _reduction_args(self, axis, dim, keepdims, keepdim)
        if isinstance(p, numbers.Real) and p == math.inf:
            return self.abs().max(**args)
        p = 2.0 if isinstance(p, str) and p == "fro" else \
            check.number("norm's p", p, low=1, what="'fro', inf or a finite number")
        return ops.Norm.apply(self, p=p, **args)

    def var(self, axis=None, correction=1, keepdims=False, *, dim=None, keepdim=None, unbiased=None):
        """Σ(x − mean)² / (n − correction) over ``axis``; ``correction=1`` (PyTorch's default).

        ``unbiased=False`` is ``correction=0``, NumPy's ``var``.
        """
        if unbiased is not None:
            correction = int(bool(unbiased))
        args = _reduction_args(self, axis, dim, keepdims, keepdim)
        centered = self - self.mean(axis=args["axis"], keepdims=True)
        n = self.size if args["axis"] is None else math.prod(self.shape[a] for a in args["axis"])
        return (centered * centered).sum(**args) * (1.0 / (n - correction) if n > correction else math.nan)

    def std(self, axis=None, correction=1, keepdims=False, *, dim=None, keepdim=None, unbiased=None):
        """√var over ``axis`` (``correction=1`` by default, as PyTorch)."""
        return self.var(axis, correction, keepdims, dim=dim, keepdim=keepdim, unbiased=unbiased).sqrt()

    def cumsum(self, axis=None, *, dim=None):
        """Running sums along ``axis`` (PyTorch requires it; here it is needed too)."""
        axis = _pick(axis, dim, None)
        if axis is None:
            raise TypeError("cumsum() needs an axis (axis= or dim=)")
        return self._along(ops.CumSum, axis)

    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Indices of the maxima over ``axis`` (an int64 tensor, no gradient; first of ties)."""
        return self._arg("argmax", _pick(axis, dim, None), _pick(keepdims, keepdim, False))

    def argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Indices of the minima over ``axis`` (an int64 tensor, no gradient; first of ties)."""
        return self._arg("argmin", _pick(axis, dim, None), _pick(keepdims, keepdim, False))

    def _arg(self, which, axis, keepdims):
        if axis is not None:
            axis = _one_axis(axis, self.ndim) if self.ndim else None
        with _device.scope(self.data):
            out = getattr(self.data, which)(axis=axis, keepdims=keepdims)
            return Tensor._make(backend.array_module(self.data).asarray(out, dtype=np.int64), False, None)

    # ---------------------------------------------------------------- movement
    def reshape(self, *shape):
        """The same entries in another shape (one entry may be −1: inferred)."""
        shape = _shape_arg(shape)
        try:
            np.empty(self.shape, dtype=bool).reshape(shape)  # validate (cheap, no data copied)
        except ValueError:
            raise ValueError(f"cannot reshape a tensor of shape {self.shape} ({self.size} elements) to {shape}") from None
        return ops.Reshape.apply(self, shape=shape)

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        """Axes ``start_dim`` … ``end_dim`` merged into one (all of them by default)."""
        if self.ndim == 0:
            return self.reshape(1)
        start, end = _one_axis(start_dim, self.ndim), _one_axis(end_dim, self.ndim)
        if start > end:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {self.shape}")
        merged = math.prod(self.shape[start:end + 1])
        return self.reshape(self.shape[:start] + (merged,) + self.shape[end + 1:])

    def squeeze(self, axis=None, *, dim=None):
        """Drop axes of length 1: all of them, or those named (others are left, as PyTorch)."""
        axis = _pick(axis, dim, None)
        axes = range(self.ndim) if axis is None else _axis(axis, self.ndim)
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if not (i in axes and n == 1)))

    def unsqueeze(self, axis=None, *, dim=None):
        """A new axis of length 1 at position ``axis`` (−1 appends it)."""
        axis = _pick(axis, dim, None)
        if not isinstance(axis, (int, np.integer)) or not -self.ndim - 1 <= axis <= self.ndim:
            raise ValueError(f"unsqueeze: axis {axis!r} is out of range for {self.ndim + 1} dimensions")
        axis = int(axis) % (self.ndim + 1)
        return self.reshape(self.shape[:axis] + (1,) + self.shape[axis:])

    def expand(self, *sizes):
        """A broadcast to ``sizes`` (−1 keeps an axis); the gradient sums over what was added."""
        sizes = _shape_arg(sizes)
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise ValueError(f"expand: {len(sizes)} sizes for a tensor of {self.ndim} dimensions")
        shape = tuple(self.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes))
        try:
            np.broadcast_shapes(self.shape, shape)
        except ValueError:
            raise ValueError(f"expand: cannot broadcast shape {self.shape} to {sizes}") from None
        if shape != np.broadcast_shapes(self.shape, shape) or min(shape, default=0) < 0:
            raise ValueError(f"expand: cannot broadcast shape {self.shape} to {sizes}")
        return ops.Expand.apply(self, shape=shape)

    def repeat(self, *repeats):
        """The tensor tiled ``repeats[i]`` times along each axis (PyTorch's ``repeat``, NumPy's ``tile``)."""
        repeats = _shape_arg(repeats)
        if len(repeats) < self.ndim or min(repeats, default=0) < 0:
            raise ValueError(f"repeat: needs one non-negative count per axis of shape {self.shape}; got {repeats}")
        shape = (1,) * (len(repeats) - self.ndim) + self.shape
        x = self.reshape(tuple(v for n in shape for v in (1, n)))
        x = x.expand(tuple(v for r, n in zip(repeats, shape) for v in (r, n)))
        return x.reshape(tuple(r * n for r, n in zip(repeats, shape)))

    def flip(self, axis=None, *, dims=None):
        """The entries in reverse order along ``axis`` (an int or a tuple; all axes by default)."""
        axis = _pick(axis, dims, None)
        axes = range(self.ndim) if axis is None else _axis(axis, self.ndim)
        return self[tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(self.ndim))]

    def transpose(self, *axes):
        """Reverse the axes, or permute them as given (NumPy's ``transpose``, not PyTorch's).

        ``x.transpose(1, 0)`` of a matrix is its transpose either way; to swap two axes of a
        larger tensor, as PyTorch's ``transpose(a, b)`` does, use :meth:`swapaxes`.
        """
        axes = _shape_arg(axes) if axes else tuple(range(self.ndim))[::-1]
        if sorted(a % self.ndim if self.ndim else a for a in axes) != list(range(self.ndim)):
            raise ValueError(f"axes {axes} are not a permutation of the {self.ndim} axes of shape {self.shape}")
        return ops.Transpose.apply(self, axes=tuple(a % self.ndim for a in axes))

    permute = transpose

    def swapaxes(self, axis1, axis2):
        """The tensor with two axes exchanged (PyTorch's ``transpose(a, b)``)."""
        a, b = _one_axis(axis1, self.ndim), _one_axis(axis2, self.ndim)
        axes = list(range(self.ndim))
        axes[a], axes[b] = b, a
        return self.transpose(*axes)

    def t(self):
        """The transpose of a tensor of at most 2 dimensions (PyTorch's ``t()``)."""
        if self.ndim > 2:
            raise ValueError(f"t() needs at most 2 dimensions; this tensor has shape {self.shape} (use swapaxes)")
        return self.transpose()

    def gather(self, axis, index):
        """Entries picked along ``axis`` by ``index`` (PyTorch's ``gather``, NumPy's
        ``take_along_axis``): ``out[i][j] = x[index[i][j]][j]`` for axis 0.

        ``index`` has as many dimensions as x; repeated indices accumulate their gradients.
        """
        idx = index.data if isinstance(index, Tensor) else np.asarray(index)
        axis = _one_axis(axis, self.ndim)
        if idx.dtype.kind not in "iu" or idx.ndim != self.ndim:
            raise ValueError(f"gather: index must be an integer array with {self.ndim} dimensions; "
                             f"got dtype {idx.dtype}, shape {idx.shape}")
        grid = list(np.indices(idx.shape, sparse=True))
        grid[axis] = idx
        return self[tuple(grid)]

    def split(self, split_size_or_sections, axis=0, *, dim=None):
        """Pieces along ``axis``: each of ``split_size`` entries (the last may be shorter), or
        of the sizes listed."""
        axis = _one_axis(_pick(axis, dim, 0), self.ndim)
        n = self.shape[axis]
        if isinstance(split_size_or_sections, (int, np.integer)):
            step = check.integer("split's split_size", split_size_or_sections, low=1)
            sizes = [min(step, n - s) for s in range(0, n, step)] or [0]
        else:
            sizes = [int(s) for s in split_size_or_sections]
            if sum(sizes) != n or min(sizes, default=0) < 0:
                raise ValueError(f"split: sizes {sizes} do not add up to {n}, the length of axis {axis}")
        starts = np.cumsum([0] + sizes[:-1])
        head = (slice(None),) * axis
        return tuple(self[head + (slice(int(s), int(s) + k),)] for s, k in zip(starts, sizes))

    def chunk(self, chunks, axis=0, *, dim=None):
        """``chunks`` pieces along ``axis`` of ⌈n/chunks⌉ entries each (fewer if n is small)."""
        axis = _one_axis(_pick(axis, dim, 0), self.ndim)
        chunks = check.integer("chunk's chunks", chunks, low=1)
        return self.split(max(1, -(-self.shape[axis] // chunks)), axis)

    def matmul(self, other):
        """The matrix product ``self @ other`` (NumPy's rules for 1-D and batched operands)."""
        return self @ other


# ------------------------------------------------------------------ elementwise methods
def _install_method(op):
    """Make registered elementwise op ``op`` a Tensor method (called for each registration)."""
    if op.arity == 1:
        def method(self, **options):
            return op.apply(self, **options)
    else:
        def method(self, other):
            return op.apply(self, lift(other, self))
    summary = (op.__doc__ or op.name).strip().splitlines()[0]
    options = f"\n\nKeyword options: {', '.join(op.options)}." if op.options else ""
    method.__name__ = method.__qualname__ = op.name
    method.__doc__ = f"{summary}{options}\n\nThe op ``{op.name}`` (elementwise, :class:`{op.__module__}.{op.__qualname__}`)."
    setattr(Tensor, op.name, method)


subscribe(_install_method)


# ------------------------------------------------------------------ helpers
def lift(value, like: Tensor) -> Tensor:
    """``value`` as a constant tensor beside ``like``: numbers and numeric arrays take
    ``like``'s float dtype (so a float64 array meeting a float32 tensor does not make the
    result float64: see "float32 by default" in docs/architecture.md). Every operator and every
    functional form lifts its non-tensor operands with this one rule."""
    if isinstance(value, Tensor):
        return value
    data = like.data
    if isinstance(value, (bool, int, float, np.bool_, np.number)):  # a number: 0-d, on like's device
        dtype = data.dtype if data.dtype.kind == "f" else None
        if type(data) is not np.ndarray:
            with _device.scope(data):
                return Tensor._make(backend.array_module(data).asarray(value, dtype=dtype), False, None)
        if dtype is not None:
            return Tensor._make(np.asarray(value, dtype=dtype), False, None)
    if not hasattr(value, "dtype"):
        try:
            value = np.asarray(value)
        except ValueError:  # ragged: Tensor() below names it
            return Tensor(value)
    return Tensor(value, dtype=like.data.dtype if like.data.dtype.kind == "f" and value.dtype.kind in "fiu" else None)


def _compare(op, a: Tensor, b) -> Tensor:
    b = b.data if isinstance(b, Tensor) else b
    with _device.scope(a.data):
        return Tensor._make(op(a.data, b), False, None)


def _pick(numpy_value, torch_value, default):
    """One argument given under NumPy's name (``axis``) or PyTorch's (``dim``)."""
    if torch_value is None:
        return numpy_value
    if numpy_value is not default and numpy_value != default:
        raise TypeError(f"got both a NumPy-style and a PyTorch-style argument ({numpy_value!r}, {torch_value!r}); pass one")
    return torch_value


def _reduction_args(t, axis, dim, keepdims, keepdim):
    return {"axis": _axis(_pick(axis, dim, None), t.ndim), "keepdims": bool(_pick(keepdims, keepdim, False))}


def _axis(axis, ndim):
    """Validated axes as a tuple of non-negative ints (None stays None: every axis).

    A 0-d tensor accepts axis 0 and −1, as PyTorch does: they reduce nothing (``()``).
    """
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool) or not -max(ndim, 1) <= a < max(ndim, 1):
            raise ValueError(f"axis {axis!r} is out of range for a tensor with {ndim} dimensions")
    if ndim == 0:
        return ()
    axes = tuple(int(a) % ndim for a in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"axis {axis!r} names the same axis twice for a tensor with {ndim} dimensions")
    return axes


def _one_axis(axis, ndim):
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool) or not -max(ndim, 1) <= axis < max(ndim, 1):
        raise ValueError(f"axis {axis!r} is out of range for a tensor with {ndim} dimensions")
    return int(axis) % max(ndim, 1)


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if not isinstance(s, (int, np.integer)):
            raise TypeError(f"shape entries must be integers; got {s!r} in {shape}")
    return tuple(int(s) for s in shape)


def _index_arrays(index):
    """Replace tensors inside an index with their arrays."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


def topological_order(root: Tensor) -> list:
    """The nodes of ``root``'s graph that require a gradient, each after its inputs: the order
    ``backward()`` visits in reverse (a captured training step replays it).

    >>> import chainrule as cr
    >>> x = cr.tensor(2.0, requires_grad=True)
    >>> [t._op for t in cr.topological_order((x * x).exp())]
    [None, 'mul', 'exp']
    """
    return _topological_order(root)


def _topological_order(root: Tensor) -> list:
    """Nodes that require grad, each after all of its inputs; iterative (no recursion limit).

    Clears ``.grad`` of the intermediate nodes it meets, ready for this pass's sums.
    """
    order, visited = [], {id(root)}
    stack = [(root, iter(root._ctx.parents if root._ctx is not None else ()))]
    while stack:
        node, parents = stack[-1]
        for parent in parents:
            if parent.requires_grad and id(parent) not in visited:
                visited.add(id(parent))
                ctx = parent._ctx
                if ctx is not None:
                    parent.grad = None
                    stack.append((parent, iter(ctx.parents)))
                else:
                    order.append(parent)
                break
        else:
            stack.pop()
            order.append(node)
    return order
