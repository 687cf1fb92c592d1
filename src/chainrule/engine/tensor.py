"""Tensor: an array with a gradient, and the iterative reverse-mode backward pass.

Scalars are 0-d tensors, so the lecture's circuits and a network's layers run on one engine.
"""
from __future__ import annotations

import numpy as np

from chainrule.engine import backend
from chainrule.engine import function as _function
from chainrule.engine.function import _FREED, GraphFreedError, unbroadcast


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

    Examples
    --------
    >>> import chainrule as cr
    >>> x, y, z = (cr.tensor(v, requires_grad=True) for v in (-2.0, 5.0, -4.0))
    >>> f = (x + y) * z
    >>> f.backward()
    >>> f.item(), x.grad.item(), y.grad.item(), z.grad.item()
    (-12.0, -4.0, -4.0, 3.0)
    """

    __slots__ = ("data", "grad", "requires_grad", "name", "_ctx", "__weakref__")
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

    @classmethod
    def _make(cls, data, requires_grad, ctx):
        # The ops' fast path: the array is already valid, so skip conversion and checks.
        t = object.__new__(cls)
        t.data = data
        t.grad = None
        t.requires_grad = requires_grad
        t.name = None
        t._ctx = ctx
        return t

    # ---------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def device(self):
        """The :class:`~chainrule.engine.devices.Device` holding the data (``cpu``, ``cuda:0``, …)."""
        return _device.device_of(self.data)

    @property
    def T(self) -> "Tensor":
        return self.transpose()

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def _op(self):
        """Name of the op that made this tensor (``None`` for a leaf)."""
        return None if self._ctx is None else self._ctx.name

    @property
    def _op_args(self) -> str:
        return "" if self._ctx is None else self._ctx.describe()

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
        return self.numpy().tolist()

    def detach(self) -> "Tensor":
        """A tensor sharing this one's data, cut from the graph."""
        return Tensor._make(self.data, False, None)

    def astype(self, dtype) -> "Tensor":
        """A copy with another dtype (differentiable between floating dtypes)."""
        return _ops.Cast.apply(self, dtype=backend.as_dtype(dtype))

    def float(self) -> "Tensor":
        return self.astype(np.float32)

    def double(self) -> "Tensor":
        return self.astype(np.float64)

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
        ``retain_graph=True``.

        Parameters
        ----------
        grad : array_like, optional
            dL/d(self). May be omitted only for a one-element tensor (it is then 1).
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
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward() without a gradient needs a one-element (scalar) output; this "
                    f"output has shape {self.shape}: pass grad= of that shape"
                )
            seed = backend.array_module(self.data).ones_like(self.data)
        else:
            seed = backend.to_array(grad.data if isinstance(grad, Tensor) else grad, self.data.dtype)
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
        # Gradients accumulate in .grad itself: a node's total is complete when it is reached,
        # because every node that uses it comes earlier in the reversed order.
        for node in reversed(order):
            ctx = node._ctx
            g = node.grad
            if ctx is None:
                if type(g) is not np.ndarray and isinstance(g, np.generic):
                    node.grad = np.asarray(g)  # arithmetic on 0-d arrays returns NumPy scalars
                elif g.ndim and 0 in g.strides:  # a broadcast view: give the leaf its own array
                    node.grad = g.copy()
                continue
            if g is None:
                continue
            if ctx.saved is _FREED:
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
                ctx.saved = _FREED
            if not keep_grads:
                node.grad = None
                g = parent_grads = pg = None  # drop the loop's references too, or nothing is freed

    # ---------------------------------------------------------------- operators
    def __add__(self, other):
        return _ops.Add.apply(self, _lift(other, self))

    def __radd__(self, other):
        return _ops.Add.apply(_lift(other, self), self)

    def __sub__(self, other):
        return _ops.Sub.apply(self, _lift(other, self))

    def __rsub__(self, other):
        return _ops.Sub.apply(_lift(other, self), self)

    def __mul__(self, other):
        return _ops.Mul.apply(self, _lift(other, self))

    def __rmul__(self, other):
        return _ops.Mul.apply(_lift(other, self), self)

    def __truediv__(self, other):
        return _ops.Div.apply(self, _lift(other, self))

    def __rtruediv__(self, other):
        if not isinstance(other, Tensor) and np.isscalar(other) and other == 1:
            return _ops.Reciprocal.apply(self)  # the lecture's 1/x gate
        return _ops.Div.apply(_lift(other, self), self)

    def __neg__(self):
        return _ops.Neg.apply(self)

    def __pos__(self):
        return self

    def __pow__(self, exponent):
        return self.pow(exponent)

    def __rpow__(self, base):
        # base ** t = exp(t · ln base), for a positive number base.
        if isinstance(base, Tensor) or not np.isscalar(base) or base <= 0:
            raise ValueError(f"a number raised to a tensor needs a positive number base; got {base!r}")
        return (self * float(np.log(base))).exp()

    def __matmul__(self, other):
        return _ops.MatMul.apply(self, _lift(other, self))

    def __rmatmul__(self, other):
        return _ops.MatMul.apply(_lift(other, self), self)

    def __getitem__(self, index):
        return _ops.GetItem.apply(self, index=_index_arrays(index))

    # Comparisons give bool tensors that carry no gradient.
    def __eq__(self, other):
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
        """``self ** exponent`` for a number exponent."""
        if isinstance(exponent, Tensor) or not np.isscalar(exponent) or isinstance(exponent, (str, bytes)):
            raise TypeError(f"the exponent of a tensor power must be a number; got {exponent!r}")
        return _ops.Pow.apply(self, exponent=exponent)

    def reciprocal(self):
        return _ops.Reciprocal.apply(self)

    def exp(self):
        return _ops.Exp.apply(self)

    def log(self):
        return _ops.Log.apply(self)

    def sqrt(self):
        return _ops.Sqrt.apply(self)

    def abs(self):
        return _ops.Abs.apply(self)

    def relu(self):
        return _ops.ReLU.apply(self)

    def sigmoid(self):
        return _ops.Sigmoid.apply(self)

    def tanh(self):
        return _ops.Tanh.apply(self)

    def clip(self, min=None, max=None):
        if min is None and max is None:
            raise ValueError("clip() needs at least one of min and max")
        return _ops.Clip.apply(self, lo=min, hi=max)

    def maximum(self, other):
        return _ops.Maximum.apply(self, _lift(other, self))

    def minimum(self, other):
        return _ops.Minimum.apply(self, _lift(other, self))

    # ---------------------------------------------------------------- reductions
    def sum(self, axis=None, keepdims=False):
        return _ops.Sum.apply(self, axis=_axis(axis, self.ndim), keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return _ops.Mean.apply(self, axis=_axis(axis, self.ndim), keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return _ops.Max.apply(self, axis=_axis(axis, self.ndim), keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return _ops.Min.apply(self, axis=_axis(axis, self.ndim), keepdims=keepdims)

    def argmax(self, axis=None):
        """Indices of the maxima (an integer tensor, no gradient)."""
        return Tensor._make(self.data.argmax(axis=axis), False, None)

    def argmin(self, axis=None):
        return Tensor._make(self.data.argmin(axis=axis), False, None)

    # ---------------------------------------------------------------- movement
    def reshape(self, *shape):
        shape = _shape_arg(shape)
        try:
            np.empty(self.shape, dtype=bool).reshape(shape)  # validate (cheap, no data copied)
        except ValueError:
            raise ValueError(f"cannot reshape a tensor of shape {self.shape} ({self.size} elements) to {shape}") from None
        return _ops.Reshape.apply(self, shape=shape)

    def flatten(self, start_dim=0):
        return self.reshape(self.shape[:start_dim] + (-1,))

    def transpose(self, *axes):
        """Reverse the axes, or permute them as given (like ``ndarray.transpose``)."""
        axes = _shape_arg(axes) if axes else tuple(range(self.ndim))[::-1]
        if sorted(a % self.ndim if self.ndim else a for a in axes) != list(range(self.ndim)):
            raise ValueError(f"axes {axes} are not a permutation of the {self.ndim} axes of shape {self.shape}")
        return _ops.Transpose.apply(self, axes=tuple(a % self.ndim for a in axes))

    permute = transpose

    def matmul(self, other):
        return self @ other


# ------------------------------------------------------------------ helpers
def _lift(value, like: Tensor) -> Tensor:
    """Wrap a Python number or array as a constant tensor, keeping ``like``'s float dtype."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (bool, int, float)) and like.data.dtype.kind == "f":
        return Tensor._make(backend.array_module(like.data).asarray(value, dtype=like.data.dtype), False, None)
    return Tensor(value, dtype=like.data.dtype if like.data.dtype.kind == "f" and _is_floatish(value) else None)


def _is_floatish(value) -> bool:
    return isinstance(value, (float, int)) or getattr(value, "dtype", np.dtype("O")).kind in "fiu"


def _compare(op, a: Tensor, b) -> Tensor:
    b = b.data if isinstance(b, Tensor) else b
    return Tensor._make(op(a.data, b), False, None)


def _axis(axis, ndim):
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not isinstance(a, (int, np.integer)) or not -max(ndim, 1) <= a < max(ndim, 1):
            raise ValueError(f"axis {axis!r} is out of range for a tensor with {ndim} dimensions")
    axes = tuple(int(a) % max(ndim, 1) for a in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"axis {axis!r} names the same axis twice for a tensor with {ndim} dimensions")
    return axes


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


_function.Tensor = Tensor

from chainrule.engine import ops as _ops  # noqa: E402  (the ops need Tensor defined)
from chainrule.engine import devices as _device  # noqa: E402
