"""The one training loop: ``fit``, ``Trainer`` and its configuration, callbacks, history and tasks.

Full-batch gradient descent, mini-batch gradient descent and stochastic gradient descent are the
same loop fed batches of N, B or 1 examples: ``batch_size=None`` means the full batch.
"""
from chainrule.train.callbacks import Callback, Checkpoint, EarlyStopping, History, ProgressBar, format_record
from chainrule.train.capture import CaptureWarning, CapturedForward, CapturedSteps
from chainrule.train.loop import TrainConfig, Trainer, fit, predict_scores
from chainrule.train.tasks import TASKS, Task, TrainingDiverged, get_task

__all__ = [
    "TASKS", "CaptureWarning", "CapturedForward", "CapturedSteps", "Callback", "Checkpoint", "EarlyStopping", "History", "ProgressBar", "Task", "TrainConfig",
    "Trainer", "TrainingDiverged", "fit", "format_record", "get_task", "predict_scores",
]
