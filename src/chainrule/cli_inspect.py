"""``chainrule evaluate`` and ``chainrule predict``: use a saved model on data.

Both read a model file written by ``chainrule train`` (or ``chainrule.io.save_model``) and
reuse what it stores beside the weights: the preprocessing statistics of the training data,
the class names, and the loss the model was trained with (which decides whether its outputs
are shown as probabilities or as scores).
"""
from __future__ import annotations

import csv
import io as _io
import json
import math
import sys
from pathlib import Path

import numpy as np

from chainrule.cli_common import (
    LOSS_OUTPUT, Head, UsageError, apply_preprocess, check_output_dir, check_output_file,
    classification_metrics, emit_json, format_metrics_table, implied_loss, in_features,
    load_data, regression_metrics, say, split_data,
)

SPLITS = ("test", "val", "train", "all")
DEFAULT_SPLIT = {"test_size": 0.25, "val_size": 0.1, "seed": 0}


# ====================================================================== loading a model
class SavedModel:
    """A model file with what it says about itself (or sensible defaults for a bare model)."""

    def __init__(self, path: Path):
        from chainrule import io

        self.path = path
        self.model, meta = io.load_model(path)
        self.meta = meta
        self.loss = meta.get("loss") or implied_loss(self.model) or "cross-entropy"
        if self.loss not in LOSS_OUTPUT:
            raise UsageError(f"{path}: unknown loss {self.loss!r} in the model file")
        self.task = "regression" if self.loss == "mse" else "classification"
        width = Head(self.model, self.loss, []).n_outputs
        classes = meta.get("classes")
        if self.task == "classification" and not classes:
            classes = [str(k) for k in range(2 if width == 1 else width)]
        self.classes = [str(c) for c in classes or []]
        self.preprocess = meta.get("preprocess") or {"kind": "none"}
        self.feature_names = meta.get("feature_names")
        self.n_features = in_features(self.model)
        self.data = meta.get("data") or {}
        self.head = Head(self.model, self.loss, self.classes)

    def transform(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if X.shape[1] != self.n_features:
            raise UsageError(f"the model expects {self.n_features} features per example; the data has {X.shape[1]}")
        return apply_preprocess(self.preprocess, X)


def model_path(text) -> Path:
    """A model file, or the model.npz inside a run folder."""
    path = Path(text)
    if path.is_dir():
        path = path / "model.npz"
        if not path.is_file():
            raise UsageError(f"{text} holds no model.npz (did its training run finish?)")
    elif not path.is_file():
        raise UsageError(f"no such model file: {text}")
    return path


# ====================================================================== evaluate
def run_evaluate(args) -> int:
    """``chainrule evaluate``: accuracy, per-class precision and recall, confusion matrix."""
    if (args.run is None) == (args.model is None):
        raise UsageError("give a run folder (chainrule evaluate RUN_DIR) or --model FILE, not both")
    source = args.run if args.run is not None else args.model
    path = model_path(source)
    out_dir = Path(args.out) if args.out else path.parent
    check_output_dir(out_dir)
    saved = SavedModel(path)
    data_name, same = _evaluation_data(args, saved)
    split = args.split or ("test" if same else "all")
    ds = load_data(data_name, seed=saved.data.get("seed", 0) if same else args.seed,
                   n_samples=saved.data.get("n_samples") if same else args.n_samples,
                   noise=saved.data.get("noise") if same else None,
                   data_dir=args.data_dir or (saved.data.get("data_dir") if same else None),
                   label_column=args.label_column or (saved.data.get("label_column") if same else None))
    if ds.task != saved.task:
        raise UsageError(f"{ds.name} is a {ds.task} dataset but the model does {saved.task}")
    X, y = _pick_split(ds, split, saved.data if same else DEFAULT_SPLIT)
    if len(y) == 0:
        raise UsageError(f"the {split} part of {ds.name} is empty; choose another --split")
    if ds.task == "classification":
        y = _map_labels(y, ds.classes, saved.classes)
    pred = saved.head.predict(saved.transform(X))
    result = {"model": str(path), "data": ds.name, "split": split}
    if saved.task == "regression":
        result.update(regression_metrics(y, pred))
    else:
        result.update(classification_metrics(y, pred, saved.classes))
        from chainrule import viz

        if not args.no_plot:
            out_dir.mkdir(parents=True, exist_ok=True)
            result["confusion_png"] = str(viz.plot_confusion_matrix(
                np.asarray(result["confusion_matrix"]), out_dir / "confusion.png", class_names=saved.classes))
    if args.json:
        emit_json(result)
        return 0
    say(f"{path} on {ds.name} ({split}, {result['n']} examples)")
    if saved.task == "regression":
        r2 = "-" if result["r2"] is None else f"{result['r2']:.4f}"
        say(f"MSE {result['mse']:.6g}  MAE {result['mae']:.6g}  R² {r2}")
        return 0
    say(f"accuracy {result['accuracy']:.2%}")
    say("")
    say(format_metrics_table(result))
    if "confusion_png" in result:
        say(f"\nwrote {result['confusion_png']}")
    return 0


def _evaluation_data(args, saved: SavedModel) -> tuple[str, bool]:
    """The data to evaluate on, and whether it is the data the model was trained on."""
    trained_on = saved.data.get("data")
    if args.data is None:
        if not trained_on:
            raise UsageError(f"{saved.path} does not say which data it was trained on; give --data")
        return trained_on, True
    same = trained_on is not None and _same_data(args.data, trained_on) and args.n_samples in (
        None, saved.data.get("n_samples"))
    return args.data, same


def _same_data(a: str, b: str) -> bool:
    if str(a).lower().endswith((".csv", ".npz")):
        return Path(a).expanduser().resolve() == Path(b)
    return str(a).strip().lower().replace("_", "-") == str(b).strip().lower().replace("_", "-")


def _pick_split(ds, split: str, saved: dict):
    if split == "all":
        return ds.X, ds.y
    parts = split_data(ds, test_size=saved.get("test_size", 0.25), val_size=saved.get("val_size", 0.1),
                       seed=saved.get("seed", 0))
    X_tr, y_tr, X_va, y_va, X_te, y_te = parts
    return {"train": (X_tr, y_tr), "val": (X_va, y_va), "test": (X_te, y_te)}[split]


def _map_labels(y, data_classes, model_classes) -> np.ndarray:
    """The data's labels as the model's class indices, matched by class name."""
    if list(data_classes) == list(model_classes):
        return np.asarray(y)
    index = {c: k for k, c in enumerate(model_classes)}
    unknown = [c for c in data_classes if c not in index]
    if unknown:
        raise UsageError(f"the data has classes {unknown[:5]} that the model does not know "
                         f"(its classes are {list(model_classes)[:10]})")
    lookup = np.array([index[c] for c in data_classes], dtype=np.int64)
    return lookup[np.asarray(y)]


# ====================================================================== predict
def run_predict(args) -> int:
    """``chainrule predict``: classes and probabilities (or scores) for the rows of a CSV file."""
    path = model_path(args.model)
    fmt = args.format or ("json" if args.output and str(args.output).lower().endswith(".json") else "csv")
    if args.output is not None:
        check_output_file(args.output)
    if args.input != "-" and (not Path(args.input).exists() or Path(args.input).is_dir()):
        raise UsageError(f"--input {args.input}: no such file")
    saved = SavedModel(path)
    X = read_feature_csv(args.input, saved)
    names, values, labels = saved.head.columns(saved.transform(X))
    if saved.task == "regression":
        rows = [{"prediction": float(v[0])} for v in values]
    else:
        rows = [{"class": saved.classes[int(k)], **{n: float(x) for n, x in zip(names, v)}}
                for k, v in zip(labels, values)]
    if fmt == "json":
        text = json.dumps({"model": str(path), "output": saved.head.output, "columns": names,
                           "predictions": rows}, indent=2) + "\n"
    else:
        text = _rows_csv(rows)
    if args.output is None:
        print(text, end="", flush=True)
    else:
        from chainrule import io

        io.write_text_atomic(args.output, text)
    return 0


def _rows_csv(rows: list) -> str:
    buf = _io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    keys = list(rows[0]) if rows else []
    writer.writerow(keys)
    for r in rows:
        writer.writerow([f"{v:.6g}" if isinstance(v, float) else v for v in r.values()])
    return buf.getvalue()


def _number(text: str):
    try:
        value = float(text)
    except ValueError:
        return None
    return value


def read_feature_csv(path, saved: SavedModel) -> np.ndarray:
    """The feature rows of a CSV file (``-``: standard input), in the model's feature order.

    A header row is optional. With one, columns are matched to the model's feature names when
    they are all present (extra columns, such as a label, are ignored); otherwise a column named
    ``label`` (or the training run's label column) is dropped and the rest must be the features.
    """
    try:
        if str(path) == "-":
            path = "<stdin>"
            text = sys.stdin.read()
        else:
            with open(path, newline="", encoding="utf-8-sig") as fh:
                text = fh.read()
        rows = [(n + 1, row) for n, row in enumerate(csv.reader(_io.StringIO(text, newline="")))
                if any(c.strip() for c in row)]
    except (csv.Error, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not a readable UTF-8 CSV file ({one(exc)})") from None
    if not rows:
        raise UsageError(f"{path}: the file is empty")
    D = saved.n_features
    first = [c.strip() for c in rows[0][1]]
    columns = list(range(len(first)))
    if any(_number(c) is None for c in first):
        header, rows = first, rows[1:]
        wanted = saved.feature_names or []
        if wanted and all(name in header for name in wanted):
            columns = [header.index(name) for name in wanted]
        else:
            drop = {saved.data.get("label_column") or "label"}
            columns = [j for j, name in enumerate(header) if name not in drop]
        if not rows:
            raise UsageError(f"{path}: a header but no data rows")
    width = len(first)
    if len(columns) != D:
        raise UsageError(f"{path}: {len(columns)} feature column(s), but the model expects {D}")
    X = np.empty((len(rows), D), dtype=np.float64)
    for i, (line, row) in enumerate(rows):
        if len(row) != width:
            raise UsageError(f"{path}, line {line}: {len(row)} fields, expected {width} like the first row")
        for c, j in enumerate(columns):
            value = _number(row[j])
            if value is None or not math.isfinite(value):
                raise UsageError(f"{path}, line {line}, field {j + 1}: expected a finite number, got {row[j]!r}")
            X[i, c] = value
    return X


def one(exc) -> str:
    return " ".join(str(exc).split())
