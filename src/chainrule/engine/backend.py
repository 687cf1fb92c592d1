"""The array backend: the one place that knows which array library holds a tensor's data.

Ops never import NumPy functions directly when an array might live elsewhere; they call
:func:`array_module` on an input and use what it returns. NumPy is the default; CuPy is picked
up for CuPy arrays without touching the ops' logic.
"""
from __future__ import annotations

import numpy as np

float32 = np.float32
float64 = np.float64

_DEFAULT_FLOAT = np.dtype(np.float32)


_MODULES = {}  # array type -> module, for backends registered by chainrule.engine.devices


def register_array_module(array_type, module) -> None:
    """Make :func:`array_module` answer ``module`` for arrays of ``array_type`` (None removes it)."""
    if module is None:
        _MODULES.pop(array_type, None)
    else:
        _MODULES[array_type] = module


def array_module(x):
    """Return the array module (``numpy``, ``cupy``, or a registered one) that owns array ``x``."""
    if type(x) is np.ndarray:  # the hot path: one identity check
        return np
    module = _MODULES.get(type(x))
    if module is not None:
        return module
    # Checking the type's module avoids importing cupy when nobody uses it.
    if type(x).__module__.startswith("cupy"):
        import cupy

        return cupy
    return np


def default_float():
    """The floating dtype new tensors get when none is asked for (float32)."""
    return _DEFAULT_FLOAT


def as_dtype(dtype):
    """Normalize a dtype given as a NumPy dtype, a type or a string; ``None`` stays ``None``."""
    if dtype is None:
        return None
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"unknown dtype {dtype!r}; expected e.g. 'float32' or 'float64'") from None


def is_floating(dtype) -> bool:
    return np.dtype(dtype).kind == "f"


def to_array(data, dtype=None, copy=False):
    """Convert ``data`` to an array: floats become float32 unless ``dtype`` says otherwise.

    Integer and bool data keep their dtype. Anything that is not numeric raises TypeError
    naming the value, and ragged nested lists raise ValueError.
    """
    dtype = as_dtype(dtype)
    xp = array_module(data)
    if xp is np and not isinstance(data, np.ndarray):
        try:
            arr = np.asarray(data)
        except ValueError as exc:  # ragged nested sequences
            raise ValueError(f"cannot make a tensor from ragged data {_short(data)}: {exc}") from None
        copy = False  # asarray of a Python object already made a fresh array
    else:
        arr = data
    if arr.dtype.kind not in "fiub":
        raise TypeError(
            f"tensor data must be numeric (float, int or bool); got {_short(data)} "
            f"of dtype {arr.dtype}"
        )
    if dtype is None:
        dtype = _DEFAULT_FLOAT if arr.dtype.kind == "f" else arr.dtype
    if arr.dtype != dtype:
        return arr.astype(dtype)
    return arr.copy() if copy else arr


def _short(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def memory_order(x) -> str:
    """``"F"`` for an array stored column-major only, else ``"C"``: the order in which
    :func:`packed_views` lays it out and ``x.reshape(-1, order=...)`` reads it without a copy."""
    return "F" if x.flags.f_contiguous and not x.flags.c_contiguous else "C"


def packed_views(flat, like) -> list:
    """Views of the 1-D array ``flat`` shaped like the arrays ``like``, one after another.

    Each view takes the next ``a.size`` elements and keeps ``a``'s memory order (a column-major
    weight gets a column-major view), so a loop over the views and one pass over ``flat`` visit
    the same elements in the same order. The optimizers' flat storage and
    ``Module.flatten_parameters`` use this one layout, which is what lets an optimizer update
    parameters laid out by a module in a single pass.

    >>> import numpy as np
    >>> a, b = np.zeros((2, 3), order="F"), np.zeros(2)
    >>> [(v.shape, v.flags.f_contiguous) for v in packed_views(np.arange(8.0), [a, b])]
    [((2, 3), True), ((2,), True)]
    """
    out, start = [], 0
    for a in like:
        out.append(flat[start:start + a.size].reshape(a.shape, order=memory_order(a)))
        start += a.size
    return out


def packed_base(arrays):
    """The 1-D array of which ``arrays`` are :func:`packed_views`, consecutive and in order,
    or None when they are not (different storage, gaps, another order, a strided array)."""
    root = arrays[0].base if arrays and type(arrays[0]) is np.ndarray else None
    if type(root) is not np.ndarray or root.ndim != 1 or not root.flags.c_contiguous:
        return None
    start = offset = (arrays[0].ctypes.data - root.ctypes.data) // root.itemsize
    for a in arrays:
        if (type(a) is not np.ndarray or a.base is not root or a.dtype != root.dtype
                or not (a.flags.c_contiguous or a.flags.f_contiguous)
                or a.ctypes.data != root.ctypes.data + offset * root.itemsize):
            return None
        offset += a.size
    return root[start:offset]
