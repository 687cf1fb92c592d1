"""chainrule.runs: settings checked in one place, a run trained in memory, its folder, exact resume."""
import json
import math
import re

import numpy as np
import pytest

from chainrule import cli, io
from chainrule.runs import RunSettings, prepare_run, read_config, train_run, write_config, write_run
from chainrule.train import Callback, TrainingDiverged


def weights(model):
    return np.concatenate([p.numpy().ravel() for p in model.parameters()])


# ====================================================================== settings
def test_settings_fill_the_models_defaults_and_refuse_options_it_does_not_take():
    mlp = RunSettings()
    assert (mlp.hidden, mlp.activation, mlp.optimizer, mlp.lr, mlp.batch_size, mlp.schedule, mlp.reg) == \
        ([128], "relu", "adam", 1e-3, 32, "none", 0.0)
    softmax = RunSettings(model="softmax", reg=1e-3)
    assert (softmax.hidden, softmax.activation, softmax.reg) == (None, None, 1e-3)
    rule = RunSettings(model="perceptron")
    assert (rule.lr, rule.optimizer, rule.batch_size, rule.reg) == (1.0, None, None, None)
    with pytest.raises(ValueError, match="--hidden does not apply to --model softmax"):
        RunSettings(model="softmax", hidden=[8])
    with pytest.raises(ValueError, match="--model svm is trained with the svm loss; --loss logistic needs --model mlp"):
        RunSettings(model="svm", loss="logistic")
    assert RunSettings(loss="hinge").loss == "svm"  # an alias becomes the loss's own name


@pytest.mark.parametrize("changes, error, message", [
    ({"epochs": 0}, ValueError, "--epochs must be a whole number >= 1; got 0"),
    ({"epochs": "2"}, TypeError, "--epochs must be a whole number >= 1; got '2'"),
    ({"epochs": 2.0}, TypeError, r"--epochs must be a whole number >= 1; got 2\.0"),
    ({"seed": 2 ** 32}, ValueError, r"--seed must be a whole number in \[0, 4294967295\]; got 4294967296"),
    ({"lr": -0.5}, ValueError, "--lr must be a finite number > 0; got -0.5"),
    ({"lr": math.inf}, ValueError, "--lr must be a finite number > 0; got inf"),
    ({"lr": True}, TypeError, "--lr must be a finite number > 0; got True"),
    ({"batch_size": 0}, ValueError, "--batch-size must be 'full' or a whole number >= 1; got 0"),
    ({"batch_size": "half"}, TypeError, "--batch-size must be 'full' or a whole number >= 1; got 'half'"),
    ({"test_size": 1.0}, ValueError, r"--test-size must be a fraction in \[0, 1\); got 1.0"),
    ({"optimizer": "lbfgs"}, ValueError, "--optimizer must be one of sgd, momentum, .*; got 'lbfgs'"),
    ({"model": 3}, TypeError, "--model must be one of mlp, softmax, .*; got 3"),
    ({"loss": "perceptron"}, ValueError, "--loss must be one of cross-entropy.*; got 'perceptron'"),
    ({"hidden": [16, 0]}, ValueError, "--hidden must be a whole number >= 1; got 0"),
    ({"hidden": 16}, TypeError, "--hidden must be a list of layer sizes; got 16"),
    ({"capture": "yes"}, TypeError, "--capture must be True or False; got 'yes'"),
    ({"data": ""}, ValueError, "--data must be a non-empty string; got ''"),
])
def test_settings_name_the_bad_value(changes, error, message):
    # chainrule.validation's convention: TypeError for a wrong type, ValueError for a wrong value.
    with pytest.raises(error, match=message) as caught:
        RunSettings(**changes)
    assert type(caught.value) is error


def test_settings_round_trip_through_json_and_reject_unknown_keys():
    s = RunSettings(data="spiral", hidden=[16, 8], batch_size="full", epochs=7, patience=3)
    back = RunSettings.from_dict(json.loads(json.dumps(s.to_dict())))
    assert back == s and back.batch_size == "full" and back.hidden == [16, 8]
    with pytest.raises(ValueError, match="unknown run setting.*'hiden'"):
        RunSettings.from_dict({**s.to_dict(), "hiden": [3]})
    assert s.replace(epochs=9).epochs == 9 and s.epochs == 7


