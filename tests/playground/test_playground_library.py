"""The playground's library side: circuits, settings, data, trainings, races, the generated code."""
import re
import subprocess
import sys
import time

import numpy as np
import pytest

from chainrule.playground import NetworkSettings, NetworkTraining, PRESETS, Race, SettingsError, circuit, code, make_data
from chainrule.playground.networks import Snapshotter, make_model


def test_the_lecture_circuit_values_gradients_and_steps():
    c = circuit(**PRESETS["xyz"])
    assert c["output"] == -12.0
    assert c["gradients"] == {"x": -4.0, "y": -4.0, "z": 3.0}
    mul, add = c["steps"]
    assert (mul["label"], mul["upstream"]) == ("*", 1.0)
    assert [(w["local"], w["product"]) for w in mul["inputs"]] == [(-4.0, -4.0), (3.0, 3.0)]  # ∂(qz)/∂q = z, ∂/∂z = q
    assert (add["label"], add["upstream"]) == ("+", -4.0)
    assert [(w["local"], w["product"]) for w in add["inputs"]] == [(1.0, -4.0), (1.0, -4.0)]


def test_the_sigmoid_circuit_and_every_product_is_local_times_upstream():
    c = circuit(**PRESETS["sigmoid"])
    assert round(c["output"], 2) == 0.73
    g = c["gradients"]
    assert [round(g[k], 2) for k in ("w0", "w1", "w2")] == [-0.20, -0.39, 0.20]
    assert [round(g[k], 2) for k in ("x0", "x1")] == [0.39, -0.59]
    for s in c["steps"]:
        for w in s["inputs"]:
            if w["local"] is not None:
                assert w["product"] == pytest.approx(w["local"] * s["upstream"])
                assert w["grad"] == pytest.approx(w["product"])  # a tree: each input feeds one gate


def test_steps_are_in_reverse_topological_order():
    c = circuit(**PRESETS["sigmoid"])
    consumers = {}
    for e in c["layout"]["edges"]:
        consumers.setdefault(e["src"], set()).add(e["dst"])
    seen = set()
    for s in c["steps"]:
        # every gate that uses this gate's output was visited before it (or is the output)
        assert consumers[s["node"]] - {"out"} <= seen
        seen.add(s["node"])
    gates = {n["id"] for n in c["layout"]["nodes"] if n["kind"] == "gate"}
    assert seen == gates


