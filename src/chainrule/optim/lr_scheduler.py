"""Learning-rate schedules: StepLR, ExponentialLR, CosineAnnealingLR (PyTorch's names and rules).

A schedule sets each parameter group's ``"lr"`` from its initial value ``η₀`` (kept in the group
as ``"initial_lr"``) and the epoch ``e``, counted by ``step()``. Making the schedule sets epoch 0;
call ``step()`` once at the end of every epoch. Each learning rate is the closed form at ``e``
(not a product of earlier rates), so it does not drift however long the run.

The derivative-free optimizers have no learning rate; a schedule anneals the size of their
random moves instead: ``"step_size"`` of random local search, ``"scale"`` of random search
(kept as ``"initial_step_size"`` / ``"initial_scale"``).
"""
from __future__ import annotations

import math
import numbers

from chainrule.optim.optimizer import Optimizer, check_number

__all__ = ["LRScheduler", "NoSchedule", "StepLR", "ExponentialLR", "CosineAnnealingLR",
           "SCHEDULES", "make_schedule"]


def _check_count(value, what):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"Invalid {what}: {value!r} (expected a positive integer)")


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

    def state_dict(self) -> dict:
        """Everything but the optimizer, as numbers and lists."""
        return {k: (list(v) if isinstance(v, list) else v)
                for k, v in self.__dict__.items() if k not in ("optimizer", "_key")}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a :meth:`state_dict` and set the optimizer's learning rates to its last ones."""
        mine = self.state_dict()
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
        _check_count(self.step_size, "step_size")
        check_number(self.gamma, "gamma", low_open=True)

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
        check_number(self.gamma, "gamma", low_open=True)

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
        _check_count(self.T_max, "T_max")
        check_number(self.eta_min, "eta_min")

    def lr_at(self, epoch, base_lr):
        cos = (1.0 + math.cos(math.pi * epoch / self.T_max)) / 2.0
        return self.eta_min + (base_lr - self.eta_min) * cos


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
    key = str(name).lower()
    if key not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; valid names: {', '.join(SCHEDULES)}")
    _check_count(epochs, "epochs")
    return SCHEDULES[key](optimizer, **{**_schedule_defaults(key, epochs), **kwargs})
