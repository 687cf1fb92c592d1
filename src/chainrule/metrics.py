"""Metrics of predictions: accuracy, per-class precision and recall, confusion matrices, regression errors.

The library and the ``chainrule`` command share them (``chainrule evaluate``, the test metrics of
``chainrule train`` and of :func:`chainrule.runs.train_run`).

>>> from chainrule.metrics import classification_metrics
>>> m = classification_metrics([0, 1, 1, 2], [0, 1, 2, 2], ["a", "b", "c"])
>>> m["accuracy"], m["confusion_matrix"]
(0.75, [[1, 0, 0], [0, 1, 1], [0, 0, 1]])
>>> m["per_class"][1]
{'class': 'b', 'precision': 1.0, 'recall': 0.5, 'support': 2}
"""
from __future__ import annotations

import numpy as np

__all__ = ["classification_metrics", "format_metrics_table", "regression_metrics"]


def classification_metrics(y_true, y_pred, classes) -> dict:
    """Accuracy, per-class precision / recall / support and the confusion matrix.

    Rows of the confusion matrix are the true classes, columns the predicted ones. A class that
    is never predicted has precision ``None`` (undefined), one without examples recall ``None``.
    """
    K = len(classes)
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    cm = np.zeros((K, K), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    per_class = []
    for k, name in enumerate(classes):
        tp = int(cm[k, k])
        predicted, support = int(cm[:, k].sum()), int(cm[k, :].sum())
        per_class.append({
            "class": str(name),
            "precision": tp / predicted if predicted else None,
            "recall": tp / support if support else None,
            "support": support,
        })
    n = len(y_true)
    return {
        "n": n,
        "accuracy": float(np.mean(y_true == y_pred)) if n else None,
        "per_class": per_class,
        "confusion_matrix": cm.tolist(),
    }


def regression_metrics(y_true, y_pred) -> dict:
    """Mean squared error, mean absolute error and R² of predictions."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(y_true.shape)
    err = y_pred - y_true
    var = float(np.var(y_true))
    return {
        "n": len(y_true),
        "mse": float(np.mean(err ** 2)),
        "mae": float(np.mean(np.abs(err))),
        "r2": 1 - float(np.mean(err ** 2)) / var if var > 0 else None,
    }


def format_metrics_table(metrics: dict) -> str:
    """The per-class table and the confusion matrix as text."""
    rows = [("class", "precision", "recall", "support")]
    for r in metrics["per_class"]:
        rows.append((r["class"], _pct(r["precision"]), _pct(r["recall"]), str(r["support"])))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    names = [r["class"] for r in metrics["per_class"]]
    cm = metrics["confusion_matrix"]
    width = max([len(n) for n in names] + [len(str(v)) for row in cm for v in row] + [4])
    lines += ["", "confusion matrix (rows: true class, columns: predicted class)",
              " " * (width + 2) + " ".join(n[:width].rjust(width) for n in names)]
    for name, row in zip(names, cm):
        lines.append(name[:width].rjust(width) + "  " + " ".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)


def _pct(v) -> str:
    return "-" if v is None else f"{v:.2%}"
