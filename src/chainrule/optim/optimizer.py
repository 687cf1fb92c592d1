"""Optimizer: parameter groups, per-parameter state, ``step``, ``zero_grad`` and ``state_dict``.

Conventions are PyTorch's (``torch/optim/optimizer.py``): ``params`` is an iterable of tensors or
of dicts (parameter groups with their own options), hyperparameters live in ``defaults`` and in
each group, per-parameter buffers in ``state[p]``, and ``step(closure=None)`` updates the
parameters in place.

How a step is made fast
-----------------------
Calling a NumPy ufunc costs about half a microsecond whatever the array's size, and a small
network's parameters are small, so an optimizer that loops over parameters spends its time in
call overhead (Adam makes about a dozen calls per parameter). Each parameter group therefore gets
a *plan*, built at its first step: one flat array per state buffer, one flat gradient array and
one flat scratch array, with a view of each for every parameter. A step copies the gradients
into the flat array (and the parameters, when there is weight decay), runs the update rule once
on the flat arrays, and subtracts each parameter's view of the result from ``p.data`` in place
(or the whole flat result at once, when a module laid its parameters out in one array in the
group's order: ``Module.flatten_parameters``). A gradient already written into its flat view
(:meth:`Optimizer.grad_views`) is not copied. A rule whose step is a multiple ``a·x`` of an array it already has (SGD's ``η·g``) returns
``(x, a)`` instead of writing ``u``. A parameter of at least ``FUSED_MIN_SIZE`` (8,192) elements
is then updated by one fused multiply-add, ``p ← p − a·x`` rounded once by BLAS's vector loops
(:func:`axpy`, PyTorch's ``p.add_(x, alpha=−a)``): one pass over the
parameter where ``u ← a·x; p ← p − u`` makes two (benchmarks/PERFORMANCE_LOG.md entry 16).
Smaller parameters keep the two passes, whose second call costs less than BLAS's. The choice
depends on the parameter's size alone, so every path and device rounds a parameter alike.
Scalars are cached 0-d arrays of the parameters' dtype (see :func:`_constants`). The
per-parameter buffers in ``state[p]`` are those views, so they read and write the flat storage;
change them in place (``state[p]["exp_avg"][...] = x``), or through :meth:`load_state_dict`.
Likewise ``p.data`` may be replaced, but only by an array of the same shape and dtype (change
its values in place otherwise, as ``Module.load_state_dict`` does).

When some parameter has no gradient, when the group mixes dtypes, or when the data is not a
NumPy array, the same update rule runs on each parameter's views instead (parameters without a
gradient are skipped and keep their state). Both ways compute the same IEEE operations in the
same order, so they give bit-identical results.

A group with ``"maximize": True`` ascends: the rule sees −∇ in place of ∇ (before weight decay),
as PyTorch's ``maximize=True``.

A step can be recorded as a device graph (``chainrule.train.capture``, a CUDA graph on CuPy): the
graph freezes every Python number the step passes to the device, so :meth:`graph_constants`
traces the rule on stand-in arrays to learn which of its scalars are ``c(x)`` operands (read
from device arrays at replay, :meth:`recording_step`, so Adam's bias corrections may change
every step) and what else the recording froze (hyperparameters, branches on ``t``, the arrays
holding parameters and state), which must not change while the recording is replayed.

Subclasses implement three small hooks: ``_validate(group)`` checks hyperparameters,
``_buffer_names(group)`` names the per-parameter buffers, and ``_update(group, g, bufs, u, t, c)``
writes the step ``u`` (so that ``p ← p − u``) from the gradient ``g`` (read only), the buffers
and the step number ``t``, or returns ``(x, a)`` for the step ``a·x``.
"""
from __future__ import annotations

import contextlib
import operator
from collections import defaultdict

import numpy as np

from chainrule.engine import Tensor, backend, device_of, enable_grad, to_device, to_host
from chainrule.engine.devices import scope

__all__ = ["Optimizer", "axpy"]


_DATA, _GRAD = operator.attrgetter("data"), operator.attrgetter("grad")
_AXPY_BLOCK = 8192  # elements a BLAS axpy call takes at most (a multiple of every kernel's vector block)
_BLAS_AXPY = {}  # dtype -> SciPy's BLAS axpy for it (False: none), filled on first use


