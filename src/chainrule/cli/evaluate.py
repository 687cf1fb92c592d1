"""``chainrule evaluate``: accuracy, per-class precision and recall, confusion matrix of a saved model.

It reads a model file written by ``chainrule train`` (or ``chainrule.io.save_model``) and reuses what it
stores beside the weights: the preprocessing statistics, the class names and the loss.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from chainrule.cli.common import (
    Formatter, SavedModel, UsageError, check_output_dir, emit_json, load_data, model_path,
    positive_int, say, seed_arg, the_model,
)
from chainrule.metrics import classification_metrics, format_metrics_table, regression_metrics

SPLITS = ("test", "val", "train", "all")
DEFAULT_SPLIT = {"test_size": 0.25, "val_size": 0.1, "seed": 0}


def add_parser(sub) -> None:
    """Add the subcommand's parser to ``sub`` (argparse subparsers); it runs :func:`run`."""
    p = sub.add_parser(
        "evaluate", help="accuracy, precision, recall and confusion matrix of a saved model",
        formatter_class=Formatter,
        description="Evaluate a saved model: accuracy, per-class precision and recall, the confusion matrix\n"
                    "(as text and as confusion.png). The model's saved preprocessing and class names are used.\n"
                    "On the data the model was trained on it evaluates the test part by default (the run's own\n"
                    "split, recreated from its seed); on other data, all of it.",
        epilog="examples:\n  chainrule evaluate runs/my-run\n"
               "  chainrule evaluate --model runs/my-run/model.npz --data digits --split all --json\n"
               "  chainrule evaluate --model model.npz --data new.csv --label-column species")
    p.add_argument("model_arg", nargs="?", metavar="MODEL", help="a run folder or a model file (model.npz)")
    p.add_argument("--model", metavar="FILE|RUN_DIR", help="the same, as an option")
    p.add_argument("--data", metavar="NAME|FILE", help="the data to evaluate on (default: the training data)")
    p.add_argument("--label-column", metavar="NAME", help="CSV only: the label column")
    p.add_argument("--n-samples", type=positive_int, metavar="N", help="evaluate on a seeded random subset")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed for --n-samples on other data (default: 0)")
    p.add_argument("--data-dir", metavar="DIR", help="where downloaded datasets are kept")
    p.add_argument("--split", choices=SPLITS,
                   help="which part: test (default on the training data), val, train, or all (default on other data)")
    p.add_argument("-o", "--out", metavar="DIR", help="where to write confusion.png (default: the model's folder)")
    p.add_argument("--no-plot", action="store_true", help="do not write confusion.png")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.set_defaults(func=run)


# ====================================================================== evaluate
def run(args) -> int:
    """``chainrule evaluate``: accuracy, per-class precision and recall, confusion matrix."""
    path = model_path(the_model(args, "evaluate"))
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
    from chainrule.data import split_dataset

    s = split_dataset(ds, test_size=saved.get("test_size", 0.25), val_size=saved.get("val_size", 0.1),
                      seed=saved.get("seed", 0))
    return {"train": (s.X_train, s.y_train), "val": (s.X_val, s.y_val), "test": (s.X_test, s.y_test)}[split]


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