@pytest.mark.parametrize("expression, values, message", [
    ("x +", {"x": 1}, "expression: unexpected end of input"),
    ("__import__('os')", {}, "expression:"),
    ("x * y", {"x": 1}, "no value for variable 'y'"),
    ("x", {"x": float("nan")}, "value of x must be a finite number"),
    ("x", {"x": 1e300}, "value of x must be a finite number in [-1000000, 1000000]; got 1e+300"),
    ("x" + " + x" * 100, {"x": 1}, "at most 200 are accepted"),
    ("2 + 3", {}, "no variables"),
    (5, {}, "expression must be a string"),
])
def test_bad_circuits_are_refused_with_a_clear_message(expression, values, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        circuit(expression, values)


@pytest.mark.parametrize("settings, message", [
    ({"dataset": "mnist"}, "dataset must be one of circle, xor"),
    ({"hidden": [4] * 7}, "the number of hidden layers must be a whole number in [0, 6]; got 7"),
    ({"hidden": [9]}, "neurons per layer must be a whole number in [1, 8]; got 9"),
    ({"lr": -1}, "lr must be a finite number in [1e-05, 10]; got -1"),
    ({"lr": "0.1"}, "lr must be a finite number"),
    ({"batch_size": True}, "batch_size must be a whole number"),
    ({"features": []}, "features must be a non-empty list"),
    ({"features": ["x3"]}, "each feature must be one of"),
    ({"dataset": "plane"}, "'plane' is a regression data set, not a classification one"),
    ({"n_samples": 10**9}, "n_samples must be a whole number in [50, 1000]; got 1000000000"),
    ({"evil": 1}, "unknown setting 'evil'"),
])
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        NetworkSettings.from_dict(settings)


def test_data_split_features_and_targets():
    d = make_data("xor", n_samples=200, train_ratio=30, features=["x1", "x2", "x1x2"], seed=3)
    assert len(d.y_train) == 60 and len(d.y_test) == 140
    assert np.abs(np.concatenate([d.points_train, d.points_test])).max() == pytest.approx(5.0)
    assert np.allclose(d.X_train[:, 2], d.points_train[:, 0] * d.points_train[:, 1] / 36, atol=1e-6)
    # xor's label is the sign of x1·x2: the x1x2 feature separates it almost perfectly
    assert np.mean((d.X_train[:, 2] < 0) == (d.y_train == 1)) > 0.9
    r = make_data("bumps", n_samples=100, seed=0)
    assert r.y_train.dtype == np.float32 and np.abs(r.y_train).max() <= 1.0


def _run_epochs(s, epochs):
    msgs = []
    t = NetworkTraining(s, msgs.append)
    t.start()
    for _ in range(epochs):
        t.step()
    deadline = time.monotonic() + 30
    while not any(m.get("epoch") == epochs for m in msgs) and time.monotonic() < deadline:
        time.sleep(0.01)
    t.close()
    assert not t.thread.is_alive()
    return [m for m in msgs if m["type"] == "update"]


def test_a_training_steps_one_epoch_at_a_time_and_learns():
    s = NetworkSettings(dataset="spiral", hidden=(8, 8), optimizer="adam", lr=0.03)
    updates = _run_epochs(s, 30)
    assert [u["epoch"] for u in updates] == list(range(31))  # a step always shows its epoch
    assert updates[-1]["test_loss"] < 0.8 * updates[0]["test_loss"]
    assert len(updates[-1]["neurons"]) == 3 and [len(l) for l in updates[-1]["neurons"]] == [2, 8, 8]


def test_the_generated_code_reproduces_the_pages_losses(tmp_path):
    s = NetworkSettings(dataset="moons", hidden=(5,), features=("x1", "x2", "sin x1"), optimizer="momentum",
                        lr=0.05, regularization="l1", reg_rate=0.001, noise=10, seed=4)
    last = _run_epochs(s, 7)[-1]
    script = tmp_path / "setup.py"
    script.write_text(code(s, epochs=7))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.strip() == f"epoch 7: train loss {last['train_loss']:.3f}, test loss {last['test_loss']:.3f}"


def test_closing_a_training_stops_its_thread_while_playing():
    t = NetworkTraining(NetworkSettings(hidden=(8, 8)), lambda m: None)
    t.start()
    t.play()
    time.sleep(0.2)
    assert t.thread.is_alive()
    t.close()
    assert not t.thread.is_alive() and t.trainer.epoch > 0


def test_a_race_gives_every_strategy_the_same_budget():
    msgs = []
    s = NetworkSettings(dataset="gaussian", hidden=(4,))
    r = Race(s, ["random-search", "sgd", "adam"], 120, msgs.append)
    r.start()
    r.thread.join(60)
    final = {}
    for m in msgs:
        if m["type"] == "race":
            final[m["strategy"]] = m
    assert {k: v["evaluations"] for k, v in final.items()} == {"random-search": 120, "sgd": 120, "adam": 120}
    first = [m for m in msgs if m["type"] == "race" and m["evaluations"] == 0]
    assert len({m["test_loss"] for m in first}) == 1  # all start from the same weights
    # side by side: the entries take a batch each in turn, so a curve's points arrive interleaved
    points = [(m["strategy"], m["evaluations"]) for m in msgs if m["type"] == "race"]
    assert points[:3] == [("random-search", 0), ("sgd", 0), ("adam", 0)]
    spent = dict(points[:3])
    for name, n in points[3:]:
        spent[name] = n
        assert max(spent.values()) - min(spent.values()) <= 120 // 40  # a point every 3 evaluations
    assert final["adam"]["test_loss"] < first[0]["test_loss"]
    assert msgs[-1]["type"] == "race_done"
    # random local search pays for evaluating its starting weights, as in `chainrule compare`
    msgs.clear()
    r = Race(s, ["random-local-search"], 50, msgs.append)
    r.start()
    r.thread.join(60)
    curve = [m["evaluations"] for m in msgs if m["type"] == "race"]
    assert curve[:2] == [0, 2] and curve[-1] == 50
    with pytest.raises(SettingsError, match="^strategy must be one of random-search, .*, adam; got 'genetic'$"):
        Race(s, ["genetic"], 100, msgs.append)
    with pytest.raises(SettingsError, match=re.escape("budget must be a whole number in [10, 5000]; got 1000000")):
        Race(s, ["sgd"], 10**6, msgs.append)


def test_snapshot_surface_follows_the_model():
    s = NetworkSettings(dataset="gaussian", hidden=())
    d = make_data("gaussian")
    model = make_model(s)
    import base64
    snap = Snapshotter(s, d)(model, 0)
    surface = np.frombuffer(base64.b64decode(snap["surface"]), np.uint8)
    assert surface.size == 40 * 40
    # a linear model's output over the plane is a ramp: not one colour
    assert surface.max() - surface.min() > 20


def test_a_regression_surface_is_learnt_with_squared_error():
    s = NetworkSettings(dataset="plane", problem="regression", hidden=(), optimizer="adam", lr=0.1, train_ratio=50)
    updates = _run_epochs(s, 20)
    assert updates[-1]["test_loss"] < 0.05 * updates[0]["test_loss"]  # a plane is a linear model's target
