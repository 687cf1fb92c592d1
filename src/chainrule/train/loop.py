"""fit(): the one training loop, with its history, metrics, callbacks and checkpoints.

Full-batch gradient descent, mini-batch gradient descent and stochastic gradient descent are the
same loop fed batches of N, B or 1 examples: ``batch_size=None`` means the full batch.

The loop reads top to bottom: learning rate, forward, loss, backward, step, zero_grad, then
per epoch an evaluation under ``no_grad``, a log record, callbacks, and the stopping checks.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from chainrule import io, optim
from chainrule import validation as check
from chainrule.data import batches
from chainrule.engine import Tensor, device_of, no_grad, to_device
from chainrule.engine.devices import CPU
from chainrule.engine import device as as_device
from chainrule.nn import Module, module_device
from chainrule.nn import functional as F
from chainrule.train.callbacks import Checkpoint, EarlyStopping, History, ProgressBar
from chainrule.train.steps import choose_step, finite_parameters
from chainrule.train.tasks import Task, TrainingDiverged, get_task


# ====================================================================== the loop
@dataclass
class TrainConfig:
    """Everything that defines a training run (saved with checkpoints)."""

    loss: str = "cross-entropy"
    optimizer: object = "sgd"  # a name of optim.OPTIMIZERS, or a factory optimizer(params, lr=...)
    lr: float = 0.1
    epochs: int = 10
    batch_size: int | None = 32
    reg: float = 0.0
    schedule: str = "none"
    seed: int = 0
    shuffle: bool = True
    optimizer_options: dict = field(default_factory=dict)


class Trainer:
    """The one training loop: the state of a run and the only code that iterates over epochs and batches.

    Every model trains here; what differs is the *step* (:mod:`chainrule.train.steps`), chosen
    from what the model and the optimizer declare: the autodiff step (forward, loss, backward,
    optimizer step), the analytic-gradient step of the linear models, the closure step of the
    derivative-free optimizers, and a model's own update rule (the perceptron's).

    An epoch reads top to bottom: the learning rate, then per batch the step and the batch
    callbacks (a callback that returns True from ``on_batch_end``, or sets ``stop_training``,
    ends training after that batch), then the schedule, the evaluation under ``no_grad``, the
    divergence check, the record and the epoch callbacks (True from ``on_epoch_end`` stops).

    The divergence check is one rule: a non-finite batch loss, or after the epoch's last step a
    non-finite parameter, training loss or validation loss, raises :class:`TrainingDiverged`
    with the model back at the start of that epoch (the last state known to be finite).
    """

    def __init__(self, model: Module, X, y, config: TrainConfig, validation=None, callbacks=(), device=None,
                 capture=False):
        if not isinstance(model, Module):
            raise TypeError(f"fit() needs a chainrule Module to train; got {type(model).__name__}")
        check_config(config)
        # The device is not part of the config: a checkpoint resumes on any device.
        self.device = module_device(model) if device is None else as_device(device)
        model.to(self.device)
        self.model, self.config, self.callbacks = model, config, list(callbacks)
        self.task = get_task(config.loss)
        self.set_data(X, y)
        self.validation = None
        if validation is not None:
            Xv, yv = validation
            self.validation = _check_xy(Xv, yv, self.task)
        self.optimizer = None if getattr(model, "update_rule", None) is not None else \
            _make_optimizer(config, model.parameters())
        self.schedule = optim.make_schedule(config.schedule, self.optimizer, config.epochs) \
            if self.optimizer is not None else None
        # Not part of the config either: capturing changes the speed, never the result.
        self.step = choose_step(model, self.optimizer, capture=capture,
                                optimizer_name=_config_dict(config)["optimizer"])(self)
        self.rng = np.random.default_rng(config.seed)
        self.history = History()
        self.epoch = 0
        self.evaluations = 0
        self.stop_training = False
        self.stopped_at_checkpoint = False

    def set_data(self, X, y) -> None:
        """Train the next epochs on ``(X, y)``, checked as ``fit`` checks its data.

        ``source`` keeps the ``X`` object as given, so a caller that feeds batches (scikit-learn's
        ``partial_fit``) can tell whether the data changed.
        """
        self.X, self.y = _check_xy(X, y, self.task)
        _check_labels_fit(self.model, self.X, self.y, self.task, self.device)
        self.source = X
        size = self.config.batch_size
        self.batches_per_epoch = 1 if size is None else math.ceil(len(self.X) / size)

    @property
    def captured(self):
        """The captured steps (``CapturedSteps``) when this run replays its steps, else None."""
        return getattr(self.step, "captured", None)

    @property
    def lr(self) -> float:
        """The current step size: the optimizer's (after the schedule), or the config's for a rule."""
        if self.optimizer is None:
            return self.config.lr
        group = self.optimizer.param_groups[0]
        return group.get(self.optimizer.step_size_name, self.config.lr)

    # ---------------------------------------------------------------- one run
    def run(self) -> History:
        """Train until ``config.epochs`` epochs have run or something stops it; returns the History."""
        # A run resumed from a checkpoint written after it stopped (early stopping, a rule that
        # converged) stays stopped: an uninterrupted run would not have trained further.
        self.stop_training = self.stopped_at_checkpoint
        for cb in self.callbacks:
            cb.on_train_begin(self)
        try:
            while self.epoch < self.config.epochs and not self.stop_training:
                record = self.train_epoch()
                for cb in self.callbacks:
                    # Set at once, so that the callbacks after it (a checkpoint) know the run stops.
                    if cb.on_epoch_end(self, record):
                        self.stop_training = True
        finally:
            for cb in self.callbacks:
                cb.on_train_end(self)
        return self.history

    def train_epoch(self) -> dict:
        """One pass over the training data; returns (and records) the epoch's record."""
        with self.device.use():  # CuPy makes new arrays on its current GPU: make it the model's
            return self._train_epoch()

    def _train_epoch(self) -> dict:
        start = time.perf_counter()
        model, lr = self.model, self.lr
        start_state = model.state_dict()  # finite: the previous epoch passed the check below
        model.train()
        total, count = 0.0, 0
        for b, idx in enumerate(batches(len(self.X), self.config.batch_size, rng=self.rng, shuffle=self.config.shuffle)):
            # The data stays on the host; each batch is copied to the model's device here, the one
            # place (the targets follow the scores there inside the loss).
            value = self.step(to_device(self.X[idx], self.device), self.y[idx])
            self.evaluations += 1
            if not math.isfinite(value):
                self._diverged(start_state, f"the loss became {value} at epoch {self.epoch + 1}, batch {b + 1}", lr)
            total += value * len(idx)
            count += len(idx)
            stop = False
            for cb in self.callbacks:
                stop = bool(cb.on_batch_end(self, value)) or stop
            if stop or self.stop_training:
                self.stop_training = True
                break
        self.epoch += 1
        if self.schedule is not None:
            self.schedule.step()
        record = {"epoch": self.epoch, "loss": total / count, "lr": lr}
        train = self._evaluate(self.X, self.y, "train_")
        record.update({k: v for k, v in train.items() if k != "train_loss"})
        if self.validation is not None:
            record.update(self._evaluate(*self.validation, "val_"))
        for key in ("train_loss", "val_loss"):
            value = train.get(key, record.get(key))
            if value is not None and not math.isfinite(value):
                what = "training" if key == "train_loss" else "validation"
                self._diverged(start_state, f"after the last step of epoch {self.epoch} the {what} loss "
                                            f"became {value}", lr, epoch=self.epoch)
        if not finite_parameters(model):
            self._diverged(start_state, f"after the last step of epoch {self.epoch} the parameters are not "
                                        "finite", lr, epoch=self.epoch)
        end_epoch = getattr(self.step, "end_epoch", None)
        if end_epoch is not None and end_epoch(record):
            self.stop_training = True
        record["seconds"] = time.perf_counter() - start
        record["evaluations"] = self.evaluations
        self.history.records.append(record)
        return record

    def _diverged(self, start_state, what: str, lr, epoch=None):
        epoch = self.epoch + 1 if epoch is None else epoch
        self.model.load_state_dict(start_state)
        self.epoch = epoch - 1
        raise TrainingDiverged(
            f"{what} (learning rate {lr:g}); the model keeps its parameters from the start of epoch "
            f"{epoch}, the last with a finite loss. Try a smaller learning rate (--lr)"
        )

    def loss(self, out, target):
        """The training loss of outputs ``out``: the task's loss plus ``λ Σ W²``."""
        loss = self.task(out, target)
        if self.config.reg:
            loss = loss + F.l2(self.model, self.config.reg)
        return loss

    @no_grad()
    def _evaluate(self, X, y, prefix) -> dict:
        scores = predict_scores(self.model, X)
        result = {prefix + "loss": float(self.task(Tensor(scores), y).item())}
        if self.task.kind != "regression":
            result[prefix + "acc"] = float(np.mean(self.task.predict(scores) == self.task.class_labels(y)))
        return result

    def evaluate(self, X, y, prefix="", loss=True) -> dict:
        """``{prefix+"loss", prefix+"acc"}`` of the model on ``(X, y)`` (targets as the task reads them)."""
        result = self._evaluate(X, y, prefix)
        if not loss:
            result.pop(prefix + "loss")
        return result

    # ---------------------------------------------------------------- checkpoints
    def state(self, *, history: bool = True) -> tuple:
        """(arrays, meta) that describe the run completely, for an .npz + JSON checkpoint.

        The cost is that of copying the parameters and the optimizer's buffers: the history is
        the live list of records (append-only), not a copy; ``history=False`` leaves it out.
        """
        arrays = {f"model/{k}": v for k, v in self.model.state_dict().items()}
        opt_meta = None
        if self.optimizer is not None:
            opt_arrays, opt_meta = _split_arrays(_copy_arrays(self.optimizer.state_dict()), "optimizer")
            arrays.update(opt_arrays)
        callbacks = {}
        for cb in self.callbacks:
            if hasattr(cb, "state_dict"):
                cb_arrays, cb_meta = _split_arrays(cb.state_dict(), f"callback/{type(cb).__name__}")
                arrays.update(cb_arrays)
                callbacks[type(cb).__name__] = cb_meta
        meta = {
            "epoch": self.epoch,
            "evaluations": self.evaluations,
            "config": _config_dict(self.config),
            "step": self.step.name,
            "optimizer": opt_meta,
            "schedule": self.schedule.state_dict() if self.schedule is not None else None,
            "rng": self.rng.bit_generator.state,
            "callbacks": callbacks,
            "stopped": bool(self.stop_training),
        }
        if history:
            meta["history"] = self.history.records
        return arrays, meta

    def save_checkpoint(self, path) -> Path:
        """Write :meth:`state` to ``path`` (an ``.npz`` archive, atomically)."""
        arrays, meta = self.state()
        return io.save_archive(path, arrays, meta, kind="checkpoint")

    def load_checkpoint(self, path) -> None:
        """Continue from a checkpoint file written by :meth:`save_checkpoint` or :class:`Checkpoint`."""
        arrays, meta = io.load_archive(path, kind="checkpoint")
        self.load_state(arrays, meta, source=path)

    def load_state(self, arrays, meta, *, source="the checkpoint") -> None:
        """Continue from :meth:`state`'s ``(arrays, meta)``.

        The settings must be this trainer's, except ``epochs``, which may grow (continue a run
        for more epochs) when the schedule does not depend on the number of epochs.
        """
        missing = [k for k in ("epoch", "evaluations", "config", "rng", "history") if k not in meta]
        if missing:
            raise ValueError(f"{source} is not a checkpoint of a training run (it lacks {', '.join(missing)})")
        saved, now = dict(meta["config"]), _config_dict(self.config)
        diff = {k: (v, now.get(k)) for k, v in saved.items() if now.get(k) != v and k != "epochs"}
        if diff:
            raise ValueError(f"{source} was written with other settings: {diff} (saved, now)")
        if saved.get("epochs") != now["epochs"] and now["schedule"] != "none":
            raise ValueError(f"{source} was written for {saved.get('epochs')} epochs and the {now['schedule']} "
                             f"schedule depends on the number of epochs; continue with epochs={saved.get('epochs')}")
        if int(meta["epoch"]) > self.config.epochs:
            raise ValueError(f"{source} has already run {meta['epoch']} epochs, more than epochs={self.config.epochs}")
        step = meta.get("step")
        if step is not None and step != self.step.name:
            raise ValueError(f"{source} cannot continue this run: the field 'step' is {step!r}; this run "
                             f"trains with the {self.step.name} step")
        if self.optimizer is not None:  # first, so that a bad state leaves the model as it was
            try:
                self.optimizer.load_state_dict(_join_arrays(meta["optimizer"], arrays, "optimizer"))
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                raise ValueError(f"{source} cannot continue this run: the field 'optimizer' is not the state "
                                 f"of its {type(self.optimizer).__name__}: {exc}") from None
        self.model.load_state_dict({k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")})
        if self.schedule is not None and meta.get("schedule") is not None:
            self.schedule.load_state_dict(meta["schedule"])
        for cb in self.callbacks:
            state = (meta.get("callbacks") or {}).get(type(cb).__name__)
            if state is not None and hasattr(cb, "load_state_dict"):
                cb.load_state_dict(_join_arrays(state, arrays, ""))
        self.rng.bit_generator.state = meta["rng"]
        self.epoch, self.evaluations = int(meta["epoch"]), int(meta["evaluations"])
        self.history.records = list(meta["history"])
        self.stopped_at_checkpoint = bool(meta.get("stopped", False))


def check_config(config: TrainConfig) -> None:
    """The first bad value of a TrainConfig, by :mod:`chainrule.validation`'s rules (TypeError
    for a wrong type, ValueError for a wrong value)."""
    check.integer("epochs", config.epochs, low=1)
    check.number("lr", config.lr, low=0, low_open=True)
    if config.batch_size is not None:
        check.integer("batch_size", config.batch_size, low=1, what="None (the full batch) or a whole number")
    check.number("reg", config.reg, low=0)


def _make_optimizer(config: TrainConfig, params):
    """The config's optimizer: a name of ``optim.OPTIMIZERS`` or a factory ``f(params, lr=...)``."""
    if callable(config.optimizer):
        return config.optimizer(list(params), lr=config.lr)
    options = dict(config.optimizer_options)
    factory = optim.OPTIMIZERS.get(str(config.optimizer).lower().replace("_", "-"))
    if getattr(getattr(factory, "func", factory), "needs_rng", False):
        options.setdefault("rng", config.seed)  # a drawing optimizer draws from the run's seed
    return optim.make_optimizer(config.optimizer, params, lr=config.lr, **options)


def _config_dict(config: TrainConfig) -> dict:
    d = asdict(config)
    if callable(config.optimizer):
        d["optimizer"] = getattr(config.optimizer, "__name__", type(config.optimizer).__name__)
    d["optimizer_options"] = {k: v for k, v in d["optimizer_options"].items()
                              if not isinstance(v, np.random.Generator)}
    return d


def _copy_arrays(obj):
    if isinstance(obj, np.ndarray):
        return obj.copy()
    if isinstance(obj, dict):
        return {k: _copy_arrays(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_copy_arrays(v) for v in obj]
    return obj


def fit(model: Module, X, y, *, loss="cross-entropy", optimizer="sgd", lr=0.1, epochs=10, batch_size=32,
        reg=0.0, schedule="none", seed=0, shuffle=True, validation=None, callbacks=(), early_stopping=None,
        optimizer_options=None, checkpoint=None, resume=None, progress=False, device=None,
        capture=False) -> History:
    """Train ``model`` on ``(X, y)`` and return its History (one record per epoch).

    Parameters
    ----------
    loss : str
        "cross-entropy" (softmax), "svm" (multiclass hinge), "logistic", "binary-hinge" or "mse".
    optimizer : str
        A name from ``chainrule.optim.OPTIMIZERS``: "sgd", "momentum", "nesterov", "rmsprop",
        "adagrad", "adam", "adamw", "random-search", "random-local-search".
    batch_size : int or None
        None feeds the full batch (vanilla gradient descent), B mini-batches, 1 single examples (SGD).
    reg : float
        L2 strength λ: λ Σ W² over the weight matrices is added to the loss.
    shuffle : bool
        Visit the examples in a new seeded random order every epoch (default), or in order.
    validation : (X_val, y_val), optional
        Evaluated after every epoch (val_loss, val_acc).
    early_stopping : int, optional
        Patience in epochs on the validation loss (training loss without validation data).
    checkpoint, resume : path, optional
        Write the training state after every epoch / continue from such a file.
    device : str or Device, optional
        Train there ("cpu", "cuda", "cuda:N", "auto"): the model is moved, batches are copied
        to it. By default the model's own device. Checkpoints hold host arrays, so a run saved
        on one device resumes on another.
    capture : bool
        Record each batch shape's step (model, loss, L2 term) once and replay it without
        building the graph (``chainrule.train.capture``): the same results bit for bit, less
        Python per step. A step that cannot be captured (Dropout, derivative-free optimizers)
        runs uncaptured with a ``CaptureWarning`` saying why.

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> from chainrule.train import fit
    >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    >>> y = np.array([0, 1, 1, 0])
    >>> net = cr.nn.MLP(2, [8], 2, activation="tanh", rng=0)
    >>> history = fit(net, X, y, optimizer="adam", lr=0.05, epochs=200, batch_size=None)
    >>> history.final["train_acc"]
    1.0
    """
    config = TrainConfig(loss=loss, optimizer=optimizer, lr=lr, epochs=epochs, batch_size=batch_size, reg=reg,
                         schedule=schedule, seed=seed, shuffle=shuffle, optimizer_options=dict(optimizer_options or {}))
    callbacks = list(callbacks)
    if early_stopping:
        callbacks.append(EarlyStopping(early_stopping, monitor="val_loss" if validation is not None else "loss"))
    if progress:
        callbacks.append(ProgressBar())
    if checkpoint is not None:
        callbacks.append(Checkpoint(checkpoint))
    trainer = Trainer(model, X, y, config, validation=validation, callbacks=callbacks, device=device,
                      capture=capture)
    if resume is not None:
        trainer.load_checkpoint(resume)
    return trainer.run()


PREDICT_BATCH_SIZE = 8192


@no_grad()
def predict_scores(model: Module, X, batch_size: int | None = None) -> np.ndarray:
    """The model's outputs for ``X`` (host data), computed in chunks under no_grad on the model's
    device; the result is a host array.

    A chunk is ``batch_size`` examples; by default the smallest ``predict_batch_size`` that the
    model or one of its submodules declares (a convolution: 256), else 8,192.
    """
    if batch_size is None:
        batch_size = min((m.predict_batch_size for m in model.modules() if m.predict_batch_size),
                         default=PREDICT_BATCH_SIZE)
    batch_size = check.integer("predict_scores' batch_size", batch_size, low=1)
    X = host_data(X, "X", dtype=np.float32)
    dev = module_device(model)
    was_training = model.training
    model.eval()
    try:
        with dev.use():  # CuPy makes new arrays on its current GPU: make it the model's
            return np.concatenate([model(Tensor(to_device(X[i:i + batch_size], dev))).numpy()
                                   for i in range(0, max(len(X), 1), batch_size)])
    finally:
        model.train(was_training)


# ====================================================================== validation helpers
def host_data(value, what, dtype=None) -> np.ndarray:
    """``value`` (array_like or a CPU tensor) as a NumPy array; data on a device is an error.

    Training and prediction take host data and copy each batch to the model's device, so data
    already on a device was put there by mistake (or for another model): say so, naming it.
    """
    if isinstance(value, Tensor):
        value = value.data
    where = device_of(value)
    if where != CPU:
        raise ValueError(
            f"{what} is on {where}; training and prediction take host data (NumPy arrays) and copy each "
            f"batch to the model's device themselves: pass {what}.numpy() (or .get())"
        )
    return np.asarray(value) if dtype is None else np.asarray(value, dtype=dtype)


def _check_xy(X, y, task: Task):
    X = host_data(X, "X")
    if X.dtype.kind not in "fiub":
        raise TypeError(f"X must be numeric; got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (examples × features); got shape {X.shape}")
    X = X.astype(np.float32, copy=False)
    if not np.all(np.isfinite(X)):
        bad = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"X contains {X[tuple(bad)]} at row {bad[0]}, column {bad[1]}; remove or impute non-finite values")
    y = host_data(y, "y")
    if len(y) != len(X):
        raise ValueError(f"X and y have different lengths: {len(X)} examples but {len(y)} targets")
    if len(X) == 0:
        raise ValueError("X has no examples")
    return X, task.targets(y)


def _check_labels_fit(model, X, y, task: Task, dev):
    if task.kind == "regression":
        return
    with no_grad(), dev.use():
        out = model.eval()(Tensor(to_device(X[:1], dev)))
    model.train()
    width = out.shape[-1] if out.ndim > 1 else 1
    if task.kind == "binary":
        if width != 1:
            raise ValueError(f"the {task.name} loss needs a model with 1 output; this one has {width}")
        return
    if width == 1 and task.kind == "classes":
        width = 2  # one output, two classes (a one-neuron model's own rule)
    if y.max() >= width:
        raise ValueError(f"label {int(y.max())} is out of range for a model with {width} outputs (expected 0..{width - 1})")
    if y.min() < 0:
        raise ValueError(f"label {int(y.min())} is negative; class labels must be 0..{width - 1}")


def _split_arrays(obj, prefix):
    """Replace ndarrays inside nested dicts/lists by references, collecting them separately."""
    arrays = {}

    def walk(o, path):
        if isinstance(o, np.ndarray):
            arrays[path] = o
            return {"__array__": path}
        if isinstance(o, dict):
            return {str(k): walk(v, f"{path}/{k}") for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [walk(v, f"{path}/{i}") for i, v in enumerate(o)]
        if isinstance(o, np.generic):
            return o.item()
        return o

    return arrays, walk(obj, prefix)


def _join_arrays(obj, arrays, prefix):
    def walk(o):
        if isinstance(o, dict):
            if set(o) == {"__array__"}:
                return arrays[o["__array__"]]
            return {k: walk(v) for k, v in o.items()}
        if isinstance(o, list):
            return [walk(v) for v in o]
        return o

    return walk(obj)
