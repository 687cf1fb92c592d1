"""The sweep's pictures: real PNGs, log axes where the space is log-scaled, failed trials apart."""
import matplotlib.image
import numpy as np
import pytest

from chainrule import viz
from chainrule.sweep import parse_params
from chainrule.sweep.plots import plot_names, write_plots


def _image(path):
    img = matplotlib.image.imread(path)
    assert img.shape[0] > 200 and img.shape[1] > 200 and img.std() > 0.01  # drawn, not blank
    return img


def test_the_sweep_pictures_are_drawn_for_numeric_parameters_and_lr_against_reg(tmp_path):
    space = parse_params(["lr=loguniform:1e-4:1", "reg=loguniform:1e-6:1e-2", "act=choice:relu,tanh"])
    records = [{"lr": 10 ** -i, "reg": 10 ** -(i + 2), "act": "relu", "val_acc": 0.5 + i / 10} for i in range(4)]
    records.append({"lr": 0.5, "reg": 1e-3, "act": "tanh", "val_acc": None})  # a failed trial
    files = write_plots(tmp_path, records, space, "val_acc")
    assert sorted(files) == ["scatter", "scores"]
    assert files["scatter"].name == "lr_reg.png"
    _image(files["scores"]), _image(files["scatter"])


def test_two_numeric_parameters_other_than_lr_and_reg_get_their_own_scatter(tmp_path):
    space = parse_params(["momentum=uniform:0.5:0.99", "epochs=int:1:5"])
    records = [{"momentum": 0.5 + i / 10, "epochs": i + 1, "val_loss": 1 / (i + 1)} for i in range(4)]
    files = write_plots(tmp_path, records, space, "val_loss")
    assert files["scatter"].name == "momentum_epochs.png"
    assert write_plots(tmp_path, records, parse_params(["a=choice:x,y"]), "val_loss") == {}


def test_plot_names_are_what_write_plots_draws_and_only_draws_one(tmp_path):
    # A sweep draws each of plot_names(space) as its own task (one worker each): the names must
    # be exactly what write_plots draws, and only= must draw that one picture and no other.
    cases = [(["lr=loguniform:1e-4:1", "reg=loguniform:1e-6:1e-2"], ["scores", "scatter"]),
             (["lr=loguniform:1e-4:1", "reg=loguniform:1e-6:1e-2", "m=uniform:0:1"], ["scores", "scatter"]),
             (["m=uniform:0:1", "n=int:1:5", "k=int:1:3"], ["scores"]),
             (["a=choice:x,y"], [])]
    for i, (params, names) in enumerate(cases):
        space = parse_params(params)
        records = [{name: 0.5 + j / 10 for name in space.numeric()} | {"val_acc": 0.3 + j / 10} for j in range(3)]
        assert plot_names(space) == names
        assert sorted(write_plots(tmp_path / f"all{i}", records, space, "val_acc")) == sorted(names)
        for name in names:
            folder = tmp_path / f"one{i}{name}"
            assert list(write_plots(folder, records, space, "val_acc", only=name)) == [name]
            assert len(list(folder.iterdir())) == 1


def test_the_axes_are_logarithmic_for_log_scaled_parameters(tmp_path, monkeypatch):
    scales = []
    from matplotlib.axes import Axes

    original = Axes.set_xscale
    monkeypatch.setattr(Axes, "set_xscale", lambda self, v, **kw: (scales.append(v), original(self, v, **kw)))
    viz.plot_param_scores({"lr": [1e-3, 1e-2], "dropout": [0.1, 0.2]}, [0.5, 0.6], tmp_path / "s.png", log=["lr"])
    assert scales == ["log"]


def test_bad_plot_input_names_the_column():
    with pytest.raises(ValueError, match="column 'lr' has 3 values for 2 scores"):
        viz.plot_param_scores({"lr": [1, 2, 3]}, [0.1, 0.2], "x.png")
    with pytest.raises(ValueError, match="x, y and scores must be 1-D of one length"):
        viz.plot_param_scatter([1, 2], [1], [0.5, 0.5], "x.png")
    with pytest.raises(ValueError, match="columns must be a non-empty dict"):
        viz.plot_param_scores({}, np.array([]), "x.png")


def test_only_must_name_a_picture_the_space_gets(tmp_path):
    records = [{"lr": 0.1, "val_acc": 0.5}]
    with pytest.raises(ValueError, match="only must be one of scores; got 'scatter'"):
        write_plots(tmp_path, records, parse_params(["lr=loguniform:1e-4:1"]), "val_acc", only="scatter")
    assert not any(tmp_path.iterdir())
