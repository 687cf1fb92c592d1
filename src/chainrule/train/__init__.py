"""The one training loop: ``Trainer``, ``fit``, its steps, callbacks, history and the losses' declarations.

Full-batch gradient descent, mini-batch gradient descent and stochastic gradient descent are the
same loop fed batches of N, B or 1 examples: ``batch_size=None`` means the full batch. Every
model trains through :class:`Trainer`; what differs is the step (:mod:`chainrule.train.steps`).
"""
from chainrule.train.callbacks import AugmentEachEpoch, Callback, Checkpoint, EarlyStopping, History, ProgressBar, format_record
from chainrule.train.capture import CaptureWarning, CapturedForward, CapturedSteps, GraphStep
from chainrule.train.loop import TrainConfig, Trainer, check_config, fit, predict_scores
from chainrule.train.steps import AnalyticStep, AutodiffStep, CapturedStep, ClosureStep, RuleStep, choose_step
from chainrule.train.tasks import (
    LOSS_NAMES, TASKS, TASKS_DECLARED, Task, TrainingDiverged, get_task, loss_of_model, perceptron_criterion,
)

__all__ = [
    "LOSS_NAMES", "TASKS", "TASKS_DECLARED", "AnalyticStep", "AugmentEachEpoch", "AutodiffStep", "Callback", "CaptureWarning",
    "CapturedForward", "CapturedStep", "CapturedSteps", "Checkpoint", "GraphStep", "ClosureStep", "EarlyStopping", "History",
    "ProgressBar", "RuleStep", "Task", "TrainConfig", "Trainer", "TrainingDiverged", "check_config", "choose_step",
    "fit", "format_record", "get_task", "loss_of_model", "perceptron_criterion", "predict_scores",
]
