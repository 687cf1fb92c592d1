"""Networks for the page: data, features, a model, and a training that runs through the one loop.

Everything the page shows of a network is computed here, by chainrule: the data sets come from
:mod:`chainrule.data`, the network is ``nn.MLP``, training is ``train.Trainer`` (the same loop as
``chainrule train`` and ``fit``), driven by a callback that pauses, steps and stops it between
epochs and publishes snapshots at most ``MAX_RATE`` times a second. A snapshot holds the output
over the input plane, every neuron's output over the plane, the weights, and the train and test
losses (without the regularization term, as TensorFlow Playground shows them).
"""
from __future__ import annotations

import base64
import math
import threading
import time
from dataclasses import dataclass

import numpy as np

from chainrule import data as crdata
from chainrule import nn
from chainrule.engine import Tensor, no_grad
from chainrule.nn import functional as F
from chainrule.optim.strategies import BY_NAME as STRATEGIES
from chainrule.playground.settings import NetworkSettings, SettingsError, check_choice, check_int
from chainrule.train import Callback, Task, TrainConfig, Trainer, get_task

DOMAIN = 6.0
"""The input plane shown is [−DOMAIN, DOMAIN]², TensorFlow Playground's."""
GRID = 40
NEURON_GRID = 20
MAX_RATE = 30.0
"""Most snapshots a training publishes per second (the page cannot show more)."""
MAX_EPOCHS = 1_000_000
RACE_BUDGET = (10, 5000)
RACE_POINTS = 40

_FEATURES = {  # computed on the plane's coordinates, scaled to about [-1, 1]
    "x1": lambda a, b: a / DOMAIN,
    "x2": lambda a, b: b / DOMAIN,
    "x1^2": lambda a, b: (a / DOMAIN) ** 2,
    "x2^2": lambda a, b: (b / DOMAIN) ** 2,
    "x1x2": lambda a, b: a * b / DOMAIN ** 2,
    "sin x1": lambda a, b: np.sin(a),
    "sin x2": lambda a, b: np.sin(b),
}

# dataset name -> (generator, the generator's noise at the page's 0 % and 50 %)
_GENERATORS = {
    "circle": (lambda n, noise, seed: crdata.circles(n, noise=noise, seed=seed), (0.0, 0.15)),
    "xor": (lambda n, noise, seed: crdata.xor(n, noise=noise, seed=seed), (0.3, 0.8)),
    "gaussian": (lambda n, noise, seed: crdata.gaussians(n, noise=noise, seed=seed), (0.4, 1.2)),
    "spiral": (lambda n, noise, seed: crdata.spiral(n, n_classes=2, noise=noise, seed=seed), (0.0, 0.6)),
    "moons": (lambda n, noise, seed: crdata.moons(n, noise=noise, seed=seed), (0.0, 0.3)),
    "plane": (lambda n, noise, seed: crdata.plane(n, noise=noise, seed=seed), (0.0, 0.3)),
    "bumps": (lambda n, noise, seed: crdata.bumps(n, noise=noise, seed=seed), (0.0, 0.3)),
}


def featurize(points, names) -> np.ndarray:
    """The network's inputs for points of the plane: one column per feature name, in order.

    >>> featurize(np.array([[6.0, -3.0]]), ["x1", "x2", "x1x2"]).tolist()
    [[1.0, -0.5, -0.5]]
    """
    points = np.asarray(points, dtype=np.float64)
    a, b = points[:, 0], points[:, 1]
    return np.column_stack([_FEATURES[n](a, b) for n in names]).astype(np.float32)


