"""Devices: where a tensor's data lives ("cpu", "cuda", "cuda:N"), and moving arrays between them.

A device is a *backend* (the array library that holds the data: NumPy for ``"cpu"``, CuPy for
``"cuda"``) and an index. Every move between devices goes through :func:`to_device`, and every
copy to the host through :func:`to_host`; nothing else in chainrule converts arrays between
libraries, so an op that meets two devices is an error naming both, never a silent copy.

Backends declare what they can do (``module``, ``device_of``, ``from_host``, ``to_host``,
``count``, ``use``); :func:`register_backend` adds one. The test suite registers a NumPy-backed
"fake" GPU this way, whose arrays refuse implicit conversion exactly where CuPy's do.
"""
from __future__ import annotations

import contextlib
import re

import numpy as np

from chainrule.engine import backend as _backend
from chainrule.engine.function import DEVICE_SCOPE, FORWARD_ERROR_CHECKS, Function

CUDA_HINT = 'pip install "chainrule[cuda]"'


class DeviceError(ValueError):
    """A device that does not exist here, or tensors on two devices meeting in one op."""


class Device:
    """A place for tensor data: ``Device("cpu")``, ``Device("cuda")``, ``Device("cuda:1")``.

    ``"cuda"`` means GPU 0. Two devices are equal when their type and index are; ``str(device)``
    is the text that makes it again. Using a device that is not available (CUDA without CuPy,
    or without a GPU) raises :class:`DeviceError` saying what is missing.

    >>> import chainrule as cr
    >>> cr.device("cuda:1"), cr.device("cpu") == cr.Device("cpu")
    (device('cuda:1'), True)
    """

    __slots__ = ("type", "index")

    def __init__(self, spec="cpu", index=None):
        if isinstance(spec, Device):
            spec, index = spec.type, spec.index if index is None else index
        if not isinstance(spec, str):
            raise TypeError(f"a device is a string like 'cpu', 'cuda' or 'cuda:1', or a Device; got {spec!r}")
        match = re.fullmatch(r"([a-z]+)(?::(\d+))?", spec.strip().lower())
        if match is None or match.group(1) not in _BACKENDS:
            raise DeviceError(f"unknown device {spec!r}; expected one of {_names()}")
        kind = match.group(1)
        if match.group(2) is not None:
            if index is not None and int(match.group(2)) != index:
                raise DeviceError(f"device {spec!r} was given a second index {index!r}")
            index = int(match.group(2))
        if index is None:
            index = 0
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0 or \
                (kind == "cpu" and index != 0):
            raise DeviceError(f"invalid device index {index!r} for {kind!r} (the CPU is 'cpu'; GPUs are 'cuda:0', 'cuda:1', …)")
        object.__setattr__(self, "type", kind)
        object.__setattr__(self, "index", int(index))

    def __eq__(self, other):
        return isinstance(other, Device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return "cpu" if self.type == "cpu" else f"{self.type}:{self.index}"

    def __repr__(self):
        return f"device({str(self)!r})"

    @property
    def backend(self):
        return _BACKENDS[self.type]

    def check(self) -> "Device":
        """Raise :class:`DeviceError` unless this device can hold arrays here; return it."""
        count = self.backend.count()
        if self.index >= count:
            have = f"no {self.type} device" if count == 0 else f"only {self.type}:0..{self.type}:{count - 1}"
            raise DeviceError(f"device {str(self)!r} is not available: {self.backend.describe()} sees {have}")
        return self

    def use(self):
        """A context in which this device is its backend's current one (CuPy makes arrays there)."""
        return self.check().backend.use(self.index)


def device(spec="cpu") -> Device:
    """The :class:`Device` for ``spec``: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"auto"`` or a Device.

    ``"auto"`` is CUDA when CuPy sees a GPU, else the CPU. An unknown name raises
    :class:`DeviceError` listing the valid ones.

    >>> import chainrule as cr
    >>> str(cr.device("CUDA:0")), str(cr.device(cr.device("cpu")))
    ('cuda:0', 'cpu')
    """
    if isinstance(spec, Device):
        return spec
    if isinstance(spec, str) and spec.strip().lower() == "auto":
        try:
            return Device("cuda").check()
        except DeviceError:
            return CPU
    return Device(spec)


def _names() -> str:
    others = [name for name in _BACKENDS if name not in ("cpu", "cuda")]
    return ", ".join(["'cpu'", "'cuda'", "'cuda:N'", "'auto'"] + [f"'{n}'" for n in others])


# ====================================================================== moving arrays
def device_of(array) -> Device:
    """The device holding ``array`` (the CPU for NumPy arrays, numbers and lists)."""
    if type(array) is np.ndarray:
        return CPU
    for b in _BACKENDS.values():
        if b.owns(array):
            return b.device_of(array)
    return CPU


def to_device(array, dev):
    """``array`` on device ``dev`` (the same object when it is already there).

    Between two devices that are not the CPU the data goes through the host.

    >>> import numpy as np, chainrule as cr
    >>> a = np.ones(3, np.float32)
    >>> cr.engine.to_device(a, "cpu") is a
    True
    """
    dev = device(dev)
    if device_of(array) == dev:
        return array
    host = to_host(array)
    return host if dev.type == "cpu" else dev.check().backend.from_host(host, dev.index)


def to_host(array, copy=False) -> np.ndarray:
    """``array`` as a NumPy array: the one place where device data is copied to the host.

    NumPy arrays are returned as they are (a copy with ``copy=True``); numbers and lists
    become arrays; a device array is copied.
    """
    if isinstance(array, np.ndarray):
        return array.copy() if copy else array
    for b in _BACKENDS.values():
        if b.owns(array):
            return b.to_host(array)
    return np.array(array, copy=True) if copy else np.asarray(array)


class ToDevice(Function):
    """The copy ``Tensor.to(device)`` makes; its gradient goes back to the source device."""

    name = "to"

    def forward(self, x, dev):
        self.source, self.dev = device_of(x), dev
        return to_device(x, dev)

    def backward(self, grad):
        return to_device(grad, self.source)

    def describe(self):
        return str(self.dev)


def check_same_device(arrays, what, labels=None):
    """The one device holding ``arrays`` (None if there are none); two devices raise
    :class:`DeviceError` naming both, with the arrays' labels (by default "input i")."""
    first = None
    for i, a in enumerate(arrays):
        d = device_of(a)
        label = f"input {i}" if labels is None else labels[i]
        if first is None:
            first = (label, d)
        elif d != first[1]:
            raise DeviceError(
                f"{what}: tensors on two devices, {first[1]} ({first[0]}) and {d} ({label}); move them to "
                f"one device with .to(device) (chainrule never copies between devices silently)"
            )
    return None if first is None else first[1]


FORWARD_ERROR_CHECKS.append(check_same_device)


_NOTHING = contextlib.nullcontext()


def scope(array):
    """A context in which ``array``'s device is its backend's current one (for NumPy, nothing).

    CuPy makes new arrays, and runs kernels, on its current GPU; work on a tensor's arrays outside
    an op (an op enters it by itself) enters this first, as PyTorch's device guard does.
    """
    if type(array) is np.ndarray:
        return _NOTHING
    dev = device_of(array)
    return dev.backend.use(dev.index)


DEVICE_SCOPE[0] = scope


# ====================================================================== backends
class CPUBackend:
    """NumPy: the host. A backend declares these names; :func:`register_backend` adds one."""

    name = "cpu"
    owns = staticmethod(lambda array: isinstance(array, (np.ndarray, np.generic)))
    module = staticmethod(lambda: np)
    count = staticmethod(lambda: 1)
    describe = staticmethod(lambda: "NumPy")
    device_of = staticmethod(lambda array: CPU)
    from_host = staticmethod(lambda host, index: host)
    to_host = staticmethod(np.asarray)
    use = staticmethod(lambda index: contextlib.nullcontext())


class CUDABackend:
    """CuPy, imported only when a CUDA device is asked for."""

    name = "cuda"

    def owns(self, array):
        return type(array).__module__.startswith("cupy")

    def module(self):
        try:
            import cupy
        except ImportError:
            raise DeviceError(f"CUDA devices need CuPy, which is not installed: {CUDA_HINT}") from None
        try:  # cupy.cublas.axpy: the optimizers' fused p ← p − a·x (backend.axpy)
            import cupy.cublas  # noqa: F401
        except ImportError:  # an older CuPy: axpy falls back to p += a * x
            pass
        return cupy

    def count(self):
        cupy = self.module()
        try:
            return int(cupy.cuda.runtime.getDeviceCount())
        except Exception:  # CuPy raises its own CUDARuntimeError when there is no driver or GPU
            return 0

    def describe(self):
        return "CuPy"

    def device_of(self, array):
        return Device("cuda", array.device.id)

    def from_host(self, host, index):
        cupy = self.module()
        with cupy.cuda.Device(index):
            return cupy.asarray(host)

    def to_host(self, array):
        return array.get()

    def use(self, index):
        return self.module().cuda.Device(index)

    def graphs(self, index):
        """A recorder of CUDA graphs on GPU ``index`` (:class:`CuPyGraphs`)."""
        return CuPyGraphs(self.module(), index)


class CuPyGraphs:
    """Records work as a CUDA graph and launches it: CuPy's stream capture on a stream of its own.

    A backend that can record its work declares ``graphs(index)`` returning such a recorder;
    ``chainrule.train.capture`` records a training step with it. Three methods:

    - ``stream()``: a block whose work runs on the recorder's stream, after everything already
      queued on the current stream, and before anything queued on it afterwards (two events, no
      host synchronization);
    - ``record(fn)``: call ``fn`` with its device work recorded, not run, and return the graph.
      Its allocations come from a memory pool of the recorder's own, so memory the graph writes
      is never handed to another array while the graph lives (the pool lives with the recorder).
      Capture is CuPy's default, relaxed mode; a synchronizing call inside ``fn`` (``.item()``,
      a host copy) makes CUDA refuse the capture, and the error propagates;
    - ``launch(graph)``: run the recorded work once, inside ``stream()``.
    """

    def __init__(self, cupy, index):
        self.cupy, self.index = cupy, index
        with cupy.cuda.Device(index):
            self.capture_stream = cupy.cuda.Stream(non_blocking=True)
            self.pool = cupy.cuda.MemoryPool()
            self.ready = cupy.cuda.Event(disable_timing=True)
            self.done = cupy.cuda.Event(disable_timing=True)

    @contextlib.contextmanager
    def stream(self):
        cuda = self.cupy.cuda
        with cuda.Device(self.index):
            outer = cuda.get_current_stream()
            self.ready.record(outer)
            self.capture_stream.wait_event(self.ready)
            try:
                with self.capture_stream:
                    yield
            finally:
                self.done.record(self.capture_stream)
                outer.wait_event(self.done)

    def record(self, fn):
        with self.stream(), self.cupy.cuda.using_allocator(self.pool.malloc):
            self.capture_stream.begin_capture()
            try:
                fn()
            except BaseException:
                try:
                    self.capture_stream.end_capture()
                except Exception:  # the capture was already invalidated: the first error is the one to see
                    pass
                raise
            return self.capture_stream.end_capture()

    def launch(self, graph):
        graph.launch(self.capture_stream)


def graphs(dev):
    """A recorder of device graphs for device ``dev`` (see :class:`CuPyGraphs`), or None where its
    backend cannot record (the CPU: NumPy runs each call at once)."""
    dev = device(dev)
    make = getattr(dev.backend, "graphs", None)
    return None if make is None else make(dev.index)


_BACKENDS = {"cpu": CPUBackend(), "cuda": CUDABackend()}
CPU = Device("cpu")


def register_backend(backend, array_type=None, module=None) -> None:
    """Add an array backend under ``backend.name`` (a device type such as ``"cuda"``).

    ``array_type`` and ``module``, when given, tell :func:`chainrule.engine.backend.array_module`
    which array module serves arrays of that type. The test suite registers its NumPy-backed
    fake GPU this way; registering a name again replaces the backend.
    """
    if not re.fullmatch(r"[a-z]+", str(getattr(backend, "name", ""))):
        raise ValueError(f"a backend needs a lowercase name; got {getattr(backend, 'name', None)!r}")
    _BACKENDS[backend.name] = backend
    if array_type is not None:
        _backend.register_array_module(array_type, module)
        _TYPES[backend.name] = array_type


def unregister_backend(name) -> None:
    """Remove a backend added by :func:`register_backend` (``"cpu"`` and ``"cuda"`` stay)."""
    if name in ("cpu", "cuda"):
        raise ValueError(f"the {name!r} backend is built in and cannot be removed")
    _BACKENDS.pop(name, None)
    if name in _TYPES:
        _backend.register_array_module(_TYPES.pop(name), None)


_TYPES = {}
