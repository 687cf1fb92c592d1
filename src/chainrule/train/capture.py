"""The captured training step: record a step's ops once, replay them without building the graph.

A small network spends most of a training step in Python, not in arithmetic: building a Tensor
and a graph node per op, checking inputs, sorting the graph for the backward pass. For a fixed
model and batch shape the ops are the same every step, so :class:`CapturedForward` records them
once (``chainrule.engine.recording``) and then calls each op's ``forward`` and ``backward`` on
arrays directly. The optimizer step runs as usual.

Two depths, the deeper tried first:

- **the whole step** (model, loss and L2 term): the batch's targets are substituted for the
  recorded ones (they were checked once for the whole data set), and the backward pass is
  replayed in the very order ``Tensor.backward`` uses (``topological_order``);
- **the model only**, when the loss converts its targets (a copy to another device, a cast):
  the loss then runs as usual on the replayed output. Its gradient sums meet the loss's in an
  order that only commutativity makes equal, so a tensor may feed at most two of the model's ops
  and a parameter one.

Either way the results are bit-identical to the uncaptured step: the same functions on the
same arrays in an order whose sums round alike. What a recording cannot promise, it refuses,
and that batch shape trains uncaptured (``reason`` says why): a tensor made from data during the
step (a Dropout mask would be replayed frozen), an op argument made from data that is not the
targets, a module's buffer handed to an op that does not declare it as state it updates itself
(a Function's ``state_kwargs``: BatchNorm's op advances its running statistics and count, so
those are read afresh at each replay; a buffer its module changes in Python would not be). A new
batch shape (the smaller last batch of an epoch) is recorded once more. A forward
pass that branches in Python on its data's *values* is not detected: it would replay the
branch taken when it was recorded.

**On a device that records graphs** (CUDA, through CuPy's stream capture; the backend declares
``graphs``), a shape whose whole step was recorded goes one step further at its first replay:
:class:`GraphStep` records the replayed step (forward, loss, backward and the optimizer's
update) as one device graph, and each later step is one launch, without a kernel launch per op
from Python. A graph freezes the numbers and addresses of its recording, so the batch is copied
into arrays of the graph's own, the optimizer's changing scalars (Adam's bias corrections) are
read from device slots (``Optimizer.graph_constants``), and whatever else the recording froze
is compared before every launch: a changed hyperparameter (a learning-rate schedule), a
parameter given new arrays, an optimizer state loaded anew, records the graph again. What the
device cannot record (a synchronizing call inside the step) is said once with a
:class:`CaptureWarning`, and that shape replays as above.
"""
from __future__ import annotations

import warnings

import numpy as np

from chainrule.engine import Tensor, backend, device_of, recording, to_device, topological_order, unbroadcast
from chainrule.engine.devices import graphs as device_graphs