@dataclass
class PlaygroundData:
    """A data set as the page shows it: points of the plane, their features and targets."""

    points_train: np.ndarray
    points_test: np.ndarray
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def make_data(dataset="circle", *, n_samples=400, noise=0.0, train_ratio=50, features=("x1", "x2"), seed=0,
              problem=None) -> PlaygroundData:
    """The page's data: ``n_samples`` points of a data set scaled into the plane, split and featurized.

    ``noise`` is in percent (0–50) and ``train_ratio`` the percentage used for training; the
    split is a seeded permutation. Points are scaled so the farthest lies at 5 on the plane.

    >>> d = make_data("spiral", n_samples=100, train_ratio=80, features=["x1", "x2", "sin x1"])
    >>> d.X_train.shape, d.X_test.shape, sorted(set(d.y_train.tolist()))
    ((80, 3), (20, 3), [0, 1])
    """
    s = NetworkSettings.from_dict({"dataset": dataset, "n_samples": n_samples, "noise": noise, "seed": seed,
                                   "train_ratio": train_ratio, "features": list(features),
                                   "problem": problem or ("regression" if dataset in ("plane", "bumps") else "classification")})
    make, (low, high) = _GENERATORS[s.dataset]
    ds = make(s.n_samples, low + (high - low) * s.noise / 50.0, s.seed)
    points = np.asarray(ds.X, dtype=np.float64)
    points = points * (5.0 / max(float(np.abs(points).max()), 1e-12))
    y = np.asarray(ds.y)
    order = np.random.default_rng(s.seed).permutation(len(points))
    n_train = max(1, min(len(points) - 1, round(len(points) * s.train_ratio / 100)))
    tr, te = order[:n_train], order[n_train:]
    names = list(s.features)
    return PlaygroundData(points[tr], points[te], featurize(points[tr], names), y[tr],
                          featurize(points[te], names), y[te])


def make_model(s: NetworkSettings):
    """The network of the settings: ``nn.MLP`` from the features to one output, seeded."""
    return nn.MLP(len(s.features), list(s.hidden), 1, activation=s.activation, rng=s.seed)


def loss_name(s: NetworkSettings) -> str:
    """Binary cross-entropy on one logit for classification, squared error for regression."""
    return "logistic" if s.problem == "classification" else "mse"


def train_config(s: NetworkSettings, *, epochs=MAX_EPOCHS, optimizer=None, lr=None, batch_size="settings"):
    """The ``TrainConfig`` of the settings; a race entry overrides the optimizer, step and batch size."""
    return TrainConfig(loss=loss_name(s), optimizer=optimizer or s.optimizer, lr=lr or s.lr, epochs=epochs,
                       batch_size=s.batch_size if batch_size == "settings" else batch_size,
                       reg=s.reg_rate if s.regularization == "l2" else 0.0, seed=s.seed)


def make_trainer(s: NetworkSettings, d: PlaygroundData, model, callbacks=(), **config) -> Trainer:
    """``train.Trainer`` for the settings: the same one ``fit`` builds from the generated code."""
    cfg = train_config(s, **config)
    if s.regularization == "l1" and s.reg_rate:
        base, rate = get_task(cfg.loss), s.reg_rate
        cfg.loss = Task(f"{base.name}+l1", lambda out, t: base.loss(out, t) + F.l1(model, rate), base.kind)
    return Trainer(model, d.X_train, d.y_train, cfg, callbacks=callbacks)


def _encode(values: np.ndarray) -> str:
    """Values in [−1, 1] as base64 bytes 0..255: compact and cheap for the page to decode."""
    q = np.clip(np.rint((np.nan_to_num(values) + 1.0) * 127.5), 0, 255).astype(np.uint8)
    return base64.b64encode(q.tobytes()).decode("ascii")


def _grid(n: int) -> np.ndarray:
    c = (np.arange(n) + 0.5) / n * 2 * DOMAIN - DOMAIN
    a, b = np.meshgrid(c, -c)  # row 0 is the top of the plane
    return np.column_stack([a.ravel(), b.ravel()])


