"""A fake GPU for the tests: NumPy underneath, but arrays that behave like CuPy's at the border.

CI has no GPU, so device leaks (a stray ``np.asarray`` on a device array, an op mixing a device
array with a host one) would only show on a user's GPU. ``FakeArray`` wraps an ndarray and
refuses exactly what ``cupy.ndarray`` refuses:

- implicit conversion to NumPy: ``np.asarray(a)``, ``np.array(a)`` and ``float(a)`` of a
  several-element array raise ``TypeError`` (CuPy's ``__array__`` raises the same);
- mixing with plain ndarrays in any operation, ufunc, method, index or assignment raises
  ``TypeError: Unsupported type <class 'numpy.ndarray'>`` (CuPy's message);
- mixing arrays of two fake devices raises ``ValueError`` (CuPy: "Array device must be same as
  the current device").

What CuPy allows works: NumPy ufuncs and functions called on fake arrays (``np.exp(a)``, through
``__array_ufunc__`` / ``__array_function__``) return fake arrays, Python and NumPy scalars mix
freely, ``a.get()`` and ``a.item()`` copy to the host, reductions return 0-d arrays (not NumPy
scalars), and the module's ``asarray`` copies host data to the device explicitly.

``FAKE`` is the array module, ``FakeBackend`` the device backend; :func:`install` registers it as
device type "fake" with two devices, "fake:0" and "fake:1".
"""
from __future__ import annotations

import contextlib
import operator
import types

import numpy as np

import chainrule as cr
from chainrule.engine import devices as device_api

_CURRENT = [0]  # the fake module's current device, as cupy.cuda.Device sets CuPy's


class FakeArray:
    """An ndarray on fake device ``dev`` that refuses to meet host arrays."""

    __slots__ = ("_a", "_dev")
    __hash__ = None

    def __init__(self, a: np.ndarray, dev: int):
        assert type(a) is np.ndarray, type(a)
        self._a, self._dev = a, dev

    # ---------------------------------------------------------------- the border
    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct "
            "a NumPy array explicitly."
        )

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        func = ufunc if method == "__call__" else getattr(ufunc, method)
        return _call(func, inputs, kwargs)

    def __array_function__(self, func, types_, args, kwargs):
        return _call(func, args, kwargs)

    def get(self) -> np.ndarray:
        """A host copy (CuPy's ``ndarray.get``)."""
        return self._a.copy()

    def item(self):
        return self._a.item()

    def tolist(self):
        return self._a.tolist()

    def __len__(self):
        return len(self._a)

    def __bool__(self):
        return bool(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self):
        return f"fake{self._dev}:" + repr(self._a)

    # ---------------------------------------------------------------- attributes
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    strides = property(lambda self: self._a.strides)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: FakeArray(self._a.T, self._dev))
    device = property(lambda self: types.SimpleNamespace(id=self._dev))

    def __getattr__(self, name):
        # Methods (sum, reshape, astype, argmax, copy, ...) run on the ndarray under the same
        # checks as the module's functions.
        attr = getattr(self._a, name)
        if not callable(attr):
            raise AttributeError(f"FakeArray has no attribute {name!r}")
        method = getattr(np.ndarray, name)
        return lambda *args, **kwargs: _call(method, (self,) + args, kwargs)

    # Index arrays may be host arrays: CuPy copies a NumPy index to the device itself.
    def __getitem__(self, key):
        return _call(operator.getitem, (self, _Index(key)), {})

    def __setitem__(self, key, value):
        _call(operator.setitem, (self, _Index(key), value), {})


class _Index:
    """An index passed through the checks as it is (host index arrays are allowed)."""

    __slots__ = ("key",)

    def __init__(self, key):
        self.key = key


def _operator(op):
    return lambda self, *args: _call(op, (self,) + args, {})


