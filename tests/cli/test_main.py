"""The `chainrule` command itself (chainrule/cli/__init__.py and __main__.py): the installed
console script and ``python -m chainrule`` start it, and every subcommand has its help."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chainrule import cli
from chainrule.runs import network_losses
from chainrule.train import get_task

from cli_helpers import cli_env

SUBCOMMANDS = ("train", "evaluate", "predict", "compare", "graph", "summary", "datasets")


def test_the_console_script_and_python_m_chainrule_start_the_command(tmp_path):
    # The two ways in that only a new process can show: the installed script and `-m chainrule`.
    script = Path(sys.executable).parent / "chainrule"
    for argv in ([str(script), "--help"], [sys.executable, "-m", "chainrule", "--help"]):
        res = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, env=cli_env(tmp_path), timeout=60)
        assert res.returncode == 0 and res.stderr == "", argv
        assert res.stdout.startswith("usage: chainrule")
        assert all(name in res.stdout for name in SUBCOMMANDS), argv


@pytest.mark.parametrize("name, words", [
    ("train", ["--resume", "--batch-size", "--optimizer", "97"]), ("evaluate", ["RUN_DIR", "--split"]),
    ("predict", ["--input", "p(CLASS)"]), ("compare", ["--budget", "random-local-search"]),
    ("graph", ["--var", "DOT"]), ("summary", ["--layers", "26"]), ("datasets", ["--json"]),
])
def test_every_subcommand_has_its_help(name, words, capsys):
    # In-process (argparse prints the help and exits 0; main returns that code).
    assert cli.main([name, "--help"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out.startswith(f"usage: chainrule {name}")
    for word in words:
        assert word in captured.out, word


def test_train_offers_the_losses_fit_knows_and_not_the_perceptrons_criterion():
    # The perceptron's criterion is a model's own rule, not a loss a network trains with.
    assert all(get_task(name).networks for name in network_losses()) and "perceptron" not in network_losses()
