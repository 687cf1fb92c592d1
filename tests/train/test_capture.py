"""The captured step: bit-identical to the uncaptured one, and the fallbacks say why."""
import json
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.train import CapturedForward, CaptureWarning, TrainConfig, Trainer, fit

rng = np.random.default_rng(0)
X = rng.standard_normal((100, 2)).astype(np.float32)  # batches of 32: shapes (32, 2) and (4, 2)
TARGETS = {
    "cross-entropy": ((X[:, 0] > 0) + (X[:, 1] > 0)).astype(int), "svm": (X[:, 0] > X[:, 1]).astype(int) * 2,
    "logistic": (X[:, 0] * X[:, 1] > 0).astype(int), "binary-hinge": (X[:, 0] > 0).astype(int),
    "mse": X @ np.array([0.5, -1.0]),
}
OUTPUTS = {"cross-entropy": 3, "svm": 3, "logistic": 1, "binary-hinge": 1, "mse": 1}


def run(capture, loss="cross-entropy", optimizer="adam", device=None, model=None, **options):
    model = model or nn.MLP(2, [16, 16], OUTPUTS[loss], rng=0)
    trainer = Trainer(model, X, TARGETS[loss], TrainConfig(loss=loss, optimizer=optimizer, lr=0.01, epochs=3,
                                                           batch_size=32, reg=1e-3, **options),
                      device=device, capture=capture)
    trainer.run()
    return trainer


def assert_same_run(a, b):
    strip = lambda records: [{k: v for k, v in r.items() if k != "seconds"} for r in records]  # noqa: E731
    assert strip(a.history.records) == strip(b.history.records)
    for (name, p), q in zip(a.model.named_parameters(), b.model.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=name)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adam", "adamw"])
def test_capture_is_bit_identical_for_every_gradient_optimizer(optimizer):
    plain, captured = run(False, optimizer=optimizer), run(True, optimizer=optimizer)
    assert_same_run(plain, captured)
    # Both batch shapes were recorded and replayed whole (model, loss and L2 term).
    assert {s: (type(c), c.whole) for s, c in captured.captured.by_shape.items()} == \
        {(32, 2): (CapturedForward, True), (4, 2): (CapturedForward, True)}


@pytest.mark.parametrize("loss, whole", [("svm", True), ("logistic", False), ("binary-hinge", False),
                                         ("mse", False)])
def test_capture_is_bit_identical_for_every_loss(loss, whole):
    # The binary losses and mse convert their targets (a cast, a tensor): the model alone is
    # replayed and the loss runs as usual.
    captured = run(True, loss=loss)
    assert_same_run(run(False, loss=loss), captured)
    assert all(c.whole is whole for c in captured.captured.by_shape.values())


def test_replay_recomputes_every_step_from_the_current_parameters():
    model = nn.MLP(2, [4], 2, rng=0)
    x = cr.tensor(X[:8])
    out, capture = CapturedForward.record(model, x)
    assert capture.reason is None and [fn.name for fn, *_ in capture.program] == ["linear_relu", "linear"]
    with cr.no_grad():
        model[0].weight.data *= 2  # in place, as an optimizer does
        expected = model(cr.tensor(X[8:16])).numpy()
    np.testing.assert_array_equal(capture.forward(X[8:16]), expected)
    assert out.requires_grad and out._op == "linear"  # recording returned the ordinary result


def test_a_dropout_mask_cannot_be_captured_and_the_step_runs_uncaptured():
    with pytest.warns(CaptureWarning, match=r"shape \((32|4), 2\) train uncaptured: the step makes a tensor "
                                            r"of shape \((32|4), 16\) from data .*Dropout mask"):
        captured = run(True, model=nn.MLP(2, [16, 16], 3, dropout=0.2, rng=0))
    assert captured.captured.by_shape[(32, 2)] is False
    assert_same_run(run(False, model=nn.MLP(2, [16, 16], 3, dropout=0.2, rng=0)), captured)