class Snapshotter:
    """What the page draws of a model, computed under no_grad: surface, neurons, weights, losses."""

    def __init__(self, s: NetworkSettings, d: PlaygroundData):
        self.s, self.d = s, d
        self.task = get_task(loss_name(s))
        self.grid = featurize(_grid(GRID), s.features)
        self.small = featurize(_grid(NEURON_GRID), s.features)

    def losses(self, model) -> tuple:
        """(train loss, test loss) of the data loss alone; None where it is not finite."""
        with no_grad():
            out = []
            for X, y in ((self.d.X_train, self.d.y_train), (self.d.X_test, self.d.y_test)):
                out.append(float(self.task(model(Tensor(X)), self.task.targets(y)).item()))
        return tuple(v if math.isfinite(v) else None for v in out)

    def output_surface(self, model) -> np.ndarray:
        """The output over the GRID × GRID plane in [−1, 1]: 2σ(z) − 1 for classification, z clipped for regression."""
        with no_grad():
            z = model(Tensor(self.grid)).numpy().reshape(-1)
        return np.tanh(z / 2) if self.s.problem == "classification" else np.clip(z, -1, 1)  # 2σ(z) − 1

    def __call__(self, model, epoch: int) -> dict:
        layers = list(model)
        neurons = [[_encode(np.clip(col, -1, 1)) for col in (self.small / 1.0).T]]  # the features
        h = Tensor(self.small)
        with no_grad():
            for i, layer in enumerate(layers[:-1]):
                h = layer(h)
                if not isinstance(layer, nn.Linear):  # after each activation: one hidden layer
                    a = h.numpy()
                    scale = np.maximum(np.abs(a).max(axis=0), 1e-6)
                    neurons.append([_encode(col) for col in (a / scale).T])
        weights = [{"w": np.round(l.weight.numpy(), 4).tolist(), "b": np.round(l.bias.numpy(), 4).tolist()}
                   for l in layers if isinstance(l, nn.Linear)]
        train_loss, test_loss = self.losses(model)
        return {"type": "update", "epoch": epoch, "train_loss": train_loss, "test_loss": test_loss,
                "surface": _encode(self.output_surface(model)), "grid": GRID, "neuron_grid": NEURON_GRID,
                "neurons": neurons, "weights": weights}


class Stopped(Exception):
    """Raised inside the loop's callback to end a training whose page went away or was reset."""


class NetworkTraining:
    """One page's network: a thread running ``Trainer.run`` that plays, pauses, steps and stops.

    ``publish(message)`` is called from the training thread with each snapshot; it must be
    cheap and thread-safe (the server hands the message to its event loop).
    """

    def __init__(self, s: NetworkSettings, publish):
        self.s, self.publish = s, publish
        self.data = make_data(s.dataset, n_samples=s.n_samples, noise=s.noise, train_ratio=s.train_ratio,
                              features=s.features, seed=s.seed, problem=s.problem)
        self.model = make_model(s)
        self.snap = Snapshotter(s, self.data)
        self.trainer = make_trainer(s, self.data, self.model, callbacks=[_Driver(self)])
        self.cond = threading.Condition()
        self.playing, self.allowance, self.closing = False, 0, False
        self.error = None
        self.last_publish = 0.0
        self.thread = threading.Thread(target=self._run, name="chainrule-playground-training", daemon=True)

    def state(self) -> dict:
        """The data set's points and the settings, sent once per reset."""
        d = self.data
        return {"type": "state", "settings": self.s.to_dict(), "domain": DOMAIN,
                "train": {"points": np.round(d.points_train, 3).tolist(), "labels": _labels(d.y_train, self.s)},
                "test": {"points": np.round(d.points_test, 3).tolist(), "labels": _labels(d.y_test, self.s)}}

    def start(self):
        """Publish the data and the untrained network, then start the (waiting) loop's thread."""
        self.publish(self.state())
        self.publish(self.snap(self.model, 0))
        self.thread.start()

    def _run(self):
        try:
            self.trainer.run()
        except Stopped:
            pass
        except Exception as exc:  # a diverged loss, say: the page shows why training ended
            self.error = str(exc)
            self.publish({"type": "error", "message": f"training stopped: {exc}"})

    def play(self):
        """Train epoch after epoch until paused."""
        with self.cond:
            self.playing = True
            self.cond.notify_all()

    def pause(self):
        """Stop after the current epoch."""
        with self.cond:
            self.playing = False

    def step(self):
        """Train exactly one more epoch, then pause."""
        with self.cond:
            self.playing = False
            self.allowance += 1
            self.cond.notify_all()

    def close(self, wait: float = 5.0):
        """Stop the training (at the next batch) and wait for its thread to end."""
        with self.cond:
            self.closing = True
            self.cond.notify_all()
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join(wait)

    # called from the loop's thread
    def wait_for_turn(self):
        """Block the loop's thread until it may train an epoch; raise Stopped when closing."""
        with self.cond:
            while not (self.closing or self.playing or self.allowance):
                self.cond.wait()
            if self.closing:
                raise Stopped
            if not self.playing:
                self.allowance -= 1

    def epoch_done(self, epoch: int):
        """Publish a snapshot: every epoch while stepping, at most MAX_RATE a second while playing."""
        now = time.perf_counter()
        if not self.playing or now - self.last_publish >= 1.0 / MAX_RATE:
            self.last_publish = now
            self.publish(self.snap(self.model, epoch))


