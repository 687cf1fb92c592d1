"""The loop's record of a run (History) and its hooks: EarlyStopping, ProgressBar, Checkpoint, AugmentEachEpoch."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from chainrule import validation as check

if TYPE_CHECKING:
    from chainrule.train.loop import Trainer


# ====================================================================== history and callbacks
@dataclass
class History:
    """One record per epoch: epoch, loss, train_acc, val_loss, val_acc, lr, seconds, evaluations."""

    records: list = field(default_factory=list)

    def __len__(self):
        return len(self.records)

    def __getitem__(self, i):
        return self.records[i]

    def column(self, key):
        return [r.get(key) for r in self.records]

    @property
    def loss(self):
        return self.column("loss")

    @property
    def final(self) -> dict:
        return self.records[-1] if self.records else {}

    def to_csv(self) -> str:
        keys = ["epoch", "loss", "train_acc", "val_loss", "val_acc", "lr", "seconds", "evaluations"]
        rows = [",".join(keys)]
        for r in self.records:
            rows.append(",".join("" if r.get(k) is None else f"{r[k]:.6g}" if isinstance(r[k], float) else str(r[k]) for k in keys))
        return "\n".join(rows) + "\n"


class Callback:
    """Hooks into fit(): override what you need. Returning True from on_epoch_end stops training."""

    def on_train_begin(self, trainer: "Trainer") -> None:
        pass

    def on_batch_end(self, trainer: "Trainer", loss: float) -> None:
        pass

    def on_epoch_end(self, trainer: "Trainer", record: dict) -> bool | None:
        return None

    def on_train_end(self, trainer: "Trainer") -> None:
        pass


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    The one early-stopping rule (``fit(early_stopping=k)``, ``chainrule train --patience``, the
    estimators' ``n_iter_no_change``): an epoch whose value is above ``best − min_delta``
    counts as one without improvement (scikit-learn's rule), any improvement resets the count, and training stops at
    the end of the ``patience``-th such epoch in a row. ``best`` is the lowest value seen (an
    ``acc`` or ``score`` monitor is maximized). The parameters of the best epoch are restored at
    the end when ``restore_best`` is true.

    >>> stop = EarlyStopping(patience=2, monitor="loss")
    >>> [stop.update(v) for v in (1.0, 0.5, 0.6, 0.55)]      # stops at the 2nd epoch without progress
    [False, False, False, True]
    """

    def __init__(self, patience: int = 5, monitor: str = "val_loss", min_delta: float = 0.0, restore_best: bool = True):
        patience = check.integer("patience", patience, low=1)
        self.patience, self.monitor, self.min_delta, self.restore_best = patience, monitor, min_delta, restore_best
        self.best, self.best_state, self.wait = math.inf, None, 0

    def update(self, value: float) -> bool:
        """Count one epoch's ``value``; True when training should stop (``improved``: a new best)."""
        if "acc" in self.monitor or "score" in self.monitor:
            value = -value
        self.wait = 0 if value <= self.best - self.min_delta else self.wait + 1
        self.improved = value < self.best
        self.best = min(self.best, value)
        return self.wait >= self.patience

    def on_epoch_end(self, trainer, record):
        value = record.get(self.monitor)
        if value is None:
            value = record["loss"]
        stop = self.update(value)
        if self.improved and self.restore_best:
            self.best_state = trainer.model.state_dict()
        return stop

    def on_train_end(self, trainer):
        if self.best_state is not None:
            trainer.model.load_state_dict(self.best_state)

    def state_dict(self) -> dict:
        """What a checkpoint keeps so that a resumed run stops where the uninterrupted one would."""
        return {"best": self.best if math.isfinite(self.best) else None, "wait": self.wait,
                "best_state": dict(self.best_state) if self.best_state is not None else None}

    def load_state_dict(self, state: dict) -> None:
        self.best = math.inf if state["best"] is None else float(state["best"])
        self.wait = int(state["wait"])
        self.best_state = dict(state["best_state"]) if state.get("best_state") is not None else None


class ProgressBar(Callback):
    """A tqdm progress bar over batches, with live loss, and one line per epoch."""

    def __init__(self, file=None, leave_lines: bool = True):
        self.file, self.leave_lines, self.bar = file, leave_lines, None

    def on_train_begin(self, trainer):
        from tqdm.auto import tqdm

        total = trainer.config.epochs * trainer.batches_per_epoch
        self.bar = tqdm(total=total, initial=trainer.epoch * trainer.batches_per_epoch, file=self.file,
                        unit="batch", dynamic_ncols=True, leave=False)

    def on_batch_end(self, trainer, loss):
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def on_epoch_end(self, trainer, record):
        if self.leave_lines:
            self.bar.write(format_record(record, trainer.config.epochs), file=self.file)

    def on_train_end(self, trainer):
        self.bar.close()