def axpy(a, x, y):
    """``y ← y + a·x`` in place, in one pass (BLAS axpy, a fused multiply-add); returns ``y``.

    One pass over ``y`` instead of the two of ``y -= a * x`` (which rounds ``a·x`` first): the
    optimizers' ``p ← p − η·g`` (PyTorch's ``p.add_(g, alpha=-η)`` is also fused). BLAS's vector
    loops round each element once, as PyTorch does; the few elements a kernel leaves to its
    scalar loop (the last ones of a block on OpenBLAS's Haswell kernels, the ones AMD's EPYC
    machines get) may be rounded twice, as ``y -= a * x`` would. ``x`` and
    ``y`` have one shape; ``y`` is contiguous (C or Fortran order, ``x`` in any layout). NumPy
    arrays of float32 and float64 use SciPy's BLAS; another array module's ``cublas.axpy`` (CuPy,
    the tests' fake GPU) is used where it has one; anything else (float16, a strided ``y``) falls
    back to ``y += a * x``.

    >>> import numpy as np
    >>> from chainrule.optim.optimizer import axpy
    >>> y = np.ones(3, np.float32)
    >>> axpy(-0.5, np.array([2.0, 4.0, 6.0], np.float32), y).tolist()
    [0.0, -1.0, -2.0]
    """
    if y.flags.c_contiguous:
        order = "C"
    elif y.flags.f_contiguous:
        order = "F"
    else:
        order = None
    if order is not None and x.shape == y.shape and y.size:
        xp = backend.array_module(y)
        if xp is np:
            fn = _BLAS_AXPY.get(y.dtype)
            if fn is None:
                try:
                    from scipy.linalg import blas
                except ImportError:  # SciPy comes with scikit-learn; without it, the two-pass form
                    blas = None
                fn = _BLAS_AXPY[y.dtype] = blas and {np.dtype(np.float32): blas.saxpy,
                                                     np.dtype(np.float64): blas.daxpy}.get(y.dtype, False)
            if fn and type(x) is np.ndarray and x.dtype == y.dtype:
                flat, xflat = y.reshape(-1, order=order), x.reshape(-1, order=order)
                # In blocks OpenBLAS runs on the calling thread (it hands a level-1 call of over
                # 10,000 elements to its threads): SciPy's OpenBLAS is a second one beside
                # NumPy's, and on two cores their threads stall each other for milliseconds.
                n = flat.size
                if fn(xflat, flat, n=min(_AXPY_BLOCK, n), a=a) is flat:  # BLAS wrote y itself
                    for start in range(_AXPY_BLOCK, n, _AXPY_BLOCK):
                        fn(xflat, flat, n=min(_AXPY_BLOCK, n - start), a=a, offx=start, offy=start)
                    return y
        else:
            blas = getattr(xp, "cublas", None)
            if blas is not None and x.dtype == y.dtype and y.dtype.char in "fd":
                blas.axpy(a, x.reshape(-1, order=order), y.reshape(-1, order=order))
                return y
    y += x * a
    return y


def _describe(p, index, group_index) -> str:
    where = f"parameter {index}" + (f" of group {group_index}" if group_index else "")
    if not isinstance(p, Tensor):
        text = repr(p)
        text = text if len(text) <= 40 else text[:37] + "..."
        return f"{where} is a {type(p).__name__}: {text}"
    name = f", name {p.name!r}" if getattr(p, "name", None) else ""
    return f"{where} (a tensor of shape {tuple(p.shape)}, dtype {p.dtype}{name})"


