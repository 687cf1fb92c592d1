"""Learning-rate schedules with PyTorch's names and rules: StepLR, MultiStepLR, ExponentialLR,
LambdaLR, LinearLR, CosineAnnealingLR, CosineAnnealingWarmRestarts, OneCycleLR, SequentialLR and
ReduceLROnPlateau.

A schedule sets each parameter group's ``"lr"`` from its initial value ``η₀`` (kept in the group
as ``"initial_lr"``) and the epoch ``e``, counted by ``step()``. Making the schedule sets epoch 0;
call ``step()`` once at the end of every epoch. Each learning rate is the closed form at ``e``
(not a product of earlier rates), so it does not drift however long the run.

The derivative-free optimizers have no learning rate; a schedule anneals the size of their
random moves instead: ``"step_size"`` of random local search, ``"scale"`` of random search
(kept as ``"initial_step_size"`` / ``"initial_scale"``).
"""
from __future__ import annotations

import bisect
import math

from chainrule import validation as check
from chainrule.optim.optimizer import Optimizer

__all__ = ["LRScheduler", "NoSchedule", "StepLR", "MultiStepLR", "ExponentialLR", "LambdaLR",
           "LinearLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "OneCycleLR",
           "SequentialLR", "ReduceLROnPlateau", "SCHEDULES", "make_schedule"]


class LRScheduler:
    """Base class: ``step()`` advances the epoch and writes ``lr_at(epoch, η₀)`` to each group.

    ``η(e) = lr_at(e, η₀)`` for every group, where ``η₀`` is the group's ``"initial_lr"``.
    Subclasses implement :meth:`lr_at` (and ``_validate`` for their hyperparameters, which are
    plain attributes). ``state_dict()`` holds only numbers and lists.

    >>> import chainrule as cr
    >>> from chainrule.optim import SGD, LRScheduler
    >>> class Warmup(LRScheduler):          # linear warm-up over 4 epochs
    ...     def lr_at(self, epoch, base_lr):
    ...         return base_lr * min(1.0, (epoch + 1) / 4)
    >>> opt = SGD([cr.tensor([1.0], requires_grad=True)], lr=0.4)
    >>> schedule = Warmup(opt)
    >>> schedule.step()
    >>> schedule.get_last_lr(), opt.param_groups[0]["lr"]
    ([0.2], 0.2)
    """

    def __init__(self, optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} needs an Optimizer; got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self._key = key = getattr(optimizer, "_lr_alias", None) or "lr"  # what is scheduled
        for group in optimizer.param_groups:
            group.setdefault("initial_" + key, group[key])
        self.base_lrs = [float(group["initial_" + key]) for group in optimizer.param_groups]
        self.last_epoch = -1
        self._last_lr = []
        self.step()

    def lr_at(self, epoch: int, base_lr: float) -> float:
        """The learning rate at ``epoch`` for a group that started at ``base_lr``."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and set every group's learning rate."""
        self.last_epoch += 1
        self._last_lr = [float(self.lr_at(self.last_epoch, base)) for base in self.base_lrs]
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group[self._key] = lr

    def get_last_lr(self) -> list:
        """The learning rates the last ``step()`` (or the constructor) set, one per group."""
        return list(self._last_lr)

    _not_state = ()  # attributes that are not saved (functions, other schedules)

    def state_dict(self) -> dict:
        """Everything but the optimizer, as numbers and lists."""
        return self._own_state()

    def _own_state(self) -> dict:
        return {k: (list(v) if isinstance(v, list) else v)
                for k, v in self.__dict__.items() if k not in ("optimizer", "_key") + self._not_state}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a :meth:`state_dict` and set the optimizer's learning rates to its last ones."""
        mine = self._own_state()
        missing = sorted(mine.keys() - state_dict.keys())
        unexpected = sorted(state_dict.keys() - mine.keys())
        if missing or unexpected:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: missing keys {missing}, unexpected keys "
                f"{unexpected}"
            )
        if len(state_dict["base_lrs"]) != len(self.optimizer.param_groups):
            raise ValueError(
                f"the state_dict schedules {len(state_dict['base_lrs'])} parameter groups; the "
                f"optimizer has {len(self.optimizer.param_groups)}"
            )
        probe = object.__new__(type(self))  # check the hyperparameters before changing anything
        probe.__dict__.update(state_dict)
        probe._validate()
        for key, value in state_dict.items():
            setattr(self, key, list(value) if isinstance(value, list) else value)
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group[self._key] = lr

    def _validate(self) -> None:
        """Check the schedule's hyperparameters (attributes); raise with the value."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.state_dict().items()
                         if k not in ("base_lrs", "last_epoch", "_last_lr"))
        return f"{type(self).__name__}({args})"


class NoSchedule(LRScheduler):
    """A constant learning rate: ``step()`` only counts epochs and never changes ``"lr"``.

    >>> import chainrule as cr
    >>> from chainrule.optim import SGD, NoSchedule
    >>> opt = SGD([cr.tensor([1.0], requires_grad=True)], lr=0.1)
    >>> schedule = NoSchedule(opt)
    >>> schedule.step()
    >>> schedule.get_last_lr()
    [0.1]
    """

    def step(self) -> None:
        self.last_epoch += 1
        self._last_lr = [float(group[self._key]) for group in self.optimizer.param_groups]


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    ``η(e) = η₀ · γ^⌊e / step_size⌋``

    >>> import chainrule as cr
    >>> from chainrule.optim import SGD, StepLR
    >>> opt = SGD([cr.tensor([1.0], requires_grad=True)], lr=1.0)
    >>> schedule = StepLR(opt, step_size=2, gamma=0.5)
    >>> lrs = []
    >>> for epoch in range(5):
    ...     lrs.append(schedule.get_last_lr()[0])
    ...     schedule.step()
    >>> lrs
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    def __init__(self, optimizer, step_size, gamma=0.1):
        self.step_size = step_size
        self.gamma = gamma
        self._validate()
        super().__init__(optimizer)

    def _validate(self):
        check.integer("step_size", self.step_size, low=1)
        check.number("gamma", self.gamma, low=0, low_open=True)

    def lr_at(self, epoch, base_lr):
        return base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch.

    ``η(e) = η₀ · γ^e``

    >>> import chainrule as cr
    >>> from chainrule.optim import SGD, ExponentialLR
    >>> opt = SGD([cr.tensor([1.0], requires_grad=True)], lr=1.0)
    >>> schedule = ExponentialLR(opt, gamma=0.5)
    >>> schedule.step(); schedule.step()
    >>> schedule.get_last_lr()
    [0.25]
    """

    def __init__(self, optimizer, gamma):
        self.gamma = gamma
        self._validate()
        super().__init__(optimizer)

    def _validate(self):
        check.number("gamma", self.gamma, low=0, low_open=True)

    def lr_at(self, epoch, base_lr):
        return base_lr * self.gamma ** epoch