def format_record(r: dict, epochs: int) -> str:
    """One line of an epoch's record: epoch, loss, accuracies, learning rate, seconds."""
    parts = [f"epoch {r['epoch']:>{len(str(epochs))}}/{epochs}", f"loss {r['loss']:.4f}"]
    if r.get("train_acc") is not None:
        parts.append(f"train acc {r['train_acc']:.2%}")
    if r.get("val_acc") is not None:
        parts.append(f"val acc {r['val_acc']:.2%}")
    elif r.get("val_loss") is not None:
        parts.append(f"val loss {r['val_loss']:.4f}")
    parts.append(f"lr {r['lr']:.3g}")
    parts.append(f"{r['seconds']:.2f}s")
    if r.get("mistakes") is not None:
        parts.append(f"mistakes {r['mistakes']}")
    return "  ".join(parts)


class Checkpoint(Callback):
    """Write the whole training state atomically to ``path`` after epochs (at most every ``every`` s).

    The state of every finished epoch is captured (a copy of the parameters and optimizer
    buffers, and the number of history records: the cost of an epoch does not grow with the
    epochs before it) and written when the first epoch ends, when ``every`` seconds have passed
    since the last write, after the last epoch, and when training stops for any other reason
    (Ctrl-C, divergence: the last finished epoch's state). A run killed outright resumes from an
    older epoch and replays the same epochs, so it still ends with the same weights; ``every``
    only spares a run of many tiny epochs a write each. ``fit(..., resume=path)`` continues from
    the file and ends with the same weights as an uninterrupted run with the same seed.
    """

    def __init__(self, path, every: float = 1.0):
        self.path, self.every = Path(path), float(every)
        self.pending, self.last, self.written_epoch = None, None, None

    def on_epoch_end(self, trainer, record):
        arrays, meta = trainer.state(history=False)
        self.pending = (arrays, meta, trainer.history.records, len(trainer.history.records))
        if self.last is None or trainer.epoch >= trainer.config.epochs or trainer.stop_training or \
                time.monotonic() - self.last >= self.every:
            self.flush()

    def on_train_end(self, trainer):
        self.flush()

    def flush(self) -> None:
        """Write the latest captured state now (nothing if it is written already)."""
        from chainrule import io

        if self.pending is not None:
            arrays, meta, records, n = self.pending
            io.save_archive(self.path, arrays, {**meta, "history": records[:n]}, kind="checkpoint")
            self.pending, self.last, self.written_epoch = None, time.monotonic(), meta["epoch"]


class AugmentEachEpoch(Callback):
    """Train every epoch on freshly augmented copies of the training rows ``X``: ``augment(X)``.

    ``augment`` is a :class:`chainrule.data.Augment` (random crops, flips), or any callable of
    the rows that draws from a ``numpy.random.Generator`` attribute ``rng``. The copies are
    drawn before the first epoch and after each epoch the run continues past, so ``k`` runs of
    one epoch draw what one run of ``k`` epochs draws. A checkpoint keeps the generator's state
    from which the next epoch's copies are drawn, so a resumed run trains on the same images as
    an uninterrupted one.

    >>> import numpy as np
    >>> import chainrule as cr
    >>> from chainrule.data import Augment
    >>> X, y = np.eye(4, dtype=np.float32), np.array([0, 1, 0, 1])
    >>> shifts = AugmentEachEpoch(Augment((1, 2, 2), crop_padding=1, seed=0), X, y)
    >>> _ = cr.fit(cr.nn.Linear(4, 2), X, y, epochs=3, callbacks=[shifts])
    >>> shifts.draws
    3
    """

    def __init__(self, augment, X, y):
        self.augment, self.X, self.y = augment, X, y
        self.trainer, self.ready_for, self.before, self.draws = None, None, None, 0

    def _draw(self, trainer) -> None:
        self.before = self.augment.rng.bit_generator.state
        trainer.set_data(self.augment(self.X), self.y)
        self.ready_for, self.draws = trainer.epoch, self.draws + 1

    def on_train_begin(self, trainer):
        self.trainer = trainer
        if self.ready_for != trainer.epoch:
            self._draw(trainer)

    def on_epoch_end(self, trainer, record):
        if trainer.epoch < trainer.config.epochs and not trainer.stop_training:
            self._draw(trainer)

    def state_dict(self) -> dict:
        """The generator's state from which the next epoch's copies are (or were) drawn."""
        drawn = self.trainer is not None and self.ready_for == self.trainer.epoch
        return {"rng": self.before if drawn else self.augment.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.augment.rng.bit_generator.state = state["rng"]
        self.ready_for = None  # draw the next epoch's copies from it at the start of the run