def _reflected(op):
    return lambda self, other: _call(op, (other, self), {})


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
              "lt", "le", "eq", "ne", "gt", "ge", "neg", "pos", "abs", "invert",
              "iadd", "isub", "imul", "itruediv", "ipow", "imatmul", "iand", "ior"):
    setattr(FakeArray, f"__{_name}__", _operator(getattr(operator, f"__{_name}__")))
for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor"):
    setattr(FakeArray, f"__r{_name}__", _reflected(getattr(operator, f"__{_name}__")))


class LeakError(TypeError):
    """Unsupported type: a host ndarray met a (fake) device array."""


def _call(func, args, kwargs):
    """Run ``func`` on the ndarrays under the fake arrays; refuse host arrays and mixed devices."""
    devices, originals = set(), {}

    def unwrap(x):
        if isinstance(x, _Index):
            key = x.key
            if isinstance(key, tuple):
                return tuple(k if isinstance(k, np.ndarray) else unwrap(k) for k in key)
            return key if isinstance(key, np.ndarray) else unwrap(key)
        if isinstance(x, FakeArray):
            devices.add(x._dev)
            originals[id(x._a)] = x
            return x._a
        if isinstance(x, np.ndarray):
            raise LeakError(f"Unsupported type {type(x)}")
        if isinstance(x, (list, tuple)):
            return type(x)(unwrap(v) for v in x)
        if isinstance(x, dict):
            return {k: unwrap(v) for k, v in x.items()}
        return x

    args, kwargs = unwrap(args), unwrap(kwargs)
    if len(devices) > 1:
        raise ValueError(f"Array device must be same as the current device: arrays on fake devices {sorted(devices)}")
    dev = devices.pop() if devices else _CURRENT[0]
    return _wrap(func(*args, **kwargs), dev, originals)


def _wrap(x, dev, originals=None):
    if isinstance(x, np.ndarray):
        if originals and id(x) in originals:
            return originals[id(x)]  # an out= argument or an in-place operator's result
        return FakeArray(x, dev)
    if isinstance(x, np.generic):
        return FakeArray(np.asarray(x), dev)  # CuPy's reductions give 0-d arrays, not scalars
    if isinstance(x, (list, tuple)):
        return type(x)(_wrap(v, dev, originals) for v in x)
    return x


class _Ufunc:
    def __init__(self, ufunc):
        self._u = ufunc

    def __call__(self, *args, **kwargs):
        return _call(self._u, args, kwargs)

    def at(self, a, indices, b=None):
        return _call(self._u.at, (a, _Index(indices)) + (() if b is None else (b,)), {})

    def __getattr__(self, name):
        attr = getattr(self._u, name)
        return (lambda *a, **k: _call(attr, a, k)) if callable(attr) else attr


def _from_host(a, dtype=None, copy=None, order="K", **_):
    """The module's asarray/array: host data is copied to the current device (CuPy's rule)."""
    if isinstance(a, FakeArray):
        out = a._a.astype(dtype, copy=bool(copy)) if dtype is not None else (a._a.copy() if copy else a._a)
        return a if out is a._a else FakeArray(out, a._dev)  # the array itself when nothing changes
    return FakeArray(np.array(a, dtype=dtype, copy=True, order=order), _CURRENT[0])


def _axpy(a, x, y):
    """``cupy.cublas.axpy``: y ← y + a·x in place on 1-D device arrays (BLAS underneath here too)."""
    if not (isinstance(x, FakeArray) and isinstance(y, FakeArray)):
        raise LeakError(f"Unsupported type {type(x) if not isinstance(x, FakeArray) else type(y)}")
    if x._dev != y._dev:
        raise ValueError(f"Array device must be same as the current device: arrays on fake devices {[x._dev, y._dev]}")
    if x._a.ndim != 1 or y._a.ndim != 1 or x._a.size != y._a.size:
        raise ValueError("x and y must be 1-D arrays of the same size")  # CuPy's _check_two_vectors
    from scipy.linalg import blas

    fn = {"f": blas.saxpy, "d": blas.daxpy}[y._a.dtype.char]
    assert fn(x._a, y._a, a=a) is y._a  # in place, as cuBLAS writes y


