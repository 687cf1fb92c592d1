"""The captured training step: record a step's ops once, replay them without building the graph.

A small network spends most of a training step in Python, not in arithmetic: building a Tensor
and a graph node per op, checking inputs, sorting the graph for the backward pass. For a fixed
model and batch shape the ops are the same every step, so :class:`CapturedForward` records them
once (``chainrule.engine.recording``) and then calls each op's ``forward`` and ``backward`` on
arrays directly, through Python generated for the recording (one line per op, every decision the
recording settles taken once: ``CapturedForward.source`` shows it). The optimizer step runs as
usual, with two savings: the model's parameters are laid out in one array
(``Module.flatten_parameters``, at the first recording), so the optimizer updates them in one
pass, and the ops that declare ``Function.grads_into`` (the linear layers) write their
parameters' gradients straight into the arrays the optimizer reads
(``Optimizer.grad_views``), so it copies none. On the lecture's 2-16-16-2 network this took
a step from 1.41–1.46× hand-written NumPy's time to 1.10–1.19× (docs/benchmarks.md).

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
batch shape (the smaller last batch of an epoch), or a batch of another dtype, is recorded once
more. A replay takes the branches its recording took, so the model's Python settings
(``Module.python_state``: each module's plain attributes, training flags, ``requires_grad``) are
compared whenever a module attribute was assigned or a flag changed: a callback that switches a
branch, changes a temperature or freezes a layer makes every recording anew, and a forward pass
that changes them itself (a call counter) trains uncaptured, saying which. A forward pass that
branches in Python on its data's *values* is not detected: it would replay the branch taken
when it was recorded.

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

import operator
import warnings

import numpy as np

from chainrule.engine import Tensor, backend, device_of, recording, to_device, topological_order, unbroadcast
from chainrule.engine.devices import graphs as device_graphs, scope
from chainrule.nn.module import assignments

_REQUIRES_GRAD = operator.attrgetter("requires_grad")


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
        self.x_dtype = None

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
        self._shapes = [output.shape for *_, output in tape]
        self.x_dtype = x.data.dtype
        self.params = [p for p in params.values() if p.requires_grad]
        order = topological_order(result) if loss is not None else [output for *_, output in tape]
        self._make_plan(order, slots, params)
        self._compile()
        return result, self

    def _compile(self):
        # The replay is generated as the Python a careful hand would write for this recording:
        # one line per op, each reading its inputs from locals, and a backward pass with every
        # decision the recording settles (which input needs a gradient, which op may write into
        # the optimizer's storage) taken once, here. The same functions run on the same arrays in
        # the same order as the uncaptured step; only the interpretation is gone.
        names = {"ndarray": np.ndarray, "generic": np.generic, "asarray": np.asarray,
                 "unbroadcast": unbroadcast}

        def bind(prefix, obj):
            key = f"{prefix}{len(names)}"
            names[key] = obj
            return key

        param_name = {}
        for p in self.params + [r[1] for _, refs, *_ in self.program for r in refs if r[0] == "p"]:
            if id(p) not in param_name:
                param_name[id(p)] = bind("P", p)

        def ref(r):
            kind = r[0]
            return "x" if kind == "x" else f"s{r[1]}" if kind == "s" else \
                f"{param_name[id(r[1])]}.data" if kind == "p" else bind("C", r[1])

        fw = ["def forward(x, target):"]
        for i, (fn, refs, kwargs, targets, state) in enumerate(self.program):
            args = [ref(r) for r in refs]
            stateful = {k for k, *_ in state}
            for k, v in kwargs.items():
                if k in targets:
                    args.append(f"{k}=target")
                elif k in stateful:
                    owner, attr = next((o, a) for kk, o, a in state if kk == k)
                    args.append(f"{k}={bind('M', owner)}.{attr}")
                else:
                    args.append(f"{k}={bind('K', v)}")
            fw.append(f"    s{i} = {bind('F', fn.forward)}({', '.join(args)})")
            if self._shapes[i] == ():  # NumPy turns 0-d results into scalars; keep arrays
                fw.append(f"    if type(s{i}) is not ndarray and isinstance(s{i}, generic): s{i} = asarray(s{i})")
        fw.append(f"    return ({''.join(f's{i}, ' for i in range(len(self.program)))})")

        param_uses = {}
        for _, refs, *_ in self.program:
            for r in refs:
                if r[0] == "p":
                    param_uses[id(r[1])] = param_uses.get(id(r[1]), 0) + 1
        n = len(self.program)
        bw = ["def backward(grad, values, outs):",
              f"    ({''.join(f's{i}, ' for i in range(n))}) = values",
              f"    {' = '.join(f'g{i}' for i in range(n))} = None",
              f"    g{self.out_slot} = grad",
              "    held = set()"]
        self.into = {}  # op index -> [(input position, parameter)] it may write into the optimizer's storage
        written = {}  # parameter id -> the local that says its gradient was written into its view
        for step in self.plan:
            if step[0] == "leaf":  # what Tensor.backward does when it reaches a leaf
                p = param_name[id(step[1])]
                check = [f"    g = {p}.grad",
                         "    if g is not None:",
                         "        if type(g) is not ndarray and isinstance(g, generic):",
                         f"            {p}.grad = asarray(g)",
                         "        elif not g.flags.writeable or id(g) in held:  # a broadcast view, or shared",
                         f"            {p}.grad = g.copy()",
                         f"        held.add(id({p}.grad))"]
                flag = written.get(id(step[1]))
                # a gradient written into the optimizer's view is an array of its own already
                bw += [f"    if not {flag}:"] + ["    " + line for line in check] if flag else check
                continue
            _, i, fn, targets = step
            needed = [(k, slot, q) for k, (slot, q, need) in enumerate(targets) if need and (slot is not None or q is not None)]
            into = [(k, q) for k, slot, q in needed if q is not None and param_uses[id(q)] == 1] if fn.grads_into else []
            back, op = bind("B", fn.backward), bind("N", repr(fn.name))

            def receive(pairs, indent):  # each input's gradient, reduced and added as Tensor.backward does
                lines = []
                for k, slot, q in pairs:
                    like = f"s{slot}" if q is None else f"{param_name[id(q)]}.data"
                    dest = f"g{slot}" if q is None else f"{param_name[id(q)]}.grad"
                    lines += [f"pg = r[{k}]",
                              "if pg is not None:",
                              f"    if pg.shape != {like}.shape: pg = unbroadcast(pg, {like}.shape, {op})",
                              f"    if pg.dtype != {like}.dtype: pg = pg.astype({like}.dtype)",
                              f"    {dest} = pg if {dest} is None else {dest} + pg"]
                return [indent + line for line in lines]

            bw.append(f"    if g{i} is not None:")
            if into:
                self.into[i] = into
                flags = [f"w{len(written) + j}" for j in range(len(into))]
                bw.insert(3, f"    {' = '.join(flags)} = False")
                written.update((id(q), flag) for (_, q), flag in zip(into, flags))
                free = " and ".join(f"{param_name[id(q)]}.grad is None" for _, q in into)
                direct = {id(q) for _, q in into}
                bw += [f"        o = outs.get({i}) if outs else None",
                       f"        if o is not None and {free}:  # into the optimizer's views: same shape and dtype",
                       f"            r = {back}(g{i}, out=o)",
                       "            if type(r) is not tuple: r = (r,)",
                       *receive([t for t in needed if t[2] is None or id(t[2]) not in direct], "            "),
                       *[f"            {param_name[id(q)]}.grad = r[{k}]" for k, q in into],
                       f"            {' = '.join(written[id(q)] for _, q in into)} = True",
                       "        else:",
                       f"            r = {back}(g{i})",
                       "            if type(r) is not tuple: r = (r,)",
                       *receive(needed, "            ")]
            else:
                bw += [f"        r = {back}(g{i})",
                       "        if type(r) is not tuple: r = (r,)",
                       *receive(needed, "        ")]
            bw.append(f"        g{i} = r = pg = None")
        bw.append("    return None")
        exec(compile("\n".join(fw) + "\n\n" + "\n".join(bw) + "\n", f"<captured step {id(self):x}>", "exec"), names)
        self._forward, self._backward, self.source = names["forward"], names["backward"], (fw, bw)
        self.seed, self.outs, self.outs_for = None, None, None

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
        self.values = values = self._forward(x, target)
        return values[self.out_slot]

    def state_arrays(self) -> list:
        """The module buffers the recorded ops keep up to date (BatchNorm's running statistics),
        as they are now: a device graph recorded with other arrays must be recorded again."""
        return [getattr(owner, name) for *_, state in self.program for _, owner, name in state]

    def step(self, optimizer, x, target):
        """A whole step replayed (a recording with its loss): forward on ``x`` and ``target``, the
        optimizer's ``zero_grad``, backward from the loss, the optimizer's ``step``; returns the
        loss array."""
        value = self.forward(x, target)
        optimizer.zero_grad()
        seed = self.seed
        if seed is None or type(seed) is not type(value) or seed.shape != value.shape or seed.dtype != value.dtype:
            seed = self.seed = backend.array_module(value).ones_like(value)  # backward()'s seed, kept
            if type(seed) is np.ndarray:
                seed.flags.writeable = False  # an op that changed its incoming gradient would say so
        self.backward(seed, optimizer.grad_views())
        optimizer.step()
        return value

    def _outs(self, views):
        # For each op that may write its parameters' gradients into ``views``: its out tuple
        # (every such parameter's view, or the op is left out); made again when the optimizer's
        # storage changes.
        if views is not self.outs_for:
            self.outs_for, self.outs = views, {}
            for i, into in self.into.items():
                out = [None] * len(self.program[i][1])
                for k, p in into:
                    view = views.get(id(p))
                    if view is None or view.shape != p.data.shape or view.dtype != p.data.dtype:
                        break
                    out[k] = view
                else:
                    self.outs[i] = tuple(out)
        return self.outs

    def backward(self, grad, views=None) -> None:
        """Back-propagate ``grad`` (of the result) to the parameters, as ``Tensor.backward`` does.

        ``views`` (``Optimizer.grad_views()``) are arrays the ops that declare ``grads_into`` may
        write their parameters' gradients into, each parameter's ``.grad`` then being that array."""
        values, self.values = self.values, None
        self._backward(grad, values, self._outs(views) if views else None)


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
        self.flattened, self.seen, self.settings, self.params, self.flags = False, None, None, (), None
        self.unstable = None  # why no step is replayed, when the forward pass changes Python settings

    def step(self, trainer, xb: Tensor, yb):
        """One training step of ``trainer`` on ``(xb, yb)``, replayed when captured; returns the loss."""
        opt, data = trainer.optimizer, xb.data
        capture = self.by_shape.get(data.shape)
        if (type(data) is np.ndarray and type(capture) is CapturedForward and capture.whole  # the CPU's usual step
                and capture.x_dtype == data.dtype and self.graphs.get(data.shape) is False
                and assignments() == self.seen and list(map(_REQUIRES_GRAD, self.params)) == self.flags):
            return Tensor._make(capture.step(opt, data, yb), False, None)
        with scope(data):  # a device batch: the step runs on its device
            return self._step(trainer, xb, yb)

    def _settings_held(self, model) -> bool:
        """Whether the model's Python settings (``Module.python_state``: the attributes a forward
        may branch on, ``requires_grad``) are still those of the recordings; when they changed (a
        callback switched a branch, froze a layer), every recording is dropped, to be made anew."""
        if assignments() == self.seen and list(map(_REQUIRES_GRAD, self.params)) == self.flags:
            return True
        settings = model.python_state()
        held = self.settings is None or settings == self.settings
        if not held:
            self.by_shape.clear(), self.graphs.clear(), self.reasons.clear()
        self.settings, self.seen = settings, assignments()
        self.params = list(model.parameters())
        self.flags = [p.requires_grad for p in self.params]
        return held

    def _step(self, trainer, xb: Tensor, yb):
        model, opt = trainer.model, trainer.optimizer
        if self.unstable:
            return _plain_step(trainer, trainer.loss(model(xb), yb))
        self._settings_held(model)
        dev = device_of(xb.data)
        if dev.type != "cpu" and hasattr(yb, "dtype"):
            yb = to_device(yb, dev)  # the targets the loss would copy: recorded whole, with the step
        capture = self.by_shape.get(xb.shape)
        if isinstance(capture, CapturedForward) and capture.x_dtype != xb.dtype:  # recorded for another dtype
            capture = self.by_shape[xb.shape] = None
            self.graphs.pop(xb.shape, None)
        if capture is None or capture == "model":
            whole = capture is None
            if not self.flattened:  # one array for the parameters: the optimizer updates them in one pass
                model.flatten_parameters()
                self.flattened = True
            settings = self.settings
            result, capture = (CapturedForward.record(model, xb, trainer.loss, yb) if whole
                               else CapturedForward.record(model, xb))
            if not self._settings_held(model):  # the forward pass itself changed them: never replayed
                changed = sorted(k for k in self.settings.keys() | settings.keys()
                                 if self.settings.get(k) != settings.get(k))
                self.unstable = f"the forward pass sets {', '.join(changed)} in Python, which a replay would not do"
                warnings.warn(f"capture: training uncaptured: {self.unstable}", CaptureWarning, stacklevel=4)
                return _plain_step(trainer, result if whole else trainer.loss(result, yb))
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