class CosineAnnealingLR(LRScheduler):
    """Follow half a cosine from ``η₀`` down to ``eta_min`` over ``T_max`` epochs.

    ``η(e) = η_min + (η₀ − η_min) · (1 + cos(π·e / T_max)) / 2``

    (SGDR without restarts; past ``T_max`` the cosine goes on and the rate rises again.)

    >>> import chainrule as cr
    >>> from chainrule.optim import SGD, CosineAnnealingLR
    >>> opt = SGD([cr.tensor([1.0], requires_grad=True)], lr=1.0)
    >>> schedule = CosineAnnealingLR(opt, T_max=4)
    >>> lrs = []
    >>> for epoch in range(5):
    ...     lrs.append(round(schedule.get_last_lr()[0], 4))
    ...     schedule.step()
    >>> lrs
    [1.0, 0.8536, 0.5, 0.1464, 0.0]
    """

    def __init__(self, optimizer, T_max, eta_min=0.0):
        self.T_max = T_max
        self.eta_min = eta_min
        self._validate()
        super().__init__(optimizer)

    def _validate(self):
        check.integer("T_max", self.T_max, low=1)
        check.number("eta_min", self.eta_min, low=0)

    def lr_at(self, epoch, base_lr):
        cos = (1.0 + math.cos(math.pi * epoch / self.T_max)) / 2.0
        return self.eta_min + (base_lr - self.eta_min) * cos


class MultiStepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` at each of the ``milestones`` (epochs).

    ``η(e) = η₀ · γ^(number of milestones ≤ e)``

    >>> import chainrule as cr
    >>> from chainrule.optim import SGD, MultiStepLR
    >>> opt = SGD([cr.tensor([1.0], requires_grad=True)], lr=1.0)
    >>> schedule = MultiStepLR(opt, milestones=[1, 3], gamma=0.5)
    >>> lrs = []
    >>> for epoch in range(4):
    ...     lrs.append(schedule.get_last_lr()[0])
    ...     schedule.step()
    >>> lrs
    [1.0, 0.5, 0.5, 0.25]
    """

    def __init__(self, optimizer, milestones, gamma=0.1):
        self.milestones = sorted(milestones) if not isinstance(milestones, (int, str)) else milestones
        self.gamma = gamma
        self._validate()
        super().__init__(optimizer)

    def _validate(self):
        if not isinstance(self.milestones, list):
            raise TypeError(check.message("milestones", "a list of epochs", self.milestones))
        for m in self.milestones:
            check.integer("milestone", m, low=1)
        check.number("gamma", self.gamma, low=0, low_open=True)

    def lr_at(self, epoch, base_lr):
        return base_lr * self.gamma ** bisect.bisect_right(self.milestones, epoch)


class LambdaLR(LRScheduler):
    """The learning rate times a factor that a function of the epoch returns.

    ``η(e) = η₀ · lr_lambda(e)``. The function is not part of ``state_dict`` (as in PyTorch):
    build the schedule with the same function before loading one.

    >>> import chainrule as cr
    >>> from chainrule.optim import SGD, LambdaLR
    >>> opt = SGD([cr.tensor([1.0], requires_grad=True)], lr=1.0)
    >>> schedule = LambdaLR(opt, lambda e: 1 / (e + 1))
    >>> schedule.step(); schedule.get_last_lr()
    [0.5]
    """

    _not_state = ("lr_lambda",)

    def __init__(self, optimizer, lr_lambda):
        if not callable(lr_lambda):
            raise TypeError(check.message("lr_lambda", "a function of the epoch", lr_lambda))
        self.lr_lambda = lr_lambda
        super().__init__(optimizer)

    def lr_at(self, epoch, base_lr):
        return base_lr * self.lr_lambda(epoch)


class LinearLR(LRScheduler):
    """A linear ramp of the factor from ``start_factor`` to ``end_factor`` over ``total_iters``
    epochs (a warm-up with the defaults), then constant.

    ``η(e) = η₀ · (s + (f − s) · min(e, T) / T)``

    >>> import chainrule as cr
    >>> from chainrule.optim import SGD, LinearLR
    >>> opt = SGD([cr.tensor([1.0], requires_grad=True)], lr=0.9)
    >>> schedule = LinearLR(opt, start_factor=1/3, total_iters=2)
    >>> lrs = []
    >>> for epoch in range(4):
    ...     lrs.append(round(schedule.get_last_lr()[0], 4))
    ...     schedule.step()
    >>> lrs
    [0.3, 0.6, 0.9, 0.9]
    """

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5):
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        self._validate()
        super().__init__(optimizer)

    def _validate(self):
        check.number("start_factor", self.start_factor, low=0, low_open=True, high=1)
        check.number("end_factor", self.end_factor, low=0, high=1)
        check.integer("total_iters", self.total_iters, low=1)

    def lr_at(self, epoch, base_lr):
        done = min(epoch, self.total_iters) / self.total_iters
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * done)


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing from ``η₀`` to ``eta_min`` over ``T_i`` epochs, then a restart (SGDR);
    the first cycle is ``T_0`` epochs long and each next one ``T_mult`` times longer.

    ``η(e) = η_min + (η₀ − η_min) · (1 + cos(π·T_cur / T_i)) / 2``, with ``T_cur`` the epochs
    since the last restart.

    >>> import chainrule as cr
    >>> from chainrule.optim import SGD, CosineAnnealingWarmRestarts
    >>> opt = SGD([cr.tensor([1.0], requires_grad=True)], lr=1.0)
    >>> schedule = CosineAnnealingWarmRestarts(opt, T_0=2)
    >>> lrs = []
    >>> for epoch in range(5):
    ...     lrs.append(round(schedule.get_last_lr()[0], 4))
    ...     schedule.step()
    >>> lrs
    [1.0, 0.5, 1.0, 0.5, 1.0]
    """

    def __init__(self, optimizer, T_0, T_mult=1, eta_min=0.0):
        self.T_0, self.T_mult, self.eta_min = T_0, T_mult, eta_min
        self._validate()
        super().__init__(optimizer)

    def _validate(self):
        check.integer("T_0", self.T_0, low=1)
        check.integer("T_mult", self.T_mult, low=1)
        check.number("eta_min", self.eta_min, low=0)

    def lr_at(self, epoch, base_lr):
        t_cur, t_i = epoch, self.T_0
        while t_cur >= t_i:
            t_cur, t_i = t_cur - t_i, t_i * self.T_mult
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2


class OneCycleLR(LRScheduler):
    """The 1cycle policy: the rate rises from ``max_lr/div_factor`` to ``max_lr`` over the first
    ``pct_start`` of ``total_steps`` and anneals to ``max_lr/(div_factor·final_div_factor)``,
    while the momentum (or Adam's β₁) cycles the other way between ``max_momentum`` and
    ``base_momentum`` (PyTorch's rule; call ``step()`` after every batch).

    ``three_phase=True`` comes back down to ``max_lr/div_factor`` at twice ``pct_start`` before
    the final anneal. ``anneal_strategy`` is ``"cos"`` or ``"linear"``.

    >>> import chainrule as cr
    >>> from chainrule.optim import SGD, OneCycleLR
    >>> opt = SGD([cr.tensor([1.0], requires_grad=True)], lr=0.1, momentum=0.9)
    >>> schedule = OneCycleLR(opt, max_lr=1.0, total_steps=10)
    >>> round(schedule.get_last_lr()[0], 4), opt.param_groups[0]["momentum"]
    (0.04, 0.95)
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 div_factor=25.0, final_div_factor=1e4, three_phase=False):
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("OneCycleLR needs total_steps, or epochs and steps_per_epoch")
            check.integer("epochs", epochs, low=1)
            check.integer("steps_per_epoch", steps_per_epoch, low=1)
            total_steps = epochs * steps_per_epoch
        self.max_lr, self.total_steps, self.pct_start = max_lr, total_steps, pct_start
        self.anneal_strategy, self.three_phase = anneal_strategy, three_phase
        self.div_factor, self.final_div_factor = div_factor, final_div_factor
        self.cycle_momentum, self.base_momentum, self.max_momentum = cycle_momentum, base_momentum, max_momentum
        self._validate()
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"OneCycleLR needs an Optimizer; got {type(optimizer).__name__}")
        self._momentum_key = "betas" if "betas" in optimizer.defaults else "momentum"
        if cycle_momentum and self._momentum_key not in optimizer.defaults:
            raise ValueError(f"{type(optimizer).__name__} has no momentum or beta1 to cycle; pass cycle_momentum=False")
        for group in optimizer.param_groups:
            group["initial_lr"] = max_lr / div_factor  # as PyTorch, whatever the optimizer's lr
        super().__init__(optimizer)

    def _validate(self):
        check.integer("total_steps", self.total_steps, low=1)
        check.number("max_lr", self.max_lr, low=0, low_open=True)
        check.number("pct_start", self.pct_start, low=0, high=1)
        check.choice("anneal_strategy", self.anneal_strategy, ("cos", "linear"))
        check.number("div_factor", self.div_factor, low=0, low_open=True)
        check.number("final_div_factor", self.final_div_factor, low=0, low_open=True)
        check.number("base_momentum", self.base_momentum, low=0, high=1)
        check.number("max_momentum", self.max_momentum, low=0, high=1)

    def _phase(self, step):
        """(start, end, fraction) of the lr and momentum factors at ``step``."""
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR stepped {step} times; it was made for total_steps={self.total_steps}")
        initial, peak = 1.0, self.div_factor
        final = 1.0 / self.final_div_factor
        lo, hi = self.base_momentum, self.max_momentum
        if self.three_phase:
            phases = [(float(self.pct_start * self.total_steps) - 1, initial, peak, hi, lo),
                      (float(2 * self.pct_start * self.total_steps) - 2, peak, initial, lo, hi),
                      (self.total_steps - 1.0, initial, final, hi, hi)]
        else:
            phases = [(float(self.pct_start * self.total_steps) - 1, initial, peak, hi, lo),
                      (self.total_steps - 1.0, peak, final, lo, hi)]
        start = 0.0
        for i, (end, *values) in enumerate(phases):
            if step <= end or i == len(phases) - 1:
                return values, (step - start) / (end - start)
            start = end

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "linear":
            return (end - start) * pct + start
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)

    def lr_at(self, epoch, base_lr):
        (lr0, lr1, _, _), pct = self._phase(epoch)
        return self._anneal(base_lr * lr0, base_lr * lr1, pct)

    def step(self) -> None:
        super().step()
        if self.cycle_momentum:
            (_, _, m0, m1), pct = self._phase(self.last_epoch)
            momentum = self._anneal(m0, m1, pct)
            for group in self.optimizer.param_groups:
                if self._momentum_key == "betas":
                    group["betas"] = (momentum, *group["betas"][1:])
                else:
                    group["momentum"] = momentum


class SequentialLR(LRScheduler):
    """Run ``schedulers`` one after another, switching at the epochs in ``milestones``; each
    starts from its own epoch 0 (PyTorch's SequentialLR).

    >>> import chainrule as cr
    >>> from chainrule.optim import SGD, LinearLR, ExponentialLR, SequentialLR
    >>> opt = SGD([cr.tensor([1.0], requires_grad=True)], lr=1.0)
    >>> warmup, decay = LinearLR(opt, start_factor=0.5, total_iters=2), ExponentialLR(opt, gamma=0.5)
    >>> schedule = SequentialLR(opt, [warmup, decay], milestones=[2])
    >>> lrs = []
    >>> for epoch in range(5):
    ...     lrs.append(schedule.get_last_lr()[0])
    ...     schedule.step()
    >>> lrs
    [0.5, 0.75, 1.0, 0.5, 0.25]
    """

    _not_state = ("schedulers",)

    def __init__(self, optimizer, schedulers, milestones):
        schedulers, milestones = list(schedulers), list(milestones)
        if not schedulers or len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR needs one milestone fewer than schedulers; got {len(schedulers)} "
                             f"schedulers and milestones {milestones}")
        for sch in schedulers:
            if not isinstance(sch, LRScheduler) or sch.optimizer is not optimizer:
                raise ValueError("SequentialLR's schedulers must be LRSchedulers of the same optimizer")
        self.schedulers, self.milestones = schedulers, milestones
        self._validate()
        super().__init__(optimizer)

    def _validate(self):
        if self.milestones != sorted(self.milestones):
            raise ValueError(check.message("milestones", "increasing epochs", self.milestones))

    def lr_at(self, epoch, base_lr):
        i = bisect.bisect_right(self.milestones, epoch)
        return self.schedulers[i].lr_at(epoch - (self.milestones[i - 1] if i else 0), base_lr)

    def state_dict(self) -> dict:
        """Its own state and each scheduler's, under ``"schedulers"``."""
        return {**super().state_dict(), "schedulers": [sch.state_dict() for sch in self.schedulers]}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a :meth:`state_dict`, the schedulers' included."""
        state_dict = dict(state_dict)
        inner = state_dict.pop("schedulers", None)
        if not isinstance(inner, list) or len(inner) != len(self.schedulers):
            raise ValueError(f"the state_dict has no list of {len(self.schedulers)} scheduler states")
        for sch, sd in zip(self.schedulers, inner):
            sch.load_state_dict(sd)
        super().load_state_dict(state_dict)


class ReduceLROnPlateau:
    """Multiply the learning rate by ``factor`` once a metric has stopped improving for
    ``patience`` epochs (PyTorch's rule): ``step(metric)`` after every evaluation.

    An improvement beats the best so far by ``threshold`` (relative, ``threshold_mode="rel"``, or
    absolute); after a reduction, ``cooldown`` epochs pass before bad epochs count again; no rate
    goes below ``min_lr``, and a change smaller than ``eps`` is skipped.

    >>> import chainrule as cr
    >>> from chainrule.optim import SGD, ReduceLROnPlateau
    >>> opt = SGD([cr.tensor([1.0], requires_grad=True)], lr=1.0)
    >>> schedule = ReduceLROnPlateau(opt, patience=1, factor=0.5)
    >>> for loss in [3.0, 2.0, 2.0, 2.0, 2.0]:
    ...     schedule.step(loss)
    >>> schedule.get_last_lr()
    [0.5]
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0.0, eps=1e-8):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"ReduceLROnPlateau needs an Optimizer; got {type(optimizer).__name__}")
        check.choice("mode", mode, ("min", "max"))
        check.choice("threshold_mode", threshold_mode, ("rel", "abs"))
        check.number("factor", factor, low=0, high=1, high_open=True)
        check.integer("patience", patience, low=0)
        self.optimizer = optimizer
        n = len(optimizer.param_groups)
        self.min_lrs = list(min_lr) if isinstance(min_lr, (list, tuple)) else [min_lr] * n
        if len(self.min_lrs) != n:
            raise ValueError(f"expected {n} min_lr values, one per parameter group; got {len(self.min_lrs)}")
        self.mode, self.factor, self.patience, self.threshold = mode, factor, patience, threshold
        self.threshold_mode, self.cooldown, self.eps = threshold_mode, cooldown, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = self.last_epoch = 0
        self._last_lr = [float(g["lr"]) for g in optimizer.param_groups]

    def _is_better(self, a):
        if self.mode == "min":
            return a < (self.best * (1 - self.threshold) if self.threshold_mode == "rel" else self.best - self.threshold)
        return a > (self.best * (1 + self.threshold) if self.threshold_mode == "rel" else self.best + self.threshold)

    def step(self, metrics) -> None:
        """Record this epoch's metric and reduce the rates after ``patience`` epochs without improvement."""
        current = float(metrics)
        self.last_epoch += 1
        if self._is_better(current):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, floor in zip(self.optimizer.param_groups, self.min_lrs):
                old = float(group["lr"])
                new = max(old * self.factor, floor)
                if old - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [float(g["lr"]) for g in self.optimizer.param_groups]

    def get_last_lr(self) -> list:
        """The groups' learning rates after the last ``step()``."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """Everything but the optimizer, as numbers and lists."""
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a :meth:`state_dict` (the same keys, or ValueError naming the difference)."""
        mine = self.state_dict()
        if mine.keys() != state_dict.keys():
            raise ValueError(f"ReduceLROnPlateau.load_state_dict: missing keys {sorted(mine.keys() - state_dict.keys())}, "
                             f"unexpected keys {sorted(state_dict.keys() - mine.keys())}")
        self.__dict__.update({k: (list(v) if isinstance(v, list) else v) for k, v in state_dict.items()})


SCHEDULES = {
    "none": NoSchedule,
    "step": StepLR,
    "exponential": ExponentialLR,
    "cosine": CosineAnnealingLR,
}


def _schedule_defaults(name, epochs):
    if name == "step":  # ten times smaller after each third of the run
        return {"step_size": max(1, math.ceil(epochs / 3)), "gamma": 0.1}
    if name == "exponential":  # the last epoch runs at 1% of the initial rate
        return {"gamma": 0.01 ** (1.0 / (epochs - 1)) if epochs > 1 else 1.0}
    if name == "cosine":  # half a cosine over the run, down to 0
        return {"T_max": epochs, "eta_min": 0.0}
    return {}


def make_schedule(name: str, optimizer, epochs: int, **kwargs) -> LRScheduler:
    """Make the schedule called ``name`` for a run of ``epochs`` epochs (one ``step()`` each).

    ``"none"``: constant; ``"step"``: ×0.1 after each third of the run
    (``step_size = ⌈epochs/3⌉``); ``"exponential"``: ``γ = 0.01^(1/(epochs−1))``, so the last
    epoch runs at 1% of the initial rate; ``"cosine"``: ``T_max = epochs``, down to 0.
    ``kwargs`` override these. An unknown name raises ValueError listing the valid ones.

    >>> import chainrule as cr
    >>> from chainrule.optim import SGD, make_schedule
    >>> opt = SGD([cr.tensor([1.0], requires_grad=True)], lr=1.0)
    >>> make_schedule("step", opt, epochs=9)
    StepLR(step_size=3, gamma=0.1)
    """
    key = check.choice("schedule", name.lower() if isinstance(name, str) else name, tuple(SCHEDULES))
    check.integer("epochs", epochs, low=1)
    return SCHEDULES[key](optimizer, **{**_schedule_defaults(key, epochs), **kwargs})
