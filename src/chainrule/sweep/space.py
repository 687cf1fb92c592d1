"""Search spaces: what each hyper-parameter may be, and how to draw it.

A space maps setting names to distributions. The grammar of one parameter (``--param``, or a
string value in a TOML / JSON space file)::

    NAME=uniform:LOW:HIGH[:N]       a float drawn uniformly from [LOW, HIGH]
    NAME=loguniform:LOW:HIGH[:N]    a float whose logarithm is uniform: 1e-4 is as likely as 1e-2
    NAME=int:LOW:HIGH               a whole number from LOW to HIGH, both included
    NAME=choice:A,B,C               one of the listed values (numbers stay numbers)

``N`` is the number of grid points of a float for ``--strategy grid`` (evenly spaced, on a log
scale for loguniform); a grid over an int takes every whole number, over a choice every value.
NAME is a setting of ``chainrule train`` written as its option (``batch-size``) or its field
(``batch_size``). In a file, a parameter is either such a string (``lr = "loguniform:1e-4:1e-1"``)
or a table (``lr = {dist = "loguniform", low = 1e-4, high = 1e-1}``), at the top level or under
``[params]``.

>>> space = parse_params(["lr=loguniform:1e-4:1e-1", "hidden=choice:64,128"])
>>> space
Space(lr=loguniform:0.0001:0.1, hidden=choice:64,128)
>>> import numpy as np
>>> draw = space.sample(np.random.default_rng(0))
>>> sorted(draw), 1e-4 <= draw["lr"] <= 1e-1, draw["hidden"] in (64, 128)
(['hidden', 'lr'], True, True)
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chainrule import io
from chainrule import validation as check

__all__ = ["Uniform", "LogUniform", "IntRange", "Choice", "Space", "parse_param", "parse_params",
           "load_space", "trial_rng", "DISTRIBUTIONS"]


def _number(text, where: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: {text!r} is not a finite number")
    return value


def _points(n, where: str):
    if n is None:
        return None
    if isinstance(n, str):
        try:
            n = int(n)
        except ValueError:
            raise ValueError(f"{where}: the grid points {n!r} are not a whole number") from None
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{where}: the grid points must be a whole number >= 1, got {n!r}")
    return int(n)


@dataclass(frozen=True)
class Uniform:
    """A float drawn uniformly from ``[low, high]``; ``points`` grid points for a grid search."""

    low: float
    high: float
    points: int | None = None
    kind = "uniform"
    log = False

    def check(self, name: str) -> None:
        if not self.low < self.high:
            raise ValueError(f"{name}: {self.kind} needs LOW < HIGH, got {self.low:g} and {self.high:g}")

    def sample(self, rng: np.random.Generator):
        return float(rng.uniform(self.low, self.high))

    def ends(self) -> list:
        """``(what, value)`` of the values that bound every draw: the settings' rules are checked
        on these (both ends of a range; each value of a choice)."""
        return [("low end", self.low), ("high end", self.high)]

    def check_value(self, name: str, value) -> None:
        """TypeError / ValueError (:mod:`chainrule.validation`'s, naming ``name``) unless ``value``
        is one this distribution can give (a drawn value read back from a file).

        A float range allows the last-digit rounding of a draw (``exp(log(high))``)."""
        slack = 1e-9 * max(abs(self.low), abs(self.high))
        value = check.number(name, value, what=f"a finite number (of {self})")
        if not self.low - slack <= value <= self.high + slack:
            raise ValueError(check.message(name, f"a number in [{self.low:g}, {self.high:g}] (of {self})", value))

    def grid(self, name: str) -> list:
        if self.points is None:
            raise ValueError(f"{name}: a grid needs the number of points of a {self.kind}, "
                             f"e.g. {name}={self.kind}:{self.low:g}:{self.high:g}:4")
        return [float(v) for v in np.linspace(self.low, self.high, self.points)] if self.points > 1 \
            else [float((self.low + self.high) / 2)]

    def __str__(self):
        return f"{self.kind}:{self.low:g}:{self.high:g}" + ("" if self.points is None else f":{self.points}")

    def to_dict(self) -> dict:
        d = {"dist": self.kind, "low": self.low, "high": self.high}
        if self.points is not None:
            d["points"] = self.points
        return d


@dataclass(frozen=True)
class LogUniform(Uniform):
    """A float whose logarithm is uniform on ``[log low, log high]`` (the cs231n way to search lr, reg)."""

    kind = "loguniform"
    log = True

    def check(self, name: str) -> None:
        if not self.low > 0:
            raise ValueError(f"{name}: loguniform needs LOW > 0, got {self.low:g}")
        super().check(name)

    def sample(self, rng: np.random.Generator):
        return float(np.exp(rng.uniform(np.log(self.low), np.log(self.high))))

    def grid(self, name: str) -> list:
        super().grid(name)  # the check that there is a number of points
        if self.points == 1:
            return [float(np.sqrt(self.low * self.high))]
        return [float(v) for v in np.geomspace(self.low, self.high, self.points)]


@dataclass(frozen=True)
class IntRange:
    """A whole number drawn uniformly from ``low..high``, both included."""

    low: int
    high: int
    kind = "int"
    log = False

    def check(self, name: str) -> None:
        if not self.low <= self.high:
            raise ValueError(f"{name}: int needs LOW <= HIGH, got {self.low} and {self.high}")

    def sample(self, rng: np.random.Generator):
        return int(rng.integers(self.low, self.high, endpoint=True))

    def ends(self) -> list:
        return [("low end", self.low), ("high end", self.high)]

    def check_value(self, name: str, value) -> None:
        check.integer(name, value, self.low, self.high, what=f"a whole number (of {self})")

    def grid(self, name: str) -> list:
        return list(range(self.low, self.high + 1))

    def grid_size(self, name: str) -> int:
        return self.high - self.low + 1

    def __str__(self):
        return f"int:{self.low}:{self.high}"

    def to_dict(self) -> dict:
        return {"dist": "int", "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Choice:
    """One of ``values``, each equally likely."""

    values: tuple
    kind = "choice"
    log = False

    def check(self, name: str) -> None:
        if not self.values:
            raise ValueError(f"{name}: choice needs at least one value")
        if len(set(map(repr, self.values))) != len(self.values):
            raise ValueError(f"{name}: choice lists a value twice: {list(self.values)}")

    def sample(self, rng: np.random.Generator):
        return self.values[int(rng.integers(len(self.values)))]

    def ends(self) -> list:
        return [("choice", v) for v in self.values]

    def check_value(self, name: str, value) -> None:
        # By repr, as check() tells the values apart: 1, 1.0 and True are three values.
        if repr(value) not in map(repr, self.values):
            raise ValueError(check.message(name, f"one of the values of {self}", value))

    def grid(self, name: str) -> list:
        return list(self.values)

    @property
    def numeric(self) -> bool:
        return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in self.values)

    def __str__(self):
        return "choice:" + ",".join(map(str, self.values))

    def to_dict(self) -> dict:
        return {"dist": "choice", "values": list(self.values)}


DISTRIBUTIONS = {"uniform": Uniform, "loguniform": LogUniform, "int": IntRange, "choice": Choice}
GRAMMAR = ("NAME=uniform:LOW:HIGH[:N], NAME=loguniform:LOW:HIGH[:N], NAME=int:LOW:HIGH "
           "or NAME=choice:A,B,...")


def _value(text: str):
    """A choice value: an int, else a float, else the text itself (``relu``, ``full``)."""
    text = text.strip()
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _whole(text, where: str) -> int:
    value = _number(text, where)
    if value != int(value):
        raise ValueError(f"{where}: {text!r} is not a whole number")
    return int(value)


def make_distribution(kind: str, args: list, where: str):
    """The distribution ``kind`` with its text (or file) arguments, checked."""
    if kind not in DISTRIBUTIONS:
        raise ValueError(f"{where}: unknown distribution {kind!r}; expected one of {sorted(DISTRIBUTIONS)}")
    if kind == "choice":
        values = tuple(_value(v) if isinstance(v, str) else v for v in args)
        if any(v == "" for v in values):
            raise ValueError(f"{where}: choice has an empty value; write choice:A,B,C")
        return Choice(values)
    if kind == "int":
        if len(args) != 2:
            raise ValueError(f"{where}: int takes LOW:HIGH, got {len(args)} value(s)")
        return IntRange(_whole(args[0], where), _whole(args[1], where))
    if len(args) not in (2, 3):
        raise ValueError(f"{where}: {kind} takes LOW:HIGH or LOW:HIGH:N, got {len(args)} value(s)")
    points = _points(args[2], where) if len(args) == 3 else None
    return DISTRIBUTIONS[kind](_number(args[0], where), _number(args[1], where), points)


def canonical_name(name: str) -> str:
    """``batch-size`` and ``batch_size`` name the same setting; the field's spelling is kept."""
    return str(name).strip().replace("-", "_")


def parse_param(text: str) -> tuple:
    """``"lr=loguniform:1e-4:1e-1"`` -> ``("lr", LogUniform(0.0001, 0.1))``; ValueError on bad text.

    >>> parse_param("batch-size=choice:32,128")
    ('batch_size', Choice(values=(32, 128)))
    """
    text = str(text)
    name, sep, spec = text.partition("=")
    if not sep or not name.strip() or not spec.strip():
        raise ValueError(f"--param {text!r}: expected {GRAMMAR}")
    name = canonical_name(name)
    dist = parse_spec(spec, f"--param {text!r}")
    dist.check(name)
    return name, dist


def parse_spec(spec: str, where: str):
    """The distribution of ``uniform:0:1`` and friends (the part after ``NAME=``)."""
    kind, sep, rest = str(spec).strip().partition(":")
    if not sep or not rest.strip():
        raise ValueError(f"{where}: expected {GRAMMAR}")
    kind = kind.strip().lower()
    args = rest.split(",") if kind == "choice" else rest.split(":")
    return make_distribution(kind, args, where)


class Space:
    """An ordered mapping of setting names to distributions.

    ``sample(rng)`` draws one value per name, in the space's order (so one generator gives the
    same draw whatever else happens); ``grid()`` lists every combination of the grid points.
    """

    def __init__(self, params: dict):
        if not params:
            raise ValueError("the search space is empty: give at least one --param NAME=DIST "
                             f"({GRAMMAR}) or a --space FILE")
        self.params = {}
        for name, dist in params.items():
            dist.check(name)
            self.params[canonical_name(name)] = dist

    def __repr__(self):
        return "Space(" + ", ".join(f"{k}={v}" for k, v in self.params.items()) + ")"

    def __eq__(self, other):
        return isinstance(other, Space) and self.to_dict() == other.to_dict()

    def __iter__(self):
        return iter(self.params)

    def __len__(self):
        return len(self.params)

    def __getitem__(self, name):
        return self.params[name]

    def items(self):
        return self.params.items()

    def sample(self, rng: np.random.Generator) -> dict:
        return {name: dist.sample(rng) for name, dist in self.params.items()}

    def grid(self) -> list:
        names = list(self.params)
        axes = [self.params[n].grid(n) for n in names]
        return [dict(zip(names, combo)) for combo in itertools.product(*axes)]

    def grid_size(self) -> int:
        """How many points ``grid()`` has, without making them (an int range's are counted)."""
        return math.prod(d.grid_size(n) if hasattr(d, "grid_size") else len(d.grid(n)) for n, d in self.params.items())

    def numeric(self) -> list:
        """Names whose values are numbers (what can be drawn on an axis)."""
        return [n for n, d in self.params.items() if not isinstance(d, Choice) or d.numeric]

    def to_dict(self) -> dict:
        return {name: dist.to_dict() for name, dist in self.params.items()}

    @classmethod
    def from_dict(cls, spec: dict, where: str = "the space") -> "Space":
        """A space from a mapping of names to grammar strings or ``{dist, low, high | values}`` tables."""
        if not isinstance(spec, dict):
            raise ValueError(f"{where}: expected a mapping of parameter names to distributions, "
                             f"got {type(spec).__name__}")
        if set(spec) == {"params"} or (isinstance(spec.get("params"), dict) and len(spec) == 1):
            spec = spec["params"]
        if not spec:
            raise ValueError(f"{where}: the search space is empty; give each parameter as NAME = "
                             "\"loguniform:1e-4:1e-1\" (or a table with dist, low, high / values)")
        params = {}
        for name, entry in spec.items():
            at = f"{where}: {name}"
            if isinstance(entry, str):
                params[canonical_name(name)] = parse_spec(entry, at)
            elif isinstance(entry, dict):
                params[canonical_name(name)] = _from_table(entry, at)
            else:
                raise ValueError(f"{at}: expected a string such as 'loguniform:1e-4:1e-1' or a table "
                                 f"with 'dist', got {entry!r}")
        return cls(params)


def _from_table(entry: dict, where: str):
    kind = entry.get("dist")
    if not isinstance(kind, str):
        raise ValueError(f"{where}: the table needs 'dist', one of {sorted(DISTRIBUTIONS)}")
    kind = kind.lower()
    allowed = {"choice": {"dist", "values"}, "int": {"dist", "low", "high"}}.get(kind, {"dist", "low", "high", "points"})
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown} for {kind}; expected {sorted(allowed)}")
    if kind == "choice":
        values = entry.get("values")
        if not isinstance(values, list):
            raise ValueError(f"{where}: choice needs 'values', a list")
        return make_distribution(kind, values, where)
    missing = [k for k in ("low", "high") if k not in entry]
    if missing:
        raise ValueError(f"{where}: {kind} needs {' and '.join(missing)}")
    args = [entry["low"], entry["high"]] + ([entry["points"]] if "points" in entry else [])
    return make_distribution(kind, args, where)


