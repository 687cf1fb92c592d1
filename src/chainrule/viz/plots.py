"""Training and model plots: loss histories, strategy comparisons, decision regions,
weight templates and confusion matrices.

Every function draws on its own matplotlib ``Figure`` (never pyplot's global state, so it is
safe in scripts, servers and threads), writes the picture to ``path`` and returns the path.
The file is written to a temporary name in the same folder and then moved into place, so a
crash never leaves half a PNG behind. The format is PNG unless ``path`` ends in ``.svg`` or
``.pdf``. matplotlib is imported on first use.

Example:
    >>> plot_history([{"epoch": 1, "loss": 2.3, "train_acc": 0.1, "val_acc": 0.1, "lr": 0.1},
    ...               {"epoch": 2, "loss": 1.1, "train_acc": 0.6, "val_acc": 0.5, "lr": 0.1}],
    ...              "history.png")                                       # doctest: +SKIP
    PosixPath('history.png')
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "plot_history",
    "plot_loss_curves",
    "plot_decision_regions",
    "plot_weight_images",
    "plot_confusion_matrix",
    "plot_filters",
    "plot_feature_maps",
    "best_so_far",
    "plot_param_scores",
    "plot_param_scatter",
]

_SAVE_FORMATS = ("png", "svg", "pdf")
_MAX_RESOLUTION = 2000


# --- shared plumbing -----------------------------------------------------------------------


def _new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path) -> Path:
    suffix = Path(path).suffix.lower().lstrip(".")
    fmt = suffix if suffix in _SAVE_FORMATS else "png"
    from chainrule.io import write_atomic

    return write_atomic(path, lambda fh: fig.savefig(fh, format=fmt, facecolor="white"), make_parents=True)


def _as_numpy(x, what: str) -> np.ndarray:
    """An ndarray from an ndarray, a nested sequence, a chainrule Tensor or a CuPy array."""
    from chainrule.engine import Tensor

    if isinstance(x, Tensor):
        x = x.data
    if type(x).__module__.startswith("cupy"):
        x = x.get()
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be an array, got {type(x).__name__}: {exc}") from None


def _finite_or_nan(values) -> np.ndarray:
    # inf from a diverging run would stretch or break the axes; nan leaves a gap instead.
    a = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(a), a, np.nan)


def _class_name(names, label) -> str:
    if names is None:
        return str(label)
    if isinstance(names, Mapping):
        return str(names[label])
    return str(names[int(label)])


def _check_class_names(names, labels, what: str) -> None:
    if names is None:
        return
    if isinstance(names, Mapping):
        missing = [lab for lab in labels if lab not in names]
        if missing:
            raise ValueError(f"class_names has no name for {what} {missing[:5]}")
        return
    if isinstance(names, (str, bytes)) or not isinstance(names, Sequence):
        raise ValueError(f"class_names must be a sequence or a mapping, got {type(names).__name__}")
    def named(lab):
        try:
            return float(lab).is_integer() and 0 <= int(lab) < len(names)
        except (TypeError, ValueError):
            return False

    bad = [lab for lab in labels if not named(lab)]
    if bad:
        raise ValueError(
            f"class_names has {len(names)} names but {what} include {bad[:5]}; "
            "pass one name per label 0..K-1 or a mapping label -> name"
        )


# --- training curves ---------------------------------------------------------------------


def _column(records, key, epochs):
    """``(epochs, values)`` where ``key`` was recorded, or None when it never was.

    Missing entries are dropped rather than left as gaps, so a validation accuracy measured
    every few epochs still draws as one line.
    """
    keep = [i for i, r in enumerate(records) if r.get(key) is not None]
    if not keep:
        return None
    try:
        values = _finite_or_nan([records[i][key] for i in keep])
    except (TypeError, ValueError):
        raise ValueError(f"the {key!r} entries of the records must be numbers") from None
    return epochs[keep], values


def plot_history(records, path) -> Path:
    """Plot a training history: loss per epoch beside train and validation accuracy.

    ``records`` is a non-empty list of per-epoch dicts with ``loss`` and optionally
    ``epoch`` (default: 1, 2, ...), ``val_loss``, ``train_acc``, ``val_acc`` and ``lr``;
    missing or ``None`` entries are skipped (a validation accuracy measured every few epochs
    still draws as one line), non-finite losses leave gaps. When the learning rate changes over the run a
    third panel shows it. Raises ValueError for an empty list, a record that is not a dict or
    one without ``loss``.

    Example:
        >>> plot_history(fit_result.history, "history.png")   # doctest: +SKIP
    """
    if isinstance(records, Mapping) or not isinstance(records, Sequence) or not records:
        raise ValueError("records must be a non-empty list of per-epoch dicts")
    for i, r in enumerate(records):
        if not isinstance(r, Mapping):
            raise ValueError(f"record {i} is a {type(r).__name__}, not a dict")
        if r.get("loss") is None:
            raise ValueError(f"record {i} has no 'loss'")

    epochs = np.arange(1, len(records) + 1, dtype=np.float64)
    if all(r.get("epoch") is not None for r in records):
        try:
            epochs = _finite_or_nan([r["epoch"] for r in records])
        except (TypeError, ValueError):
            raise ValueError("the 'epoch' entries of the records must be numbers") from None
    loss = _column(records, "loss", epochs)
    val_loss = _column(records, "val_loss", epochs)
    train_acc = _column(records, "train_acc", epochs)
    val_acc = _column(records, "val_acc", epochs)
    lr = _column(records, "lr", epochs)
    lr_changes = lr is not None and np.nanmax(lr[1]) != np.nanmin(lr[1])

    panels = 3 if lr_changes else 2
    fig = _new_figure(4.6 * panels, 3.8)
    axes = fig.subplots(1, panels)
    marker = "o" if len(records) <= 30 else None

    ax = axes[0]
    ax.plot(*loss, marker=marker, label="train loss")
    if val_loss is not None:
        ax.plot(*val_loss, marker=marker, label="val loss")
        ax.legend()
    ax.set(title="loss", xlabel="epoch", ylabel="loss")
    ax.grid(alpha=0.3)

    ax = axes[1]
    if train_acc is None and val_acc is None:
        ax.text(0.5, 0.5, "no accuracy recorded", ha="center", va="center",
                transform=ax.transAxes, color="gray")
    else:
        if train_acc is not None:
            ax.plot(*train_acc, marker=marker, label="train")
        if val_acc is not None:
            ax.plot(*val_acc, marker=marker, label="validation")
        ax.legend()
    ax.set(title="accuracy", xlabel="epoch", ylabel="accuracy")
    ax.grid(alpha=0.3)

    if lr_changes:
        ax = axes[2]
        ax.plot(*lr, marker=marker, color="tab:gray")
        ax.set(title="learning rate", xlabel="epoch", ylabel="lr")
        if np.nanmin(lr[1]) > 0:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    return _save(fig, path)


def _curve_xy(name, curve):
    # (xs, ys) is told apart from a two-point curve [a, b] by its parts being sequences.
    if isinstance(curve, tuple) and len(curve) == 2 and all(np.ndim(c) == 1 for c in curve):
        xs = np.asarray(curve[0], dtype=np.float64)
        ys = _finite_or_nan(curve[1])
        if xs.shape != ys.shape:
            raise ValueError(
                f"curve {name!r}: xs has {xs.size} values but ys has {ys.size}"
            )
    else:
        try:
            ys = _finite_or_nan(curve)
        except (TypeError, ValueError):
            raise ValueError(f"curve {name!r} must be a sequence of numbers or (xs, ys)") from None
        if ys.ndim != 1:
            raise ValueError(f"curve {name!r} must be 1-D, got shape {ys.shape}")
        xs = np.arange(1, ys.size + 1, dtype=np.float64)
    if ys.size == 0:
        raise ValueError(f"curve {name!r} is empty")
    return xs, ys


def best_so_far(losses) -> np.ndarray:
    """The running minimum of ``losses``: what a strategy has achieved after each evaluation.

    NaN and infinite losses (a diverged step) do not lower it; before the first finite loss it
    is NaN (nothing achieved yet).

    >>> best_so_far([3.0, 4.0, float("nan"), 2.0, 5.0]).tolist()
    [3.0, 3.0, 3.0, 2.0, 2.0]
    """
    ys = np.asarray(losses, dtype=np.float64)
    return np.fmin.accumulate(np.where(np.isfinite(ys), ys, np.nan)) if ys.size else ys


def plot_loss_curves(curves, path, *, xlabel: str = "loss evaluations", log: bool = True,
                     best: bool = False, title: str | None = None) -> Path:
    """Plot several strategies' loss curves on one axis, e.g. for ``chainrule compare``.

    ``curves`` maps a label to its losses (x is then 1, 2, ...) or to a pair ``(xs, ys)``.
    With ``best`` each curve is its best loss so far (:func:`best_so_far`), the fair way to
    compare a search that keeps its best draw with a descent that may go up for a while.
    With ``log`` the y axis is logarithmic, or symmetric-logarithmic when some loss is zero or
    negative. Non-finite losses (a diverged run) leave gaps. The legend sits beside the axes,
    never over a curve. Raises ValueError for no curves, an empty or 2-D curve, or xs and ys
    of different lengths.

    Example:
        >>> plot_loss_curves({"random search": [2.3, 2.2, 2.1],
        ...                   "sgd": ([0, 10, 20], [2.3, 1.0, 0.4])}, "compare.png")  # doctest: +SKIP
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError("curves must be a non-empty dict of label -> losses")
    data = {str(name): _curve_xy(name, c) for name, c in curves.items()}
    if best:
        data = {name: (xs, best_so_far(ys)) for name, (xs, ys) in data.items()}

    fig = _new_figure(9.0, 4.8)
    ax = fig.subplots()
    for name, (xs, ys) in data.items():
        ax.plot(xs, ys, label=name, marker="o" if ys.size <= 25 else None, markersize=3)
    if log:
        finite = np.concatenate([ys[np.isfinite(ys)] for _, ys in data.values()])
        if finite.size and finite.min() > 0:
            ax.set_yscale("log")
        elif finite.size:
            positive = np.abs(finite[finite != 0])
            ax.set_yscale("symlog", linthresh=float(positive.min()) if positive.size else 1.0)
    from matplotlib.ticker import StrMethodFormatter

    ylabel = "best loss so far" if best else "loss"
    ax.set(xlabel=xlabel, ylabel=ylabel + (" (log scale)" if log else ""),
           title=title or (f"{ylabel} per {'strategy' if len(data) > 1 else 'run'}"))
    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    if ax.get_yscale() == "log":
        # Plain numbers (0.9, 2) rather than 9×10⁻¹; the in-between ticks get labels only when
        # the curves span less than two decades, where they are the only ticks there are.
        from matplotlib.ticker import FuncFormatter, NullFormatter

        plain = FuncFormatter(lambda v, _: f"{v:g}")
        ax.yaxis.set_major_formatter(plain)
        lo, hi = ax.get_ylim()
        ax.yaxis.set_minor_formatter(plain if hi / lo < 100 else NullFormatter())
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    return _save(fig, path)


