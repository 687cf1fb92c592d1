"""`chainrule evaluate`: a run folder's test split recreated, its confusion matrix and per-class scores."""
from __future__ import annotations

import json

import numpy as np
import pytest

from cli_helpers import assert_png, ok, run_cli


def test_evaluate_a_run_folder_recreates_its_test_split(default_run):
    run_dir, out, _ = default_run
    result = json.loads(ok(run_cli("evaluate", run_dir, "--json", cwd=run_dir.parent)).stdout)
    assert result["split"] == "test" and result["n"] == 450
    assert result["accuracy"] == pytest.approx(out["test"]["accuracy"])
    cm = np.array(result["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == 450 and np.trace(cm) == round(result["accuracy"] * 450)
    row = result["per_class"][3]
    assert row["class"] == "3" and row["support"] == cm[3].sum()
    assert row["recall"] == pytest.approx(cm[3, 3] / cm[3].sum())
    assert row["precision"] == pytest.approx(cm[3, 3] / cm[:, 3].sum())
    assert_png(run_dir / "confusion.png")
    text = ok(run_cli("evaluate", "--model", run_dir / "model.npz", "--data", "digits", "--split", "all",
                      "--no-plot", cwd=run_dir.parent)).stdout
    assert "1797 examples" in text and "confusion matrix" in text and "precision" in text