def parse_params(texts, base: Space | None = None) -> Space:
    """A Space from ``--param`` strings, added to (and overriding) ``base``'s parameters."""
    params = dict(base.params) if base is not None else {}
    for text in texts or ():
        name, dist = parse_param(text)
        params[name] = dist
    return Space(params)


def load_space(path) -> Space:
    """A Space from a ``.toml`` or ``.json`` file (see the module docstring for the format)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--space {path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                raise ValueError(f"--space {path}: reading TOML needs Python 3.11 or later; "
                                 "write the space as JSON") from None
            spec = tomllib.loads(path.read_text(encoding="utf-8"))
        elif suffix == ".json":
            spec = io.parse_json(path.read_text(encoding="utf-8"), f"--space {path}", what="a search space")
        else:
            raise ValueError(f"--space {path}: expected a .toml or .json file")
    except UnicodeDecodeError as exc:
        raise ValueError(f"--space {path} is not valid {suffix[1:].upper()}: {exc}") from None
    except RecursionError:  # TOML arrays nested thousands deep: tomllib's parser gives up
        raise ValueError(f"--space {path}: nested too deeply to be a search space") from None
    except Exception as exc:  # tomllib.TOMLDecodeError, without importing tomllib on 3.10
        if type(exc).__name__ == "TOMLDecodeError":
            raise ValueError(f"--space {path} is not valid TOML: {exc}") from None
        raise
    return Space.from_dict(spec, where=f"--space {path}")


def trial_rng(seed: int, index: int) -> np.random.Generator:
    """The generator trial ``index`` draws its parameters from: ``SeedSequence(seed)``'s child ``index``.

    It depends on the sweep's seed and the trial's index alone, so trial 7 draws the same values
    whichever worker runs it, in whatever order, in however large a sweep.

    >>> trial_rng(0, 3).random() == trial_rng(0, 3).random() != trial_rng(0, 4).random()
    True
    """
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(index),)))