def _array(a, dtype=None, copy=True, order="K", **_):
    """The module's ``array``: a copy unless ``copy=False`` (NumPy's and CuPy's default)."""
    if isinstance(a, FakeArray):
        return FakeArray(np.array(a._a, dtype=dtype, copy=copy, order=order), a._dev) if copy else _from_host(a, dtype)
    return _from_host(a, dtype, order=order)


def _ascontiguousarray(a, dtype=None, **_):
    """The module's ``ascontiguousarray``: the array itself when it already is C-contiguous."""
    if isinstance(a, FakeArray):
        out = np.ascontiguousarray(a._a, dtype=dtype)
        return a if out is a._a else FakeArray(out, a._dev)
    return _from_host(a, dtype, order="C")


class _FakeModule(types.ModuleType):
    """The fake GPU's array module: NumPy's names, through the same checks as the arrays."""

    ndarray = FakeArray
    asarray = staticmethod(_from_host)
    array = staticmethod(_array)
    ascontiguousarray = staticmethod(_ascontiguousarray)
    cublas = types.SimpleNamespace(axpy=_axpy)

    def asnumpy(self, a):
        return a.get() if isinstance(a, FakeArray) else np.asarray(a)

    def __getattr__(self, name):
        if name == "random":
            raise AttributeError("fakegpu has no random module: draw on the host and copy")
        obj = getattr(np, name)
        if isinstance(obj, np.ufunc):
            return _Ufunc(obj)
        if callable(obj) and not isinstance(obj, type):
            return lambda *args, **kwargs: _call(obj, args, kwargs)
        return obj


FAKE = _FakeModule("fakegpu")


class FakeBackend:
    """The device backend of the fake GPU: device type "fake", two devices."""

    name = "fake"

    def owns(self, array):
        return isinstance(array, FakeArray)

    def module(self):
        return FAKE

    def count(self):
        return 2

    def describe(self):
        return "the fake GPU"

    def device_of(self, array):
        return cr.Device("fake", array._dev)

    def from_host(self, host, index):
        return FakeArray(np.array(host, copy=True), index)

    def to_host(self, array):
        return array.get()

    @contextlib.contextmanager
    def use(self, index):
        previous = _CURRENT[0]
        _CURRENT[0] = index
        try:
            yield
        finally:
            _CURRENT[0] = previous


def host(t) -> np.ndarray:
    """A tensor's or a device array's values as a host ndarray (for comparing in tests)."""
    return t.numpy() if isinstance(t, cr.Tensor) else cr.to_host(t)


def same(a, b) -> None:
    """Assert that two tensors or arrays, on any devices, are equal bit for bit (dtype, shape, values)."""
    a, b = host(a), host(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b)


def same_on_cpu_and_fake(fn, arrays, weights=None) -> None:
    """Run ``fn`` on float64 tensors of ``arrays`` on the CPU and on the fake GPU, backpropagate
    ``(out · weights).sum()`` (``out.sum()`` without weights), and assert that the results stay on
    their device and that values and gradients are equal bit for bit."""
    results = []
    for dev in ("cpu", "fake"):
        ts = [cr.tensor(a, dtype="float64", requires_grad=True, device=dev) for a in arrays]
        out = fn(*ts)
        assert out.device == cr.device(dev) and type(out.data) is (np.ndarray if dev == "cpu" else FakeArray)
        if weights is not None:
            (out * cr.tensor(weights, dtype="float64", device=dev)).sum().backward()
        else:
            (out.sum() if out.size > 1 else out).backward()
        assert all(t.grad is None or cr.device_of(t.grad) == cr.device(dev) for t in ts)
        results.append([out] + [t.grad for t in ts])
    for x, y in zip(*results):
        assert (x is None) == (y is None)
        if x is not None:
            same(x, y)


def install() -> None:
    device_api.register_backend(FakeBackend(), FakeArray, FAKE)


def uninstall() -> None:
    device_api.unregister_backend("fake")
