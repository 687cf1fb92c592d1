"""`chainrule graph`: the lecture's circuits drawn from an expression, with values and gradients.

(Named test_graph_command, not test_graph: tests/engine/test_graph.py holds that base name, and
pytest's default import mode needs base names unique across tests/.)
"""
from __future__ import annotations

import json

from cli_helpers import assert_png, ok, run_cli


def test_graph_draws_the_lecture_circuits(tmp_path):
    out = json.loads(ok(run_cli("graph", "(x + y) * z", "--var", "x=-2", "--var", "y=5", "--var", "z=-4",
                                "--json", cwd=tmp_path)).stdout)
    assert out["value"] == -12 and out["gradients"] == {"x": -4, "y": -4, "z": 3}
    dot = (tmp_path / "circuit.dot").read_text()
    assert dot.startswith("digraph") and "-12.00" in dot
    assert b"<svg" in (tmp_path / "circuit.svg").read_bytes()[:500]

    text = ok(run_cli("graph", "1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))", "--var", "w0=2", "--var", "x0=-1",
                      "--var", "w1=-3", "--var", "x1=-2", "--var", "w2=-3", "--out", "sigmoid.png",
                      cwd=tmp_path)).stdout
    values = dict(line.split(" = ") for line in text.splitlines() if line.startswith("df/d"))
    got = [round(float(values[f"df/d{n}"]), 2) for n in ("w0", "x0", "w1", "x1", "w2")]
    assert got == [-0.20, 0.39, -0.39, -0.59, 0.20]
    assert "= 0.731059" in text
    assert (tmp_path / "sigmoid.dot").is_file()
    assert_png(tmp_path / "sigmoid.png")