# --- models ----------------------------------------------------------------------------------


def _class_colors(n: int):
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def plot_decision_regions(predict, X, y, path, *, resolution: int = 200, class_names=None) -> Path:
    """Shade the plane by the class ``predict`` gives each point and scatter the data on top.

    ``predict`` maps an ``(n, 2)`` float array to ``n`` integer labels; it is called once on a
    ``resolution`` x ``resolution`` grid that covers ``X`` with a 10% margin. ``class_names``
    is a sequence indexed by label or a mapping label -> name. Raises ValueError when ``X`` is
    not ``(n, 2)``, ``y`` does not have ``n`` labels, ``resolution`` is outside 2..2000, or
    ``predict`` returns the wrong number of labels.

    Example:
        >>> plot_decision_regions(model.predict, X, y, "regions.png")   # doctest: +SKIP
    """
    from matplotlib.colors import BoundaryNorm, ListedColormap

    if not callable(predict):
        raise ValueError(f"predict must be callable, got {type(predict).__name__}")
    X = _as_numpy(X, "X")
    y = _as_numpy(y, "y")
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (n, 2) to be drawn in the plane, got {X.shape}")
    if X.shape[0] == 0:
        raise ValueError("X has no rows")
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have shape ({X.shape[0]},) to match X, got {y.shape}")
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) \
            or not 2 <= resolution <= _MAX_RESOLUTION:
        raise ValueError(f"resolution must be an int in 2..{_MAX_RESOLUTION}, got {resolution!r}")
    X = X.astype(np.float64)
    if not np.isfinite(X).all():
        raise ValueError("X contains nan or inf")

    lo, hi = X.min(axis=0), X.max(axis=0)
    margin = np.where(hi > lo, 0.1 * (hi - lo), 1.0)
    lo, hi = lo - margin, hi + margin
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    pred = _as_numpy(predict(grid), "predict's result").ravel()
    if pred.size != grid.shape[0]:
        raise ValueError(
            f"predict returned {pred.size} labels for {grid.shape[0]} points; "
            "it must return one label per row"
        )

    classes = np.unique(np.concatenate([np.unique(y), np.unique(pred)]))
    _check_class_names(class_names, classes.tolist(), "labels")
    colors = _class_colors(len(classes))
    cmap = ListedColormap(colors)
    norm = BoundaryNorm(np.arange(len(classes) + 1) - 0.5, cmap.N)
    region = np.searchsorted(classes, pred).reshape(gx.shape)

    fig = _new_figure(6.0, 5.0)
    ax = fig.subplots()
    ax.imshow(region, origin="lower", extent=(lo[0], hi[0], lo[1], hi[1]), cmap=cmap, norm=norm,
              alpha=0.3, aspect="auto", interpolation="nearest")
    point_class = np.searchsorted(classes, y)
    for k, label in enumerate(classes):
        mask = point_class == k
        if mask.any():
            ax.scatter(X[mask, 0], X[mask, 1], color=colors[k], edgecolors="black",
                       linewidths=0.5, s=22, label=_class_name(class_names, label))
    ax.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]), xlabel="$x_1$", ylabel="$x_2$",
           title="decision regions")
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def plot_weight_images(W, image_shape, path, *, class_names=None, title: str | None = None,
                       total: int | None = None) -> Path:
    """Show each row of ``W`` (``K x D``) as an image, like the lecture's CIFAR-10 templates.

    ``image_shape`` is ``(h, w)`` for grey or ``(h, w, 3)`` for colour images, with
    ``h * w * channels == D``. Each row is min-max normalized on its own, so a template's
    pattern shows whatever its scale; the colour bar says so (dark: the row's lowest weight,
    light: its highest). The title says what is shown and how many rows: ``title`` (default
    "weights: K rows of W as h×w images"), followed by "K of ``total``" when ``W`` is a part of
    a larger matrix (the first units of a wide hidden layer). Raises ValueError for a bad
    ``image_shape``, a ``W`` that is not 2-D or whose rows are not ``D`` long (with a hint when
    ``W.T`` would fit), or ``class_names`` of the wrong length.

    Example:
        >>> plot_weight_images(model.W_, (32, 32, 3), "templates.png",
        ...                    class_names=["plane", "car", ...])   # doctest: +SKIP
    """
    W = _as_numpy(W, "W")
    try:
        shape = tuple(int(s) for s in image_shape)
    except (TypeError, ValueError):
        raise ValueError(f"image_shape must be (h, w) or (h, w, 3), got {image_shape!r}") from None
    if not (len(shape) == 2 or (len(shape) == 3 and shape[2] == 3)) or min(shape) < 1:
        raise ValueError(f"image_shape must be (h, w) or (h, w, 3), got {image_shape!r}")
    D = math.prod(shape)
    if W.ndim != 2:
        raise ValueError(f"W must be 2-D (K, {D}), got shape {W.shape}")
    if W.shape[1] != D:
        hint = "; did you mean W.T?" if W.shape[0] == D else ""
        raise ValueError(f"W has shape {W.shape} but image_shape {shape} needs (K, {D}){hint}")
    K = W.shape[0]
    if K == 0:
        raise ValueError("W has no rows")
    if class_names is not None and len(class_names) != K:
        raise ValueError(f"class_names has {len(class_names)} names for {K} rows of W")

    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    W = W.astype(np.float64)
    lo = np.nanmin(W, axis=1, keepdims=True)
    span = np.nanmax(W, axis=1, keepdims=True) - lo
    # A constant row has no pattern to show; mid-grey says so better than a division by 0.
    images = np.where(span > 0, (W - lo) / np.where(span > 0, span, 1.0), 0.5)

    cols = min(K, 10)
    rows = math.ceil(K / cols)
    fig = _new_figure(1.3 * cols + 0.4, 1.45 * rows + 0.3)
    # One picture of all the images (a mosaic), on one axes: a figure of K small axes spent
    # seconds laying them out, which a sweep paid for every trial.
    h, w = shape[:2]
    gap = max(1, round(max(h, w) / 8))  # between two images
    label = max(2, round(h / 4))  # above each image, room for its name
    tile_h, tile_w = label + h + gap, w + gap
    mosaic = np.full((rows * tile_h, cols * tile_w - gap) + shape[2:], np.nan)
    ax = fig.subplots()
    for k in range(K):
        r, c = divmod(k, cols)
        top, left = r * tile_h + label, c * tile_w
        mosaic[top:top + h, left:left + w] = images[k].reshape(shape)
        ax.text(left + (w - 1) / 2, top - 0.7, str(class_names[k]) if class_names is not None else str(k),
                ha="center", va="bottom", fontsize=9)
    mosaic = mosaic[:rows * tile_h - gap]
    if len(shape) == 2:
        cmap = colormaps["gray"].with_extremes(bad="white")
        ax.imshow(np.ma.masked_invalid(mosaic), cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(np.where(np.isnan(mosaic), 1.0, mosaic), interpolation="nearest")
    ax.axis("off")
    size = "×".join(map(str, shape[:2])) + (" colour" if len(shape) == 3 else "")
    shown = f"{K} of {total}" if total is not None and total > K else f"{K}"
    fig.suptitle(f"{title or 'weights: rows of W'} ({shown} shown, as {size} images)", fontsize=10)
    bar = fig.colorbar(ScalarMappable(Normalize(0.0, 1.0), colormaps["gray"]), ax=ax,
                       ticks=[0.0, 1.0], shrink=0.8, pad=0.02, aspect=max(10, 12 * rows))
    bar.ax.set_yticklabels(["lowest", "highest"], fontsize=8)
    bar.set_label("weight, each image scaled\nto its own min..max", fontsize=8)
    return _save(fig, path)


def plot_confusion_matrix(cm, path, *, class_names=None) -> Path:
    """Draw a confusion matrix as an annotated heat map (rows: true class, columns: predicted).

    Counts are written in each cell (two decimals for a normalized, non-integer matrix) when
    there are at most 30 classes. Raises ValueError when ``cm`` is not square, is empty, holds
    negative or non-finite values, or ``class_names`` has the wrong length.

    Example:
        >>> from sklearn.metrics import confusion_matrix
        >>> plot_confusion_matrix(confusion_matrix(y, y_pred), "cm.png")   # doctest: +SKIP
    """
    cm = _as_numpy(cm, "cm")
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] == 0:
        raise ValueError(f"cm must be a non-empty square matrix (K, K), got shape {cm.shape}")
    if cm.dtype.kind not in "biuf":
        raise ValueError(f"cm must be numeric, got dtype {cm.dtype}")
    cm = cm.astype(np.float64)
    if not np.isfinite(cm).all() or (cm < 0).any():
        raise ValueError("cm must hold finite, non-negative counts")
    K = cm.shape[0]
    if class_names is not None and len(class_names) != K:
        raise ValueError(f"class_names has {len(class_names)} names for a {K}x{K} matrix")
    names = [str(n) for n in class_names] if class_names is not None else [str(k) for k in range(K)]

    side = min(2.0 + 0.55 * K, 16.0)
    fig = _new_figure(side + 1.2, side)
    ax = fig.subplots()
    im = ax.imshow(cm, cmap="Blues", vmin=0.0, interpolation="nearest")
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_xticks(range(K), names, rotation=45 if K > 4 else 0, ha="right" if K > 4 else "center")
    ax.set_yticks(range(K), names)
    ax.set(xlabel="predicted", ylabel="true", title="confusion matrix")
    if K <= 30:
        whole = np.all(cm == np.round(cm))
        threshold = cm.max() / 2.0
        for i in range(K):
            for j in range(K):
                text = f"{int(cm[i, j])}" if whole else f"{cm[i, j]:.2f}"
                ax.text(j, i, text, ha="center", va="center", fontsize=9,
                        color="white" if cm[i, j] > threshold else "black")
    return _save(fig, path)


