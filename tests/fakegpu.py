"""A fake GPU for the tests: NumPy underneath, but arrays that behave like CuPy's at the border.

CI has no GPU, so device leaks (a stray ``np.asarray`` on a device array, an op mixing a device
array with a host one) would only show on a user's GPU. ``FakeArray`` wraps an ndarray and
refuses exactly what ``cupy.ndarray`` refuses:

- implicit conversion to NumPy: ``np.asarray(a)``, ``np.array(a)`` and ``float(a)`` of a
  several-element array raise ``TypeError`` (CuPy's ``__array__`` raises the same);
- mixing with plain ndarrays in any operation, ufunc, method, index or assignment raises
  ``TypeError: Unsupported type <class 'numpy.ndarray'>`` (CuPy's message);
- mixing arrays of two fake devices, or working on an array of a device that is not the current
  one, raises ``ValueError`` (CuPy: "Array device must be same as the current device"; with
  peer access CuPy would run it on the current GPU and put the result there, a silent move).

What CuPy allows works: NumPy ufuncs and functions called on fake arrays (``np.exp(a)``, through
``__array_ufunc__`` / ``__array_function__``) return fake arrays, Python and NumPy scalars mix
freely, ``a.get()`` and ``a.item()`` copy to the host, reductions return 0-d arrays (not NumPy
scalars), and the module's ``asarray`` copies host data to the device explicitly.

It also records device graphs as CUDA's stream capture does (``FakeBackend.graphs``, what
``chainrule.train.capture`` uses for CuPy's CUDA graphs), so that what a graph freezes shows on
the CPU:

- while recording, nothing takes effect: arrays that existed before keep their values, and the
  arrays the recorded work makes hold garbage (NaN) until the graph is launched;
- a launch replays the recorded work on the same arrays (the same addresses), with the Python
  numbers of the recording frozen in: a later change of a number on the host is not seen;
- reading a device value on the host (``.item()``, ``float()``, ``bool()``, ``.get()``) or
  copying host data to the device while recording raises, as CUDA refuses a synchronizing call
  during capture.

What it does not model: CuPy's memory pool handing a recorded array's memory to another array
after the recording (chainrule records into a private pool for that reason).

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
        _no_sync("a copy to the host (.get())")
        return self._a.copy()

    def item(self):
        _no_sync(".item()")
        return self._a.item()

    def tolist(self):
        _no_sync(".tolist()")
        return self._a.tolist()

    def __len__(self):
        return len(self._a)

    def __bool__(self):
        _no_sync("bool() of a device array")
        return bool(self._a)

    def __float__(self):
        _no_sync("float() of a device array")
        return float(self._a)

    def __int__(self):
        _no_sync("int() of a device array")
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

    # Index arrays may be host arrays: CuPy copies a NumPy index to the device itself. An index
    # that picks one element gives a 0-d view, as CuPy's does (NumPy's gives a scalar copy).
    def __getitem__(self, key):
        return _call(_getitem, (self, _Index(key)), {})

    def __setitem__(self, key, value):
        _call(operator.setitem, (self, _Index(key), value), {})


def _getitem(a, key):
    out = a[key]
    return a[(key if isinstance(key, tuple) else (key,)) + (Ellipsis,)] if isinstance(out, np.generic) else out


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
            if isinstance(key, np.ndarray) or isinstance(key, tuple) and any(isinstance(k, np.ndarray) for k in key):
                _no_sync("a host index array, which CuPy copies to the device")
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

    raw_args, raw_kwargs = args, kwargs
    args, kwargs = unwrap(args), unwrap(kwargs)
    if len(devices) > 1:
        raise ValueError(f"Array device must be same as the current device: arrays on fake devices {sorted(devices)}")
    dev = devices.pop() if devices else _CURRENT[0]
    if dev != _CURRENT[0]:  # CuPy without peer access; with it, the result would land on the current GPU
        raise ValueError(f"Array device must be same as the current device: array device = {dev} while current = {_CURRENT[0]}")
    capture = _CAPTURE[0]
    if capture is not None:
        capture.touch(originals.values())
    result = _wrap(func(*args, **kwargs), dev, originals)
    if capture is not None:
        capture.note(lambda: func(*unwrap(raw_args), **unwrap(raw_kwargs)), result)
    return result


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
    if isinstance(a, FakeArray):  # the array itself when nothing changes
        return _call(lambda x: x.astype(dtype, copy=bool(copy)) if dtype is not None else (x.copy() if copy else x),
                     (a,), {})
    _no_sync("a copy of host data to the device")
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
    capture = _CAPTURE[0]
    if capture is not None:
        capture.touch((x, y))
    assert fn(x._a, y._a, a=a) is y._a  # in place, as cuBLAS writes y
    if capture is not None:
        capture.note(lambda: fn(x._a, y._a, a=a), y)


def _array(a, dtype=None, copy=True, order="K", **_):
    """The module's ``array``: a copy unless ``copy=False`` (NumPy's and CuPy's default)."""
    if isinstance(a, FakeArray):
        return _call(lambda x: np.array(x, dtype=dtype, copy=True, order=order), (a,), {}) if copy else _from_host(a, dtype)
    return _from_host(a, dtype, order=order)


