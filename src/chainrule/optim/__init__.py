"""Optimizers: gradient descent and its adaptive variants, schedules, and derivative-free search.

Every strategy of the lecture: random search (#1), random local search (#2) and following the
gradient (#3: :class:`SGD`, with momentum or Nesterov momentum, :class:`RMSprop`,
:class:`Adagrad`, :class:`Adam`, :class:`AdamW`), plus learning-rate schedules. The API is
PyTorch's: ``opt = SGD(model.parameters(), lr=0.1)``, then ``zero_grad()``, ``backward()``,
``step()``; ``state_dict()`` holds only numbers, lists and NumPy arrays.

>>> import chainrule as cr
>>> from chainrule import optim
>>> w = cr.tensor([3.0], requires_grad=True)
>>> opt = optim.make_optimizer("sgd", [w], lr=0.25)
>>> for _ in range(3):
...     opt.zero_grad()
...     (w * w).sum().backward()
...     _ = opt.step()
>>> w.item()                          # each step halves w: w − 0.25·2w
0.375
"""
from chainrule.optim import lr_scheduler
from chainrule.optim.adaptive import Adagrad, Adam, AdamW, RMSprop
from chainrule.optim.lr_scheduler import (
    SCHEDULES, CosineAnnealingLR, CosineAnnealingWarmRestarts, ExponentialLR, LambdaLR, LinearLR,
    LRScheduler, MultiStepLR, NoSchedule, OneCycleLR, ReduceLROnPlateau, SequentialLR, StepLR,
    make_schedule,
)
from chainrule.optim.optimizer import Optimizer
from chainrule.optim.registry import OPTIMIZERS, make_optimizer
from chainrule.optim.search import RandomLocalSearch, RandomSearch
from chainrule.optim.sgd import SGD

__all__ = [
    "Optimizer", "SGD", "RMSprop", "Adagrad", "Adam", "AdamW", "RandomSearch",
    "RandomLocalSearch", "LRScheduler", "NoSchedule", "StepLR", "ExponentialLR",
    "CosineAnnealingLR", "MultiStepLR", "LambdaLR", "LinearLR", "CosineAnnealingWarmRestarts",
    "OneCycleLR", "SequentialLR", "ReduceLROnPlateau", "OPTIMIZERS", "make_optimizer", "SCHEDULES", "make_schedule",
    "lr_scheduler",
]