def plot_filters(weight, path, *, title: str | None = None) -> Path:
    """Show a convolution's filters as images: ``weight`` of shape (C_out, C_in, kh, kw) with
    one input channel (grey) or three (colour), like the first layer of a CNN.

    Each filter is min-max normalized on its own (as in :func:`plot_weight_images`).

    Example:
        >>> plot_filters(model[0].weight, "filters.png")   # doctest: +SKIP
    """
    w = _as_numpy(weight, "weight")
    if w.ndim != 4 or w.shape[1] not in (1, 3):
        raise ValueError(f"plot_filters needs a weight of shape (C_out, 1 or 3, kh, kw); got {w.shape}")
    if w.shape[1] == 1:
        return plot_weight_images(w.reshape(w.shape[0], -1), w.shape[2:], path, title=title)
    return plot_weight_images(w.transpose(0, 2, 3, 1).reshape(w.shape[0], -1), (*w.shape[2:], 3), path,
                              title=title)


def plot_feature_maps(maps, path, *, title: str | None = None) -> Path:
    """Show each channel of one example's feature maps, shape (C, H, W), as a grey image.

    Example:
        >>> plot_feature_maps(model[:2](x[:1]).numpy()[0], "maps.png")   # doctest: +SKIP
    """
    m = _as_numpy(maps, "maps")
    if m.ndim != 3:
        raise ValueError(f"plot_feature_maps needs maps of shape (C, H, W); got {m.shape}")
    return plot_weight_images(m.reshape(m.shape[0], -1), m.shape[1:], path, title=title)


