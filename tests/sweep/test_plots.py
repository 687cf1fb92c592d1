"""The sweep's pictures: real PNGs, log axes where the space is log-scaled, failed trials apart."""
import matplotlib.image
import numpy as np
import pytest

from chainrule import viz
from chainrule.sweep import parse_params
from chainrule.sweep.plots import write_plots


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
