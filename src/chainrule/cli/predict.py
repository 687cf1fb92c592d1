"""``chainrule predict``: classes and probabilities (or scores) for the rows of a CSV file.

The model file's stored loss decides whether its outputs are shown as probabilities or as scores.
"""
from __future__ import annotations

import csv
import io as _io
import math
import sys
from pathlib import Path

import numpy as np

from chainrule.cli.common import Formatter, SavedModel, UsageError, check_output_file, model_path, the_model
from chainrule.io import dumps_strict


def add_parser(sub) -> None:
    """Add the subcommand's parser to ``sub`` (argparse subparsers); it runs :func:`run`."""
    p = sub.add_parser(
        "predict", help="classes and probabilities for the rows of a CSV file", formatter_class=Formatter,
        description="Predict with a saved model. Each row of the input CSV is one example (a header row is\n"
                    "optional; with one, columns are matched to the training features by name and a 'label'\n"
                    "column is ignored). The output has the predicted class (its original name) and one\n"
                    "column per class: p(CLASS), the softmax probabilities, for softmax and MLP models;\n"
                    "p(CLASS) from the sigmoid for logistic regression; score(CLASS) for SVMs and the\n"
                    "perceptron, whose scores are not probabilities; a single 'score(B vs A)' column for\n"
                    "binary SVMs (positive means B). Regression models give one 'prediction' column.",
        epilog="examples:\n  chainrule predict --model runs/my-run --input new.csv\n"
               "  chainrule predict --model model.npz --input new.csv --output predictions.json")
    p.add_argument("model_arg", nargs="?", metavar="MODEL", help="a run folder or a model file (model.npz)")
    p.add_argument("--model", metavar="FILE|RUN_DIR", help="the same, as an option")
    p.add_argument("--input", required=True, metavar="CSV", help="the examples, one per row ('-': standard input)")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout (written whole or not at all)")
    p.add_argument("--format", choices=("csv", "json"),
                   help="default: json for an --output ending in .json, else csv")
    p.set_defaults(func=run)


# ====================================================================== predict
def run(args) -> int:
    """``chainrule predict``: classes and probabilities (or scores) for the rows of a CSV file."""
    path = model_path(the_model(args, "predict"))
    fmt = args.format or ("json" if args.output and str(args.output).lower().endswith(".json") else "csv")
    if args.output is not None:
        check_output_file(args.output)
    if args.input != "-" and (not Path(args.input).exists() or Path(args.input).is_dir()):
        raise UsageError(f"--input {args.input}: no such file")
    saved = SavedModel(path)
    X = read_feature_csv(args.input, saved)
    names, values, labels = saved.head.columns(saved.transform(X, what=f"--input {args.input}"))
    if saved.task == "regression":
        rows = [{"prediction": float(v[0])} for v in values]
    else:
        rows = [{"class": saved.classes[int(k)], **{n: float(x) for n, x in zip(names, v)}}
                for k, v in zip(labels, values)]
    if fmt == "json":
        text = dumps_strict({"model": str(path), "output": saved.head.output, "columns": names,
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
    A first row that mixes numbers and text is a header only when it names the model's features
    or the label column; otherwise it is data, and its text is an error (see :func:`_is_header`).
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
    columns, header = list(range(len(first))), None
    wanted = saved.feature_names or []
    label = saved.data.get("label_column") or "label"
    if _is_header(first, wanted, label):
        header, rows = first, rows[1:]
        if wanted and all(name in header for name in wanted):
            columns = [header.index(name) for name in wanted]
        else:
            columns = [j for j, name in enumerate(header) if name != label]
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
                hint = ""
                if header is None and i == 0 and value is None:
                    hint = (" (a header row names every column, or the model's features, or its label "
                            f"column {label!r}; this first row is read as data)")
                raise UsageError(f"{path}, line {line}, field {j + 1}: expected a finite number, got {row[j]!r}{hint}")
            X[i, c] = value
    return X


def _is_header(first: list, features: list, label: str) -> bool:
    """Whether a CSV's first row names its columns. A row of names only is a header; a row that
    mixes numbers and text is one only when it names the model's features or its label column,
    and otherwise a row of data with a bad field, reported as such (never dropped unread)."""
    names = [c for c in first if _number(c) is None]
    if not names:
        return False
    return len(names) == len(first) or (bool(features) and set(features) <= set(first)) or label in first


def one(exc) -> str:
    return " ".join(str(exc).split())
