"""`chainrule compare`: every strategy gets the same budget of loss evaluations."""
from __future__ import annotations

import json

import pytest

from cli_helpers import assert_png, ok, run_cli


def test_compare_gives_every_strategy_the_same_budget(tmp_path):
    out = json.loads(ok(run_cli("compare", "--data", "spiral", "--budget", "300", "--out", "cmp", "--json",
                                cwd=tmp_path)).stdout)
    results = {r["strategy"]: r for r in out["results"]}
    assert list(results) == ["random-search", "random-local-search", "full-batch-gd", "mini-batch-gd", "sgd",
                             "momentum", "adam"]
    for r in results.values():
        assert r["evaluations"] == 300 and r["curve"]["evaluations"][-1] == 300
        assert r["curve"]["evaluations"][0] == 0 and len(r["curve"]["loss"]) == len(r["curve"]["evaluations"])
        assert r["final_loss"] == pytest.approx(r["curve"]["loss"][-1]) and r["seconds"] > 0
    assert results["sgd"]["batch_size"] == 1 and results["full-batch-gd"]["batch_size"] == "full"
    # Following the gradient beats guessing; a linear model cannot separate the spiral.
    assert results["full-batch-gd"]["final_loss"] < results["random-search"]["final_loss"]
    assert 0.3 < results["full-batch-gd"]["train_acc"] < 0.7
    saved = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert saved["results"] == out["results"] and saved["budget"] == 300
    assert_png(tmp_path / "cmp" / "compare.png")
    text = ok(run_cli("compare", "--data", "spiral", "--budget", "40", "--model", "mlp", "--hidden", "16",
                      "--strategies", "sgd", "adam", "--lr", "adam=0.01", "--out", "c2", cwd=tmp_path)).stdout
    assert "loss evals" in text and text.count(" 40\n") == 2
    assert json.loads((tmp_path / "c2" / "compare.json").read_text())["results"][1]["step"] == 0.01