def _plain(value):
    """A state_dict value as numbers and lists: tuples become lists, NumPy scalars numbers."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _tag(x):
    return x.tag if isinstance(x, _Traced) else ("number", x) if isinstance(x, (int, float, np.number)) else repr(x)


class _Traced:
    """An array's stand-in while :meth:`Optimizer.graph_constants` traces an update rule: every
    operation on it is written to ``tape`` (with its operands' tags and Python numbers) and
    nothing is computed."""

    __slots__ = ("tape", "tag")
    __array_priority__ = 1000

    def __init__(self, tape, tag):
        self.tape, self.tag = tape, tag

    def _note(self, name, operands, out=None):
        self.tape.append((name, tuple(_tag(x) for x in operands), out and tuple(_tag(x) for x in out)))
        return out[0] if out else _Traced(self.tape, f"t{len(self.tape)}")

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        return self._note(f"{ufunc.__name__}.{method}{sorted(kwargs.items()) or ''}", inputs, out)

    def __array_function__(self, func, types, args, kwargs):
        return self._note(f"{func.__name__}{sorted(kwargs) or ''}", args)

    def __getitem__(self, key):
        return self._note("getitem", (self, key))

    def __setitem__(self, key, value):
        self._note("setitem", (self, key, value))

    def __bool__(self):
        raise TypeError("the update rule branches on its arrays' values, which a recorded step cannot follow")

    __float__ = __int__ = __index__ = __bool__


def _traced_operator(name, in_place):
    def op(self, *others):
        result = self._note(name, (self,) + others)
        return self if in_place else result
    return op


for _name in ("add", "sub", "mul", "truediv", "pow", "matmul", "neg", "abs", "lt", "le", "gt", "ge", "eq", "ne"):
    setattr(_Traced, f"__{_name}__", _traced_operator(_name, False))
for _name in ("add", "sub", "mul", "truediv", "pow", "matmul"):
    setattr(_Traced, f"__r{_name}__", _traced_operator("r" + _name, False))
    setattr(_Traced, f"__i{_name}__", _traced_operator("i" + _name, True))


FLAT_MAX_SIZE = 1 << 16  # parameters in a group, above which updates go one parameter at a time
FUSED_MIN_SIZE = 1 << 13  # elements of a parameter from which a step a·x is one fused pass


class _Plan:
    """One parameter group's scratch and state storage (see the module's docstring)."""

    __slots__ = ("group", "plist", "n", "params", "names", "g", "u", "p", "bufs", "gviews",
                 "uviews", "pviews", "bviews", "t", "c", "atype", "fused", "fused_any", "datas",
                 "data", "gradmap")


def _constants(dtype):
    """A function turning a Python number into a cached 0-d array of ``dtype``.

    An in-place ufunc with a 0-d array operand costs about 0.35 µs; with a Python float it costs
    about 0.9 µs (NumPy resolves the scalar's type on every call). The value is the same: a
    Python float meeting a float32 array is rounded to float32 either way.
    """
    cache = {}

    def c(value):
        array = cache.get(value)
        if array is None:
            if len(cache) > 64:  # bias corrections change every step: keep the cache small
                cache.clear()
            array = cache[value] = np.array(value, dtype)
        return array

    return c


class Optimizer:
    """Base class of the optimizers: parameter groups, per-parameter state and persistence.

    Parameters
    ----------
    params : iterable of Tensor, or iterable of dict
        The tensors to optimize (each must require a gradient), or parameter groups: dicts with
        a ``"params"`` entry and any hyperparameters that differ from ``defaults``.
    defaults : dict
        Hyperparameters used where a group does not set its own.

    Attributes
    ----------
    param_groups : list of dict
        Each group's ``"params"`` (a list) and hyperparameters; schedules change ``"lr"`` here.
    defaults : dict
        The constructor's hyperparameters.
    state : dict
        Per-parameter buffers, keyed by the parameter tensor (``state[p]["step"]``, ...).
    requires_closure : bool
        Whether ``step`` needs a closure (True for the derivative-free optimizers).
    uses_grad : bool
        Whether ``step`` reads ``p.grad``.
    has_learning_rate : bool
        Whether its step is a learning rate times a gradient (False for the random searches).
    step_size_name : str
        The hyperparameter in ``param_groups`` that sets the size of a step: ``"lr"``, or for the
        searches ``"scale"`` / ``"step_size"``. ``make_optimizer``'s ``lr`` and the schedules set it.
    needs_rng : bool
        Whether it draws random numbers (its ``rng`` should come from the run's seed).

    Examples
    --------
    Two parameter groups with their own learning rates:

    >>> import chainrule as cr
    >>> from chainrule.optim import SGD
    >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> b = cr.tensor(0.5, requires_grad=True)
    >>> opt = SGD([{"params": [w]}, {"params": [b], "lr": 0.01}], lr=0.1)
    >>> [group["lr"] for group in opt.param_groups]
    [0.1, 0.01]
    """

    requires_closure = False
    uses_grad = True
    has_learning_rate = True
    step_size_name = "lr"
    needs_rng = False
    # How group["weight_decay"] acts: "l2" adds λ·p to the gradient, "decoupled" (AdamW) scales
    # p by 1 − η·λ before the step.
    _decay = "l2"

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self._validate(self.defaults)
        self.state = defaultdict(dict)
        self.param_groups = []
        self._plans = {}
        for group in self._as_groups(params):
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups
    @staticmethod
    def _as_groups(params):
        if isinstance(params, Tensor):
            raise TypeError(
                "params must be an iterable of tensors or of dicts (parameter groups), not a "
                "single Tensor; pass [tensor]"
            )
        if isinstance(params, dict):
            return [params]
        try:
            items = list(params)
        except TypeError:
            raise TypeError(
                f"params must be an iterable of tensors or of dicts (parameter groups); "
                f"got {type(params).__name__}"
            ) from None
        if not items:
            raise ValueError("optimizer got an empty parameter list")
        dicts = [isinstance(item, dict) for item in items]
        if all(dicts):
            return items
        if any(dicts):
            raise TypeError("params mixes tensors and parameter-group dicts; use only dicts")
        return [{"params": items}]

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyperparameters (the defaults fill the rest).

        Raises TypeError for something that is not a floating tensor, or a tensor that does not
        require a gradient (for the optimizers that use gradients), and ValueError for an empty
        group, a non-leaf tensor or a parameter that is already being optimized.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group must be a dict; got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("a parameter group needs a 'params' entry")
        gi = len(self.param_groups)
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(
                "parameters must be given in an ordered collection (a set's order changes "
                "between runs, which would scramble state_dict); use a list"
            )
        else:
            params = list(params)
        if not params:
            raise ValueError(
                "optimizer got an empty parameter list" + (f" in group {gi}" if gi else "")
            )
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize tensors, but {_describe(p, i, gi)}")
            if p.data.dtype.kind != "f":
                raise TypeError(f"optimizer can only optimize floating tensors; {_describe(p, i, gi)}")
            if self.uses_grad and not p.requires_grad:
                raise TypeError(
                    f"{_describe(p, i, gi)} does not require a gradient, so "
                    f"{type(self).__name__} cannot optimize it (make it with requires_grad=True)"
                )
            if not p.is_leaf:
                raise ValueError(
                    f"can't optimize a non-leaf tensor: {_describe(p, i, gi)} was made by op "
                    f"{p._op!r}"
                )
            if id(p) in seen:
                raise ValueError(
                    f"{_describe(p, i, gi)} appears more than once among the optimized parameters"
                )
            seen.add(id(p))
        group = {"params": params}
        group.update(self.defaults)
        group.update((k, v) for k, v in param_group.items() if k != "params")
        self._validate(group)
        self.param_groups.append(group)

    # ------------------------------------------------------------------ hooks
    def _validate(self, group: dict) -> None:
        """Check a group's (or the defaults') hyperparameters; raise with the value."""

    def _buffer_names(self, group: dict) -> tuple:
        """Names of the per-parameter buffers this group's rule keeps (``()``: no state)."""
        return ()

    def _update(self, group, g, bufs, u, t, c):
        """Write the step into ``u`` so that ``p ← p − u``; return ``u``, or ``(x, a)``.

        A rule whose step is ``a·x`` for an array ``x`` it already has (the gradient, a buffer)
        may return ``(x, a)`` without writing ``u``: the parameter is then updated by one fused
        multiply-add, ``p ← p − a·x``, rounded once (see the module's docstring).

        ``g`` is the gradient (read only), ``bufs`` the buffers named by :meth:`_buffer_names`,
        ``t`` the step number (1 at the first step; 0 for rules without state), and ``c(x)``
        turns a Python number into a fast scalar operand of the right dtype.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement a gradient step")

    # ------------------------------------------------------------------ steps
    def _on_device(self):
        """A context in which the parameters' device is the current one (CuPy makes new arrays on
        its current GPU: :func:`chainrule.engine.devices.scope`); every step runs in it."""
        return scope(self.param_groups[0]["params"][0].data)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``p.grad = None`` (or a new zero array, never in place)."""
        with self._on_device():
            for group in self.param_groups:
                for p in group["params"]:
                    if set_to_none:
                        p.grad = None
                    elif p.grad is not None:  # a new array: gradients may alias each other
                        p.grad = backend.array_module(p.grad).zeros_like(p.grad)

    def grad_views(self) -> dict:
        """Where the next :meth:`step` reads gradients: ``{id(p): array}`` for the parameters of
        the groups kept in flat storage whose rule leaves the gradient as it is (no ``maximize``,
        no L2 weight decay, which change it in place).

        A backward pass that writes a parameter's gradient into its array and sets ``p.grad`` to
        that very array spares the step one copy per parameter (the captured step does, for ops
        that declare ``Function.grads_into``). Empty until the first step has built the storage;
        the arrays change when it is built again (new parameters, a loaded state).
        """
        maps = []
        for group in self.param_groups:
            plan = self._plans.get(id(group))
            if (plan is None or plan.gradmap is None or plan.t is None or group.get("maximize")
                    or group.get("weight_decay") and self._decay == "l2"):
                continue
            maps.append(plan.gradmap)
        if len(maps) == 1:
            return maps[0]  # the same dict at every step while the storage stays (do not change it)
        return {k: v for m in maps for k, v in m.items()}

    def step(self, closure=None):
        """Update every parameter that has a gradient; return the closure's loss (or None).

        ``closure``, when given, is called first with gradients enabled; it should clear the
        gradients, compute the loss, call ``backward()`` and return the loss.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with self._on_device():
            for group in self.param_groups:
                self._step_group(group, self._plan_for(group))
        return loss

    def _plan_for(self, group) -> _Plan:
        plan = self._plans.get(id(group))
        if (plan is None or plan.group is not group or plan.plist is not group["params"]
                or plan.n != len(plan.plist) or plan.names != self._buffer_names(group)
                or type(plan.params[0].data) is not plan.atype  # moved to another device
                or plan.data is not None and not all(map(operator.is_, map(_DATA, plan.params), plan.datas))):
            plan = self._build_plan(group)
        return plan

    def _build_plan(self, group) -> _Plan:
        plan = _Plan()
        plan.group = group
        plan.plist = group["params"]
        plan.n = len(plan.plist)
        plan.params = params = tuple(plan.plist)
        plan.names = names = self._buffer_names(group)
        datas = [p.data for p in params]
        plan.datas = tuple(datas)
        plan.atype = type(datas[0])
        plan.fused = [d.size >= FUSED_MIN_SIZE for d in datas]
        plan.fused_any = any(plan.fused)
        dtype = datas[0].dtype
        total = sum(d.size for d in datas)
        # Flat storage pays where call overhead dominates (small networks); for large groups the
        # gather copy costs more memory traffic than the calls it saves, so update per parameter.
        if total <= FLAT_MAX_SIZE and all(type(d) is np.ndarray and d.dtype == dtype for d in datas):

            views = lambda flat: backend.packed_views(flat, datas)  # noqa: E731  (each in its parameter's order)
            plan.g, plan.u, plan.p = (np.empty(total, dtype) for _ in range(3))
            plan.bufs = [np.zeros(total, dtype) for _ in names]
            plan.gviews, plan.uviews, plan.pviews = views(plan.g), views(plan.u), views(plan.p)
            plan.bviews = [views(flat) for flat in plan.bufs]
            plan.c = _constants(dtype)
            # Parameters a module laid out in one array in this order (Module.flatten_parameters)
            # are updated through that array, in one pass.
            plan.data = backend.packed_base(datas)
            plan.gradmap = dict(zip(map(id, params), plan.gviews))
        else:
            plan.gradmap = None
            plan.data = None
            plan.g = plan.u = plan.p = plan.bufs = None
            plan.gviews, plan.uviews, plan.pviews = ([d * 0 for d in datas] for _ in range(3))
            plan.bviews = [[d * 0 for d in datas] for _ in names]
            same = all(type(d) is np.ndarray and d.dtype == dtype for d in datas)
            plan.c = _constants(dtype) if same else float
        steps = set()
        if names:
            for i, p in enumerate(params):
                st = self.state[p]
                for name, views_ in zip(names, plan.bviews):
                    view, old = views_[i], st.get(name)
                    if old is not None:
                        if old.shape != view.shape:
                            raise ValueError(
                                f"state buffer {name!r} of {_describe(p, i, 0)} has shape "
                                f"{old.shape}; the parameter has shape {view.shape}"
                            )
                        view[...] = to_device(old, device_of(view))  # state follows its parameter
                    st[name] = view
                steps.add(st.setdefault("step", 0))
        else:
            steps.add(0)
        plan.t = steps.pop() if plan.g is not None and len(steps) == 1 else None
        self._plans[id(group)] = plan
        return plan

    def _step_group(self, group, plan) -> None:
        # Weight decay λ: "l2" makes g ← ∇ + λ·p before the rule; "decoupled" makes the step
        # u ← u + η·λ·p after it (p ← p − u is then AdamW's p ← (1 − ηλ)·p − step).
        wd = group.get("weight_decay")
        l2 = decoupled = 0.0
        if wd:
            if self._decay == "l2":
                l2 = float(wd)
            else:
                decoupled = float(group["lr"]) * wd
        params = plan.params
        if plan.t is not None:  # flat storage and every parameter at the same step
            grads = list(map(_GRAD, params))
            ready = all(map(operator.is_, grads, plan.gviews))  # each written into its view (grad_views)
            if not ready:
                for g, gv in zip(grads, plan.gviews):
                    if g is None:
                        break
                    if g is not gv:
                        gv[...] = g
                else:
                    ready = True
            if ready:
                c = plan.c
                if group.get("maximize"):  # ascend: the rule sees −∇ (PyTorch's maximize=True)
                    np.negative(plan.g, out=plan.g)
                if wd:
                    if plan.data is not None:
                        plan.p[...] = plan.data
                    else:
                        for p, pv in zip(params, plan.pviews):
                            pv[...] = p.data
                    if l2:
                        pflat = plan.p
                        pflat *= c(l2)
                        plan.g += pflat
                t = plan.t + 1
                u = plan.u
                step = self._rule(group, plan.g, plan.bufs, u, t, c)
                if type(step) is tuple:  # the step a·x: x is the gradient, a buffer or u
                    x, a = step
                    xviews = (plan.gviews if x is plan.g else plan.uviews if x is plan.u else
                              next((v for b, v in zip(plan.bufs, plan.bviews) if x is b), None))
                    any_fused = plan.fused_any
                    if xviews is not None and not decoupled and any_fused:
                        na = -float(a)
                        for p, xv, fused in zip(params, xviews, plan.fused):
                            if fused:
                                axpy(na, xv, p.data)  # p ← p − a·x in one rounding
                    if xviews is None or decoupled or not all(plan.fused):
                        np.multiply(x, c(a), out=u)  # the others: u ← a·x (after x was read: x may be u)
                    if xviews is not None and not decoupled:
                        if plan.data is not None and not any_fused:
                            np.subtract(plan.data, u, out=plan.data)
                        else:
                            for p, uv, fused in zip(params, plan.uviews, plan.fused):
                                if not fused:
                                    d = p.data
                                    d -= uv
                        step = None
                if decoupled:
                    pflat = plan.p
                    pflat *= c(decoupled)
                    u += pflat
                if step is not None:
                    if plan.data is not None:
                        np.subtract(plan.data, u, out=plan.data)
                    else:
                        for p, uv in zip(params, plan.uviews):
                            d = p.data
                            d -= uv
                if plan.names:
                    plan.t = t
                    state = self.state
                    for p in params:
                        state[p]["step"] = t
                return
        self._step_each(group, plan, l2, decoupled)

    def _step_each(self, group, plan, l2, decoupled) -> None:
        """The same rule, one parameter at a time (skipping those without a gradient)."""
        state, names, c = self.state, plan.names, plan.c
        for i, p in enumerate(plan.params):
            g = p.grad
            if g is None:
                continue
            if group.get("maximize"):
                g = np.negative(g, out=plan.gviews[i])
            if l2 or decoupled:
                pv = plan.pviews[i]
                pv[...] = p.data
            if l2:
                gv = plan.gviews[i]
                if gv is not g:
                    gv[...] = g
                pv *= c(l2)
                gv += pv
                g = gv
            t = 0
            if names:
                st = state[p]
                t = st["step"] + 1
                st["step"] = t
            u = self._rule(group, g, [views[i] for views in plan.bviews], plan.uviews[i], t, c)
            if type(u) is tuple:
                if not decoupled and p.data.size >= FUSED_MIN_SIZE:
                    axpy(-float(u[1]), u[0], p.data)  # p ← p − a·x in one rounding
                    continue
                u = np.multiply(u[0], c(u[1]), out=plan.uviews[i])
            if decoupled:
                pv *= c(decoupled)
                u += pv
            d = p.data
            d -= u
        if plan.g is not None:
            steps = {state[p]["step"] for p in plan.params} if names else {0}
            plan.t = steps.pop() if len(steps) == 1 else None

    def _rule(self, group, g, bufs, u, t, c):
        # The one call of the update rule; while a step is recorded as a device graph its c(x)
        # operands are the group's device slots, in call order (see recording_step).
        slots = self._graph_slots
        if slots is not None:
            operands = iter(slots[id(group)])
            c = lambda value: next(operands)  # noqa: E731
        return self._update(group, g, bufs, u, t, c)

    # ------------------------------------------------------------------ device graphs
    _graph_slots = None  # {id(group): device scalars} while recording_step is active

    def graph_constants(self):
        """What a step recorded as a device graph froze, and the rules' scalars for the next step.

        Returns ``(key, values, arrays)``:

        - ``values[i]``: the numbers group ``i``'s rule turns into operands with ``c(x)`` in one
          :meth:`_update` call, for the step :meth:`step` would take next. A recorded step reads
          them from device arrays (:meth:`recording_step`), so they may change between steps
          (Adam's bias corrections 1 − βᵗ);
        - ``key``: everything else the recording froze: each group's hyperparameters, the
          rule's operations as traced (SGD's first step, ``buf ← g``, traces differently from
          the later ones), the Python numbers it passes to the arrays directly, and the ``a``
          of a step ``(x, a)`` it returns;
        - ``arrays``: the parameters' data and the state buffers, which a recording reads and
          writes by address.

        While ``key`` is equal and ``arrays`` are the same objects, a recorded step replayed with
        ``values`` in its slots is this optimizer's step. Raises TypeError for a rule that
        branches on its arrays' values (it cannot be traced), a group whose parameters are at
        different steps, or an optimizer whose class replaces :meth:`step` (what it does in
        Python is not traced: such a class defines its own ``graph_constants`` to be recorded).
        """
        if type(self).step is not Optimizer.step:
            raise TypeError(f"{type(self).__name__} replaces Optimizer.step, whose Python a recorded step would "
                            f"freeze (it defines no graph_constants of its own)")
        key, values, arrays = [], [], []
        for gi, group in enumerate(self.param_groups):
            params, names = group["params"], self._buffer_names(group)
            steps = {self.state[p].get("step", 0) for p in params} if names else {0}
            if len(steps) != 1:
                raise TypeError(f"the parameters of group {gi} are at different steps {sorted(steps)}")
            t = steps.pop() + 1 if names else 0
            tape, scalars = [], []
            stand_in = [_Traced(tape, tag) for tag in ("g", "u", *names)]
            c = lambda value: (scalars.append(float(value)), _Traced(tape, f"c{len(scalars) - 1}"))[1]  # noqa: E731
            result = self._update(group, stand_in[0], stand_in[2:], stand_in[1], t, c)
            result = (_tag(result[0]), float(result[1])) if type(result) is tuple else _tag(result)
            hyper = tuple((k, v) for k, v in sorted(group.items()) if k != "params")
            key.append((hyper, len(params), tuple(tape), result))
            values.append(scalars)
            arrays.extend(p.data for p in params)
            arrays.extend(v for p in params for v in self.state[p].values() if hasattr(v, "shape"))
        return tuple(key), values, arrays

    @contextlib.contextmanager
    def recording_step(self, slots):
        """A block in which :meth:`step` is recorded as a device graph, not run.

        ``slots`` maps ``id(group)`` to the device scalars the group's rule reads in place of
        its ``c(x)`` operands, in the order of :meth:`graph_constants`' ``values``. The block
        yields a function that advances the step counters as the recorded step does; call it
        once each time the recording is replayed. On leaving, the counters are as they were
        (the recorded step has not run). Each group's storage is made on entering, so the
        recorded step makes none (it would be made again at every replay).
        """
        for group in self.param_groups:
            self._plan_for(group)
        before = [(st, st.get("step")) for st in self.state.values()]
        advanced = []
        self._graph_slots = slots
        try:
            yield lambda: [st.__setitem__("step", st["step"] + 1) for st in advanced]
        finally:
            self._graph_slots = None
            for st, step in before:
                if st.get("step") != step:
                    advanced.append(st)
                    st["step"] = step

    # ------------------------------------------------------------------ persistence
    def state_dict(self) -> dict:
        """The optimizer's state as numbers, lists and NumPy arrays (no other objects).

        ``{"state": {index: {"step": int, "exp_avg": ndarray, ...}}, "param_groups": [{"lr": ...,
        "params": [index, ...]}, ...]}``, where a parameter's index is its position counted
        through all groups in order. Arrays are copies. Save arrays and numbers separately
        (``.npz`` and JSON); JSON turns the integer keys into strings, which
        :meth:`load_state_dict` accepts.
        """
        index, groups = {}, []
        for group in self.param_groups:
            packed = {k: _plain(v) for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state.get(p)
                if st:
                    state[index[id(p)]] = {
                        k: _plain(v) if not hasattr(v, "shape") or isinstance(v, np.generic)
                        else to_host(v, copy=True)
                        for k, v in st.items()
                    }
        out = {"state": state, "param_groups": groups}
        out.update(self._extra_state())
        return out

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a :meth:`state_dict`; parameters are matched by their position.

        Everything is checked before anything changes: the number of groups and of parameters
        per group, each group's hyperparameters, and each buffer's shape. Arrays are copied and
        cast to their parameter's dtype; lists where a group holds a tuple (``betas``) become
        tuples again.
        """
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
            raise ValueError("an optimizer state_dict is a dict with 'state' and 'param_groups'")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"the state_dict has {len(saved_groups)} parameter groups; this optimizer has "
                f"{len(self.param_groups)}"
            )
        params, groups = [], []
        for gi, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"group {gi} of the state_dict has {len(saved['params'])} parameters; this "
                    f"optimizer's has {len(group['params'])}"
                )
            new = {"params": group["params"]}
            for key, value in saved.items():
                if key == "params":
                    continue
                if isinstance(group.get(key), tuple) and isinstance(value, list):
                    value = tuple(value)
                new[key] = value
            self._validate(new)
            groups.append(new)
            names = self._buffer_names(new)
            params.extend((p, names) for p in group["params"])
        state = defaultdict(dict)
        for key, saved in state_dict["state"].items():
            i = int(key)
            if not 0 <= i < len(params):
                raise ValueError(f"the state_dict has state for parameter {i}; there are {len(params)}")
            p, names = params[i]
            st = {}
            for name, value in saved.items():
                if name in names:
                    if getattr(value, "shape", None) != p.shape:
                        raise ValueError(
                            f"state {name!r} of {_describe(p, i, 0)} has shape "
                            f"{getattr(value, 'shape', None)} in the state_dict"
                        )
                    # Restored on the parameter's device (a state_dict holds host arrays).
                    st[name] = to_device(np.array(to_host(value), dtype=p.dtype, copy=True), device_of(p.data))
                elif isinstance(value, np.generic) or getattr(value, "ndim", None) == 0:
                    st[name] = value.item()
                elif isinstance(value, np.ndarray):
                    st[name] = value.copy()
                else:
                    st[name] = value
            state[p] = st
        self._load_extra_state(state_dict)
        self.param_groups = groups
        self.state = state
        self._plans = {}

    def _extra_state(self) -> dict:
        """Optimizer-wide state beyond ``state`` and ``param_groups`` (numbers and arrays)."""
        return {}

    def _load_extra_state(self, state_dict: dict) -> None:
        """Check and restore :meth:`_extra_state`; called once the rest has been checked.

        Check everything before changing anything: an error here must leave the optimizer as it
        was."""

    def __getstate__(self) -> dict:
        # The plans hold views and a cached closure; they are rebuilt at the next step.
        state = self.__dict__.copy()
        state["_plans"] = {}
        return state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params")
        return "\n".join(lines + [")"])
