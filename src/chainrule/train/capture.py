"""The captured training step: record a model's forward pass once, replay it without the graph.

A small network spends most of a training step in Python, not in arithmetic: building a Tensor
and a graph node per op, checking inputs, sorting the graph for the backward pass. For a fixed
model and batch shape the ops are the same every step, so :class:`CapturedForward` records them
once (``chainrule.engine.recording``) and then calls each op's ``forward`` and ``backward`` on
arrays directly. The loss (with its checks of the targets) and the optimizer step run as usual.

Replay calls the same functions on the same arrays in an order the backward pass could take, so
the results are bit-identical to the uncaptured step. What the recording cannot promise, it
refuses, and the step then runs uncaptured (``reason`` says why):

- a tensor made from data during the forward pass (a Dropout mask: new random numbers each
  step) would be replayed frozen;
- a tensor used by more than two ops would receive its gradient as a sum of three or more terms,
  whose rounding depends on their order.

A new batch shape (the last, smaller batch of an epoch) is recorded separately. A forward pass
that branches in Python on the data's *values* is not detected: it would replay the branch
taken when it was recorded.
"""
from __future__ import annotations

import warnings

import numpy as np

from chainrule.engine import Tensor, recording, unbroadcast


class CapturedForward:
    """A recorded forward pass of ``model`` for inputs of one shape, replayable on arrays.

    ``CapturedForward.record(model, x)`` runs ``model(x)`` once (returning its ordinary output
    Tensor, graph and all) and keeps the ops it ran; ``capture.reason`` is None when it can be
    replayed, or the reason it cannot. ``forward(x_array)`` replays the ops and returns the
    output array; ``backward(grad)`` then adds each parameter's gradient to its ``.grad``.
    """

    def __init__(self):
        self.program, self.reason, self.out_slot, self.params, self.plan = [], None, None, [], None

    @classmethod
    def record(cls, model, x: Tensor):
        self = cls()
        with recording() as tape:
            out = model(x)
        params = {id(p): p for p in model.parameters()}
        slots, uses = {id(x): ("x",)}, {}
        for i, (fn, inputs, kwargs, result) in enumerate(tape):
            refs = []
            for t in inputs:
                ref = slots.get(id(t))
                if ref is None and id(t) in params:
                    ref = ("p", params[id(t)])
                    self.params.append(params[id(t)])
                elif ref is None:
                    if t.requires_grad or t.data.ndim:
                        self.reason = (f"the forward pass makes a tensor of shape {t.shape} from data ({fn.name} "
                                       f"input): replayed, it would not change between steps (a Dropout mask?)")
                        return out, self
                    ref = ("c", t.data)  # a Python number lifted into the graph: the same every step
                uses[id(t)] = uses.get(id(t), 0) + 1
                if uses[id(t)] > (1 if ref[0] == "p" else 2):
                    self.reason = (f"a {'parameter' if ref[0] == 'p' else 'tensor'} of shape {t.shape} feeds "
                                   f"{uses[id(t)]} ops: its gradient's sum could round differently from the "
                                   f"uncaptured step's")
                    return out, self
                refs.append(ref)
            slots[id(result)] = ("s", i)
            self.program.append((fn, refs, kwargs, result.requires_grad))
        if id(out) not in slots or slots[id(out)][0] != "s":
            self.reason = "the model's output was not computed by an op"
            return out, self
        self.out_slot = slots[id(out)][1]
        self.params = list({id(p): p for p in self.params}.values())
        return out, self

    def forward(self, x):
        values = []
        for fn, refs, kwargs, _ in self.program:
            arrays = [x if r[0] == "x" else r[1].data if r[0] == "p" else values[r[1]] if r[0] == "s" else r[1]
                      for r in refs]
            data = fn.forward(*arrays, **kwargs)
            if isinstance(data, np.generic):
                data = np.asarray(data)
            values.append(data)
        self.values = values
        return values[self.out_slot]

    def backward(self, grad) -> None:
        """Back-propagate ``grad`` (d loss / d output) to the parameters, as ``Tensor.backward``."""
        plan = self.plan if self.plan is not None else self._plan()
        values, grads = self.values, [None] * len(self.program)
        grads[self.out_slot] = grad
        for i, fn, targets in plan:
            g = grads[i]
            if g is None:
                continue
            parent_grads = fn.backward(g)
            if type(parent_grads) is not tuple:
                parent_grads = (parent_grads,)
            for (slot, p, need), pg in zip(targets, parent_grads):
                if pg is None or not need:
                    continue
                like = values[slot] if p is None else p.data
                if pg.shape != like.shape:
                    pg = unbroadcast(pg, like.shape, repr(fn.name))
                if pg.dtype != like.dtype:
                    pg = pg.astype(like.dtype)
                if p is None:
                    prev = grads[slot]
                    grads[slot] = pg if prev is None else prev + pg
                else:
                    p.grad = pg if p.grad is None else p.grad + pg
            grads[i] = None
        for p in self.params:  # what the backward pass does when it reaches a leaf
            g = p.grad
            if g is None:
                continue
            if type(g) is not np.ndarray and isinstance(g, np.generic):
                p.grad = np.asarray(g)
            elif g.ndim and 0 in g.strides:
                p.grad = g.copy()
        self.values = None

    def _plan(self):
        # The ops that need a gradient, output first, each with where its inputs' gradients go:
        # (slot, None) for an op's result, (None, parameter) for a parameter.
        self.plan = []
        for i in range(self.out_slot, -1, -1):
            fn, refs, _, needs_grad = self.program[i]
            if needs_grad:
                targets = [(r[1], None, need) if r[0] == "s" else (None, r[1], need) if r[0] == "p"
                           else (None, None, False) for r, need in zip(refs, fn.needs)]
                self.plan.append((i, fn, targets))
        return self.plan


class CaptureWarning(UserWarning):
    """``capture=True`` could not capture a step; it runs uncaptured (the message says why)."""


class CapturedSteps:
    """The captured forward passes of one training run, one per batch shape (see the module)."""

    def __init__(self):
        self.by_shape, self.reasons = {}, {}

    def step(self, trainer, xb: Tensor, yb):
        """One training step of ``trainer`` on ``(xb, yb)``: replayed when captured; returns the loss."""
        model, opt = trainer.model, trainer.optimizer
        capture = self.by_shape.get(xb.shape)
        if capture is None:
            out, capture = CapturedForward.record(model, xb)
            if capture.reason is None:
                self.by_shape[xb.shape] = capture
            else:
                self.reasons[xb.shape] = capture.reason
                self.by_shape[xb.shape] = False
                warnings.warn(f"capture: batches of shape {xb.shape} train uncaptured: {capture.reason}",
                              CaptureWarning, stacklevel=4)
            return _plain_step(trainer, out, yb)
        if capture is False:  # this shape cannot be captured
            return _plain_step(trainer, model(xb), yb)
        out = Tensor._make(capture.forward(xb.data), True, None)
        loss = trainer.loss(out, yb)
        opt.zero_grad()
        loss.backward(keep_grads=False)
        capture.backward(out.grad)
        opt.step()
        return loss


def _plain_step(trainer, out, yb):
    loss = trainer.loss(out, yb)
    trainer.optimizer.zero_grad()
    loss.backward(keep_grads=False)
    trainer.optimizer.step()
    return loss
