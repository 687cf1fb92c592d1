"""One ordinary training run, as a library: settings in, a trained model and its metrics out.

``chainrule train`` is this module plus argument parsing: it turns its options into
:class:`RunSettings`, calls :func:`train_run` with a callback that writes a checkpoint to the run
folder after every epoch, and then :func:`write_run`. A sweep's trial, the playground's run and a
script all train the same way::

    settings = RunSettings(data="spiral", hidden=[100], optimizer="sgd", lr=1.0, batch_size="full")
    result = train_run(settings)          # trains in memory, writes nothing
    write_run("runs/spiral", result)      # the folder `chainrule evaluate runs/spiral` reads

A run continues exactly where it stopped: ``train_run(more_epochs, resume=result.checkpoint)``
(or ``resume="runs/spiral"``, a run folder holding ``checkpoint.npz``) ends with the same weights,
bit for bit, as one uninterrupted run of ``more_epochs``.

>>> from chainrule.runs import RunSettings, train_run
>>> settings = RunSettings(data="blobs", model="softmax", epochs=3, n_samples=60)
>>> result = train_run(settings)
>>> len(result.history), result.metrics["test"]["n"]
(3, 15)
>>> again = train_run(settings.replace(epochs=5), resume=train_run(settings.replace(epochs=2)).checkpoint)
>>> bool((again.model.weight.numpy() == train_run(settings.replace(epochs=5)).model.weight.numpy()).all())
True
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chainrule import validation as check

__all__ = [
    "BINARY_MODELS", "MODELS", "MODEL_LOSS", "RUN_ONLY", "Head", "RunResult", "RunSettings",
    "PreparedRun", "DATA_SETTINGS", "build_model", "implied_loss", "make_trainer", "prepare_data", "prepare_run", "network_losses", "in_features", "load_run_data", "model_meta", "read_checkpoint", "train_run",
    "write_run", "start_run", "StartedRun", "CNN_LOSSES", "NETWORKS", "check_example", "cnn_input_shape", "conv_plots", "make_augment",
]

MODELS = ("mlp", "softmax", "svm", "perceptron", "logistic", "binary-svm", "cnn")
#: The models whose loss is a choice (``--loss``); the others are defined by theirs (MODEL_LOSS).
NETWORKS = ("mlp", "cnn")
#: The losses a convolutional classifier (one output per class) may be trained with.
CNN_LOSSES = ("cross-entropy", "svm")
#: The loss each classic model is defined by (an MLP's loss is a choice, cross-entropy by default).
MODEL_LOSS = {"softmax": "cross-entropy", "svm": "svm", "logistic": "logistic",
              "binary-svm": "binary-hinge", "perceptron": "perceptron"}
BINARY_MODELS = ("logistic", "binary-svm")
#: Options that only some models take: setting one for another model is an error, not a no-op.
ONLY_FOR = {
    "hidden": ("mlp",), "activation": ("mlp",),
    "conv": ("cnn",), "image_shape": ("cnn",), "crop": ("cnn",), "flip": ("cnn",),
    "optimizer": tuple(m for m in MODELS if m != "perceptron"),
    "schedule": tuple(m for m in MODELS if m != "perceptron"),
    "batch_size": tuple(m for m in MODELS if m != "perceptron"),
    "reg": tuple(m for m in MODELS if m != "perceptron"),
}
#: The settings only --model cnn takes.
CNN_ONLY = tuple(key for key, models in ONLY_FOR.items() if models == ("cnn",))
#: What an option left unset becomes, for the models that take it.
MODEL_DEFAULTS = {"hidden": [128], "activation": "relu", "optimizer": "adam", "schedule": "none",
                  "reg": 0.0, "batch_size": 32, "crop": 0, "flip": False}
#: The preprocessing of a model's data when --preprocess is not given: a convolutional network
#: sees every pixel scaled alike (a shifted image keeps its values); the others every feature
#: standardized on its own.
DEFAULT_PREPROCESS = {"cnn": "global-standardize"}
DEFAULT_LR = {"perceptron": 1.0}
DEFAULT_LR_OTHER = 1e-3
SEED_MAX = check.SEED_MAX
#: The most examples a run may ask for (``--n-samples``): a synthetic set of ten million 2-D
#: rows is 160 MB; more is a typo, not a data set, and is refused before anything is allocated.
MAX_SAMPLES = 10_000_000
#: Settings that change where and how fast a run trains, never its result: a resumed run may
#: change them (a run trained on a GPU continues on the CPU), every other setting is the run's.
RUN_ONLY = ("device", "capture")


def network_losses() -> tuple:
    """The loss names (and aliases) a network may be trained with: ``chainrule train --loss``."""
    from chainrule.train import TASKS_DECLARED

    return tuple(n for t in TASKS_DECLARED if t.networks for n in (t.name, *t.aliases))


def option_name(key: str) -> str:
    """The ``chainrule train`` option of a setting: ``batch_size`` → ``--batch-size``."""
    return "--" + key.replace("_", "-")


# ====================================================================== settings
@dataclass
class RunSettings:
    """The settings of one training run: the options of ``chainrule train``, checked in one place.

    Options that depend on the model (``hidden``, ``activation``, ``optimizer``, ``schedule``,
    ``reg``, ``batch_size``, ``lr``) may be left as None: they become the model's default when
    the settings are made (an MLP gets one hidden layer of 128 ReLU units, Adam, lr 0.001,
    batches of 32; the perceptron lr 1.0 and its own rule). Setting one that the model does not
    take is an error. ``batch_size="full"`` is vanilla (full-batch) gradient descent. ``loss``
    None means the model's own loss, or for an MLP cross-entropy on classes and the squared error
    on numeric targets. ``patience`` stops training after that many epochs without a better
    validation loss (and keeps the best weights). ``device`` is where it trains ("cpu", "cuda",
    "cuda:N", or "auto": CUDA when CuPy sees a GPU) and ``capture`` replays each batch shape's
    recorded step (the same results, less Python per step); neither changes the result, so a
    resumed run may change them (:data:`RUN_ONLY`). The checks are :mod:`chainrule.validation`'s
    (a TypeError for a wrong type, a ValueError for a wrong value), and a message names the
    option as ``chainrule train`` spells it.

    ``model="cnn"`` is a convolutional classifier (:class:`chainrule.nn.CNN`): ``conv`` is its
    layer string (``"c16k5-m2-c32k5-m2"``; None: the default for the image size,
    :func:`chainrule.nn.cnn.default_spec`), ``image_shape`` how to fold a row into an image
    for data that does not say (``[C, H, W]``, or ``[H, W]`` with the channels the row length
    leaves), ``crop`` the padding of a random crop and ``flip`` a random horizontal flip of
    the training rows, drawn anew every epoch (:class:`chainrule.data.Augment` through
    :class:`chainrule.train.AugmentEachEpoch`, seeded by ``seed``). Its data is
    scaled by one mean and standard deviation unless ``preprocess`` says otherwise.

    >>> s = RunSettings(model="softmax", reg=1e-3)
    >>> s.optimizer, s.lr, s.batch_size, s.hidden
    ('adam', 0.001, 32, None)
    >>> RunSettings.from_dict(s.to_dict()) == s
    True
    >>> RunSettings(model="perceptron", optimizer="adam")
    Traceback (most recent call last):
    ...
    ValueError: --optimizer does not apply to --model perceptron (it trains with its own update rule)
    """

    data: str = "digits"
    n_samples: int | None = None
    noise: float | None = None
    label_column: str | None = None
    data_dir: str | None = None
    preprocess: str | None = None
    model: str = "mlp"
    hidden: list | None = None
    activation: str | None = None
    conv: str | None = None
    image_shape: list | None = None
    crop: int | None = None
    flip: bool | None = None
    loss: str | None = None
    optimizer: str | None = None
    lr: float | None = None
    schedule: str | None = None
    reg: float | None = None
    epochs: int = 30
    batch_size: int | str | None = None
    seed: int = 0
    test_size: float = 0.25
    val_size: float = 0.1
    patience: int | None = None
    device: str = "cpu"
    capture: bool = False

    def __post_init__(self):
        self._check(option_name)

    def _check(self, name) -> None:
        """Check and normalize every field in place; ``name(key)`` is how a message names a field
        (``--batch-size`` for the command, ``the field 'settings.batch_size'`` for a config.json).
        The rules are :mod:`chainrule.validation`'s: TypeError for a wrong type, ValueError for
        a wrong value."""
        from chainrule import nn, optim
        from chainrule.data import PREPROCESSING
        from chainrule.engine import device
        from chainrule.train import get_task

        try:  # kept as text ("auto" stays "auto": resolved where the run trains), checked here
            resolved = device(self.device).check()
        except ValueError as exc:
            raise ValueError(f"{name('device')}: {exc}") from None
        except TypeError as exc:
            raise TypeError(f"{name('device')}: {exc}") from None
        self.device = "auto" if isinstance(self.device, str) and self.device.strip().lower() == "auto" \
            else str(resolved)
        self.capture = check.boolean(name("capture"), self.capture)

        self.data = check.text(name("data"), self.data)
        self.model = check.choice(name("model"), self.model, MODELS)
        if self.preprocess is None:
            self.preprocess = DEFAULT_PREPROCESS.get(self.model, "standardize")
        self.preprocess = check.choice(name("preprocess"), self.preprocess, PREPROCESSING)
        self.epochs = check.integer(name("epochs"), self.epochs, low=1)
        self.seed = check.seed(name("seed"), self.seed, optional=False)
        self.test_size = check.fraction(name("test_size"), self.test_size)
        self.val_size = check.fraction(name("val_size"), self.val_size)
        if self.n_samples is not None:
            self.n_samples = check.integer(name("n_samples"), self.n_samples, low=1, high=MAX_SAMPLES)
        if self.noise is not None:
            self.noise = check.number(name("noise"), self.noise, low=0)
        if self.patience is not None:
            self.patience = check.integer(name("patience"), self.patience, low=1)
        for key in ("label_column", "data_dir"):
            if getattr(self, key) is not None:
                setattr(self, key, check.text(name(key), getattr(self, key)))
        model = self.model
        for key, models in ONLY_FOR.items():
            if getattr(self, key) is not None and model not in models:
                raise ValueError(f"{name(key)} does not apply to {name('model')} {model}"
                                 + (" (it trains with its own update rule)" if model == "perceptron" else ""))
        if self.loss is not None:
            self.loss = get_task(check.choice(name("loss"), self.loss, network_losses())).name
            if model == "cnn" and self.loss not in CNN_LOSSES:
                raise ValueError(f"{name('model')} cnn has one output per class; it trains with {name('loss')} "
                                 f"{' or '.join(CNN_LOSSES)}, not {name('loss')} {self.loss}")
            if model not in NETWORKS and self.loss != MODEL_LOSS[model]:
                raise ValueError(f"{name('model')} {model} is trained with the {MODEL_LOSS[model]} loss; "
                                 f"{name('loss')} {self.loss} needs {name('model')} mlp")
        for key, default in MODEL_DEFAULTS.items():
            if getattr(self, key) is None and model in ONLY_FOR[key]:
                setattr(self, key, list(default) if isinstance(default, list) else default)
        if self.hidden is not None:
            if isinstance(self.hidden, (str, bytes)) or not hasattr(self.hidden, "__iter__"):
                raise TypeError(f"{name('hidden')} must be a list of layer sizes; got {self.hidden!r}")
            self.hidden = [check.integer(name("hidden"), h, low=1) for h in self.hidden]
        if self.activation is not None:
            self.activation = check.choice(name("activation"), self.activation, tuple(nn.ACTIVATIONS))
        if self.conv is not None:
            try:
                nn.cnn.parse_spec(check.text(name("conv"), self.conv))
            except ValueError as exc:
                raise ValueError(f"{name('conv')}: {exc}") from None
            self.conv = self.conv.strip().lower()
        if self.image_shape is not None:
            if isinstance(self.image_shape, (str, bytes)) or not hasattr(self.image_shape, "__len__") or \
                    len(self.image_shape) not in (2, 3):
                raise TypeError(f"{name('image_shape')} must be CxHxW or HxW, such as 1x28x28; "
                                f"got {self.image_shape!r}")
            self.image_shape = [check.integer(name("image_shape"), v, low=1) for v in self.image_shape]
        if self.crop is not None:
            self.crop = check.integer(name("crop"), self.crop, low=0)
        if self.flip is not None:
            self.flip = check.boolean(name("flip"), self.flip)
        if self.optimizer is not None:
            self.optimizer = check.choice(name("optimizer"), self.optimizer, tuple(optim.OPTIMIZERS))
        if self.schedule is not None:
            self.schedule = check.choice(name("schedule"), self.schedule, tuple(optim.SCHEDULES))
        if self.reg is not None:
            self.reg = check.number(name("reg"), self.reg, low=0)
        if isinstance(self.batch_size, str) and self.batch_size.strip().lower() == "full":
            self.batch_size = "full"
        elif self.batch_size is not None:
            self.batch_size = check.integer(name("batch_size"), self.batch_size, low=1,
                                            what="'full' or a whole number")
        self.lr = DEFAULT_LR.get(model, DEFAULT_LR_OTHER) if self.lr is None else \
            check.number(name("lr"), self.lr, low=0, low_open=True)
        if self.data.lower().endswith((".csv", ".npz")):
            self.data = str(Path(self.data).expanduser().resolve())
        if self.data_dir is not None:
            self.data_dir = str(Path(self.data_dir).expanduser().resolve())

    # ---------------------------------------------------------------- conversions
    def to_dict(self) -> dict:
        """The settings as a JSON-able dict (``config.json``'s ``settings``).

        The options of ``--model cnn`` (:data:`CNN_ONLY`) appear only where they are set: the
        settings of every other run are the keys they always had (a config.json written before
        CNNs existed reads back equal), and :meth:`from_dict` fills in what is missing.
        """
        out = dataclasses.asdict(self)
        out["hidden"] = list(self.hidden) if self.hidden is not None else None
        out["image_shape"] = list(self.image_shape) if self.image_shape is not None else None
        for key in CNN_ONLY:
            if out[key] is None:
                del out[key]
        return out

    @classmethod
    def from_dict(cls, d, *, name=option_name) -> "RunSettings":
        """Settings from :meth:`to_dict`'s dict; an unknown key is an error, a missing one its default.

        ``name(key)`` is how an error names a field: the option (``--epochs``) by default, or
        what a file reader gives (``read_config``: ``the field 'settings.epochs'``). The rules
        are the same either way.

        >>> RunSettings.from_dict({"epochs": "2"}, name=lambda key: f"the field 'settings.{key}'")
        Traceback (most recent call last):
        ...
        TypeError: the field 'settings.epochs' must be a whole number >= 1; got '2'

        (``read_config`` reads it inside :func:`chainrule.validation.json_values`: ``got "2"``.)
        """
        if not isinstance(d, dict):
            raise TypeError(f"run settings must be a JSON object; got {type(d).__name__}")
        fields = dataclasses.fields(cls)
        unknown = sorted(set(d) - {f.name for f in fields})
        if unknown:
            raise ValueError(f"unknown run setting(s) {', '.join(map(repr, unknown))}; "
                             f"expected {sorted(f.name for f in fields)}")
        settings = cls.__new__(cls)  # __init__ would check with the options' names
        for f in fields:
            setattr(settings, f.name, d.get(f.name, f.default))
        settings._check(name)
        return settings

    def replace(self, **changes) -> "RunSettings":
        """A copy with ``changes`` applied and checked (``settings.replace(epochs=60)``)."""
        return dataclasses.replace(self, **changes)

    @property
    def train_batch_size(self):
        """The batch size as the training loop takes it: None for the full batch."""
        return None if self.batch_size == "full" else self.batch_size


# ====================================================================== data and model
def load_run_data(settings: RunSettings):
    """The settings' dataset (``chainrule.data.load_dataset``), with a clear error for a missing file."""
    from chainrule.data import load_dataset

    text = settings.data
    if text.lower().endswith((".csv", ".npz")) and not Path(text).is_file():
        raise FileNotFoundError(f"--data {text}: no such file")
    if settings.label_column is not None and not text.lower().endswith(".csv"):
        raise ValueError(f"--label-column applies to CSV files only, not to --data {text}")
    return load_dataset(text, seed=settings.seed, n_samples=settings.n_samples, noise=settings.noise,
                        data_dir=settings.data_dir, label_column=settings.label_column)


def build_model(settings: RunSettings, ds):
    """``(model, loss)``: a fresh model for the dataset ``ds`` and the loss that trains it."""
    from chainrule import models, nn

    model_name, seed = settings.model, settings.seed
    D = ds.n_features
    if ds.task == "regression":
        if model_name != "mlp":
            raise ValueError(f"{ds.name} has numeric targets (regression); only --model mlp "
                             f"(with the squared-error loss) can fit them, not --model {model_name}")
        if settings.loss not in (None, "mse"):
            raise ValueError(f"{ds.name} has numeric targets (regression); use --loss mse, "
                             f"not --loss {settings.loss}")
        check_network_size(nn.MLP.parameter_shapes({"in_features": D, "hidden_sizes": settings.hidden,
                                                     "out_features": 1}))
        return nn.MLP(D, settings.hidden, 1, activation=settings.activation, rng=seed), "mse"
    K = ds.n_classes
    present = len(np.unique(ds.y))
    if K < 2 or present < 2:
        raise ValueError(f"{ds.name} has {present} class(es) in its labels; a classifier needs 2 or more")
    loss = settings.loss or MODEL_LOSS.get(model_name, "cross-entropy")
    if loss == "mse":
        raise ValueError(f"--loss mse is for numeric targets; {ds.name} has {K} classes "
                         "(use cross-entropy or svm)")
    binary = model_name in BINARY_MODELS or loss in ("logistic", "binary-hinge")
    if binary and K != 2:
        what = f"--model {model_name}" if model_name in BINARY_MODELS else f"--loss {loss}"
        raise ValueError(f"{what} is a binary classifier but {ds.name} has {K} classes "
                         f"{ds.classes[:10]}; use --model softmax, svm, perceptron or mlp")
    reg = settings.reg or 0.0
    if model_name == "cnn":
        shape = cnn_input_shape(settings, ds)
        # A crop's padding beyond the image would pad (and allocate) for nothing but zeros.
        check.integer(f"--crop (the padding of a random crop of the {shape[1]}x{shape[2]} images of {ds.name})",
                      settings.crop, low=0, high=min(shape[1:]))
        spec = settings.conv or nn.cnn.default_spec(shape)
        try:  # sized before anything is allocated
            shapes = nn.CNN.parameter_shapes({"input_shape": list(shape), "n_classes": K, "spec": spec})
        except ValueError as exc:
            raise ValueError(f"--conv {spec}: {exc}") from None
        check_network_size(shapes, what=f"--conv {spec}")
        return nn.CNN(shape, K, spec, rng=seed), loss
    if model_name == "mlp":
        out = 1 if binary else K
        check_network_size(nn.MLP.parameter_shapes({"in_features": D, "hidden_sizes": settings.hidden,
                                                     "out_features": out}))
        return nn.MLP(D, settings.hidden, out, activation=settings.activation, rng=seed), loss
    if model_name in ("softmax", "svm"):
        return models.LinearClassifier(D, K, loss=model_name, reg=reg, seed=seed), loss
    if model_name == "logistic":
        return models.LogisticRegression(D, reg=reg, seed=seed), loss
    if model_name == "binary-svm":
        return models.BinarySVM(D, reg=reg, seed=seed), loss
    return models.Perceptron(D, K, lr=settings.lr, epochs=settings.epochs, seed=seed), "perceptron"


def check_network_size(shapes: dict, what: str | None = None) -> None:
    """Refuse, before allocating, a network larger than a model file may hold (io's limit) or
    than this machine can train: about six float32 copies of the weights (the weights, their
    gradients, two optimizer buffers, the checkpoint's copy and a temporary). ValueError.
    ``what`` names the option that made the network (default: the MLP's ``--hidden``)."""
    from chainrule import io

    n = sum(math.prod(shape) for shape in shapes.values())
    if what is None:
        hidden = [shape[0] for name, shape in shapes.items() if name.endswith("weight")][:-1]
        what = f"--hidden {' '.join(map(str, hidden))}"
    what = f"{what} makes a network of {n} parameters ({io.format_bytes(4 * n)} as float32)"
    limit = io.max_archive_bytes()
    if 4 * n > limit:
        raise ValueError(f"{what}, more than the {io.format_bytes(limit)} a model file may hold; use smaller "
                         "layers (or raise CHAINRULE_MAX_ARCHIVE_BYTES)")
    available = _available_memory()
    if available is not None and 24 * n > available:
        raise ValueError(f"{what}; training it needs about {io.format_bytes(24 * n)} (weights, gradients, "
                         f"optimizer state), more than the {io.format_bytes(available)} of memory available; "
                         "use smaller layers")


def cnn_input_shape(settings: RunSettings, ds) -> tuple:
    """The (C, H, W) images a convolutional network sees in the rows of ``ds``: from
    ``--image-shape`` (CxHxW, or HxW with C the row length leaves), else from the dataset's own
    ``image_shape`` ((H, W) grey, (H, W, C) stored channels last, reordered by the preprocessing);
    ValueError naming the values when they do not fit."""
    D, given, own = ds.n_features, settings.image_shape, ds.image_shape
    chw = None if own is None else (1, *own) if len(own) == 2 else (own[2], own[0], own[1])
    if given is None:
        if chw is None:
            raise ValueError(f"--model cnn needs images, but {ds.name} has no image shape (rows of {D} values); "
                             f"give --image-shape CxHxW (or HxW), such as --image-shape 1x8x8 for 64 values")
        return tuple(chw)
    text = "x".join(map(str, given))
    if len(given) == 2:
        h, w = given
        if D % (h * w):
            raise ValueError(f"--image-shape {text} ({h * w} pixels) does not divide the {D} values of a row "
                             f"of {ds.name}; give HxW with H*W a divisor of {D}, or CxHxW")
        shape = (D // (h * w), h, w)
    else:
        shape = tuple(given)
        if math.prod(shape) != D:
            raise ValueError(f"--image-shape {text} holds {math.prod(shape)} values per image, but a row of "
                             f"{ds.name} has {D}")
    if chw is not None and shape != tuple(chw):
        raise ValueError(f"--image-shape {text} is not the {'x'.join(map(str, chw))} images of {ds.name}; "
                         f"leave --image-shape out for data that has an image shape")
    return shape


def make_augment(settings: RunSettings, model):
    """The run's :class:`chainrule.data.Augment` (random crops, flips), seeded by the run's
    seed, which :class:`chainrule.train.AugmentEachEpoch` applies to the training rows every
    epoch; None when the run does not augment."""
    from chainrule.data import Augment

    if not (settings.crop or settings.flip):
        return None
    return Augment(model.input_shape, crop_padding=settings.crop, flip=settings.flip, seed=settings.seed)


def _available_memory() -> int | None:
    """Bytes of memory available now (Linux's MemAvailable), or None where it cannot be told."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def model_meta(settings: RunSettings, ds, loss: str, preprocess: dict) -> dict:
    """What evaluate / predict need besides the weights: classes, preprocessing, the loss, the data."""
    from chainrule import __version__

    s = settings.to_dict()
    return {
        "chainrule_version": __version__,
        "task": ds.task,
        "loss": loss,
        "classes": list(ds.classes),
        "feature_names": ds.feature_names,
        "image_shape": list(ds.image_shape) if ds.image_shape else None,
        "preprocess": preprocess,
        "data": {k: s[k] for k in ("data", "n_samples", "noise", "label_column", "data_dir",
                                   "seed", "test_size", "val_size")},
        "name": ds.name,
    }


# ====================================================================== reading a model's outputs
def implied_loss(model) -> str | None:
    """The loss a classic model is defined by; None for a network (its loss is a choice)."""
    from chainrule.train import loss_of_model

    task = loss_of_model(model)
    return None if task is None else task.name


@dataclass
class Head:
    """Turns a model's raw outputs into labels, probabilities or scores, with column names."""

    model: object
    loss: str
    classes: list

    @property
    def task(self):
        from chainrule.train import get_task

        return get_task(self.loss)

    @property
    def output(self) -> str:
        out = self.task.output
        if out == "scores" and self.n_outputs == 1:
            return "binary-scores"
        return out

    @property
    def n_outputs(self) -> int:
        return int(getattr(self.model, "n_outputs", 0) or _out_features(self.model))

    @property
    def is_regression(self) -> bool:
        return self.task.kind == "regression"

    def scores(self, X) -> np.ndarray:
        """Raw outputs: (N, K) for multiclass models, (N,) for one-output models."""
        from chainrule.train import predict_scores

        s = predict_scores(self.model, X).astype(np.float64)
        return s[:, 0] if s.ndim == 2 and s.shape[1] == 1 else s

    def predict(self, X) -> np.ndarray:
        """Labels 0..K-1 (regression: the predicted values)."""
        return self.task.predict(self.scores(X))

    def columns(self, X) -> tuple[list, np.ndarray, np.ndarray]:
        """``(names, values, labels)``: the per-class output columns and the predicted labels."""
        from scipy.special import expit, softmax

        s = self.scores(X)
        labels = self.predict(X)
        out = self.output
        if out == "regression":
            return ["prediction"], s[:, None], labels
        if out == "softmax":
            return [f"p({c})" for c in self.classes], softmax(s, axis=1), labels
        if out == "sigmoid":
            # σ(−s) rather than 1 − σ(s): a confident model's small probability stays accurate.
            return [f"p({c})" for c in self.classes[:2]], np.column_stack([expit(-s), expit(s)]), labels
        if out == "binary-scores":
            return [f"score({self.classes[1]} vs {self.classes[0]})"], s[:, None], labels
        return [f"score({c})" for c in self.classes], s, labels


def _out_features(model) -> int:
    last = None
    for _, p in model.named_parameters():
        last = p
    if last is None:
        raise ValueError(f"the model {type(model).__name__} has no parameters")
    return int(last.shape[0])


def in_features(model) -> int:
    """The input width of a model: an image model's pixels (``input_shape``), else its first
    weight matrix's columns."""
    from chainrule import io

    if hasattr(type(model), "widths"):  # what the class declares (nn.CNN: its images' pixels)
        return int(io.model_widths(model)[0])
    for _, p in model.named_parameters():
        if p.ndim == 2:
            return int(p.shape[1])
    raise ValueError(f"cannot tell the input width of {type(model).__name__}")


# ====================================================================== the run
@dataclass
class RunResult:
    """What :func:`train_run` returns: everything :func:`write_run` writes, in memory.

    ``checkpoint`` is the training state after the last epoch as ``(arrays, meta)`` (what
    ``checkpoint.npz`` holds); ``meta`` is the model file's metadata; ``metrics`` holds the
    epochs run, the seconds, the last epoch's record (``final``) and the test metrics (``test``).
    """

    settings: RunSettings
    model: object
    loss: str
    history: list
    metrics: dict
    checkpoint: tuple
    meta: dict
    seconds: float
    dataset: object = field(repr=False, default=None)
    split: object = field(repr=False, default=None)
    raw_split: object = field(repr=False, default=None)

    @property
    def head(self) -> Head:
        return Head(self.model, self.loss, list(self.dataset.classes))


def read_checkpoint(resume) -> tuple:
    """``(arrays, meta)`` of a checkpoint: given as such a pair, a ``checkpoint.npz``, or a run folder."""
    from chainrule import io

    if isinstance(resume, tuple) and len(resume) == 2:
        return resume
    path = Path(resume)
    if path.is_dir() and path.name != "checkpoint.npz":
        path = path / "checkpoint.npz"
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a checkpoint file; remove it (the run then starts "
                         "again from its first epoch) or restore the file")
    return io.load_archive(path, kind="checkpoint")


@dataclass
class PreparedRun:
    """A run before training: its dataset, model, loss and split (what the banner of a run shows)."""

    dataset: object
    model: object
    loss: str
    split: object
    raw_split: object
    preprocess: dict


#: The settings that decide a run's data and its split (what :func:`prepare_data` reads).
DATA_SETTINGS = ("data", "n_samples", "noise", "label_column", "data_dir", "seed", "test_size", "val_size",
                 "preprocess", "model")  # model: --model cnn takes colour rows reordered to C×H×W


def prepare_data(settings: RunSettings) -> tuple:
    """``(dataset, raw_split, split, preprocess_spec)``: the settings' data, split and
    preprocessed; it follows from :data:`DATA_SETTINGS` alone (a sweep's worker keeps it for
    the trials that share them)."""
    from chainrule.data import prepare_split

    if not isinstance(settings, RunSettings):
        raise TypeError(f"a run needs RunSettings; got {type(settings).__name__}")
    ds = load_run_data(settings)
    raw, split, spec = prepare_split(ds, test_size=settings.test_size, val_size=settings.val_size,
                                     seed=settings.seed, preprocess=settings.preprocess,
                                     channels_first=settings.model == "cnn")
    return ds, raw, split, spec


def prepare_run(settings: RunSettings, data: tuple | None = None) -> PreparedRun:
    """Load the data, build the model and split and preprocess the data; ValueError for a bad fit.
    ``data`` is :func:`prepare_data`'s result for these settings, when the caller has it."""
    if not isinstance(settings, RunSettings):
        raise TypeError(f"a run needs RunSettings; got {type(settings).__name__}")
    ds, raw, split, spec = prepare_data(settings) if data is None else data
    model, loss = build_model(settings, ds)
    return PreparedRun(ds, model, loss, split, raw, spec)


def train_run(settings: RunSettings, *, callbacks=(), resume=None, prepared: PreparedRun | None = None) -> RunResult:
    """Train one run in memory (no files written) and return its :class:`RunResult`.

    ``callbacks`` are :class:`chainrule.train.Callback` objects (a progress bar, a checkpoint
    writer, a sweep's pruner). ``resume`` continues from a checkpoint: the ``(arrays, meta)``
    of an earlier result's ``checkpoint``, a ``checkpoint.npz`` file or a run folder. Its
    settings must equal ``settings`` except ``epochs``, which may be larger. ``prepared`` is
    :func:`prepare_run`'s result for these settings, when the caller made it already.
    A loss that diverges raises :class:`chainrule.train.TrainingDiverged` (a FloatingPointError).
    """
    return start_run(settings, callbacks=callbacks, resume=resume, prepared=prepared).finish()


@dataclass
class StartedRun:
    """A run ready to train (:func:`start_run`): its trainer built, a checkpoint's state loaded."""

    settings: RunSettings
    prepared: PreparedRun
    trainer: object
    capture: object
    began: float

    def finish(self) -> RunResult:
        """Train the remaining epochs and return the :class:`RunResult` (no files written)."""
        return _finish_run(self)


def start_run(settings: RunSettings, *, callbacks=(), resume=None, prepared: PreparedRun | None = None,
              source=None) -> StartedRun:
    """:func:`train_run` up to its first epoch: the data prepared, the trainer built and the
    checkpoint ``resume`` (as :func:`train_run` takes it) loaded into it, every part of it
    checked against this run. A checkpoint that does not fit is a ValueError naming ``source``
    (the file; by default ``resume`` when it is a path) and the field. ``chainrule train`` calls it
    before it prints anything; :meth:`StartedRun.finish` trains."""
    state = read_checkpoint(resume) if resume is not None else None
    if source is None:
        source = "the checkpoint" if resume is None or isinstance(resume, tuple) else \
            Path(resume) / "checkpoint.npz" if Path(resume).is_dir() else Path(resume)
    p = prepared if prepared is not None else prepare_run(settings)
    began = time.perf_counter()
    capture = _LastState()
    trainer = make_trainer(p.model, p.loss, p.split, settings, [*callbacks, capture])
    if state is not None:
        _load_checkpoint(trainer, *state, source=source)
    return StartedRun(settings, p, trainer, capture, began)


def _load_checkpoint(trainer, arrays: dict, meta: dict, *, source) -> None:
    """``trainer.load_state``, after checking what the file's schema cannot: that its weights,
    step and optimizer are this run's. ValueError naming ``source`` and the field or array."""
    def refuse(reason: str):
        return ValueError(f"{source} cannot continue this run: {reason}")

    wanted = {f"model/{k}": tuple(v.shape) for k, v in trainer.model.state_dict().items()}
    held = {k: tuple(np.shape(v)) for k, v in arrays.items() if k.startswith("model/")}
    for name in wanted:
        if name not in held:
            raise refuse(f"it holds no array {name!r} (the model's {name[len('model/'):]})")
        if held[name] != wanted[name]:
            raise refuse(f"the array {name!r} has shape {held[name]}; the model's is {wanted[name]}")
    extra = sorted(set(held) - set(wanted))
    if extra:
        raise refuse(f"the array(s) {', '.join(map(repr, extra[:5]))} are no part of the model")
    has = meta.get("optimizer") is not None
    if (trainer.optimizer is not None) != has:
        raise refuse(f"the field 'optimizer' is {'missing or null' if not has else 'set'}; this run "
                     + (f"trains with {type(trainer.optimizer).__name__}, whose state it must hold" if not has
                        else "trains by its own rule and has no optimizer"))
    try:
        trainer.load_state(arrays, meta, source=source)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        reason = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        if str(source) in reason:  # load_state's own messages name the file already
            raise ValueError(reason) from None
        raise refuse(reason) from None


def _finish_run(started: StartedRun) -> RunResult:
    from chainrule.metrics import classification_metrics, regression_metrics

    settings, p, trainer, capture, began = (started.settings, started.prepared, started.trainer,
                                            started.capture, started.began)
    ds, model, loss, split, raw, spec = p.dataset, p.model, p.loss, p.split, p.raw_split, p.preprocess
    trainer.run()
    records = trainer.history.records
    checkpoint = capture.state(trainer)
    test = trainer.evaluate(split.X_test, trainer.task.targets(split.y_test), prefix="test_") \
        if len(split.y_test) else {}
    seconds = time.perf_counter() - began
    head = Head(model, loss, list(ds.classes))
    summary = {}
    if len(split.y_test):
        pred = head.predict(split.X_test)
        summary = regression_metrics(split.y_test, pred) if ds.task == "regression" else \
            classification_metrics(split.y_test, pred, ds.classes)
    if "test_loss" in test:
        summary["loss"] = test["test_loss"]
    metrics = {"epochs": len(records), "seconds": seconds, "final": records[-1] if records else {},
               "test": summary}
    return RunResult(settings, model, loss, list(records), metrics, checkpoint,
                     model_meta(settings, ds, loss, spec), seconds, ds, split, raw)


class _LastState:
    """Keeps the training state of the last finished epoch (before EarlyStopping restores the best)."""

    def __init__(self):
        self.last = None

    def on_train_begin(self, trainer):
        pass

    def on_batch_end(self, trainer, loss):
        pass

    def on_epoch_end(self, trainer, record):
        self.last = trainer.state(history=False)

    def on_train_end(self, trainer):
        pass

    def state(self, trainer) -> tuple:
        arrays, meta = self.last if self.last is not None else trainer.state(history=False)
        return arrays, {**meta, "history": list(trainer.history.records)}


def make_trainer(model, loss, split, settings: RunSettings, callbacks=()):
    """The :class:`chainrule.train.Trainer` of a run: its config, validation part and early stopping."""
    from chainrule.train import AugmentEachEpoch, EarlyStopping, TrainConfig, Trainer

    config = TrainConfig(loss=loss, optimizer=settings.optimizer or "sgd", lr=settings.lr, epochs=settings.epochs,
                         batch_size=settings.train_batch_size, reg=settings.reg or 0.0,
                         schedule=settings.schedule or "none", seed=settings.seed)
    callbacks = list(callbacks)
    augment = make_augment(settings, model)
    if augment is not None:  # new crops and flips of the training rows every epoch, kept by checkpoints
        callbacks.append(AugmentEachEpoch(augment, split.X_train, split.y_train))
    validation = (split.X_val, split.y_val) if len(split.y_val) else None
    if settings.patience:
        callbacks.insert(0, EarlyStopping(settings.patience, monitor="val_loss" if validation else "loss"))
    return Trainer(model, split.X_train, split.y_train, config, validation=validation, callbacks=callbacks,
                   device=settings.device, capture=settings.capture)


# ====================================================================== the run folder
RUN_FILES = ("config.json", "checkpoint.npz", "model.npz", "metrics.json", "metrics.csv",
             "curves.png", "decision_regions.png", "weights.png", "filters.png", "feature_maps.png",
             "confusion.png")
CONFIG_FORMAT = 2


def config_schema():
    """The schema of a run's ``config.json``: its frame (format, command, the recorded data's
    SHA-256); the settings' values are :class:`RunSettings`'s to check (one place)."""
    from chainrule import io

    frame = {"command": io.Str(("train",)), "settings": io.Obj()}
    optional = {"chainrule_version": io.Str(), "created": io.Str(), "data_sha256": io.Str()}
    return io.Schema("run configuration", {1: io.Obj(frame, optional), CONFIG_FORMAT: io.Obj(frame, optional)},
                     version_key="format")


def write_config(folder, settings: RunSettings, *, data_sha256: str | None = None) -> Path:
    """Write the run folder's ``config.json`` (the settings ``--resume`` reads back, and the
    SHA-256 of the data the run started on: :meth:`chainrule.data.Dataset.fingerprint`)."""
    from datetime import datetime

    from chainrule import __version__, io

    config = {"format": CONFIG_FORMAT, "command": "train", "chainrule_version": __version__,
              "created": datetime.now().isoformat(timespec="seconds"), "settings": settings.to_dict()}
    if data_sha256 is not None:
        config["data_sha256"] = data_sha256
    return io.write_json_atomic(Path(folder) / "config.json", config)


def read_config(folder, changes=None) -> tuple[RunSettings, str | None]:
    """``(settings, data_sha256)`` from a run folder's ``config.json``, every field checked
    (:func:`config_schema` for the frame, then each setting by :class:`RunSettings`' own rules),
    with ``changes`` (of :data:`RUN_ONLY`) applied. A bad file is an ``io.FormatError`` naming
    the file, the field and what it must be (``.../config.json: the field 'settings.epochs'
    must be a whole number >= 1; got "2"``); a bad change is the option's own error."""
    from chainrule import io

    folder = Path(folder)
    path = folder / "config.json"
    if not path.is_file():
        if list(folder.glob(".config.json.*.tmp")):
            raise ValueError(f"{folder} holds no config.json: its run was stopped while it started; "
                             f"start it again with chainrule train --out {folder} (and the same options)")
        raise ValueError(f"{folder} holds no config.json; it is not a chainrule run folder")
    config = io.load_json(path, config_schema())
    settings = config["settings"]
    if config["format"] == 1 and settings.get("batch_size") is None and settings.get("model") != "perceptron":
        settings = {**settings, "batch_size": "full"}  # format 1 wrote the full batch as null
    try:  # the file's fields, by RunSettings' own rules, named and shown as the file holds them
        with check.json_values():
            saved = RunSettings.from_dict(settings, name=lambda key: f"the field 'settings.{key}'")
    except (TypeError, ValueError) as exc:
        raise io.FormatError(f"{path}: {exc}") from None
    # The options given now (--device cuda) are checked, and named, as options.
    return (saved.replace(**changes) if changes else saved), config.get("data_sha256")


def check_same_data(folder, recorded: str | None, ds, *, allow_changed_data: bool = False) -> None:
    """Refuse to resume the run in ``folder`` on data other than what it started on (its
    recorded SHA-256), unless ``allow_changed_data``; ValueError naming both fingerprints."""
    fingerprint = ds.fingerprint()
    if recorded is None or recorded == fingerprint or allow_changed_data:
        return
    raise ValueError(f"--resume {folder}: the training data {ds.name} changed since the run started "
                     f"(SHA-256 {fingerprint[:12]}..., the run recorded {recorded[:12]}...); restore it, "
                     "start a new run, or pass --allow-changed-data to continue on the new data")


def leftovers(folder) -> set:
    """What a run killed while it wrote leaves in ``folder``: temporaries of its files, its lock file."""
    from chainrule import io

    folder = Path(folder)
    found = {p for name in RUN_FILES for p in folder.glob(f".{name}.*.tmp")}
    lock = folder / io.FolderLock.NAME
    return found | ({lock} if lock.exists() else set())


def remove_stale_temporaries(folder) -> None:
    """Remove the temporary files of writes a killed run never finished (its lock holder only)."""
    for name in RUN_FILES:
        for tmp in Path(folder).glob(f".{name}.*.tmp"):
            try:
                tmp.unlink()
            except OSError:
                pass


def check_new_folder(folder) -> None:
    """A folder a new run may use: missing, empty, or holding only :func:`leftovers`."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    others = [p for p in folder.iterdir() if p not in leftovers(folder)]
    if others:
        if (folder / "config.json").exists():
            raise ValueError(f"--out {folder} already holds a run; continue it with "
                             f"--resume {folder}, or choose another --out")
        raise ValueError(f"--out {folder} is a folder that is not empty; choose another --out")


def lock_folder(folder, *, how: str = "--out"):
    """Take the run folder's :class:`chainrule.io.FolderLock` (held for the run's life); a folder
    another live chainrule holds is a FolderInUseError (a ValueError) saying which process."""
    from chainrule import io

    lock = io.FolderLock(folder)
    try:
        return lock.acquire()
    except io.FolderInUseError as exc:
        raise io.FolderInUseError(
            f"{how} {folder}: the run folder is in use by another chainrule (process {exc.pid}, lock "
            f"file {lock.path}); wait for it to end, or choose another --out", exc.pid) from None


def write_run(folder, result: RunResult, *, plots: bool = True, example: int = 0) -> dict:
    """Write ``result`` as a ``chainrule train`` run folder; returns ``{kind: path}`` of the files.

    The folder gets ``config.json``, ``model.npz`` (with the preprocessing and class names),
    ``metrics.json``, ``metrics.csv``, ``checkpoint.npz`` and, unless ``plots=False``, the plots
    (``curves.png``, and ``decision_regions.png`` for 2-D data or ``weights.png`` for images;
    a convolutional network's ``filters.png``, its first convolution's filters, and
    ``feature_maps.png``, what that convolution and its ReLU make of test example ``example``,
    the first by default), each written whole or not at all. ``chainrule evaluate FOLDER`` reads it. A sweep's trial
    folders have the plots too, unless ``--no-trial-plots``: for a short trial they cost more than its training.
    """
    from chainrule import io

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # What can fail on the result's values fails before a file changes: the metrics are made in
    # memory and the plots (which check the records) are drawn first; then the files written
    # from the same result, the checkpoint last (the file --resume trusts).
    metrics_text = io.dumps_strict({**result.metrics, "history": result.history}, indent=2) + "\n"
    csv_text = records_csv(result.history)
    drawn = _plots(result, folder, example) if plots else {}
    files = {}
    if not (folder / "config.json").exists():
        files["config"] = write_config(folder, result.settings)
    files["model"] = io.save_model(folder / "model.npz", result.model, result.meta)
    files["metrics"] = io.write_text_atomic(folder / "metrics.json", metrics_text)
    files["metrics_csv"] = io.write_text_atomic(folder / "metrics.csv", csv_text)
    files["checkpoint"] = io.save_archive(folder / "checkpoint.npz", *result.checkpoint, kind="checkpoint")
    files.update(drawn)
    return files


def records_csv(records: list) -> str:
    """Per-epoch records as CSV: the standard columns first, then any extra ones (``mistakes``)."""
    keys = ["epoch", "loss", "train_acc", "val_loss", "val_acc", "lr", "seconds", "evaluations"]
    keys = list(dict.fromkeys(keys + [k for r in records for k in r]))
    rows = [",".join(keys)]
    for r in records:
        rows.append(",".join("" if r.get(k) is None else f"{r[k]:.6g}" if isinstance(r[k], float) else str(r[k])
                             for k in keys))
    return "\n".join(rows) + "\n"


MAX_UNIT_IMAGES = 20


def _plots(result: RunResult, folder: Path, example: int = 0) -> dict:
    from chainrule import viz
    from chainrule.data import apply_preprocess

    ds, split, head, records = result.dataset, result.split, result.head, result.history
    files = {}
    if records:
        files["curves"] = viz.plot_history(records, folder / "curves.png")
    if ds.task == "classification" and ds.n_features == 2:
        spec = result.meta["preprocess"]
        files["decision_regions"] = viz.plot_decision_regions(
            lambda grid: head.predict(apply_preprocess(spec, grid)), np.asarray(result.raw_split.X_train, np.float32),
            split.y_train, folder / "decision_regions.png", class_names=list(ds.classes))
    shape = ds.image_shape
    if hasattr(result.model, "input_shape"):
        files.update(conv_plots(result.model, split.X_test, folder, example))
    elif shape is not None and (len(shape) == 2 or (len(shape) == 3 and shape[2] == 3)):
        W, names = weight_rows(result.model, head)
        files["weights"] = viz.plot_weight_images(W, shape, folder / "weights.png", class_names=names)
    return files


def check_example(example, n_test: int) -> int:
    """The test example whose feature maps a run shows: an index into the test part."""
    if isinstance(example, bool) or not isinstance(example, (int, np.integer)) or not 0 <= example < max(n_test, 1):
        raise ValueError(f"--feature-maps {example!r}: the test part holds {n_test} example(s); give an index "
                         f"from 0 to {max(n_test - 1, 0)}")
    return int(example)


def conv_plots(model, X_test, folder: Path, example: int = 0) -> dict:
    """``filters.png`` (the first convolution's filters) and ``feature_maps.png`` (its feature
    maps, after the ReLU, for the preprocessed test row ``X_test[example]``)."""
    from chainrule import nn, viz
    from chainrule.engine import Tensor, no_grad

    layers = list(model)
    first = next(i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d))
    conv = layers[first]
    weight = conv.weight.numpy()
    channels = "" if weight.shape[1] in (1, 3) else f" (input channel 0 of {weight.shape[1]})"
    files = {"filters": viz.plot_filters(weight if not channels else weight[:, :1], folder / "filters.png",
                                         title=f"first convolution: {weight.shape[0]} filters of "
                                               f"{weight.shape[2]}x{weight.shape[3]}{channels}")}
    if len(X_test):
        upto = first + 2 if first + 1 < len(layers) and isinstance(layers[first + 1], nn.ReLU) else first + 1
        was = model.training
        model.eval()
        try:
            with no_grad():
                x = Tensor(np.asarray(X_test[example:example + 1], np.float32).reshape(1, *model.input_shape))
                for m in layers[:upto]:
                    x = m(x)
        finally:
            model.train(was)
        maps = x.numpy()[0]
        files["feature_maps"] = viz.plot_feature_maps(
            maps, folder / "feature_maps.png",
            title=f"test example {example}: {maps.shape[0]} feature maps of {maps.shape[1]}x{maps.shape[2]} "
                  f"after the first convolution")
    return files


def weight_rows(model, head: Head):
    """The weight rows to show as images: a linear model's per-class templates, else first-layer units."""
    from chainrule import nn

    if isinstance(model, nn.MLP):
        first = next(m for m in model if isinstance(m, nn.Linear))
        W = first.weight.numpy()[:MAX_UNIT_IMAGES]
        return W, [f"unit {i}" for i in range(len(W))]
    W = model.weight.numpy()
    if len(W) == 1:
        return W, [f"{head.classes[1]} vs {head.classes[0]}"]
    return W, list(head.classes)