# --- sweeps ----------------------------------------------------------------------------------


def plot_param_scores(columns, scores, path, *, metric: str = "val_acc", log=()) -> Path:
    """Plot a sweep's metric against each numeric parameter: one panel per parameter.

    ``columns`` maps a parameter name to its value in each trial, ``scores`` holds each trial's
    metric (NaN for a failed trial: not drawn). The x axis of a name in ``log`` is logarithmic,
    as the cs231n notes search learning rates and regularization strengths. Raises ValueError
    for no columns or a column whose length differs from ``scores``.

    Example:
        >>> plot_param_scores({"lr": [1e-3, 1e-2, 1e-1]}, [0.90, 0.95, 0.40], "scores.png",
        ...                   log=["lr"])                                   # doctest: +SKIP
    """
    if not isinstance(columns, Mapping) or not columns:
        raise ValueError("columns must be a non-empty dict of parameter name -> values")
    y = np.asarray(scores, dtype=np.float64)
    data = {}
    for name, values in columns.items():
        x = np.asarray(values, dtype=np.float64)
        if x.shape != y.shape:
            raise ValueError(f"column {name!r} has {x.size} values for {y.size} scores")
        data[str(name)] = x
    n = len(data)
    fig = _new_figure(min(4.0 * n, 16.0), 3.6)
    axes = np.atleast_1d(fig.subplots(1, n, sharey=True))
    ok = np.isfinite(y)
    for ax, (name, x) in zip(axes, data.items()):
        ax.scatter(x[ok], y[ok], s=18, alpha=0.8)
        if name in log:
            ax.set_xscale("log")
        ax.set(xlabel=name)
        ax.grid(alpha=0.3, which="both")
    axes[0].set(ylabel=metric)
    fig.suptitle(f"{metric} of each trial")
    return _save(fig, path)