class _Driver(Callback):
    """The loop's side of a page: wait for play or step, stop when the page goes away."""

    def __init__(self, training: NetworkTraining):
        self.training = training

    def on_train_begin(self, trainer):
        self.training.wait_for_turn()

    def on_batch_end(self, trainer, loss):
        if self.training.closing:
            raise Stopped

    def on_epoch_end(self, trainer, record):
        self.training.epoch_done(trainer.epoch)
        self.training.wait_for_turn()


def _labels(y, s: NetworkSettings) -> list:
    return [int(v) for v in y] if s.problem == "classification" else np.round(np.asarray(y, float), 3).tolist()


class _Turns:
    """Lets a race's entries train one batch each in turn, so their curves grow side by side."""

    def __init__(self, names):
        self.cond = threading.Condition()
        self.order = list(names)
        self.current = self.order[0]

    def wait(self, name: str, race: "Race"):
        with self.cond:
            while not race.closing and self.current != name:
                self.cond.wait(0.2)
        if race.closing:
            raise Stopped

    def pass_on(self, name: str):
        with self.cond:
            self.current = self.order[(self.order.index(name) + 1) % len(self.order)]
            self.cond.notify_all()

    def leave(self, name: str):
        with self.cond:
            i = self.order.index(name)
            self.order.remove(name)
            if self.current == name and self.order:
                self.current = self.order[i % len(self.order)]
            self.cond.notify_all()


