"""The performance targets, as ratios to the hand-written NumPy reference run in the same process.

Marked ``benchmark``: CI does not run it (timings on a shared machine are not a pass/fail signal
for correctness). Run it with ``python -m pytest -m benchmark``; ``python -m benchmarks`` prints
the full table.
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


@pytest.mark.benchmark
def test_quick_suite_meets_every_target(tmp_path):
    import json

    import suite

    out = tmp_path / "results.json"
    status = suite.main(["--quick", "--repeats", "3", "--out", str(out)])
    report = json.loads(out.read_text())["results"]
    for name, target in suite.TARGETS.items():
        assert report["ratios"][name] <= target, (name, report["ratios"][name])
    for name in ("mlp_epoch_b16", "mlp_epoch_b128", "mlp_epoch_b1024"):
        assert report["ratios"][f"memory_{name}"] <= suite.MEMORY_TARGET
    assert report["micrograd_demo"]["chainrule_accuracy"] == 1.0
    assert status == 0
