"""fit() and Trainer (chainrule/train/loop.py): the one training loop, on the lecture's data and
scikit-learn's digits; its batches, seeds, checkpoints, divergence check and bad input."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.train import Callback, TrainingDiverged, fit, get_task, predict_scores


def accuracy(model, X, y):
    return float(np.mean(predict_scores(model, X).argmax(axis=1) == y))


def test_mlp_reaches_97_percent_on_digits(digits):
    X, y, Xt, yt = digits
    net = cr.nn.MLP(64, [128], 10, rng=0)
    history = fit(net, X, y, optimizer="adam", lr=1e-3, epochs=30, batch_size=32, seed=0, validation=(Xt, yt))
    assert accuracy(net, Xt, yt) >= 0.97
    assert history.final["val_acc"] == pytest.approx(accuracy(net, Xt, yt))
    assert history.loss[-1] < history.loss[0] / 10
    assert [r["epoch"] for r in history] == list(range(1, 31))


def test_spiral_linear_stays_near_half_and_two_layers_fit_it(spiral):
    X, y = spiral
    linear = cr.nn.Linear(2, 3, init="small", rng=0)
    fit(linear, X, y, lr=1.0, epochs=200, batch_size=None, reg=1e-3)
    assert 0.40 <= accuracy(linear, X, y) <= 0.60
    net = cr.nn.MLP(2, [100], 3, rng=0)
    fit(net, X, y, lr=1.0, epochs=2000, batch_size=None, reg=1e-3)
    assert accuracy(net, X, y) >= 0.97


def test_full_mini_and_single_batches_are_one_loop(spiral):
    X, y = spiral
    counts = {}
    for batch_size in (None, 32, 1):
        net = cr.nn.MLP(2, [16], 3, rng=0)
        before = get_task("cross-entropy")(cr.tensor(predict_scores(net, X)), y).item()
        history = fit(net, X, y, lr=0.05, epochs=2, batch_size=batch_size)
        counts[batch_size] = history.final["evaluations"]
        after = get_task("cross-entropy")(cr.tensor(predict_scores(net, X)), y).item()
        assert after < before
    assert counts == {None: 2, 32: 2 * 10, 1: 2 * 300}


def test_same_seed_same_weights_other_seed_other_weights(spiral):
    X, y = spiral

    def run(seed):
        net = cr.nn.MLP(2, [8], 3, rng=1)
        fit(net, X, y, lr=0.1, epochs=3, batch_size=16, seed=seed)
        return np.concatenate([p.data.ravel() for p in net.parameters()])

    assert np.array_equal(run(0), run(0))
    assert not np.array_equal(run(0), run(1))


def test_regression_with_squared_error():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(200, 1)).astype(np.float32)
    y = np.sin(X[:, 0]) * 2
    net = cr.nn.MLP(1, [32], 1, activation="tanh", rng=0)
    history = fit(net, X, y, loss="mse", optimizer="adam", lr=0.02, epochs=1000, batch_size=None)
    assert history.final["loss"] < 0.01 and "train_acc" not in history.final
    assert np.mean((predict_scores(net, X)[:, 0] - y) ** 2) < 0.01


def test_optimization_strategies_order_with_equal_budgets(spiral):
    """Lecture: random search is worse than random local search, which is worse than the gradient."""
    X, y = spiral
    final = {}
    for name, opts, lr in [("random-search", {}, 0.1), ("random-local-search", {}, 0.1), ("sgd", {}, 1.0)]:
        model = cr.nn.Linear(2, 3, init="small", rng=0)
        history = fit(model, X, y, optimizer=name, lr=lr, epochs=300, batch_size=None, seed=0, optimizer_options=opts)
        assert history.final["evaluations"] == 300
        final[name] = history.final["loss"]
    assert final["random-search"] > final["random-local-search"] > final["sgd"]


def test_non_finite_loss_stops_with_a_clear_error_and_keeps_the_last_good_parameters(spiral):
    X, y = spiral
    net = cr.nn.MLP(2, [16], 3, rng=0)
    fit(net, X, y, lr=0.1, epochs=1, batch_size=None)
    good = [p.data.copy() for p in net.parameters()]
    # Epoch 1's loss is finite but its one step overflows: the check after the last step catches it
    # (it does not wait for epoch 2's loss), and the model is back at epoch 1's start.
    with pytest.warns(RuntimeWarning), pytest.raises(
            TrainingDiverged, match=r"after the last step of epoch 1 the training loss became nan .*start of epoch 1"):
        fit(net, X * 1e3, y, lr=1e30, epochs=5, batch_size=None)
    assert all(np.array_equal(p.data, g) for p, g in zip(net.parameters(), good))
    net2 = cr.nn.MLP(2, [16], 3, rng=0)
    initial = [p.data.copy() for p in net2.parameters()]
    with pytest.warns(RuntimeWarning), pytest.raises(TrainingDiverged, match=r"epoch 1, batch 2 .*start of epoch 1"):
        fit(net2, X, y, lr=1e30, epochs=5, batch_size=100)
    assert all(np.array_equal(p.data, g) for p, g in zip(net2.parameters(), initial))


def test_checkpoint_and_resume_give_the_same_weights(tmp_path, spiral):
    X, y = spiral
    settings = dict(optimizer="momentum", lr=0.05, epochs=6, batch_size=32, schedule="cosine", seed=3)

    def weights(net):
        return np.concatenate([p.data.ravel() for p in net.parameters()])

    full = cr.nn.MLP(2, [8], 3, rng=0)
    fit(full, X, y, **settings)

    class Killed(Callback):
        def on_epoch_end(self, trainer, record):
            if trainer.epoch == 3:
                raise KeyboardInterrupt

    ckpt = tmp_path / "run.ckpt.npz"
    with pytest.raises(KeyboardInterrupt):
        fit(cr.nn.MLP(2, [8], 3, rng=0), X, y, callbacks=[Killed()], checkpoint=ckpt, **settings)
    # A new process builds a fresh model (other init) and continues from the checkpoint.
    resumed = cr.nn.MLP(2, [8], 3, rng=99)
    history = fit(resumed, X, y, resume=ckpt, **settings)
    assert np.array_equal(weights(resumed), weights(full))
    assert [r["epoch"] for r in history] == [1, 2, 3, 4, 5, 6]
    with pytest.raises(ValueError, match="other settings.*optimizer"):
        fit(cr.nn.MLP(2, [8], 3), X, y, resume=ckpt, **{**settings, "optimizer": "adam"})


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(y=np.array([0, 1, 3])), ValueError, "label 3 is out of range for a model with 3 outputs"),
        (dict(y=np.array([0.5, 1, 2])), TypeError, "integers"),
        (dict(y=np.array([0, 1])), ValueError, "3 examples but 2 targets"),
        (dict(X=np.array([[0, 1.0], [np.nan, 1], [1, 1]])), ValueError, "nan at row 1, column 0"),
        (dict(X=np.array([[0, 1.0], [np.inf, 1], [1, 1]])), ValueError, "inf at row 1"),
        (dict(lr=-0.1), ValueError, "lr must be a finite number > 0; got -0.1"),
        (dict(lr=0.0), ValueError, "lr must be a finite number > 0; got 0.0"),
        (dict(lr="0.1"), TypeError, "lr must be a finite number > 0; got '0.1'"),
        (dict(loss="squared"), ValueError, "loss must be one of binary-hinge, .*; got 'squared'"),
        (dict(optimizer="adamax"), ValueError, "adamax"),
        (dict(epochs=0), ValueError, "epochs must be a whole number >= 1; got 0"),
        (dict(epochs=2.5), TypeError, "epochs must be a whole number >= 1; got 2.5"),
        (dict(batch_size=0), ValueError, r"batch_size must be None \(the full batch\) or a whole number >= 1; got 0"),
        (dict(loss="logistic", y=np.array([0, 1, 1])), ValueError, "needs a model with 1 output; this one has 3"),
        (dict(loss="logistic"), ValueError, "needs labels 0 and 1; got 2"),
        (dict(X=np.ones((3, 5))), ValueError, "5 features"),
    ],
)
def test_bad_input(kwargs, error, match):
    args = dict(X=np.zeros((3, 2)), y=np.array([0, 1, 2]))
    args.update(kwargs)
    X, y = args.pop("X"), args.pop("y")
    with pytest.raises(error, match=match):
        fit(cr.nn.Linear(2, 3, rng=0), X, y, epochs=args.pop("epochs", 1), **args)


def test_fit_needs_a_module():
    with pytest.raises(TypeError, match="Module"):
        fit(lambda x: x, np.zeros((2, 2)), np.array([0, 1]))


def test_shuffle_false_visits_the_examples_in_order(spiral):
    X, y = spiral
    net = cr.nn.Linear(2, 3, init="small", rng=0)
    fit(net, X[:40], y[:40], lr=0.5, epochs=2, batch_size=8, shuffle=False, seed=123)
    # The same steps written out: batches 0-7, 8-15, … in order, every epoch.
    ref = cr.nn.Linear(2, 3, init="small", rng=0)
    opt = cr.optim.SGD(ref.parameters(), lr=0.5)
    for _ in range(2):
        for start in range(0, 40, 8):
            loss = cr.nn.functional.cross_entropy(ref(cr.tensor(X[start:start + 8])), y[start:start + 8])
            opt.zero_grad()
            loss.backward()
            opt.step()
    np.testing.assert_array_equal(net.weight.data, ref.weight.data)
    shuffled = cr.nn.Linear(2, 3, init="small", rng=0)
    fit(shuffled, X[:40], y[:40], lr=0.5, epochs=2, batch_size=8, seed=123)
    assert not np.array_equal(shuffled.weight.data, ref.weight.data)


def test_set_data_switches_the_training_data_and_checks_it(spiral):
    from chainrule.train import TrainConfig, Trainer

    X, y = spiral
    trainer = Trainer(cr.nn.Linear(2, 3, rng=0), X[:100], y[:100], TrainConfig(batch_size=10, epochs=3))
    assert trainer.source is not None and trainer.batches_per_epoch == 10
    trainer.set_data(X[100:130], y[100:130])
    assert trainer.batches_per_epoch == 3 and len(trainer.X) == 30
    trainer.train_epoch()
    assert trainer.history.final["evaluations"] == 3
    with pytest.raises(ValueError, match="label 5 is out of range"):
        trainer.set_data(X[:2], np.array([0, 5]))


# ====================================================================== the order of the examples, divergence
def test_every_epoch_draws_a_new_order_from_the_runs_generator(spiral):
    """An independent loop: epoch e visits the e-th rng.permutation(N) of default_rng(seed)."""
    X, y = spiral
    X = X.astype(np.float32)

    def reference(orders):
        model = cr.nn.Linear(2, 3, init="small", rng=0)
        opt = cr.optim.SGD(model.parameters(), lr=0.5)
        for order in orders:
            for start in range(0, len(X), 50):
                idx = order[start:start + 50]
                loss = cr.nn.functional.cross_entropy(model(cr.Tensor(X[idx])), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        return model.weight.numpy()

    net = cr.nn.Linear(2, 3, init="small", rng=0)
    fit(net, X, y, optimizer="sgd", lr=0.5, epochs=3, batch_size=50, seed=7)
    rng = np.random.default_rng(7)
    assert np.array_equal(net.weight.numpy(), reference([rng.permutation(len(X)) for _ in range(3)]))
    # The same order every epoch (a generator reseeded per epoch) would end elsewhere.
    same = np.random.default_rng(7).permutation(len(X))
    assert not np.array_equal(net.weight.numpy(), reference([same] * 3))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_validation_loss_that_is_not_finite_is_a_divergence(spiral):
    X, y = spiral
    net = cr.nn.MLP(2, [8], 3, rng=0)
    with pytest.raises(TrainingDiverged, match="after the last step of epoch 1 the validation loss became"):
        fit(net, X, y, epochs=3, validation=(X * 1e38, y))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_diverged_run_never_writes_its_state_to_the_checkpoint(tmp_path, spiral):
    X, y = spiral
    ckpt = tmp_path / "ckpt.npz"
    net = cr.nn.MLP(2, [8], 3, rng=0)
    fit(net, X, y, epochs=2, checkpoint=ckpt, batch_size=None)
    with pytest.raises(TrainingDiverged):
        fit(net, X * 1e3, y, lr=1e30, epochs=5, batch_size=None, checkpoint=ckpt)
    arrays, meta = cr.io.load_archive(ckpt, kind="checkpoint")  # refuses non-finite arrays
    assert meta["epoch"] == 2


def test_predict_scores_chunks_by_the_smallest_predict_batch_size_a_submodule_declares(monkeypatch):
    # An MLP is fed 8,192 rows at a time; a module that declares predict_batch_size (a
    # convolution: 256, its window matrices grow with the batch) caps the chunks of the whole
    # model, and the outputs do not depend on the chunking.
    from chainrule.train.loop import predict_scores

    seen = []

    class Spy(cr.nn.Module):
        def __init__(self, limit):
            super().__init__()
            self.predict_batch_size = limit

        def forward(self, x):
            seen.append(x.shape[0])
            return x

    X = np.random.default_rng(0).standard_normal((20_000, 3)).astype(np.float32)
    mlp = cr.nn.Sequential(Spy(None), cr.nn.Linear(3, 2, rng=0))
    whole = predict_scores(mlp, X)
    assert seen == [8192, 8192, 3616]
    seen.clear()
    capped = cr.nn.Sequential(cr.nn.Sequential(Spy(7)), cr.nn.Linear(3, 2, rng=0), Spy(None))
    capped[1].load_state_dict(mlp[1].state_dict())
    np.testing.assert_allclose(predict_scores(capped, X[:30]), whole[:30], rtol=1e-6)
    assert seen == [7] * 8 + [2] * 2  # each chunk of the smallest limit passes both spies
    seen.clear()
    cnn = cr.nn.Sequential(Spy(None), cr.nn.Unflatten(1, (1, 4, 4)), cr.nn.Conv2d(1, 2, 3, rng=0), cr.nn.Flatten())
    assert predict_scores(cnn, np.ones((600, 16), np.float32)).shape == (600, 8)
    assert seen == [256, 256, 88]


@pytest.mark.parametrize("bad, error", [(0, ValueError), (2.5, TypeError)])
def test_predict_scores_refuses_a_batch_size_that_is_not_a_whole_number_from_1(bad, error):
    from chainrule.train.loop import predict_scores

    with pytest.raises(error, match=f"predict_scores' batch_size must be a whole number >= 1; got {bad}"):
        predict_scores(cr.nn.Linear(3, 2, rng=0), np.ones((4, 3), np.float32), batch_size=bad)


def test_a_checkpoint_of_another_step_or_a_bad_optimizer_state_leaves_the_model_as_it_was(tmp_path, spiral):
    from chainrule import io
    from chainrule.train import TrainConfig, Trainer

    X, y = spiral
    ckpt = tmp_path / "run.npz"
    fit(cr.nn.MLP(2, [8], 3, rng=0), X, y, optimizer="adam", lr=0.01, epochs=2, batch_size=64, checkpoint=ckpt)
    arrays, meta = io.load_archive(ckpt, kind="checkpoint")
    net = cr.nn.MLP(2, [8], 3, rng=5)
    before = [p.data.copy() for p in net.parameters()]
    trainer = Trainer(net, X, y, TrainConfig(optimizer="adam", lr=0.01, epochs=2, batch_size=64))
    with pytest.raises(ValueError, match="the field 'step' is 'analytic'; this run trains with the autodiff step"):
        trainer.load_state(arrays, {**meta, "step": "analytic"}, source="run.npz")
    groups = [{**g, "betas": [2.0, 0.999]} for g in meta["optimizer"]["param_groups"]]
    bad = {**meta, "optimizer": {**meta["optimizer"], "param_groups": groups}}
    with pytest.raises(ValueError, match=r"run.npz cannot continue this run: the field 'optimizer' is not the "
                                         r"state of its Adam: .*betas"):
        trainer.load_state(arrays, bad, source="run.npz")
    assert all(np.array_equal(p.data, b) for p, b in zip(net.parameters(), before))
    trainer.load_state(arrays, meta, source="run.npz")
    assert not all(np.array_equal(p.data, b) for p, b in zip(net.parameters(), before))
