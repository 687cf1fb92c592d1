"""A finished sweep's pictures: the metric against each parameter, and the cs231n scatter."""
from __future__ import annotations

import math
from pathlib import Path

from chainrule import validation as check
from chainrule.sweep.space import Space

__all__ = ["write_plots", "plot_names"]


def _nan(v) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else math.nan


def _pair(space: Space):
    numeric = space.numeric()
    return ("lr", "reg") if {"lr", "reg"} <= set(numeric) else tuple(numeric) if len(numeric) == 2 else None


def plot_names(space: Space) -> list:
    """The pictures :func:`write_plots` draws for a sweep over ``space`` (with some records):
    ``"scores"`` when the space has a numeric parameter, and ``"scatter"`` for a pair of them."""
    if not space.numeric():
        return []
    return ["scores"] + (["scatter"] if _pair(space) else [])


def write_plots(out: Path, records: list, space: Space, metric: str, only=None) -> dict:
    """Draw ``scores.png`` (the metric against each numeric parameter, log axes for log-scaled
    ones) and, when the space has ``lr`` and ``reg`` (or just two numeric parameters), the
    scatter of one against the other coloured by the metric (``lr_reg.png``); returns
    ``{name: path}``. ``only`` (a name of :func:`plot_names`) draws that picture alone: a sweep
    draws each on its own worker."""
    from chainrule import viz

    numeric = space.numeric()
    if not records or not numeric:
        return {}
    names = plot_names(space) if only is None else [check.choice("only", only, tuple(plot_names(space)))]
    scores = [_nan(r.get(metric)) for r in records]
    columns = {n: [_nan(r.get(n)) for r in records] for n in numeric}
    files = {}
    if "scores" in names:
        files["scores"] = viz.plot_param_scores(columns, scores, Path(out) / "scores.png", metric=metric,
                                                log=[n for n in numeric if space[n].log])
    pair = _pair(space)
    if pair and "scatter" in names:
        a, b = pair
        files["scatter"] = viz.plot_param_scatter(columns[a], columns[b], scores, Path(out) / f"{a}_{b}.png",
                                                  xlabel=a, ylabel=b, metric=metric,
                                                  logx=space[a].log, logy=space[b].log)
    return files
