"""``chainrule sweep`` end to end with real training runs: the embedded local cluster, the
files it writes, trials that are ordinary training runs, halving that resumes exactly, bad input."""
from __future__ import annotations

import json
import socket

import numpy as np
import pytest

pytest.importorskip("distributed")

from chainrule import cli, io  # noqa: E402
from chainrule.runs import RunSettings, train_run  # noqa: E402

# Tiny and fast: a softmax classifier on iris, a few epochs.
BASE = ["--data", "iris", "--model", "softmax", "--epochs", "3"]
SPACE = ["--param", "lr=loguniform:1e-2:1", "--param", "reg=loguniform:1e-5:1e-2"]


def sweep_cli(capsys, *args):
    code = cli.main(["sweep", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def error(capsys, *args, code=2):
    got, out, err = sweep_cli(capsys, *args)
    assert (got, out) == (code, ""), (got, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chainrule: error: "), err
    return lines[0]


def test_a_sweep_on_the_embedded_cluster_writes_a_folder_of_ordinary_runs(tmp_path, capsys):
    out = tmp_path / "s"
    code, text, _ = sweep_cli(capsys, *BASE, *SPACE, "--trials", "4", "--workers", "2", "--out", out)
    assert code == 0
    saved = json.loads((out / "sweep.json").read_text())
    assert [t["status"] for t in saved["trials"]] == ["ok"] * 4
    best = saved["best"]["trial"]
    for t in saved["trials"]:
        # Each trial is the training run of its settings: the same as train_run by itself.
        settings = RunSettings(data="iris", model="softmax", epochs=3, lr=t["params"]["lr"], reg=t["params"]["reg"])
        alone = train_run(settings)
        assert t["rungs"][0]["metrics"]["val_acc"] == alone.history[-1]["val_acc"]
        assert t["rungs"][0]["metrics"]["val_loss"] == alone.history[-1]["val_loss"]
        folder = out / "trials" / f"{t['index']:03d}"
        arrays, _ = io.load_archive(folder / "model.npz", kind="model")
        for name, value in alone.model.state_dict().items():
            np.testing.assert_array_equal(arrays[name], value)
    # The best trial's model is the sweep's model; its run folder is one chainrule evaluate reads.
    best_arrays, _ = io.load_archive(out / "model.npz", kind="model")
    trial_arrays, _ = io.load_archive(out / "trials" / f"{best:03d}" / "model.npz", kind="model")
    assert best_arrays.keys() == trial_arrays.keys()
    assert all(np.array_equal(best_arrays[k], trial_arrays[k]) for k in best_arrays)
    assert cli.main(["evaluate", str(out / "trials" / f"{best:03d}"), "--json", "--no-plot"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    metrics = json.loads((out / "trials" / f"{best:03d}" / "metrics.json").read_text())
    assert evaluated["accuracy"] == metrics["test"]["accuracy"]
    # The table is best first and names the best trial.
    assert f"best: trial {best} " in text
    accs = [t["rungs"][0]["metrics"]["val_acc"] for t in sorted(saved["trials"], key=lambda t: -t["rungs"][0]["metrics"]["val_acc"])]
    assert saved["best"]["val_acc"] == accs[0]
    assert (out / "lr_reg.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((out / "sweep.csv").read_text().splitlines()) == 5


def test_halving_continues_runs_from_their_checkpoints_to_the_same_weights(tmp_path, capsys):
    out = tmp_path / "h"
    code, text, _ = sweep_cli(capsys, "--data", "iris", "--model", "softmax", "--epochs", "4", "--param",
                           "lr=loguniform:1e-2:1", "--trials", "4", "--strategy", "halving", "--eta", "2",
                           "--workers", "1", "--out", out, "--json", "--no-trial-plots")
    assert code == 0
    report = json.loads(text)
    for trial in (out / "trials").iterdir():  # --no-trial-plots: the run folder less its pictures
        assert sorted(p.name for p in trial.iterdir()) == ["checkpoint.npz", "config.json", "metrics.csv",
                                                          "metrics.json", "model.npz"]
    saved = json.loads((out / "sweep.json").read_text())
    assert saved["budgets"] == [1, 2, 4]
    assert sorted(len(t["rungs"]) for t in saved["trials"]) == [1, 1, 2, 3]
    winner = next(t for t in saved["trials"] if len(t["rungs"]) == 3)
    assert report["best"]["trial"] == winner["index"]
    alone = train_run(RunSettings(data="iris", model="softmax", epochs=4, lr=winner["params"]["lr"]))
    assert winner["rungs"][2]["metrics"]["val_loss"] == alone.history[-1]["val_loss"]
    arrays, _ = io.load_archive(out / "model.npz", kind="model")
    for name, value in alone.model.state_dict().items():
        np.testing.assert_array_equal(arrays[name], value)
    config = json.loads((out / "trials" / f"{winner['index']:03d}" / "config.json").read_text())
    assert config["settings"]["epochs"] == 4


@pytest.mark.parametrize("args, words", [
    (["--param", "lr"], "--param 'lr': expected NAME=uniform"),
    ([], "the search space is empty"),
    (["--param", "lr=uniform:0:1", "--strategy", "bayes"], "argument --strategy: invalid choice: 'bayes'"),
    (["--param", "lr=uniform:0:1", "--metric", "acc"], "argument --metric: invalid choice: 'acc'"),
    (["--param", "lr=loguniform:1e-3:1:4", "--strategy", "grid", "--trials", "2"],
     "the grid has 4 points but --trials is 2"),
    (["--param", "width=int:1:3", "--trials", "2"], "the space names 'width', which is not a setting"),
    (["--param", "lr=uniform:0.1:1", "--trials", "2", "--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"],
     "workers sets the size of the local cluster"),
    (["--param", "lr=uniform:0.1:1", "--trials", "2", "--model", "perceptron", "--optimizer", "adam"],
     "--optimizer does not apply to --model perceptron"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, words):
    line = error(capsys, *BASE, *args, "--out", tmp_path / "s")
    assert words in line
    assert not (tmp_path / "s").exists()


def test_an_unreachable_scheduler_is_exit_1_within_the_connect_timeout(tmp_path, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    line = error(capsys, *BASE, *SPACE, "--trials", "2", "--scheduler", f"tcp://127.0.0.1:{port}",
                 "--connect-timeout", "1", "--out", tmp_path / "s", code=1)
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port} within 1 s" in line
    assert not (tmp_path / "s").exists()


def test_a_folder_holding_another_sweep_is_refused_and_left_alone(tmp_path, capsys):
    out = tmp_path / "s"
    out.mkdir()
    (out / "sweep.json").write_text('{"format": 1}')
    line = error(capsys, *BASE, *SPACE, "--trials", "2", "--out", out)
    assert f"--out {out} already holds a sweep; continue it with --resume {out}" in line
    assert (out / "sweep.json").read_text() == '{"format": 1}'
    line = error(capsys, "--resume", out)
    assert line == f"chainrule: error: {out / 'sweep.json'}: the field 'kind' is missing"
    assert (out / "sweep.json").read_text() == '{"format": 1}'


def test_without_dask_the_command_says_what_to_install(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed raises ImportError
    line = error(capsys, *BASE, *SPACE, "--trials", "2", "--out", tmp_path / "s", code=1)
    assert 'pip install "chainrule[sweep]"' in line
    assert not (tmp_path / "s").exists()


def test_a_trial_folder_holds_what_a_train_folder_holds_and_a_finished_sweep_resumes_without_a_cluster(
        tmp_path, capsys, monkeypatch):
    import sys

    digits = ["--data", "digits", "--n-samples", "300", "--model", "softmax", "--epochs", "2"]
    out = tmp_path / "s"
    code, text, _ = sweep_cli(capsys, *digits, "--param", "lr=loguniform:1e-2:1", "--trials", "2",
                              "--workers", "1", "--out", out, "--json")
    assert code == 0
    first = json.loads(text)
    trial = out / "trials" / "000"
    lr = json.loads((out / "sweep.json").read_text())["trials"][0]["params"]["lr"]
    assert cli.main(["train", *digits, "--lr", repr(lr), "--out", str(tmp_path / "t")]) == 0
    capsys.readouterr()
    made = sorted(p.name for p in (tmp_path / "t").iterdir())
    assert "weights.png" in made and "curves.png" in made
    assert sorted(p.name for p in trial.iterdir()) == made
    for name in made:
        if name.endswith(".png"):
            assert (trial / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    configs = [json.loads((folder / "config.json").read_text()) for folder in (trial, tmp_path / "t")]
    assert configs[0]["settings"] == configs[1]["settings"]
    assert configs[0]["data_sha256"] == configs[1]["data_sha256"]
    trained, _ = io.load_archive(tmp_path / "t" / "model.npz", kind="model")
    swept, _ = io.load_archive(trial / "model.npz", kind="model")
    assert trained.keys() == swept.keys() and all(np.array_equal(trained[k], swept[k]) for k in trained)

    # Resuming it: nothing is left to run, so no cluster starts. Without Dask, and with a
    # scheduler nobody listens at, starting one would be exit 1; it reports the results instead.
    monkeypatch.setitem(sys.modules, "distributed", None)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for where in ([], ["--scheduler", f"tcp://127.0.0.1:{port}", "--connect-timeout", "1"]):
        code, text, err = sweep_cli(capsys, "--resume", out, *where, "--json")
        assert (code, err) == (0, "")
        assert json.loads(text)["records"] == first["records"]
    code, text, _ = sweep_cli(capsys, "--resume", out)
    assert code == 0 and f"best: trial {first['best']['trial']} " in text


@pytest.mark.parametrize("param, line", [
    ("lr=uniform:-1:-0.5", "the parameter lr=uniform:-1:-0.5: its low end -1 is not a value lr may take: "
                           "--lr must be a finite number > 0; got -1.0"),
    ("reg=uniform:-5:-1", "the parameter reg=uniform:-5:-1: its low end -5 is not a value reg may take: "
                          "--reg must be a finite number >= 0; got -5.0"),
    ("batch_size=int:0:0", "the parameter batch_size=int:0:0: its low end 0 is not a value batch_size may take: "
                           "--batch-size must be 'full' or a whole number >= 1; got 0"),
    ("epochs=int:0:5", "the parameter epochs=int:0:5: its low end 0 is not a value epochs may take: "
                       "--epochs must be a whole number >= 1; got 0"),
])
def test_parameter_values_the_run_settings_refuse_are_exit_2_and_start_no_cluster(tmp_path, capsys, monkeypatch,
                                                                                 param, line):
    import sys

    # Without Dask a cluster cannot start (exit 1): exit 2 says the input was refused before.
    monkeypatch.setitem(sys.modules, "distributed", None)
    got = error(capsys, "--out", tmp_path / "s", "--workers", "1", "--trials", "2", "--epochs", "1",
                "--param", param)
    assert got == f"chainrule: error: {line}"
    assert not (tmp_path / "s").exists()


def test_a_choice_the_run_settings_refuse_is_exit_2(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)
    got = error(capsys, "--out", tmp_path / "s", "--trials", "2", "--epochs", "1", "--param", "hidden=choice:a,b")
    assert got == ("chainrule: error: the parameter hidden=choice:a,b: its choice 'a' is not a value hidden "
                   "may take: --hidden must be a whole number >= 1; got 'a'")
    assert not (tmp_path / "s").exists()


def _bad_trials(saved):
    saved["trials"] = "x"


def _duplicate_index(saved):
    saved["trials"][1]["index"] = 0


def _bad_setting(saved):
    saved["spec"]["settings"]["lr"] = -1


@pytest.mark.parametrize("change, words", [
    (_bad_trials, "the field 'trials' must be a list of objects; got \"x\""),
    (_duplicate_index, "the field 'trials[1].index' is 0, the index of trials[0] too; each trial is listed once"),
    (_bad_setting, "the field 'spec.settings.lr' must be a finite number > 0; got -1"),
])
def test_resuming_a_bad_sweep_json_is_exit_2_and_leaves_it_as_it_was(tmp_path, capsys, monkeypatch, change, words):
    import sys

    from chainrule.sweep import Study, SweepSpec, parse_params
    from chainrule.sweep.trial import RunsTrial

    out = tmp_path / "s"
    trial = RunsTrial()
    Study.create(SweepSpec(parse_params(["lr=loguniform:1e-2:1"]), trial.base_settings({"data": "iris", "epochs": 1}),
                           trials=2), trial, out).save()
    saved = json.loads((out / "sweep.json").read_text())
    change(saved)
    (out / "sweep.json").write_text(json.dumps(saved))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    monkeypatch.setitem(sys.modules, "distributed", None)
    line = error(capsys, "--resume", out)
    assert line == f"chainrule: error: {out / 'sweep.json'}: {words}"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_resuming_a_sweep_json_that_lost_a_trial_runs_it_again(tmp_path, capsys, monkeypatch):
    import sys

    from chainrule.sweep import Study, SweepSpec, parse_params
    from chainrule.sweep.trial import RunsTrial

    out = tmp_path / "s"
    trial = RunsTrial()
    Study.create(SweepSpec(parse_params(["lr=loguniform:1e-2:1"]), trial.base_settings({"data": "iris", "epochs": 1}),
                           trials=2), trial, out).save()
    saved = json.loads((out / "sweep.json").read_text())
    saved["trials"][0]["rungs"] = [{"epochs": 1, "status": "ok", "metrics": {"val_acc": 0.5}, "seconds": 1.0,
                                    "error": None}]
    del saved["trials"][1]
    (out / "sweep.json").write_text(json.dumps(saved))
    before = (out / "sweep.json").read_bytes()
    # Trial 1 is not finished work: it is run again, so the sweep needs a cluster (none here:
    # exit 1 saying what to install), where reading the list as the whole sweep reported "1 of 1".
    monkeypatch.setitem(sys.modules, "distributed", None)
    line = error(capsys, "--resume", out, code=1)
    assert 'pip install "chainrule[sweep]"' in line
    assert (out / "sweep.json").read_bytes() == before
    study = Study.load(out, trial)
    assert [(t.index, t.status) for t in study.trials] == [(0, "ok"), (1, "pending")] and not study.finished()