class CapturedForward:
    """A recorded forward pass (of the model, or of the model and its loss) for one batch shape.

    ``CapturedForward.record(model, x)`` runs ``model(x)`` once (``record(model, x, loss, y)``
    also ``loss(out, y)``), returns the ordinary result Tensor, graph and all, and keeps the ops
    it ran; ``capture.reason`` is None when they can be replayed, or the reason they cannot.
    ``forward(x_array, y)`` replays the ops and returns the result array; ``backward(grad)``
    then adds each parameter's gradient to its ``.grad`` exactly as ``Tensor.backward`` would.
    """

    def __init__(self):
        self.program, self.plan, self.params, self.reason, self.out_slot, self.values = [], [], [], None, None, None

    @classmethod
    def record(cls, model, x: Tensor, loss=None, target=None):
        self = cls()
        self.whole = loss is not None
        with recording() as tape:
            out = model(x)
            result = out if loss is None else loss(out, target)
        params = {id(p): p for p in model.parameters()}
        buffers = {id(b): (owner, name) for _, owner in model.named_modules()
                   for name, b in owner.named_buffers() if "." not in name}
        slots, uses = {id(x): ("x",)}, {}
        for i, (fn, inputs, kwargs, output) in enumerate(tape):
            refs = []
            for t in inputs:
                ref = slots.get(id(t)) or (("p", params[id(t)]) if id(t) in params else None)
                if ref is None:
                    if t.requires_grad or t.data.ndim:
                        return result, self._refuse(f"the step makes a tensor of shape {t.shape} from data "
                                                    f"({fn.name} input): replayed, it would not change between "
                                                    f"steps (a Dropout mask?)")
                    ref = ("c", t.data)  # a Python number lifted into the graph: the same every step
                uses[id(t)] = uses.get(id(t), 0) + 1
                if loss is None and uses[id(t)] > (1 if ref[0] == "p" else 2):
                    return result, self._refuse(
                        f"a {'parameter' if ref[0] == 'p' else 'tensor'} of shape {t.shape} feeds {uses[id(t)]} "
                        f"ops: its gradient's sum could round differently from the uncaptured step's")
                refs.append(ref)
            state = []  # a module's buffers the op itself keeps up to date: read afresh at each replay
            for k, v in kwargs.items():
                if v is target or not (getattr(v, "ndim", 0) or id(v) in buffers):
                    continue
                if id(v) not in buffers:
                    return result, self._refuse(f"{fn.name}'s argument {k!r} is an array made during the step")
                owner, name = buffers[id(v)]
                if k not in getattr(fn, "state_kwargs", ()):
                    return result, self._refuse(f"{fn.name}'s argument {k!r} is the buffer {name!r} of "
                                                f"{type(owner).__name__}, which {fn.name} does not declare as state "
                                                f"it updates itself (a replay would miss what its module does)")
                state.append((k, owner, name))
            targets = [k for k, v in kwargs.items() if v is target and target is not None]
            slots[id(output)] = ("s", i)
            self.program.append((fn, refs, kwargs, targets, state))
        if slots.get(id(result), ("",))[0] != "s":
            return result, self._refuse("the result was not computed by an op")
        self.out_slot = slots[id(result)][1]
        self.params = [p for p in params.values() if p.requires_grad]
        order = topological_order(result) if loss is not None else [output for *_, output in tape]
        self._make_plan(order, slots, params)
        self._compile()
        return result, self

    def _compile(self):
        # The replay's one list of arrays: [x, each parameter's data, each constant, each op's
        # result]; every op reads its inputs by index, so a step does no lookups by kind.
        self.sources, self.constants, where = [], [], {}
        for _, refs, *_ in self.program:
            for kind, obj in (r for r in refs if r[0] in "pc"):
                if id(obj) not in where:
                    where[id(obj)] = (kind, len(self.sources if kind == "p" else self.constants))
                    (self.sources if kind == "p" else self.constants).append(obj)
        n_params = len(self.sources)
        index = {key: 1 + k + (n_params if kind == "c" else 0) for key, (kind, k) in where.items()}
        self.base = 1 + n_params + len(self.constants)
        self.compiled = [(fn.forward, [0 if r[0] == "x" else self.base + r[1] if r[0] == "s" else index[id(r[1])]
                                       for r in refs], kwargs, targets, state)
                         for fn, refs, kwargs, targets, state in self.program]
        # backward visits: ("leaf", p) or ("op", i, fn.backward, [(position, slot or None, parameter)],
        # the op's name for unbroadcast's message, as Tensor.backward gives it)
        self.steps = []
        for step in self.plan:
            if step[0] == "leaf":
                self.steps.append(step)
                continue
            _, i, fn, targets = step
            needed = [(k, slot, p) for k, (slot, p, need) in enumerate(targets) if need and (slot is not None or p is not None)]
            self.steps.append(("op", i, fn.backward, needed, repr(fn.name)))

    def _refuse(self, reason):
        self.reason = reason
        return self

    def _make_plan(self, order, slots, params):
        # Backward's visits: ("op", i, fn, [(slot, parameter, needs)]) or ("leaf", parameter).
        for node in reversed(order):
            if id(node) in params:
                self.plan.append(("leaf", params[id(node)]))
                continue
            slot = slots.get(id(node))
            if slot is None or slot[0] != "s" or not node.requires_grad:
                continue
            fn, refs, *_ = self.program[slot[1]]
            targets = [(r[1], None, need) if r[0] == "s" else (None, r[1], need) if r[0] == "p" else (None, None, False)
                       for r, need in zip(refs, fn.needs)]
            self.plan.append(("op", slot[1], fn, targets))
        if not any(step[0] == "leaf" for step in self.plan):  # the model only: leaves after every op
            self.plan.extend(("leaf", p) for p in self.params)

    def forward(self, x, target=None):
        """Replay the recorded ops on input array ``x`` (and ``target``); returns the result array."""
        values = [x]
        values += [p.data for p in self.sources]
        values += self.constants
        generic = np.generic
        for forward, inputs, kwargs, targets, state in self.compiled:
            if targets or state:
                kwargs = dict(kwargs, **{k: target for k in targets},
                              **{k: getattr(owner, name) for k, owner, name in state})
            data = forward(*[values[j] for j in inputs], **kwargs)
            if isinstance(data, generic):
                data = np.asarray(data)
            values.append(data)
        self.values = values
        return values[self.base + self.out_slot]

    def state_arrays(self) -> list:
        """The module buffers the recorded ops keep up to date (BatchNorm's running statistics),
        as they are now: a device graph recorded with other arrays must be recorded again."""
        return [getattr(owner, name) for *_, state in self.compiled for _, owner, name in state]

    def step(self, optimizer, x, target):
        """A whole step replayed (a recording with its loss): forward on ``x`` and ``target``, the
        optimizer's ``zero_grad``, backward from the loss, the optimizer's ``step``; returns the
        loss array."""
        value = self.forward(x, target)
        optimizer.zero_grad()
        self.backward(backend.array_module(value).ones_like(value))  # backward()'s seed
        optimizer.step()
        return value

    def backward(self, grad) -> None:
        """Back-propagate ``grad`` (of the result) to the parameters, as ``Tensor.backward`` does."""
        values, grads, base = self.values, [None] * len(self.program), self.base
        grads[self.out_slot] = grad
        for step in self.steps:
            if step[0] == "leaf":  # what the backward pass does when it reaches a parameter
                p = step[1]
                g = p.grad
                if g is not None and type(g) is not np.ndarray and isinstance(g, np.generic):
                    p.grad = np.asarray(g)
                elif g is not None and g.ndim and 0 in g.strides:
                    p.grad = g.copy()
                continue
            _, i, backward, targets, op = step
            g = grads[i]
            if g is None:
                continue
            parent_grads = backward(g)
            if type(parent_grads) is not tuple:
                parent_grads = (parent_grads,)
            for k, slot, p in targets:
                pg = parent_grads[k]
                if pg is None:
                    continue
                like = values[base + slot] if p is None else p.data
                if pg.shape != like.shape:
                    pg = unbroadcast(pg, like.shape, op)
                if pg.dtype != like.dtype:
                    pg = pg.astype(like.dtype)
                if p is None:
                    prev = grads[slot]
                    grads[slot] = pg if prev is None else prev + pg
                else:
                    p.grad = pg if p.grad is None else p.grad + pg
            grads[i] = None
        self.values = None


