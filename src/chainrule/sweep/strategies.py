"""Strategies: which trials a sweep runs, and for how many epochs (Optuna's and Ray Tune's words).

``random``
    ``n`` trials, each drawing its parameters from the space with its own generator
    (:func:`~chainrule.sweep.space.trial_rng`): the lecture's strategy #1 applied to
    hyper-parameters.
``grid``
    every combination of the grid points, in order; more combinations than ``--trials`` is an error.
``halving``
    synchronous successive halving: ``n`` random trials train for a small budget of epochs (the
    first *rung*); the best ``1/eta`` of them continue, each from its own checkpoint, with ``eta``
    times the budget; and so on until the last rung trains for the full ``epochs``. A rung waits
    for all its trials, so which trials continue depends on their results only, never on which
    worker finished first.

>>> rungs(30, eta=3)
[3, 9, 30]
>>> rung_sizes(27, 3, 3)
[27, 9, 3]
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from chainrule import validation as check
from chainrule.sweep.space import Space, trial_rng

__all__ = ["STRATEGIES", "METRICS", "MAX_TRIALS", "Trial", "rungs", "rung_sizes", "initial_trials", "ranked", "promote"]

STRATEGIES = ("random", "grid", "halving")
# What each metric means by better: the direction is declared here once.
METRICS = {"val_acc": "max", "val_loss": "min"}
#: The most trials one sweep has (sweep.json is rewritten as each one ends): ``--trials``, a
#: grid's points and the trials a sweep.json lists are held to it.
MAX_TRIALS = 100_000


@dataclass
class Trial:
    """One trial: its parameters and what happened at each rung it finished.

    ``rungs`` holds one ``{"epochs", "status", "metrics", "seconds", "error"}`` per finished
    rung (random and grid sweeps have one rung: the full ``epochs``).
    """

    index: int
    params: dict
    rungs: list = field(default_factory=list)

    @property
    def status(self) -> str:
        """``ok`` or ``failed`` (its latest rung), ``pending`` before its first rung has finished."""
        return self.rungs[-1]["status"] if self.rungs else "pending"

    def value(self, metric: str, rung: int | None = None):
        """The trial's metric at ``rung`` (default: its latest), None if it failed or has none."""
        if rung is None:
            rung = len(self.rungs) - 1
        if not 0 <= rung < len(self.rungs) or self.rungs[rung].get("status") != "ok":
            return None
        v = self.rungs[rung].get("metrics", {}).get(metric)
        return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None

    def to_dict(self) -> dict:
        return {"index": self.index, "params": self.params, "status": self.status,
                "rungs": self.rungs}

    @classmethod
    def from_dict(cls, d: dict) -> "Trial":
        rungs = [r for r in d.get("rungs", []) if r.get("status") in ("ok", "failed")]
        return cls(int(d["index"]), dict(d["params"]), rungs)


def rungs(epochs: int, eta: int = 3, min_epochs: int | None = None) -> list:
    """The epoch budgets of successive halving: ``min_epochs · eta^r`` while ``eta`` times it fits
    in ``epochs``, then ``epochs``.

    The default ``min_epochs`` is ``epochs / eta²`` (at least 1): three rungs.
    """
    eta = check.integer("eta (the halving factor)", eta, low=2)
    if min_epochs is None:
        min_epochs = max(1, round(epochs / eta ** 2))
    min_epochs = check.integer(f"min_epochs (at most the {epochs} epochs)", min_epochs, low=1, high=epochs)
    budgets, b = [], min_epochs
    while b * eta <= epochs:  # the last rung is the full budget, not a sliver more than the one before
        budgets.append(b)
        b *= eta
    return budgets + [epochs]


def rung_sizes(n: int, eta: int, n_rungs: int) -> list:
    """How many trials each rung runs at most: ``n``, then ``max(1, n // eta)`` of those, and so on."""
    sizes = [n]
    for _ in range(n_rungs - 1):
        sizes.append(max(1, sizes[-1] // eta))
    return sizes


def initial_trials(space: Space, strategy: str, n: int | None, seed: int) -> list:
    """The trials of a sweep before any has run; ValueError for an unknown strategy or too many points."""
    check.choice("strategy", strategy, tuple(STRATEGIES))
    if strategy == "grid":
        size = space.grid_size()  # counted before the points are made: a grid can be huge
        if n is not None and size > n:
            raise ValueError(f"the grid has {size} points but --trials is {n}; raise --trials "
                             "to at least that, use fewer grid points, or --strategy random")
        if size > MAX_TRIALS:
            raise ValueError(f"the grid has {size} points; a sweep has at most {MAX_TRIALS} trials: "
                             "use fewer grid points, or --strategy random")
        return [Trial(i, params) for i, params in enumerate(space.grid())]
    if n is None:
        raise ValueError(f"--strategy {strategy} needs --trials N")
    return [Trial(i, space.sample(trial_rng(seed, i))) for i in range(n)]


def ranked(trials: list, metric: str, rung: int | None = None) -> list:
    """Trials best first by ``metric`` (failed and metric-less last; ties by index)."""
    sign = -1 if METRICS[metric] == "max" else 1

    def key(t):
        v = t.value(metric, rung)
        return (v is None, 0 if v is None else sign * v, t.index)

    return sorted(trials, key=key)


def promote(trials: list, rung: int, metric: str, eta: int) -> list:
    """The trials that go on from ``rung``: the best ``max(1, n // eta)`` of the ``n`` that ran it.

    A trial that failed at ``rung`` (or has no value of ``metric``) never goes on.
    """
    keep = max(1, len(trials) // eta)
    return [t for t in ranked(trials, metric, rung)[:keep] if t.value(metric, rung) is not None]
