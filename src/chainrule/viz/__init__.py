"""Pictures: circuit diagrams of computational graphs and training / model plots.

Nothing here imports matplotlib until a picture is drawn, so ``import chainrule.viz`` stays
cheap; Graphviz is used when its ``dot`` program is installed and never required.

Example:
    >>> from chainrule.viz import draw, plot_loss_curves
    >>> draw(f, "circuit.svg")                                   # doctest: +SKIP
    >>> plot_loss_curves({"sgd": [2.3, 1.2, 0.7]}, "loss.png")   # doctest: +SKIP
"""
from . import plots
from .circuit import Circuit, draw, layout, to_dot
from .plots import (
    best_so_far,
    plot_confusion_matrix,
    plot_decision_regions,
    plot_feature_maps,
    plot_filters,
    plot_history,
    plot_loss_curves,
    plot_param_scatter,
    plot_param_scores,
    plot_weight_images,
)

__all__ = ["Circuit", "draw", "to_dot", "layout", *plots.__all__]
