"""The lecture's optimization strategies, as ``chainrule compare`` and the playground's race run them.

A strategy is an optimizer, how many examples one step sees (``"full"``, ``"mini"`` or
``"single"``) and its step size. The budget rule that makes them comparable: every strategy may
evaluate the loss the same number of times, one evaluation being one forward pass of the loss
on one batch (a random search step on the full batch costs one, a mini-batch step one, an SGD
step on one example one).

>>> [s.name for s in STRATEGIES][:3]
['random-search', 'random-local-search', 'full-batch-gd']
>>> BY_NAME["adam"].batch
'mini'
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Strategy", "STRATEGIES", "BY_NAME"]


@dataclass(frozen=True)
class Strategy:
    """One row of the comparison: an optimizer, how many examples a step sees, its step size."""

    name: str
    optimizer: str
    batch: str  # "full", "mini" or "single"
    step: float  # lr for gradient strategies, the draw scale / step size for the searches
    description: str

    def batch_size(self, mini: int) -> int | None:
        """The batch size of one step: None (the full batch), ``mini``, or 1."""
        return {"full": None, "mini": mini, "single": 1}[self.batch]


STRATEGIES = (
    Strategy("random-search", "random-search", "full", 1.0,
             "#1 draw whole random weight sets (scale 1), keep the best"),
    Strategy("random-local-search", "random-local-search", "full", 0.1,
             "#2 random moves (step 0.1) from the current weights, kept if the loss drops"),
    Strategy("full-batch-gd", "sgd", "full", 1.0, "#3 vanilla gradient descent on all examples, lr 1"),
    Strategy("mini-batch-gd", "sgd", "mini", 0.5, "#3 mini-batch gradient descent, lr 0.5"),
    Strategy("sgd", "sgd", "single", 0.05, "#3 stochastic gradient descent, one example per step, lr 0.05"),
    Strategy("momentum", "momentum", "mini", 0.1, "mini-batch SGD with momentum 0.9, lr 0.1"),
    Strategy("adam", "adam", "mini", 0.05, "mini-batch Adam, lr 0.05"),
)
BY_NAME = {s.name: s for s in STRATEGIES}