def test_derivative_free_optimizers_train_uncaptured_and_say_why():
    with pytest.warns(CaptureWarning, match="random-search evaluates the model inside its closure"):
        captured = run(True, optimizer="random-search", optimizer_options={"rng": 0})
    assert captured.captured is None
    assert_same_run(run(False, optimizer="random-search", optimizer_options={"rng": 0}), captured)


def test_a_parameter_used_twice_is_captured_whole_but_not_alone():
    class Twice(nn.Module):  # one weight applied twice: its gradient is a sum whose order matters
        def __init__(self, width=3):
            super().__init__()
            self.layer = nn.Linear(2, 2, rng=0)
            self.out = nn.Linear(2, width, rng=1)

        def forward(self, x):
            return self.out(self.layer(self.layer(x).tanh()))

    # With the loss, the backward pass is replayed in Tensor.backward's own order: exact.
    captured = run(True, model=Twice())
    assert all(c.whole for c in captured.captured.by_shape.values())
    assert_same_run(run(False, model=Twice()), captured)
    # Alone (a loss that casts its targets), the sums' order is not guaranteed: refused.
    with pytest.warns(CaptureWarning, match=r"a parameter of shape \(2, 2\) feeds 2 ops"):
        captured = run(True, loss="mse", model=Twice(1))
    assert_same_run(run(False, loss="mse", model=Twice(1)), captured)


def test_a_broadcast_parameter_is_captured_and_its_gradient_summed_as_uncaptured():
    # A (1,)-shaped scale multiplies a (32, 3) batch: its gradient is unbroadcast in the replayed
    # backward as Tensor.backward does (this path once raised a NameError).
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.mlp = nn.MLP(2, [16], 3, rng=0)
            self.scale = nn.Parameter(np.full(1, 0.5, np.float32))

        def forward(self, x):
            return self.mlp(x) * self.scale

    captured = run(True, model=Scaled())
    assert captured.captured.by_shape and all(c.reason is None for c in captured.captured.by_shape.values())
    plain = run(False, model=Scaled())
    assert_same_run(plain, captured)
    assert captured.model.scale.numpy()[0] != 0.5  # it trained


def test_capture_on_the_fake_gpu_equals_the_cpu(fake_gpu):
    assert_same_run(run(False), run(True, device="fake"))