class GraphStep:
    """One batch shape's whole training step recorded as a device graph and replayed by launching it.

    ``GraphStep(recorder, capture, trainer, xb, yb)`` keeps arrays of the batch's shapes that the
    graph reads (each step's batch is copied into them) and records on the first :meth:`step`.
    ``launches`` and ``recordings`` count what it did; ``reason`` says why it stopped recording
    (then :meth:`step` returns None and the caller replays without a graph).
    """

    MAX_RERECORDS = 3  # recordings in a row, each launched once: the step's constants change every step

    def __init__(self, recorder, capture: CapturedForward, trainer, xb: Tensor, yb):
        xp = backend.array_module(xb.data)
        self.recorder, self.capture, self.trainer = recorder, capture, trainer
        self.x, self.y = xp.empty_like(xb.data), xp.empty_like(yb)
        self.graph, self.key, self.reason, self.launches, self.recordings, self.streak = None, None, None, 0, 0, 0

    def _slots(self, constants):
        # Device scalars for the optimizer's changing operands: one array per group, read by the
        # graph through 0-d views of its entries.
        opt, xp = self.trainer.optimizer, backend.array_module(self.x)
        self.slots, self.slot_arrays = {}, []
        for group, vals in zip(opt.param_groups, constants[1]):
            array = xp.zeros(len(vals), group["params"][0].data.dtype)
            self.slots[id(group)] = [array[k, ...] for k in range(len(vals))]
            self.slot_arrays.append(array)

    def _record(self, constants):
        opt, capture, slots = self.trainer.optimizer, self.capture, self.slots
        key = constants[0]

        def step():
            self.value = capture.step(opt, self.x, self.y)

        with opt.recording_step(slots) as advance:
            arrays = opt.graph_constants()[2] + capture.state_arrays()  # with the storage recording_step made
            self.graph = self.recorder.record(step)
        self.advance, self.key, self.arrays = advance, key, arrays
        self.recordings += 1

    def step(self, xb: Tensor, yb):
        """One training step on ``(xb, yb)`` by launching the graph; returns the loss array (None
        when the step cannot be recorded: ``reason`` says why)."""
        try:
            constants = self.trainer.optimizer.graph_constants()
            arrays = constants[2] + self.capture.state_arrays()
            fresh = (self.graph is None or constants[0] != self.key or len(arrays) != len(self.arrays)
                     or any(a is not b for a, b in zip(arrays, self.arrays)))
            if fresh:
                self.streak += 1
                if self.streak > self.MAX_RERECORDS:
                    raise RuntimeError(f"what the step froze changed at {self.MAX_RERECORDS} steps in a row "
                                       f"(a learning rate set at every step?)")
                self._slots(constants)
            else:
                self.streak = 0
            with self.recorder.stream():  # what the graph reads: this batch and this step's scalars
                self.x[...] = xb.data
                self.y[...] = yb
                for array, vals in zip(self.slot_arrays, constants[1]):
                    if vals:
                        array[...] = to_device(np.array(vals, array.dtype), device_of(array))
            if fresh:
                self._record(constants)
        except Exception as exc:  # a device or a rule that cannot be recorded: say why, replay without
            self.graph, self.reason = None, f"{type(exc).__name__}: {exc}"
            return None
        with self.recorder.stream():
            self.recorder.launch(self.graph)
            loss = self.value.copy()  # the graph's own array is rewritten by the next launch
        self.advance()
        self.launches += 1
        return loss


