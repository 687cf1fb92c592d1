"""Optimizers by name: ``OPTIMIZERS`` and ``make_optimizer`` (for the CLI and configurations)."""
from __future__ import annotations

from functools import partial

from chainrule import validation as check
from chainrule.optim.adaptive import Adagrad, Adam, AdamW, RMSprop
from chainrule.optim.search import RandomLocalSearch, RandomSearch
from chainrule.optim.sgd import SGD

__all__ = ["OPTIMIZERS", "make_optimizer"]

OPTIMIZERS = {
    "sgd": SGD,
    "momentum": partial(SGD, momentum=0.9),
    "nesterov": partial(SGD, momentum=0.9, nesterov=True),
    "rmsprop": RMSprop,
    "adagrad": Adagrad,
    "adam": Adam,
    "adamw": AdamW,
    "random-search": RandomSearch,
    "random-local-search": RandomLocalSearch,
}


def make_optimizer(name: str, params, **kwargs):
    """Make the optimizer called ``name`` (see ``OPTIMIZERS``); ``kwargs`` go to its constructor.

    Names are case-insensitive and ``_`` may stand for ``-``. ``"momentum"`` and ``"nesterov"``
    are :class:`SGD` with ``momentum=0.9`` (Nesterov's for the second); ``kwargs`` override that
    too. An unknown name raises ValueError listing the valid ones.

    So that one configuration fits every name, ``lr`` is accepted by all of them: the
    derivative-free optimizers have no learning rate, and for them ``lr`` is the size of their
    random moves, ``scale`` for random search and ``step_size`` for random local search (the
    lecture calls both the gradient's learning rate and this the step size). An explicit
    ``scale`` or ``step_size`` wins over ``lr``.

    >>> import chainrule as cr
    >>> from chainrule.optim import make_optimizer
    >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = make_optimizer("nesterov", [w], lr=0.1)
    >>> type(opt).__name__, opt.param_groups[0]["momentum"], opt.param_groups[0]["nesterov"]
    ('SGD', 0.9, True)
    >>> make_optimizer("random-local-search", [w], lr=0.05, rng=0).param_groups[0]["step_size"]
    0.05
    """
    key = check.choice("optimizer", name.lower().replace("_", "-") if isinstance(name, str) else name,
                       tuple(OPTIMIZERS))
    factory = OPTIMIZERS[key]
    alias = getattr(getattr(factory, "func", factory), "step_size_name", "lr")
    if alias != "lr" and "lr" in kwargs:
        lr = kwargs.pop("lr")
        kwargs.setdefault(alias, lr)
    return factory(params, **kwargs)