class _Budget(Callback):
    """A race entry's side of the loop: its turn, its curve, and the stop after ``budget`` evaluations."""

    def __init__(self, race, name: str, snap: Snapshotter, model, budget: int):
        self.race, self.name, self.snap, self.model, self.budget = race, name, snap, model, budget
        self.every = max(1, budget // RACE_POINTS)
        self.last = 0

    def point(self, evaluations):
        train, test = self.snap.losses(self.model)
        self.race.publish({"type": "race", "strategy": self.name, "evaluations": evaluations,
                           "train_loss": train, "test_loss": test})

    def on_train_begin(self, trainer):
        self.point(0)
        self.race.turns.pass_on(self.name)
        self.race.turns.wait(self.name, self.race)

    def on_batch_end(self, trainer, loss):
        # compare's rule: what the optimizer itself counts where it counts (random local search
        # evaluates the starting weights too on its first step), else one per batch
        n = getattr(trainer.optimizer, "loss_evaluations", trainer.evaluations)
        if n // self.every != self.last // self.every or n >= self.budget:
            self.point(n)
        self.last = n
        if n >= self.budget:
            raise _BudgetSpent
        self.race.turns.pass_on(self.name)
        self.race.turns.wait(self.name, self.race)


class _BudgetSpent(Exception):
    pass


class Race:
    """The same network trained by several strategies side by side, each for the same loss-evaluation budget.

    The strategies are ``chainrule compare``'s (:mod:`chainrule.optim.strategies`): their
    optimizers, batch kinds and step sizes; "mini" batches are the page's batch size. Each entry
    is an ordinary ``Trainer`` run in a thread of its own, from the same initial weights; the
    entries take one batch (one loss evaluation) each in turn, so at any moment they have spent
    the same budget.
    """

    def __init__(self, s: NetworkSettings, names, budget, publish):
        if not isinstance(names, (list, tuple)) or not names:
            raise SettingsError(f"a race needs a non-empty list of strategies from {', '.join(STRATEGIES)}; got {names!r}")
        for n in names:
            check_choice("strategy", n, tuple(STRATEGIES))
        if len(set(names)) != len(names):
            raise SettingsError("a race names a strategy twice")
        self.budget = check_int("budget", budget, *RACE_BUDGET)
        self.s, self.names, self.publish = s, list(names), publish
        self.data = make_data(s.dataset, n_samples=s.n_samples, noise=s.noise, train_ratio=s.train_ratio,
                              features=s.features, seed=s.seed, problem=s.problem)
        self.closing = False
        self.turns = _Turns(self.names)
        self.thread = threading.Thread(target=self._run, name="chainrule-playground-race", daemon=True)

    def start(self):
        """Start the entries' threads, and the race's own, which reports when they are all done."""
        self.thread.start()

    def running(self) -> bool:
        """Whether the race is still training."""
        return self.thread.is_alive()

    def _run(self):
        snap = Snapshotter(self.s, self.data)
        entries = [threading.Thread(target=self._entry, args=(name, snap), daemon=True,
                                    name="chainrule-playground-race") for name in self.names]
        for t in entries:
            t.start()
        for t in entries:
            t.join()
        if not self.closing:
            self.publish({"type": "race_done", "strategies": self.names, "budget": self.budget})

    def _entry(self, name: str, snap: Snapshotter):
        st = STRATEGIES[name]
        trainer = None
        try:
            self.turns.wait(name, self)
            model = make_model(self.s)  # every entry starts from the same weights
            trainer = make_trainer(self.s, self.data, model, callbacks=[_Budget(self, name, snap, model, self.budget)],
                                   optimizer=st.optimizer, lr=st.step, batch_size=st.batch_size(self.s.batch_size))
            trainer.run()
        except (_BudgetSpent, Stopped):
            pass
        except Exception as exc:  # a diverged entry ends; the others still run
            self.publish({"type": "race", "strategy": name, "evaluations": trainer.evaluations if trainer else 0,
                          "diverged": True, "message": str(exc)})
        finally:
            self.turns.leave(name)

    def close(self, wait: float = 5.0):
        """Stop the race at the next batch and wait for its threads."""
        self.closing = True
        if self.thread.is_alive():
            self.thread.join(wait)


def code(s: NetworkSettings, epochs: int = 100) -> str:
    """Python, on chainrule's API, that reproduces the setup and trains it for ``epochs`` epochs.

    It builds the same data, the same seeded network and the same ``Trainer`` as the page, so
    its losses equal the page's after the same number of epochs.
    """
    epochs = check_int("epochs", epochs, 1, 100_000)
    feats = ", ".join(repr(f) for f in s.features)
    lines = [
        "import chainrule as cr",
        "from chainrule.playground import make_data",
        "",
        f"data = make_data({s.dataset!r}, n_samples={s.n_samples}, noise={s.noise:g}, train_ratio={s.train_ratio},",
        f"                 features=[{feats}], seed={s.seed})",
        f"net = cr.nn.MLP({len(s.features)}, {list(s.hidden)}, 1, activation={s.activation!r}, rng={s.seed})",
    ]
    loss = repr(loss_name(s))
    if s.regularization == "l1" and s.reg_rate:
        lines += [
            "from chainrule.nn import functional as F",
            "from chainrule.train import Task, get_task",
            f"base = get_task({loss})",
            f"loss = Task(base.name + '+l1', lambda out, t: base.loss(out, t) + F.l1(net, {s.reg_rate!r}), base.kind)",
        ]
        loss = "loss"
    reg = s.reg_rate if s.regularization == "l2" else 0.0
    lines += [
        f"history = cr.fit(net, data.X_train, data.y_train, loss={loss}, optimizer={s.optimizer!r}, lr={s.lr!r},",
        f"                 epochs={epochs}, batch_size={s.batch_size}, reg={reg!r}, seed={s.seed})",
        "",
        "# the losses the page plots (data loss only, without the regularization term)",
        "from chainrule.train import get_task",
        f"task = get_task({loss_name(s)!r})",
        "with cr.no_grad():",
        "    train_loss = task(net(cr.tensor(data.X_train)), task.targets(data.y_train)).item()",
        "    test_loss = task(net(cr.tensor(data.X_test)), task.targets(data.y_test)).item()",
        "print(f'epoch {len(history)}: train loss {train_loss:.3f}, test loss {test_loss:.3f}')",
    ]
    return "\n".join(lines) + "\n"