def plot_param_scatter(x, y, scores, path, *, xlabel: str = "lr", ylabel: str = "reg",
                       metric: str = "val_acc", logx: bool = True, logy: bool = True) -> Path:
    """The cs231n picture: one point per trial at (x, y), coloured by its metric.

    Trials whose score is NaN (failed) are drawn as grey crosses. Raises ValueError when x, y
    and scores differ in length.

    Example:
        >>> plot_param_scatter([1e-3, 1e-2], [1e-5, 1e-3], [0.9, 0.8], "lr_reg.png")  # doctest: +SKIP
    """
    x, y, s = (np.asarray(v, dtype=np.float64) for v in (x, y, scores))
    if not x.shape == y.shape == s.shape or x.ndim != 1:
        raise ValueError(f"x, y and scores must be 1-D of one length, got {x.shape}, {y.shape}, {s.shape}")
    fig = _new_figure(5.5, 4.5)
    ax = fig.subplots()
    ok = np.isfinite(s)
    points = ax.scatter(x[ok], y[ok], c=s[ok], cmap="viridis", s=60, edgecolors="black", linewidths=0.3)
    if (~ok).any():
        ax.scatter(x[~ok], y[~ok], marker="x", color="grey", label="failed")
        ax.legend()
    fig.colorbar(points, ax=ax, label=metric)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=f"{metric} by {xlabel} and {ylabel}")
    ax.grid(alpha=0.3, which="both")
    return _save(fig, path)