@pytest.mark.parametrize("field, value, message", [
    ("epochs", "2", 'the field \'settings.epochs\' must be a whole number >= 1; got "2"'),
    ("lr", -1, "the field 'settings.lr' must be a finite number > 0; got -1"),
    ("model", "resnet", 'the field \'settings.model\' must be one of mlp, softmax, .*; got "resnet"'),
    ("capture", 1, "the field 'settings.capture' must be true or false; got 1"),
    ("optimizer", "adam", "the field 'settings.optimizer' does not apply to the field 'settings.model' perceptron"),
])
def test_a_hand_edited_config_is_refused_naming_the_file_the_field_and_what_it_must_be(tmp_path, field, value,
                                                                                         message):
    # RunSettings' own rules, field by field, named as the file holds them (one rule, not two).
    settings = RunSettings(model="perceptron") if field == "optimizer" else RunSettings()
    write_config(tmp_path, settings)
    config = json.loads((tmp_path / "config.json").read_text())
    config["settings"][field] = value
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(io.FormatError, match=f"^{re.escape(str(tmp_path / 'config.json'))}: {message}"):
        read_config(tmp_path)


def test_a_change_given_with_resume_is_named_as_the_option(tmp_path):
    write_config(tmp_path, RunSettings())
    assert read_config(tmp_path, {"device": "cpu"})[0] == RunSettings()
    with pytest.raises(ValueError, match="^--device: ") as caught:
        read_config(tmp_path, {"device": "tpu"})
    assert not isinstance(caught.value, io.FormatError)  # the option given now, not the file


# ====================================================================== a run
def test_a_run_trains_in_memory_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = train_run(RunSettings(data="blobs", model="softmax", epochs=4, n_samples=80))
    assert list(tmp_path.iterdir()) == []
    assert [r["epoch"] for r in result.history] == [1, 2, 3, 4]
    test = result.metrics["test"]
    assert test["n"] == 20 and test["accuracy"] >= 0.9 and len(test["confusion_matrix"]) == 3
    arrays, meta = result.checkpoint
    assert meta["epoch"] == 4 and np.array_equal(arrays["model/weight"], result.model.weight.numpy())
    assert result.meta["loss"] == "cross-entropy" and result.meta["classes"] == ["0", "1", "2"]