def test_fit_and_the_cli_take_capture(tmp_path, capsys):
    a, b = nn.MLP(2, [8], 3, rng=0), nn.MLP(2, [8], 3, rng=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing here falls back
        ha = fit(a, X, TARGETS["cross-entropy"], optimizer="adam", lr=0.01, epochs=2)
        hb = fit(b, X, TARGETS["cross-entropy"], optimizer="adam", lr=0.01, epochs=2, capture=True)
    assert [r["loss"] for r in ha.records] == [r["loss"] for r in hb.records]
    from chainrule import cli

    args = ["train", "--data", "spiral", "--n-samples", "150", "--hidden", "8", "--epochs", "2", "--json"]
    assert cli.main(args + ["--out", str(tmp_path / "plain")]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert cli.main(args + ["--out", str(tmp_path / "captured"), "--capture"]) == 0
    assert json.loads(capsys.readouterr().out)["test"] == plain["test"]


# ------------------------------------------------------------------ device graphs (the fake GPU records them as CUDA does)
def graph_counts(trainer):
    return {s: (g.launches, g.recordings) for s, g in trainer.captured.graphs.items()}


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adam", "adamw"])
def test_on_a_device_that_records_graphs_the_step_is_one_launch_and_bit_identical(fake_gpu, optimizer):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing falls back
        captured = run(True, optimizer=optimizer, device="fake")
    assert_same_run(run(False, optimizer=optimizer), captured)
    # 9 steps of 32 and 3 of 4: each shape's first step records its ops, the second its graph
    # (and launches it), the others launch it. Adam's bias corrections change at every launch
    # (device slots), SGD's first step (buf ← g) was taken before the recording.
    assert graph_counts(captured) == {(32, 2): (8, 1), (4, 2): (2, 1)}


def test_a_graph_that_froze_the_optimizers_changing_scalars_would_train_differently(fake_gpu, monkeypatch):
    # The test double replays what was recorded, Python numbers frozen: a rule reading Adam's
    # bias corrections as numbers instead of from the device slots diverges from the CPU.
    from chainrule.optim import Optimizer

    monkeypatch.setattr(Optimizer, "_rule", lambda self, group, g, bufs, u, t, c: self._update(group, g, bufs, u, t, c))
    captured = run(True, optimizer="adam", device="fake")
    assert graph_counts(captured)[(32, 2)] == (8, 1)
    plain = run(False, optimizer="adam")
    assert not np.array_equal(plain.model[0].weight.numpy(), captured.model[0].weight.numpy())


def test_a_graph_is_recorded_again_when_what_it_froze_changes(fake_gpu):
    # The exponential schedule changes the learning rate after each epoch: SGD's a·x step froze
    # it, so each epoch records its graph anew.
    captured = run(True, optimizer="sgd", device="fake", schedule="exponential")
    assert_same_run(run(False, optimizer="sgd", schedule="exponential"), captured)
    assert graph_counts(captured) == {(32, 2): (8, 3), (4, 2): (2, 2)}


def test_new_state_arrays_make_a_new_recording_and_a_step_that_reads_the_device_makes_none(fake_gpu):
    from types import SimpleNamespace

    from chainrule.nn import functional as F
    from chainrule.optim import Adam
    from chainrule.train import CapturedSteps

    xb, yb = X[:32], TARGETS["cross-entropy"][:32]

    def make(dev):
        model = nn.MLP(2, [8], 3, rng=0).to(dev)
        return SimpleNamespace(model=model, optimizer=Adam(model.parameters(), lr=0.05),
                               loss=lambda out, target: F.cross_entropy(out, target))

    cpu, fake, steps = make("cpu"), make("fake"), CapturedSteps()
    for i in range(6):
        if i == 4:  # a loaded state: new arrays, which the graph does not write
            for t in (cpu, fake):
                t.optimizer.load_state_dict(t.optimizer.state_dict())
        loss = cpu.loss(cpu.model(cr.tensor(xb)), yb)
        cpu.optimizer.zero_grad()
        loss.backward()
        cpu.optimizer.step()
        assert steps.step(fake, cr.tensor(xb, device="fake"), yb).item() == loss.item()
    assert (steps.graphs[(32, 2)].launches, steps.graphs[(32, 2)].recordings) == (5, 2)
    for p, q in zip(cpu.model.parameters(), fake.model.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())

    class Peek(cr.Function):  # an op whose forward reads a device value on the host
        name = "peek"

        def forward(self, x):
            self.scale = 2.0 if float(x.max()) > 0 else 1.0
            return x * self.scale

        def backward(self, grad):
            return grad * self.scale

    class Peeking(nn.Module):
        def __init__(self):
            super().__init__()
            self.mlp = nn.MLP(2, [8], 3, rng=0)

        def forward(self, x):
            return Peek.apply(self.mlp(x))

    with pytest.warns(CaptureWarning, match=r"shape \((32|4), 2\) replay without a device graph: CaptureError: "
                                            r".*not permitted when stream is capturing \(float\(\) of a device array\)"):
        captured = run(True, model=Peeking(), device="fake")
    assert captured.captured.graphs == {(32, 2): False, (4, 2): False}
    assert_same_run(run(False, model=Peeking()), captured)


def test_batch_norm_is_captured_with_its_running_statistics_and_a_buffer_it_does_not_declare_is_refused(fake_gpu):
    # BatchNorm's op advances its module's count and running statistics itself (state_kwargs),
    # so a replay, and a device graph, keep them up to date.
    def model(momentum=0.1):
        return nn.Sequential(nn.Linear(2, 8, rng=0), nn.BatchNorm1d(8, momentum=momentum), nn.ReLU(),
                             nn.Linear(8, 3, rng=1))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        captured, on_graphs = run(True, model=model()), run(True, model=model(), device="fake")
        cumulative = run(True, model=model(None))  # momentum 1/count, read from the count on the host
    for plain, other in ((run(False, model=model()), captured), (run(False, model=model()), on_graphs),
                         (run(False, model=model(None)), cumulative)):
        assert_same_run(plain, other)
        np.testing.assert_array_equal(plain.model[1].running_var, cr.to_host(other.model[1].running_var))
        assert int(other.model[1].num_batches_tracked) == 12
    assert graph_counts(on_graphs) == {(32, 2): (8, 1), (4, 2): (2, 1)}
    # On a device graph the cumulative average's host read cannot be recorded: it says so and replays.
    with pytest.warns(CaptureWarning, match=r"replay without a device graph: CaptureError: .*float\(\) of a device array"):
        on_device = run(True, model=model(None), device="fake")
    assert_same_run(cumulative, on_device)

    class Counted(nn.Module):  # a module that keeps a buffer in Python and hands it to an op
        def __init__(self):
            super().__init__()
            self.mlp = nn.MLP(2, [8], 3, rng=0)
            self.register_buffer("seen", np.zeros(3, np.float32))

        def forward(self, x):
            self.seen += 1
            return Shift.apply(self.mlp(x), offset=self.seen)

    class Shift(cr.Function):
        name = "shift"

        def forward(self, x, offset):
            return x + offset * 0

        def backward(self, grad):
            return grad

    with pytest.warns(CaptureWarning, match=r"shift's argument 'offset' is the buffer 'seen' of Counted, which shift does "
                                            r"not declare as state it updates itself"):
        refused = run(True, model=Counted())
    plain = run(False, model=Counted())
    assert_same_run(plain, refused)  # trained uncaptured: the module's own update ran at every forward pass
    np.testing.assert_array_equal(refused.model.seen, plain.model.seen)
    assert refused.model.seen[0] > 12


def test_an_optimizer_that_replaces_step_is_not_recorded_as_a_graph(fake_gpu):
    from chainrule.optim import SGD

    class Decaying(SGD):  # Python state changed at every step: a graph would freeze it
        def step(self, closure=None):
            super().step(closure)
            for group in self.param_groups:
                group["lr"] *= 0.9

    def factory(params, lr):
        return Decaying(params, lr=lr)

    with pytest.warns(CaptureWarning, match=r"replay without a device graph: TypeError: Decaying replaces Optimizer.step"):
        captured = run(True, optimizer=factory, device="fake")
    assert_same_run(run(False, optimizer=factory), captured)


def test_the_replay_lays_the_parameters_out_in_one_array_and_writes_gradients_where_the_step_reads_them():
    from types import SimpleNamespace

    from chainrule.nn import functional as F
    from chainrule.train import CapturedSteps

    model = nn.MLP(2, [16, 16], 3, rng=0)
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    trainer = SimpleNamespace(model=model, optimizer=opt, loss=F.cross_entropy)
    steps, xb, yb = CapturedSteps(), cr.tensor(X[:32]), TARGETS["cross-entropy"][:32]
    for _ in range(3):
        steps.step(trainer, xb, yb)
    storage = next(model.parameters()).data.base
    assert all(p.data.base is storage for p in model.parameters())
    views = opt.grad_views()
    capture = steps.by_shape[(32, 2)]
    assert sorted(capture._outs(views)) == [0, 1, 2]  # each linear layer writes its two gradients
    assert all(p.grad is views[id(p)] for p in model.parameters())  # no copy into the optimizer
    # The generated replay is the recording's ops, one line each.
    forward, _ = capture.source
    assert len([line for line in forward if " = F" in line]) == len(capture.program) == 4


def test_a_batch_of_another_dtype_is_recorded_again():
    from types import SimpleNamespace

    from chainrule.nn import functional as F
    from chainrule.train import CapturedSteps

    model = nn.MLP(2, [8], 3, rng=0)
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    trainer = SimpleNamespace(model=model, optimizer=opt, loss=F.cross_entropy)
    steps, yb = CapturedSteps(), TARGETS["cross-entropy"][:32]
    for dtype in ("float32", "float32", "float64", "float64"):  # float64 data meets float32 weights
        xb = cr.tensor(X[:32], dtype=dtype)
        with cr.no_grad():
            expected = F.cross_entropy(model(xb), yb).numpy()
        loss = steps.step(trainer, xb, yb).numpy()
        assert steps.by_shape[(32, 2)].x_dtype == np.dtype(dtype)
        assert loss.dtype == expected.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(loss, expected)


# ====================================================================== the model's Python settings
class Switchable(nn.Module):
    """A forward pass that branches in Python on its settings: which head, a temperature."""

    def __init__(self):
        super().__init__()
        self.body, self.a, self.b = nn.Linear(2, 8, rng=0), nn.Linear(8, 3, rng=1), nn.Linear(8, 3, rng=2)
        self.use_b, self.temperature = False, 1.0

    def forward(self, x):
        h = self.body(x).relu()
        return (self.b(h) if self.use_b else self.a(h)) * (1.0 / self.temperature)


class Change(cr.train.Callback):
    def __init__(self, when, change):
        self.when, self.change, self.batches = when, change, 0

    def on_batch_end(self, trainer, loss):
        self.batches += 1
        if self.when == "batch" and self.batches == 5:  # mid-epoch (4 batches an epoch)
            self.change(trainer.model)

    def on_epoch_end(self, trainer, record):
        if self.when == "epoch" and trainer.epoch == 1:
            self.change(trainer.model)


@pytest.mark.parametrize("when", ["epoch", "batch"])
@pytest.mark.parametrize("name, change", [
    ("branch", lambda m: setattr(m, "use_b", True)), ("temperature", lambda m: setattr(m, "temperature", 0.5)),
    ("frozen layer", lambda m: [setattr(p, "requires_grad", False) for p in m.body.parameters()]),
])
def test_a_changed_python_setting_is_recorded_again_never_replayed_stale(name, change, when):
    # A replay takes the branches and numbers of its recording: when a callback changes what the
    # forward pass reads in Python, the recordings are made anew, and the run equals the uncaptured one.
    def trained(capture):
        trainer = Trainer(Switchable(), X, TARGETS["cross-entropy"], TrainConfig(optimizer="momentum", lr=0.05,
                          epochs=3, batch_size=32), callbacks=[Change(when, change)], capture=capture)
        with warnings.catch_warnings():
            warnings.simplefilter("error", CaptureWarning)
            trainer.run()
        return trainer

    plain, captured = trained(False), trained(True)
    assert_same_run(plain, captured)
    assert plain.history.records[0]["loss"] != plain.history.records[2]["loss"]
    assert {s: c.whole for s, c in captured.captured.by_shape.items()} == {(32, 2): True, (4, 2): True}


def test_a_forward_pass_that_changes_its_python_settings_trains_uncaptured_and_says_which():
    class Counting(Switchable):
        def forward(self, x):
            self.calls = getattr(self, "calls", 0) + 1  # state a replay would not advance
            return super().forward(x)

    def trained(capture):
        trainer = Trainer(Counting(), X, TARGETS["cross-entropy"], TrainConfig(epochs=2, batch_size=32), capture=capture)
        trainer.run()
        return trainer

    with pytest.warns(CaptureWarning, match=r"training uncaptured: the forward pass sets calls in Python, which a "
                                            r"replay would not do"):
        captured = trained(True)
    plain = trained(False)
    assert_same_run(plain, captured)
    assert captured.model.calls == plain.model.calls > 2 * 4  # every step (and evaluation) ran it
