"""The loop's record of a run (History) and its hooks: EarlyStopping, ProgressBar, Checkpoint."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

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
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    The best parameters seen are restored at the end when ``restore_best`` is true.
    """

    def __init__(self, patience: int = 5, monitor: str = "val_loss", min_delta: float = 0.0, restore_best: bool = True):
        if not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be a positive integer; got {patience!r}")
        self.patience, self.monitor, self.min_delta, self.restore_best = patience, monitor, min_delta, restore_best
        self.best, self.best_state, self.wait = math.inf, None, 0

    def on_epoch_end(self, trainer, record):
        value = record.get(self.monitor)
        if value is None:
            value = record["loss"]
        if "acc" in self.monitor:
            value = -value
        if value < self.best - self.min_delta:
            self.best, self.wait = value, 0
            self.best_state = trainer.model.state_dict() if self.restore_best else None
            return False
        self.wait += 1
        return self.wait >= self.patience

    def on_train_end(self, trainer):
        if self.best_state is not None:
            trainer.model.load_state_dict(self.best_state)


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
    return "  ".join(parts)


class Checkpoint(Callback):
    """Write the whole training state atomically to ``path`` after every epoch.

    ``fit(..., resume=path)`` continues from it and ends with the same weights as an
    uninterrupted run with the same seed.
    """

    def __init__(self, path):
        self.path = Path(path)

    def on_epoch_end(self, trainer, record):
        trainer.save_checkpoint(self.path)
