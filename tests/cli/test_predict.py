"""`chainrule predict`: classes and probabilities for the rows of a CSV file."""
from __future__ import annotations

import csv
import json

import numpy as np

from cli_helpers import ok, run_cli, write_csv


def test_predict_gives_classes_and_softmax_probabilities(default_run, tmp_path):
    from sklearn.datasets import load_digits

    run_dir, _, _ = default_run
    digits = load_digits()
    header = [f"pixel{i}" for i in range(64)] + ["label"]
    write_csv(tmp_path / "with_header.csv", header,
              [list(map(int, x)) + [int(t)] for x, t in zip(digits.data[:40], digits.target[:40])])
    write_csv(tmp_path / "bare.csv", None, [list(map(int, x)) for x in digits.data[:40]])
    result = ok(run_cli("predict", "--model", run_dir, "--input", tmp_path / "with_header.csv", cwd=tmp_path))
    rows = list(csv.reader(result.stdout.splitlines()))
    assert rows[0] == ["class"] + [f"p({k})" for k in range(10)] and len(rows) == 41
    probabilities = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    predicted = [int(r[0]) for r in rows[1:]]
    assert predicted == probabilities.argmax(axis=1).tolist()
    assert np.mean(np.array(predicted) == digits.target[:40]) >= 0.9
    ok(run_cli("predict", "--model", run_dir / "model.npz", "--input", tmp_path / "bare.csv",
               "--output", tmp_path / "out.json", cwd=tmp_path))
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["output"] == "softmax" and len(out["predictions"]) == 40
    assert [int(p["class"]) for p in out["predictions"]] == predicted




def test_a_first_row_of_numbers_and_text_is_a_header_only_when_it_names_the_label(default_run, tmp_path):
    from sklearn.datasets import load_digits

    run_dir, _, _ = default_run
    data = load_digits().data[:5].astype(int).tolist()
    # pandas' default column names are numbers: "0", ..., "63", then the label column.
    write_csv(tmp_path / "numbered.csv", [str(i) for i in range(64)] + ["label"], [r + [0] for r in data])
    write_csv(tmp_path / "bare.csv", None, data)
    numbered = ok(run_cli("predict", run_dir, "--input", tmp_path / "numbered.csv", cwd=tmp_path)).stdout
    assert numbered == ok(run_cli("predict", run_dir, "--input", tmp_path / "bare.csv", cwd=tmp_path)).stdout
    assert len(numbered.splitlines()) == 6
    # A headerless file whose first row has a typo is data with a bad field, never a header dropped unread.
    write_csv(tmp_path / "typo.csv", None, [data[0][:10] + ["O"] + data[0][11:]] + data[1:])
    result = run_cli("predict", run_dir, "--input", tmp_path / "typo.csv", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == "" and len(result.stderr.splitlines()) == 1
    assert "typo.csv, line 1, field 11: expected a finite number, got 'O' (a header row names" in result.stderr
