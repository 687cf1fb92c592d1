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


# ====================================================================== Ctrl-C hand-over
def test_the_command_catches_ctrl_c_while_it_runs_and_is_quiet_again_when_it_returns(monkeypatch, capsys):
    # What the console script finds when chainrule/_startup.py installed its handler: main puts
    # Python's own back while the command runs (a Ctrl-C is then KeyboardInterrupt, reported as
    # one line and exit 130) and installs the one-line handler again as it returns, so a Ctrl-C
    # while the interpreter shuts down prints no traceback either.
    import signal

    from chainrule._startup import interrupted_while_starting
    from chainrule.cli import datasets

    seen = []

    def interrupted_run(args):
        seen.append(signal.getsignal(signal.SIGINT))
        signal.raise_signal(signal.SIGINT)
        return 0

    monkeypatch.setattr(datasets, "run", interrupted_run)
    previous = signal.signal(signal.SIGINT, interrupted_while_starting)
    try:
        code = cli.main(["datasets"])
        after = signal.getsignal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert seen == [signal.default_int_handler]
    assert code == 130 and capsys.readouterr().err == "chainrule: error: interrupted\n"
    assert after is interrupted_while_starting


def test_a_library_call_of_main_leaves_the_ctrl_c_handler_alone():
    import signal

    before = signal.getsignal(signal.SIGINT)
    assert cli.main(["--version"]) == 0
    assert signal.getsignal(signal.SIGINT) is before


def test_a_bad_chainrule_jit_is_refused_before_anything_is_printed_or_written(tmp_path):
    from cli_helpers import run_in_process

    env = {**cli_env(tmp_path), "CHAINRULE_JIT": "off"}
    result = run_in_process(["train", "--model", "cnn", "--epochs", "1", "--out", tmp_path / "run"], tmp_path, env)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == "chainrule: error: the environment variable CHAINRULE_JIT must be one of 0, 1; got 'off'\n"
    assert not (tmp_path / "run").exists()


# ====================================================================== library warnings
def test_library_warnings_stay_quiet_but_a_capture_that_did_not_take_says_why_once(tmp_path, capsys):
    # --capture asked for a recorded step; a derivative-free optimizer evaluates the model inside
    # its closure, so the run trains uncaptured and says so as one note, not a warning's two lines.
    args = ["train", "--data", "moons", "--n-samples", "60", "--epochs", "2", "--optimizer", "random-search",
            "-q", "--out", str(tmp_path / "run")]
    assert cli.main(args + ["--capture"]) == 0
    err = capsys.readouterr().err
    assert err.splitlines() == ["chainrule: note: capture: the optimizer random-search evaluates the model "
                                "inside its closure; training uncaptured"]
    assert cli.main(args[:-1] + [str(tmp_path / "plain")]) == 0  # without --capture: nothing on stderr
    assert capsys.readouterr().err == ""
