"""Module and Parameter: PyTorch's conventions for building networks out of layers.

Parameters and submodules are registered by assignment; ``named_parameters()`` yields dotted,
de-duplicated names; ``state_dict()`` / ``load_state_dict()`` move plain NumPy arrays in and
out, so saving never needs pickle.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterator, NamedTuple

import numpy as np

from chainrule import validation as check
from chainrule.engine import Tensor, backend, device, device_of, to_device, to_host
from chainrule.engine.devices import CPU, check_same_device, scope


class Parameter(Tensor):
    """A tensor that is a learnable parameter of a Module (``requires_grad=True`` by default).

    >>> import chainrule as cr
    >>> p = cr.nn.Parameter([1.0, 2.0])
    >>> p.requires_grad, p.dtype
    (True, dtype('float32'))
    """

    __slots__ = ()

    def __init__(self, data, dtype=None, requires_grad=True):
        super().__init__(data, dtype=dtype, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter(" + super().__repr__()[len("tensor("):]


class IncompatibleKeys(NamedTuple):
    missing_keys: list
    unexpected_keys: list


#: Module attribute assignments so far, any module's (training flags included): the captured step
#: (chainrule.train.capture) reads the modules' Python settings again only when this has moved.
_ASSIGNMENTS = [0]
_PLAIN = (bool, int, float, str, type(None))


def assignments() -> int:
    """How many times a module attribute was assigned or deleted, or a training flag set."""
    return _ASSIGNMENTS[0]


class Module:
    """Base class of every layer and network.

    Subclasses call ``super().__init__()``, assign Parameters and Modules as attributes, and
    implement ``forward``. Calling the module calls ``forward``.

    >>> import chainrule as cr
    >>> class Affine(cr.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.w = cr.nn.Parameter([2.0])
    ...         self.b = cr.nn.Parameter([0.5])
    ...     def forward(self, x):
    ...         return x * self.w + self.b
    >>> m = Affine()
    >>> [name for name, _ in m.named_parameters()]
    ['w', 'b']
    >>> m(cr.tensor([1.0])).item()
    2.5
    """

    #: The most examples a prediction feeds this module at once (None: no limit of its own).
    #: ``chainrule.train.predict_scores`` splits its input into chunks of the smallest limit
    #: any submodule declares; a layer whose temporaries grow fast with the batch (a
    #: convolution's window matrices) declares one.
    predict_batch_size: int | None = None

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---------------------------------------------------------------- registration
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() is called; call "
                f"super().__init__() first in {type(self).__name__}.__init__"
            )
        _ASSIGNMENTS[0] += 1
        params, modules = self.__dict__["_parameters"], self.__dict__["_modules"]
        buffers = self.__dict__.get("_buffers", {})
        if name in buffers:  # assigning a registered buffer replaces its array
            if value is not None and not isinstance(value, np.ndarray) and device_of(value) == CPU:
                raise TypeError(f"buffer {name!r} must be an array (NumPy, or on a device) or None; "
                                f"got {type(value).__name__}")
            buffers[name] = value
            object.__setattr__(self, name, value)
            return
        params.pop(name, None)
        modules.pop(name, None)
        if isinstance(value, Parameter):
            params[name] = value
        elif isinstance(value, Module):
            modules[name] = value
        # Kept in the instance dict as well, so reading self.weight in forward is a plain lookup.
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        _ASSIGNMENTS[0] += 1
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    def __getattr__(self, name):
        # Only called when normal lookup fails.
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def register_parameter(self, name: str, param):
        """Register ``param`` (a Parameter or None) under ``name``."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot register {type(param).__name__} as parameter {name!r}: expected a Parameter")
        setattr(self, name, param)
        if param is None:
            self._parameters[name] = None

    def register_buffer(self, name: str, array) -> None:
        """Register ``array`` (an ndarray, or None) as state that is saved but not learned.

        Buffers (BatchNorm's running mean and variance) appear in :meth:`state_dict` beside the
        parameters and are restored by :meth:`load_state_dict`; optimizers never see them.
        """
        if not isinstance(name, str) or not name.isidentifier() or name in self._parameters or name in self._modules:
            raise ValueError(f"cannot register buffer {name!r}: not an identifier or already a parameter or module")
        self._buffers[name] = None
        setattr(self, name, None if array is None or device_of(array) != CPU else np.asarray(array))

    def add_module(self, name: str, module: "Module"):
        if not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module (for submodule {name!r})")
        setattr(self, name, module)

    # ---------------------------------------------------------------- traversal
    def named_modules(self, prefix: str = "", memo=None) -> Iterator[tuple]:
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            yield from module.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self) -> Iterator["Module"]:
        for _, module in self.named_modules():
            yield module

    def children(self) -> Iterator["Module"]:
        yield from self._modules.values()

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple]:
        """``(dotted_name, parameter)`` pairs; a parameter shared by two layers appears once."""
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_prefix, module in modules:
            for name, p in module._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), p

    def named_buffers(self, prefix: str = "") -> Iterator[tuple]:
        """``(dotted_name, array)`` pairs of every registered buffer that is not None."""
        for mod_prefix, module in self.named_modules(prefix):
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{mod_prefix}.{name}" if mod_prefix else name), b

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def flatten_parameters(self) -> bool:
        """Lay every parameter out in one array, in ``parameters()`` order; returns whether it did.

        Each parameter's ``.data`` becomes a view of one new 1-D array with the same values,
        shape and memory order (``backend.packed_views``); a parameter's gradient is kept. An
        optimizer whose group holds these parameters in this order then updates them all in one
        pass instead of one call per parameter, which is most of a small network's optimizer
        step (``fit(capture=True)`` does this). Arrays taken from ``.data`` before the call no
        longer follow training. Parameters on a device, or of different dtypes, are left as they
        are (False), and so are those already laid out.

        >>> import chainrule as cr
        >>> net = cr.nn.MLP(2, [3], 2)
        >>> net.flatten_parameters(), [p.data.base.size for p in net.parameters()]
        (True, [17, 17, 17, 17])
        """
        params = list(self.parameters())
        datas = [p.data for p in params]
        if (not params or any(type(d) is not np.ndarray for d in datas)
                or len({d.dtype for d in datas}) != 1 or backend.packed_base(datas) is not None):
            return False
        flat = np.empty(sum(d.size for d in datas), datas[0].dtype)
        for p, d, view in zip(params, datas, backend.packed_views(flat, datas)):
            view[...] = d
            p.data = view
        return True

    def num_parameters(self) -> int:
        """Learnable scalars in the module (weights and biases)."""
        return sum(p.size for p in self.parameters())

    # ---------------------------------------------------------------- state
    def zero_grad(self) -> None:
        """Forget every parameter's gradient (sets ``.grad`` to None)."""
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> "Module":
        """Switch training mode (dropout active) on or off; returns self."""
        mode = check.boolean("train()'s mode", mode)
        _ASSIGNMENTS[0] += 1
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def python_state(self) -> dict:
        """The settings a forward pass may branch on in Python: every module's attributes that are
        plain values (numbers, strings, None, tuples of them; the training flag among them) and
        every parameter's ``requires_grad``, by dotted name, as text. The captured step compares
        it with its recording's (a replay takes the branches its recording took)."""
        state = {f"{name}.requires_grad".lstrip("."): p.requires_grad for name, p in self.named_parameters()}
        for prefix, module in self.named_modules():
            for key, value in module.__dict__.items():
                if type(value) in _PLAIN or type(value) is tuple and all(type(v) in _PLAIN for v in value):
                    state[f"{prefix}.{key}".lstrip(".")] = repr(value)
        return state

    def eval(self) -> "Module":
        """Switch to evaluation mode (dropout off); returns self."""
        return self.train(False)

    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Host copies (NumPy arrays) of the parameters' and buffers' arrays, by dotted name, whatever the device."""
        state = OrderedDict((name, to_host(p.data, copy=True)) for name, p in self.named_parameters())
        state.update((name, to_host(b, copy=True)) for name, b in self.named_buffers())
        return state

    def to(self, device_) -> "Module":
        """Move every parameter (with its gradient), every tensor attribute and every buffer
        (BatchNorm's running statistics) to ``device_`` ("cpu", "cuda", "cuda:N" or a Device),
        in place; returns self.

        Parameters stay the same objects, so build the optimizer before or after: its state
        follows its parameters at the next step.

        >>> import chainrule as cr
        >>> net = cr.nn.Linear(2, 3).to("cpu")
        >>> str(cr.nn.module_device(net))
        'cpu'
        """
        dev = device(device_)
        dev.check()
        for module in self.modules():
            for value in module.__dict__.values():
                if isinstance(value, Tensor):
                    value.data = to_device(value.data, dev)
                    if value.grad is not None:
                        value.grad = to_device(value.grad, dev)
            for name, array in list(module._buffers.items()):
                if array is not None:
                    setattr(module, name, to_device(array, dev))
        return self

    def cpu(self) -> "Module":
        """``to("cpu")``."""
        return self.to(CPU)

    def cuda(self, index: int = 0) -> "Module":
        """``to(f"cuda:{index}")``; needs CuPy."""
        return self.to(f"cuda:{index}")

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays into the parameters in place (optimizers keep working on them).

        With ``strict=True`` missing and unexpected keys are an error that lists them; a shape
        mismatch is always an error naming the key and both shapes, and so are an entry that is
        not a rectangular numeric array (naming its key) and one holding NaN or infinity (refused
        as model files refuse them). Nothing is changed unless every entry fits.
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(
                f"load_state_dict needs a mapping of parameter names to arrays (as state_dict() "
                f"returns); got {type(state_dict).__name__}"
            )
        own = dict(self.named_parameters())
        own.update(self.named_buffers())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise ValueError(
                f"error loading state_dict into {type(self).__name__}: missing keys {missing}, "
                f"unexpected keys {unexpected}"
            )
        updates = []
        for name, p in own.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            try:
                value = to_host(value.data if isinstance(value, Tensor) else value)
            except ValueError:
                raise ValueError(f"state_dict entry {name!r} is not a rectangular array (ragged nested lists)") from None
            if value.dtype.kind not in "fiu":
                raise TypeError(f"state_dict entry {name!r} has non-numeric dtype {value.dtype}")
            if value.dtype.kind == "f" and not np.isfinite(value).all():
                bad = value.size - int(np.count_nonzero(np.isfinite(value)))
                raise ValueError(f"state_dict entry {name!r} has {bad} non-finite value(s) (NaN or infinity), expected none")
            if value.shape != p.shape:
                raise ValueError(
                    f"error loading state_dict into {type(self).__name__}: {name!r} has shape "
                    f"{value.shape} in the state_dict but {p.shape} in the model"
                )
            updates.append((p, value))
        for p, value in updates:
            data = p.data if isinstance(p, Tensor) else p  # a parameter, or a buffer (an array)
            with scope(data):  # host arrays go to the parameter's device
                data[...] = to_device(value, device_of(data))
        return IncompatibleKeys(missing, unexpected)

    # ---------------------------------------------------------------- calling and printing
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def __call__(self, *args, **kwargs):
        data = getattr(args[0], "data", None) if args else None
        if data is None or type(data) is np.ndarray:
            return self.forward(*args, **kwargs)
        with scope(data):  # a device input: the layer runs on its device (CuPy's current GPU)
            return self.forward(*args, **kwargs)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, module in self._modules.items():
            child = repr(module).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n" + "\n".join(lines) + "\n)"


def module_device(module: Module):
    """The device of ``module``'s parameters (the CPU for a module without any).

    Parameters on two devices are an error that names both.

    >>> import chainrule as cr
    >>> str(cr.nn.module_device(cr.nn.Linear(2, 2)))
    'cpu'
    """
    named = list(module.named_parameters())
    found = check_same_device([p.data for _, p in named], f"{type(module).__name__}'s parameters",
                              labels=[repr(name) for name, _ in named])
    return CPU if found is None else found