class CaptureWarning(UserWarning):
    """``capture=True`` could not capture a step; it runs uncaptured (the message says why)."""


class CapturedSteps:
    """The captured steps of one training run, one per batch shape (see the module)."""

    def __init__(self):
        self.by_shape, self.reasons, self.graphs = {}, {}, {}

    def step(self, trainer, xb: Tensor, yb):
        """One training step of ``trainer`` on ``(xb, yb)``, replayed when captured; returns the loss."""
        model, opt = trainer.model, trainer.optimizer
        dev = device_of(xb.data)
        if dev.type != "cpu" and hasattr(yb, "dtype"):
            yb = to_device(yb, dev)  # the targets the loss would copy: recorded whole, with the step
        capture = self.by_shape.get(xb.shape)
        if capture is None or capture == "model":
            whole = capture is None
            result, capture = (CapturedForward.record(model, xb, trainer.loss, yb) if whole
                               else CapturedForward.record(model, xb))
            if capture.reason is None:
                self.by_shape[xb.shape] = capture
            elif whole:
                self.by_shape[xb.shape] = "model"  # next time, try the model alone
            else:
                self.reasons[xb.shape] = capture.reason
                self.by_shape[xb.shape] = False
                warnings.warn(f"capture: batches of shape {xb.shape} train uncaptured: {capture.reason}",
                              CaptureWarning, stacklevel=4)
            return _plain_step(trainer, result if whole else trainer.loss(result, yb))
        if capture is False:  # this shape cannot be captured
            return _plain_step(trainer, trainer.loss(model(xb), yb))
        if capture.whole:
            graph = self.graphs.get(xb.shape)
            if graph is None:
                recorder = device_graphs(dev)  # None where the backend records no graphs (the CPU)
                graph = self.graphs[xb.shape] = GraphStep(recorder, capture, trainer, xb, yb) if recorder else False
            if graph:
                value = graph.step(xb, yb)
                if value is not None:
                    return Tensor._make(value, False, None)
                self.graphs[xb.shape] = False
                self.reasons[xb.shape] = graph.reason
                warnings.warn(f"capture: batches of shape {xb.shape} replay without a device graph: {graph.reason}",
                              CaptureWarning, stacklevel=4)
            return Tensor._make(capture.step(opt, xb.data, yb), False, None)
        out = Tensor._make(capture.forward(xb.data), True, None)
        loss = trainer.loss(out, yb)
        opt.zero_grad()
        loss.backward(keep_grads=False)
        capture.backward(out.grad)
        opt.step()
        return loss


def _plain_step(trainer, loss):
    trainer.optimizer.zero_grad()
    loss.backward(keep_grads=False)
    trainer.optimizer.step()
    return loss