def test_write_run_makes_a_folder_that_evaluate_reads(tmp_path, capsys):
    result = train_run(RunSettings(data="spiral", hidden=[16], epochs=3, batch_size="full", lr=1.0, optimizer="sgd"))
    files = write_run(tmp_path / "run", result)
    assert {p.name for p in map(__import__("pathlib").Path, files.values())} >= {
        "config.json", "model.npz", "metrics.json", "metrics.csv", "checkpoint.npz", "curves.png",
        "decision_regions.png"}
    assert cli.main(["evaluate", str(tmp_path / "run"), "--json", "--no-plot"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == result.metrics["test"]["n"] and out["accuracy"] == pytest.approx(result.metrics["test"]["accuracy"])
    model, meta = io.load_model(tmp_path / "run" / "model.npz")
    assert np.array_equal(weights(model), weights(result.model)) and meta["preprocess"]["kind"] == "standardize"


@pytest.mark.parametrize("settings", [
    RunSettings(data="spiral", hidden=[8], epochs=6, optimizer="momentum", lr=0.05, batch_size=32, seed=3),
    RunSettings(data="spiral", model="perceptron", epochs=6, seed=1),
    RunSettings(data="spiral", model="svm", epochs=6, optimizer="adam", lr=0.01, batch_size=16),
    RunSettings(data="spiral", hidden=[8], epochs=6, patience=2, lr=0.05, batch_size=16),
], ids=["mlp-momentum", "perceptron", "svm-adam", "early-stopping"])
def test_resume_with_more_epochs_is_bit_identical_to_one_run(settings, tmp_path):
    whole = train_run(settings)
    first = train_run(settings.replace(epochs=2))
    rest = train_run(settings, resume=first.checkpoint)
    assert np.array_equal(weights(rest.model), weights(whole.model))
    assert [r["loss"] for r in rest.history] == [r["loss"] for r in whole.history]
    write_run(tmp_path / "run", first)
    from_folder = train_run(settings, resume=tmp_path / "run")
    assert np.array_equal(weights(from_folder.model), weights(whole.model))


def test_resume_refuses_other_settings():
    first = train_run(RunSettings(data="spiral", hidden=[8], epochs=2))
    with pytest.raises(ValueError, match="other settings.*'lr'"):
        train_run(RunSettings(data="spiral", hidden=[8], epochs=4, lr=0.5), resume=first.checkpoint)


def test_callbacks_see_every_epoch_and_can_stop_the_run():
    seen = []

    class Stop(Callback):
        def on_epoch_end(self, trainer, record):
            seen.append(record["epoch"])
            return record["epoch"] == 3

    result = train_run(RunSettings(data="spiral", hidden=[8], epochs=10), callbacks=[Stop()])
    assert seen == [1, 2, 3] and len(result.history) == 3 and result.checkpoint[1]["epoch"] == 3


def test_prepare_run_refuses_a_model_that_does_not_fit_the_data():
    with pytest.raises(ValueError, match="--model logistic is a binary classifier but spiral has 3 classes"):
        prepare_run(RunSettings(data="spiral", model="logistic"))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_diverging_run_raises_and_keeps_the_initial_weights():
    settings = RunSettings(data="spiral", hidden=[100], optimizer="sgd", lr=1e30, batch_size="full", epochs=5)
    initial = weights(prepare_run(settings).model)
    prepared = prepare_run(settings)
    with pytest.raises(TrainingDiverged, match=r"after the last step of epoch 1 the (training|validation) loss "
                                               r"became (nan|inf).*start of epoch 1.*smaller learning rate"):
        train_run(settings, prepared=prepared)
    assert np.array_equal(weights(prepared.model), initial)


def test_a_plot_that_fails_leaves_the_run_folder_as_it_was(tmp_path, monkeypatch):
    from chainrule import runs

    settings = RunSettings(data="moons", n_samples=100, epochs=2)
    folder = tmp_path / "run"
    write_run(folder, train_run(settings))
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    longer = train_run(settings.replace(epochs=3))

    def broken(*args, **kwargs):
        raise ValueError("the 'loss' entries of the records must be numbers")

    monkeypatch.setattr(runs, "_plots", broken)
    with pytest.raises(ValueError, match="entries of the records"):
        write_run(folder, longer)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    monkeypatch.undo()
    write_run(folder, longer)
    assert json.loads((folder / "metrics.json").read_text())["epochs"] == 3


def test_n_samples_is_bounded_where_the_settings_are_checked():
    from chainrule.runs import MAX_SAMPLES

    assert RunSettings(data="spiral", n_samples=MAX_SAMPLES).n_samples == 10_000_000
    with pytest.raises(ValueError, match=r"^--n-samples must be a whole number in \[1, 10000000\]; got 10000001$"):
        RunSettings(data="spiral", n_samples=MAX_SAMPLES + 1)
    with pytest.raises(ValueError, match=r"the field 'settings.n_samples' must be a whole number in \[1, 10000000\]"):
        RunSettings.from_dict({"data": "spiral", "n_samples": 10**9}, name=lambda k: f"the field 'settings.{k}'")


def test_read_checkpoint_names_a_checkpoint_that_is_a_folder(tmp_path):
    from chainrule.runs import read_checkpoint

    (tmp_path / "checkpoint.npz").mkdir()
    for given in (tmp_path, tmp_path / "checkpoint.npz"):
        with pytest.raises(ValueError) as info:
            read_checkpoint(given)
        assert str(info.value).startswith(f"{tmp_path / 'checkpoint.npz'} is a folder, not a checkpoint file")


def test_start_run_refuses_a_checkpoint_of_another_model_before_training(tmp_path):
    from chainrule.runs import start_run

    settings = RunSettings(data="moons", n_samples=100, epochs=2)
    arrays, meta = train_run(settings).checkpoint
    wider = RunSettings(data="moons", n_samples=100, epochs=2, hidden=[16])
    with pytest.raises(ValueError, match=r"^the checkpoint cannot continue this run: the array 'model/0.weight' "
                                         r"has shape \(128, 2\); the model's is \(16, 2\)$"):
        start_run(wider, resume=(arrays, meta))
    started = start_run(settings.replace(epochs=3), resume=(arrays, meta))
    assert started.trainer.epoch == 2
    assert len(started.finish().history) == 3
