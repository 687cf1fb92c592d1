"""Function: the base class of every differentiable op, and the gradient-mode switch.

A Function subclass implements ``forward(*arrays, **params) -> array`` and
``backward(grad) -> gradient or tuple of gradients`` (one per tensor input, ``None`` where an
input needs none). ``apply`` runs the forward pass on the inputs' arrays and, when gradients are
enabled and some input requires one, records the Function as the result's creator.

Gradients returned by ``backward`` may have the broadcast (output) shape; they are reduced to
each input's shape in exactly one place, :func:`unbroadcast`, called by the backward pass.

This module imports nothing else of the engine: ``apply`` makes its result with the input
tensor's own factory (``Tensor._make``), so function.py, ops.py and tensor.py form a chain, not a
cycle. It also holds the registry of elementwise ops (:func:`elementwise`) that the Tensor
methods, ``nn``'s activations and the expression language read.
"""
from __future__ import annotations

import contextlib
import threading

import inspect

import numpy as _np


class _GradMode(threading.local):
    enabled = True
    tape = None  # a list while ops are being recorded (see recording)


_grad_mode = _GradMode()
#: Called as ``check(arrays, op_name, labels)`` when an op's forward raises (the inputs, then the
#: keyword arguments that are arrays, labelled "input i" or by name); a check may raise a clearer
#: error instead. Filled by the engine's own modules (devices.py), so this one imports none.
FORWARD_ERROR_CHECKS: list = []
#: ``DEVICE_SCOPE[0](array)``: a context in which ``array``'s device is its backend's current one,
#: entered around the work on a device array (CuPy makes new arrays, and runs kernels, on its
#: current GPU: an op on ``cuda:1`` must run there, as PyTorch's device guard makes it). NumPy
#: arrays never ask. devices.py installs the real one, so this module imports none.
DEVICE_SCOPE: list = [lambda array: contextlib.nullcontext()]


def is_grad_enabled() -> bool:
    """Whether ops currently record the graph (False inside ``no_grad``)."""
    return _grad_mode.enabled


class _SetGradEnabled(contextlib.ContextDecorator):
    def __init__(self, mode: bool):
        self.mode = mode

    def __enter__(self):
        self.prev = _grad_mode.enabled
        _grad_mode.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _grad_mode.enabled = self.prev
        return False


class no_grad(_SetGradEnabled):
    """Context manager and decorator that disables graph recording.

    Results computed inside it have ``requires_grad=False`` and keep no references to their
    inputs, so evaluation uses no extra memory.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> with cr.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """

    def __init__(self):
        super().__init__(False)


class enable_grad(_SetGradEnabled):
    """Context manager and decorator that re-enables graph recording inside ``no_grad``."""

    def __init__(self):
        super().__init__(True)


class recording:
    """Context manager: every op applied inside is appended to the list it returns, as
    ``(function, inputs, params, output)``; ``chainrule.train``'s captured step replays them.

    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> with cr.recording() as tape:
    ...     y = (x * 3).sum()
    >>> [fn.name for fn, inputs, params, out in tape], tape[-1][3] is y
    (['mul', 'sum'], True)
    """

    def __enter__(self):
        self.prev, _grad_mode.tape = _grad_mode.tape, []
        return _grad_mode.tape

    def __exit__(self, *exc):
        _grad_mode.tape = self.prev
        return False


class GraphFreedError(RuntimeError, ValueError):
    """backward() was asked to run through a graph whose saved values were already freed."""


