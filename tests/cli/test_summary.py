"""`chainrule summary`: the lecture's counts of neurons and parameters, for layer sizes and saved models."""
from __future__ import annotations

import json

from cli_helpers import ok, run_cli


def test_summary_counts_the_lecture_networks_and_saved_models(tmp_path, default_run):
    text = ok(run_cli("summary", "--layers", "3", "4", "2", cwd=tmp_path)).stdout
    assert "neurons (not counting the inputs): 4 + 2 = 6" in text
    assert "[3 x 4] + [4 x 2] = 20 weights + 4 + 2 = 6 biases = 26" in text
    out = json.loads(ok(run_cli("summary", "--layers", "3", "4", "4", "1", "--json", cwd=tmp_path)).stdout)
    assert (out["neurons"], out["weights"], out["biases"], out["parameters"]) == (9, 32, 9, 41)
    assert [layer["parameters"] for layer in out["layers"]] == [16, 20, 5]
    saved = json.loads(ok(run_cli("summary", "--model", default_run[0], "--json", cwd=tmp_path)).stdout)
    assert saved["parameters"] == 64 * 128 + 128 + 128 * 10 + 10 and saved["neurons"] == 138


