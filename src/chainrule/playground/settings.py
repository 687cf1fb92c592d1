"""What the page may ask for: every setting checked against its bounds before anything runs.

A request that fails a check is refused with one line naming the setting, the bad value and
what is accepted, and changes nothing on the server. The same table of bounds is sent to the
page, so its controls offer exactly what the server accepts.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from chainrule import validation as check

__all__ = ["SettingsError", "NetworkSettings", "check_number", "check_int", "check_choice", "BOUNDS",
           "DATASETS", "FEATURES", "ACTIVATIONS", "OPTIMIZERS", "REGULARIZATIONS", "PROBLEMS"]


class SettingsError(ValueError):
    """A setting the playground refuses; the message is the one line the page shows."""


def _refused(rule, *args, **kwargs):
    """``rule(*args, **kwargs)`` (one of :mod:`chainrule.validation`'s), its TypeError or
    ValueError a SettingsError with the same message."""
    try:
        return rule(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise SettingsError(str(exc)) from None


def check_number(name: str, value, low: float, high: float) -> float:
    """``value`` as a float in ``[low, high]`` (:func:`chainrule.validation.number`), else
    SettingsError naming ``name``."""
    return _refused(check.number, name, value, low, high)


def check_int(name: str, value, low: int, high: int) -> int:
    """``value`` as an int in ``[low, high]`` (:func:`chainrule.validation.integer`), else
    SettingsError naming ``name``."""
    return _refused(check.integer, name, value, low, high)


def check_choice(name: str, value, choices) -> str:
    """``value`` if it is one of ``choices`` (:func:`chainrule.validation.choice`), else
    SettingsError listing them."""
    return _refused(check.choice, name, value, choices)


DATASETS = {"circle": "classification", "xor": "classification", "gaussian": "classification",
            "spiral": "classification", "moons": "classification",
            "plane": "regression", "bumps": "regression"}
PROBLEMS = ("classification", "regression")
FEATURES = ("x1", "x2", "x1^2", "x2^2", "x1x2", "sin x1", "sin x2")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "identity")
OPTIMIZERS = ("sgd", "momentum", "adam", "random-search", "random-local-search")
REGULARIZATIONS = ("none", "l1", "l2")

BOUNDS = {
    "n_samples": (50, 1000),
    "noise": (0, 50),          # percent, as TensorFlow Playground's slider
    "train_ratio": (10, 90),   # percent of the examples used for training
    "batch_size": (1, 100),
    "layers": (0, 6),
    "neurons": (1, 8),
    "lr": (1e-5, 10.0),
    "reg_rate": (0.0, 10.0),
    "seed": (0, 2**31 - 1),
}


@dataclass(frozen=True)
class NetworkSettings:
    """One network setup of the page, TensorFlow Playground's panels: data, features, network, training."""

    dataset: str = "circle"
    problem: str = "classification"
    n_samples: int = 400
    noise: float = 0.0
    train_ratio: int = 50
    batch_size: int = 10
    features: tuple = ("x1", "x2")
    hidden: tuple = (4, 2)
    activation: str = "tanh"
    optimizer: str = "sgd"
    lr: float = 0.03
    regularization: str = "none"
    reg_rate: float = 0.0
    seed: int = 0

    @classmethod
    def from_dict(cls, data) -> "NetworkSettings":
        """Validated settings from the page's JSON object; missing keys keep their defaults."""
        if not isinstance(data, dict):
            raise SettingsError(f"settings must be an object; got {type(data).__name__}")
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SettingsError(f"unknown setting {unknown[0]!r}; known settings: {', '.join(sorted(known))}")
        d = {**asdict(cls()), **data}
        b = BOUNDS
        dataset = check_choice("dataset", d["dataset"], tuple(DATASETS))
        problem = check_choice("problem", d["problem"], PROBLEMS)
        if DATASETS[dataset] != problem:
            raise SettingsError(f"dataset {dataset!r} is a {DATASETS[dataset]} data set, not a {problem} one")
        features = d["features"]
        if not isinstance(features, (list, tuple)) or not features:
            raise SettingsError(f"features must be a non-empty list drawn from {', '.join(FEATURES)}; got {features!r}")
        for f in features:
            check_choice("each feature", f, FEATURES)
        if len(set(features)) != len(features):
            raise SettingsError(f"features lists a feature twice: {list(features)!r}")
        hidden = d["hidden"]
        if not isinstance(hidden, (list, tuple)):
            raise SettingsError(f"hidden must be a list of neurons per hidden layer; got {hidden!r}")
        check_int("the number of hidden layers", len(hidden), *b["layers"])
        hidden = tuple(check_int("neurons per layer", h, *b["neurons"]) for h in hidden)
        return cls(
            dataset=dataset, problem=problem,
            n_samples=check_int("n_samples", d["n_samples"], *b["n_samples"]),
            noise=check_number("noise", d["noise"], *b["noise"]),
            train_ratio=check_int("train_ratio", d["train_ratio"], *b["train_ratio"]),
            batch_size=check_int("batch_size", d["batch_size"], *b["batch_size"]),
            features=tuple(f for f in FEATURES if f in features),  # one canonical order
            hidden=hidden,
            activation=check_choice("activation", d["activation"], ACTIVATIONS),
            optimizer=check_choice("optimizer", d["optimizer"], OPTIMIZERS),
            lr=check_number("lr", d["lr"], *b["lr"]),
            regularization=check_choice("regularization", d["regularization"], REGULARIZATIONS),
            reg_rate=check_number("reg_rate", d["reg_rate"], *b["reg_rate"]),
            seed=check_int("seed", d["seed"], *b["seed"]),
        )

    def to_dict(self) -> dict:
        """The settings as the page's JSON object (lists for the tuples)."""
        d = asdict(self)
        d["features"], d["hidden"] = list(self.features), list(self.hidden)
        return d
