"""fit(): the one training loop, with its history, metrics, callbacks and checkpoints.

Full-batch gradient descent, mini-batch gradient descent and stochastic gradient descent are the
same loop fed batches of N, B or 1 examples: ``batch_size=None`` means the full batch.

The loop reads top to bottom: learning rate, forward, loss, backward, step, zero_grad, then
per epoch an evaluation under ``no_grad``, a log record, callbacks, and the stopping checks.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from chainrule import io, optim
from chainrule.data import batches
from chainrule.engine import Tensor, device_of, no_grad, to_device
from chainrule.engine.devices import CPU
from chainrule.engine import device as as_device
from chainrule.nn import Module, module_device
from chainrule.nn import functional as F
from chainrule.train.capture import CaptureWarning, CapturedSteps
from chainrule.train.callbacks import Checkpoint, EarlyStopping, History, ProgressBar
from chainrule.train.tasks import Task, TrainingDiverged, get_task


# ====================================================================== the loop
@dataclass
class TrainConfig:
    """Everything that defines a training run (saved with checkpoints)."""

    loss: str = "cross-entropy"
    optimizer: str = "sgd"
    lr: float = 0.1
    epochs: int = 10
    batch_size: int | None = 32
    reg: float = 0.0
    schedule: str = "none"
    seed: int = 0
    shuffle: bool = True
    optimizer_options: dict = field(default_factory=dict)


class Trainer:
    """The state of one training run: model, optimizer, schedule, random stream, history."""

    def __init__(self, model: Module, X, y, config: TrainConfig, validation=None, callbacks=(), device=None,
                 capture=False):
        if not isinstance(model, Module):
            raise TypeError(f"fit() needs a chainrule Module to train; got {type(model).__name__}")
        # The device is not part of the config: a checkpoint resumes on any device.
        self.device = module_device(model) if device is None else as_device(device)
        model.to(self.device)
        if not isinstance(config.epochs, int) or isinstance(config.epochs, bool) or config.epochs < 1:
            raise ValueError(f"epochs must be a positive integer; got {config.epochs!r}")
        if not isinstance(config.lr, (int, float)) or isinstance(config.lr, bool) or not config.lr > 0:
            raise ValueError(f"the learning rate must be a number > 0; got {config.lr!r}")
        bs = config.batch_size
        if bs is not None and (not isinstance(bs, (int, np.integer)) or isinstance(bs, bool) or bs < 1):
            raise ValueError(f"batch_size must be None (the full batch) or a positive integer; got {bs!r}")
        if config.reg < 0:
            raise ValueError(f"reg must be >= 0; got {config.reg}")
        self.model, self.config, self.callbacks = model, config, list(callbacks)
        self.task = get_task(config.loss)
        self.set_data(X, y)
        self.validation = None
        if validation is not None:
            Xv, yv = validation
            self.validation = _check_xy(Xv, yv, self.task)
        options = dict(config.optimizer_options)
        if str(config.optimizer).startswith("random"):
            options.setdefault("rng", config.seed)  # the random searches draw from the run's seed
        self.optimizer = optim.make_optimizer(config.optimizer, model.parameters(), lr=config.lr, **options)
        self.derivative_free = isinstance(self.optimizer, (optim.RandomSearch, optim.RandomLocalSearch))
        # Not part of the config either: capturing changes the speed, never the result.
        self.captured = CapturedSteps() if capture and not self.derivative_free else None
        if capture and self.derivative_free:
            warnings.warn(f"capture: {config.optimizer} evaluates the model inside its closure; training uncaptured",
                          CaptureWarning, stacklevel=2)
        self.schedule = optim.make_schedule(config.schedule, self.optimizer, config.epochs)
        self.rng = np.random.default_rng(config.seed)
        self.history = History()
        self.epoch = 0
        self.evaluations = 0

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

    # ---------------------------------------------------------------- one run
    def run(self) -> History:
        for cb in self.callbacks:
            cb.on_train_begin(self)
        try:
            while self.epoch < self.config.epochs:
                record = self.train_epoch()
                stop = False
                for cb in self.callbacks:
                    stop = bool(cb.on_epoch_end(self, record)) or stop
                if stop:
                    break
        finally:
            for cb in self.callbacks:
                cb.on_train_end(self)
        return self.history

    def train_epoch(self) -> dict:
        with self.device.use():  # CuPy makes new arrays on its current GPU: make it the model's
            return self._train_epoch()

    def _train_epoch(self) -> dict:
        start = time.perf_counter()
        model, opt, task = self.model, self.optimizer, self.task
        group = opt.param_groups[0]
        lr = group["lr"] if "lr" in group else group.get("step_size", group.get("scale"))
        # Parameters that gave a finite loss, restored if the loss blows up: this epoch's start
        # (finite at its first batch) or, if the very first batch fails, the previous epoch's start.
        previous_start, start_state = getattr(self, "_start_state", None), model.state_dict()
        self._start_state = start_state
        model.train()
        total, count = 0.0, 0
        for b, idx in enumerate(batches(len(self.X), self.config.batch_size, rng=self.rng, shuffle=self.config.shuffle)):
            # The data stays on the host; each batch is copied to the model's device (the targets
            # follow the scores there inside the loss).
            xb, yb = Tensor(to_device(self.X[idx], self.device)), self.y[idx]
            if self.derivative_free:
                loss = opt.step(lambda: self.loss(model(xb), yb))
            elif self.captured is not None:
                loss = self.captured.step(self, xb, yb)  # the same step, replayed (train/capture.py)
            else:
                loss = self.loss(model(xb), yb)
                opt.zero_grad()
                loss.backward(keep_grads=False)  # only the parameters' gradients are needed
                opt.step()
            value = float(loss.item())
            self.evaluations += 1
            if not math.isfinite(value):
                back = 1 if b == 0 and previous_start is not None else 0
                model.load_state_dict(previous_start if back else start_state)
                raise TrainingDiverged(
                    f"the loss became {value} at epoch {self.epoch + 1}, batch {b + 1} (learning rate "
                    f"{lr:g}); the model keeps the last parameters with a finite loss, from the start of "
                    f"epoch {self.epoch + 1 - back}. Try a smaller --lr"
                )
            total += value * len(idx)
            count += len(idx)
            for cb in self.callbacks:
                cb.on_batch_end(self, value)
        self.epoch += 1
        if self.schedule is not None:
            self.schedule.step()
        record = {"epoch": self.epoch, "loss": total / count, "lr": lr}
        record.update(self.evaluate(self.X, self.y, prefix="train_", loss=False))
        if self.validation is not None:
            record.update(self.evaluate(*self.validation, prefix="val_"))
        record["seconds"] = time.perf_counter() - start
        record["evaluations"] = self.evaluations
        self.history.records.append(record)
        return record

    def loss(self, out, target):
        loss = self.task(out, target)
        if self.config.reg:
            loss = loss + F.l2(self.model, self.config.reg)
        return loss

    @no_grad()
    def evaluate(self, X, y, prefix="", loss=True) -> dict:
        self.model.eval()
        scores = predict_scores(self.model, X)
        self.model.train()
        result = {}
        if loss:
            result[prefix + "loss"] = float(self.task(Tensor(scores), y).item())
        if self.task.kind != "regression":
            result[prefix + "acc"] = float(np.mean(self.task.predict(scores) == _class_targets(y, self.task)))
        return result

    # ---------------------------------------------------------------- checkpoints
    def state(self) -> tuple:
        """(arrays, meta) that describe the run completely, for an .npz + JSON checkpoint."""
        arrays = {f"model/{k}": v for k, v in self.model.state_dict().items()}
        opt_state = self.optimizer.state_dict()
        opt_arrays, opt_meta = _split_arrays(opt_state, "optimizer")
        arrays.update(opt_arrays)
        meta = {
            "epoch": self.epoch,
            "evaluations": self.evaluations,
            "config": asdict(self.config),
            "optimizer": opt_meta,
            "schedule": self.schedule.state_dict() if self.schedule is not None else None,
            "rng": self.rng.bit_generator.state,
            "history": self.history.records,
        }
        return arrays, meta

    def save_checkpoint(self, path) -> Path:
        arrays, meta = self.state()
        return io.save_archive(path, arrays, meta, kind="checkpoint")

    def load_checkpoint(self, path) -> None:
        arrays, meta = io.load_archive(path, kind="checkpoint")
        saved = TrainConfig(**meta["config"])
        if asdict(saved) != asdict(self.config):
            diff = {k: (v, getattr(self.config, k)) for k, v in asdict(saved).items() if getattr(self.config, k) != v}
            raise ValueError(f"the checkpoint {path} was written with other settings: {diff} (saved, now)")
        self.model.load_state_dict({k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")})
        self.optimizer.load_state_dict(_join_arrays(meta["optimizer"], arrays, "optimizer"))
        if self.schedule is not None and meta["schedule"] is not None:
            self.schedule.load_state_dict(meta["schedule"])
        self.rng.bit_generator.state = meta["rng"]
        self.epoch, self.evaluations = int(meta["epoch"]), int(meta["evaluations"])
        self.history.records = list(meta["history"])


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


@no_grad()
def predict_scores(model: Module, X, batch_size: int = 8192) -> np.ndarray:
    """The model's outputs for ``X`` (host data), computed in chunks under no_grad on the model's
    device; the result is a host array."""
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


def _class_targets(y, task: Task):
    return (y > 0).astype(np.int64) if task.name == "binary-hinge" else y


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