def _ascontiguousarray(a, dtype=None, **_):
    """The module's ``ascontiguousarray``: the array itself when it already is C-contiguous."""
    if isinstance(a, FakeArray):
        return _call(lambda x: np.ascontiguousarray(x, dtype=dtype), (a,), {})
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
        _no_sync("a copy of host data to the device")
        return FakeArray(np.array(host, copy=True), index)

    def to_host(self, array):
        return array.get()

    def graphs(self, index):
        """A recorder of device graphs on fake device ``index`` (see the module: CUDA's semantics)."""
        return FakeGraphs(index)

    @contextlib.contextmanager
    def use(self, index):
        previous = _CURRENT[0]
        _CURRENT[0] = index
        try:
            yield
        finally:
            _CURRENT[0] = previous


# ---------------------------------------------------------------------------------- graphs
_CAPTURE = [None]  # the _Capture being recorded, if any


class CaptureError(RuntimeError):
    """What CUDA raises for a synchronizing call during stream capture."""


def _no_sync(what):
    if _CAPTURE[0] is not None:
        raise CaptureError(f"cudaErrorStreamCaptureUnsupported: operation not permitted when stream is capturing "
                           f"({what})")


def _root(a: np.ndarray) -> np.ndarray:
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


class _Capture:
    """The work recorded by one capture: (recompute, result) pairs, replayed in order."""

    def __init__(self):
        self.work, self.saved, self.made = [], {}, {}

    def touch(self, arrays):
        # Memory that existed before the capture is saved the first time recorded work sees it,
        # and put back at the end: recorded work does not take effect.
        for x in arrays:
            root = _root(x._a)
            if id(root) not in self.made and id(root) not in self.saved:
                self.saved[id(root)] = (root, root.copy())

    def note(self, recompute, result):
        for r in _fakes(result):
            root = _root(r._a)
            if id(root) not in self.saved:
                self.made[id(root)] = root
        self.work.append((recompute, result))

    def finish(self):
        for root, copy in self.saved.values():
            np.copyto(root, copy)
        for root in self.made.values():  # what the recorded work made holds garbage until a launch
            if root.flags.writeable:
                root.fill(np.nan if root.dtype.kind in "fc" else True if root.dtype.kind == "b" else 0x5A)
        self.saved = {}


def _fakes(x):
    if isinstance(x, FakeArray):
        yield x
    elif isinstance(x, (list, tuple)):
        for v in x:
            yield from _fakes(v)


def _store(result, value):
    if isinstance(result, FakeArray):
        value = value._a if isinstance(value, FakeArray) else value
        if value is not result._a and result._a.flags.writeable:  # a read-only view is a view of the result
            np.copyto(result._a, value)
    elif isinstance(result, (list, tuple)):
        for r, v in zip(result, value):
            _store(r, v)


class FakeGraph:
    """A recorded graph: ``launch`` replays its work on the arrays it was recorded on."""

    def __init__(self, work):
        self.work = work

    def launch(self):
        _no_sync("a graph launch inside a capture")
        for recompute, result in self.work:
            _store(result, recompute())


class FakeGraphs:
    """``FakeBackend.graphs(index)``: record and launch graphs as ``chainrule.engine.devices``' CUDA
    recorder does (the same three methods)."""

    def __init__(self, index):
        self.index = index

    @contextlib.contextmanager
    def stream(self):
        with FakeBackend().use(self.index):
            yield

    def record(self, fn):
        if _CAPTURE[0] is not None:
            raise CaptureError("cudaErrorIllegalState: a stream is already capturing")
        capture = _CAPTURE[0] = _Capture()
        try:
            with self.stream():
                fn()
        finally:
            _CAPTURE[0] = None
            capture.finish()
        return FakeGraph(capture.work)

    def launch(self, graph):
        graph.launch()


def host(t) -> np.ndarray:
    """A tensor's or a device array's values as a host ndarray (for comparing in tests)."""
    return t.numpy() if isinstance(t, cr.Tensor) else cr.to_host(t)


def same(a, b) -> None:
    """Assert that two tensors or arrays, on any devices, are equal bit for bit (dtype, shape, values)."""
    a, b = host(a), host(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b)


def same_on_cpu_and_fake(fn, arrays, weights=None) -> None:
    """Run ``fn`` on float64 tensors of ``arrays`` on the CPU and on the fake GPU's second device
    (not the current one, so each op must run on its inputs' device), backpropagate
    ``(out · weights).sum()`` (``out.sum()`` without weights), and assert that the results stay on
    their device and that values and gradients are equal bit for bit."""
    results = []
    for dev in ("cpu", "fake:1"):
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