class Function:
    """Base class of the differentiable ops. Subclass it to add a primitive.

    Store arrays the backward pass needs with :meth:`save` (they are released after
    ``backward`` unless the graph is retained) and non-array settings as attributes.
    ``self.needs`` tells ``backward`` which inputs need a gradient, so it can skip work.

    Examples
    --------
    >>> import chainrule as cr
    >>> class Cube(cr.Function):
    ...     name = "cube"
    ...     def forward(self, x):
    ...         self.save(x)
    ...         return x ** 3
    ...     def backward(self, grad):
    ...         (x,) = self.saved
    ...         return 3 * x ** 2 * grad
    >>> t = cr.tensor(2.0, requires_grad=True)
    >>> Cube.apply(t).backward()
    >>> float(t.grad)
    12.0
    """

    name = "function"
    symbol = None  # the gate's label in circuit drawings; None shows the name
    #: Whether ``backward(grad, out=...)`` accepts ``out``, one array or None per input: an
    #: array given is filled with that input's gradient (same shape and dtype as the input) and
    #: returned as it, with the values ``backward(grad)`` returns. The captured step passes the
    #: optimizer's gradient storage (``Optimizer.grad_views``), sparing a copy per parameter.
    grads_into = False
    __slots__ = ("parents", "needs", "saved", "__dict__")

    def save(self, *arrays):
        self.saved = arrays

    @property
    def freed(self) -> bool:
        """Whether backward() has released the saved arrays (``saved`` is then None)."""
        return self.saved is None

    def forward(self, *arrays, **params):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad):  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:
        """A short text of the op's non-tensor arguments, shown in drawings ('' if none)."""
        return ""

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on tensors ``inputs``; record it in the graph when gradients are on."""
        ctx = cls()
        needs = tuple([t.requires_grad for t in inputs])
        ctx.needs = needs
        ctx.saved = ()
        arrays = [t.data for t in inputs]
        try:
            if type(arrays[0]) is _np.ndarray:
                data = ctx.forward(*arrays, **params)
            else:  # a device array: the op runs on its device
                with DEVICE_SCOPE[0](arrays[0]):
                    data = ctx.forward(*arrays, **params)
        except Exception:
            # Only on failure (free on the hot path): a check may raise a clearer error (devices.py
            # registers the one that names both devices when the inputs span two, keyword
            # arrays such as where's condition included).
            named = {f"input {i}": a for i, a in enumerate(arrays)}
            named.update((k, v) for k, v in params.items() if hasattr(v, "shape") and not isinstance(v, _np.generic))
            for check in FORWARD_ERROR_CHECKS:
                check(list(named.values()), repr(cls.name), list(named))
            raise
        if isinstance(data, _np.generic):  # NumPy turns 0-d results into scalars; keep arrays
            data = _np.asarray(data)
        # The input's own factory always makes a plain Tensor (a Parameter's result too).
        make = inputs[0]._make
        if _grad_mode.enabled and True in needs:
            ctx.parents = inputs
            out = make(data, True, ctx)
        else:
            out = make(data, False, None)
        if _grad_mode.tape is not None:
            _grad_mode.tape.append((ctx, inputs, params, out))
        return out


def unbroadcast(grad, shape, op="an op"):
    """Sum ``grad`` over the axes that broadcasting added or stretched, giving ``shape``.

    This is the one place where gradients meet their inputs' shapes: a gradient that cannot
    have come from broadcasting ``shape`` is an error in the op that produced it.
    """
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    if lead < 0 or any(n != 1 and n != grad.shape[i + lead] for i, n in enumerate(shape)):
        raise ValueError(
            f"{op} returned a gradient of shape {grad.shape} for an input of shape {shape}"
        )
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and grad.shape[i + lead] != 1
    )
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)



# ====================================================================== the elementwise registry
ELEMENTWISE: dict = {}
"""Registered elementwise ops by name: the Function classes marked with :func:`elementwise`."""

_subscribers: list = []


def elementwise(symbol=None, activation=None, expr=None, init="xavier"):
    """Class decorator that publishes an elementwise Function to every layer that lists ops.

    One decorated class is the whole recipe for a new elementwise op (docs/architecture.md,
    "Adding an op"): it becomes a Tensor method of its ``name``, a function of the expression
    language (under ``expr``, default the name), an ``nn`` activation Module (class name
    ``activation``, registry name the op's name with ``_`` as ``-``) and a labelled gate in
    the circuit drawings (``symbol``). ``init`` is the weight
    initialization an ``nn.MLP`` picks for the activation by default. The op's keyword-only
    ``forward`` parameters become the method's and the Module's keyword arguments.

    The Function's ``forward`` takes the tensors' arrays first (one for a unary op, two for a
    binary one) and keyword-only settings after them.

    >>> from chainrule.engine import ELEMENTWISE
    >>> op = ELEMENTWISE["softplus"]
    >>> op.arity, op.options, op.activation, op.expr_name
    (1, ('beta', 'threshold'), 'Softplus', 'softplus')
    """

    def register(cls):
        cls.symbol = symbol or cls.symbol or cls.name
        params = inspect.signature(cls.forward).parameters.values()
        cls.arity = sum(p.kind == p.POSITIONAL_OR_KEYWORD for p in params) - 1
        cls.options = tuple(p.name for p in params if p.kind == p.KEYWORD_ONLY)
        cls.activation, cls.expr_name, cls.default_init = activation, expr or cls.name, init
        ELEMENTWISE[cls.name] = cls
        for callback in _subscribers:
            callback(cls)
        return cls

    return register


def subscribe(callback) -> None:
    """Call ``callback(op_class)`` for every registered elementwise op, now and in future."""
    _subscribers.append(callback)
    for cls in list(ELEMENTWISE.values()):
        callback(cls)
