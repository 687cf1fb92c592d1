"""A study: the trials of one sweep, what they found, and the folder that keeps it.

A sweep folder holds, every file written whole or not at all::

    sweep.json     the space, the settings, the strategy, and each trial's parameters, status,, metrics and seconds (rewritten as each trial finishes)
    sweep.csv      one row per trial, the same numbers
    trials/NNN/    trial NNN's run folder, in the ``chainrule train`` layout
    model.npz      the best trial's model
    scores.png     the metric against each numeric parameter
    lr_reg.png     learning rate against regularization, coloured by the metric (cs231n's picture)

``resume`` continues a sweep from its sweep.json: trials that finished keep their results, the
others run. Every trial's parameters come from the sweep's seed and the trial's index,
and successive halving waits for a whole rung before choosing who goes on, so a resumed sweep,
or one run by more workers, ends with the same results.
"""
from __future__ import annotations

import csv
import io as _stdio
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from chainrule import io
from chainrule import validation as check
from chainrule.sweep.space import Space
from chainrule.sweep.strategies import (
    MAX_TRIALS, METRICS, STRATEGIES, Trial, initial_trials, promote, ranked, rung_sizes, rungs,
)

__all__ = ["Study", "SweepSpec", "SWEEP_FORMAT", "SWEEP_FILE", "SWEEP_SCHEMA"]

SWEEP_FORMAT = 1
SWEEP_FILE = "sweep.json"
TRIALS_DIR = "trials"


class _Numbers:
    """An :mod:`chainrule.io` schema rule: a JSON object whose every value is a number or null
    (a rung's metrics, named by whatever the trial reports)."""

    def check(self, value, path):
        io.Obj().check(value, path)
        for key, item in value.items():
            io.Number(null=True).check(item, f"{path}.{key}")


_RUNG = io.Obj({"epochs": io.Int(1), "status": io.Str(("ok", "failed"))},
               {"metrics": _Numbers(), "seconds": io.Number(0, null=True), "error": io.Str(null=True)})

#: What sweep.json holds, checked field by field when a sweep is resumed (:meth:`Study.load`);
#: what a schema cannot say (the settings by the trial's rules, the parameters inside the space,
#: each index once) :meth:`Study.load` checks next. ``budgets`` and ``best`` are written for a
#: reader's sake and worked out anew.
SWEEP_SCHEMA = io.Schema("sweep", {SWEEP_FORMAT: io.Obj(
    {
        "kind": io.Str(("chainrule-sweep",)),
        "spec": io.Obj({
            "space": io.Obj(), "settings": io.Obj(), "strategy": io.Str(STRATEGIES),
            "metric": io.Str(tuple(METRICS)), "seed": io.Value(check.seed, optional=False),
            "trials": io.Int(1, MAX_TRIALS, null=True), "eta": io.Int(2), "min_epochs": io.Int(1, null=True),
        }),
        "trials": io.List(io.Obj({"index": io.Int(0, MAX_TRIALS - 1), "params": io.Obj(),
                                  "rungs": io.List(_RUNG, "objects")},
                                 {"status": io.Str(("ok", "failed", "pending"))}),
                          "objects", max_len=MAX_TRIALS),
    },
    {
        "chainrule_version": io.Str(), "session": io.Str(null=True),
        "budgets": io.List(io.Int(1), "whole numbers >= 1"), "best": io.Obj(null=True),
    },
)}, version_key="format")


@dataclass
class SweepSpec:
    """What defines a sweep; saved in sweep.json and compared on resume."""

    space: Space
    settings: dict
    strategy: str = "random"
    metric: str = "val_acc"
    seed: int = 0
    trials: int | None = None
    eta: int = 3
    min_epochs: int | None = None

    def check(self, settings_rule=None) -> None:
        """TypeError / ValueError saying what is wrong with the spec, before anything runs.

        ``settings_rule(settings)`` is the trial's check of a run's settings
        (:func:`trial_settings_rule`: :class:`chainrule.runs.RunSettings`' rules for a training
        run): every value a parameter can take must pass it with the sweep's settings, which is
        checked at the values that bound them (both ends of a range, each value of a choice).
        """
        check.choice("strategy", self.strategy, tuple(STRATEGIES))
        check.choice("metric", self.metric, tuple(METRICS))
        check.integer("trials", self.trials, low=1, high=MAX_TRIALS, optional=True)
        check.seed("seed", self.seed, optional=False)
        unknown = [n for n in self.space if n not in self.settings]
        if unknown:
            raise ValueError(f"the space names {', '.join(map(repr, unknown))}, which "
                             f"{'is not a setting' if len(unknown) == 1 else 'are not settings'} of a "
                             f"training run; expected some of {sorted(self.settings)}")
        if settings_rule is not None:
            self.check_values(settings_rule)
        if self.strategy == "halving":
            if "epochs" in self.space:
                raise ValueError("--strategy halving chooses the epochs of each rung itself; "
                                 "do not put epochs in the space")
            self.budgets()  # checks eta and min_epochs

    def check_values(self, settings_rule) -> None:
        """The error of ``settings_rule`` (the run settings' rules) for the first value that bounds
        a parameter's draws (:meth:`Space` distributions' ``ends``) and breaks it, naming the
        parameter, that value and the rule."""
        for name, dist in self.space.items():
            for what, value in dist.ends():
                try:
                    settings_rule(apply_params(self.settings, {name: value}))
                except (TypeError, ValueError) as exc:
                    shown = f"{value:g}" if isinstance(value, float) else check.show(value)
                    param = f"{name}={dist}"
                    if len(param) > check.SHOW_MAX:  # a choice of many (or deeply nested) values
                        param = param[:check.SHOW_MAX - 3] + "..."
                    raise type(exc)(f"the parameter {param}: its {what} {shown} is not a value "
                                    f"{name} may take: {' '.join(str(exc).split())}") from None

    def budgets(self) -> list:
        """Epochs of each rung: one rung of the settings' epochs, or the halving rungs."""
        epochs = self.settings.get("epochs")
        if self.strategy != "halving":
            return [epochs]
        if isinstance(self.eta, bool) or not isinstance(self.eta, int):
            raise ValueError(f"eta must be a whole number >= 2, got {self.eta!r}")
        return rungs(int(epochs), self.eta, self.min_epochs)

    def to_dict(self) -> dict:
        return {"space": self.space.to_dict(), "settings": self.settings, "strategy": self.strategy,
                "metric": self.metric, "seed": self.seed, "trials": self.trials, "eta": self.eta,
                "min_epochs": self.min_epochs}

    @classmethod
    def from_dict(cls, d: dict) -> "SweepSpec":
        return cls(Space.from_dict(d["space"]), dict(d["settings"]), d["strategy"], d["metric"], int(d["seed"]),
                   d.get("trials"), int(d.get("eta", 3)), d.get("min_epochs"))


def trial_settings_rule(trial, name=None):
    """The check of a run's settings that ``trial`` makes (a function of the settings, returning
    them completed): ``trial.check_settings(settings, name)`` where it has one (:class:`RunsTrial
    <chainrule.sweep.trial.RunsTrial>`: :class:`chainrule.runs.RunSettings`' rules, a message naming
    a setting ``name(key)``), else ``trial.base_settings(settings)``."""
    named = getattr(trial, "check_settings", None)
    if named is not None:
        return lambda settings: named(settings, name)
    return trial.base_settings


def apply_params(settings: dict, params: dict) -> dict:
    """``settings`` with the trial's parameters in place (a list setting takes a value as [value])."""
    out = dict(settings)
    for name, value in params.items():
        out[name] = [value] if isinstance(settings.get(name), list) and not isinstance(value, list) else value
    return out


class Study:
    """The trials of a sweep, run by a Dask client and kept in ``out`` (or only in memory).

    ``trial`` is what runs one trial; it is called on a worker as ``trial(settings, resume=...)``
    and writes the trial's run folder there with ``trial.write(folder, outcome)`` (see
    :class:`chainrule.sweep.trial.RunsTrial`, the default, and :func:`chainrule.sweep.runner.execute`
    for where). ``shared_folder=False`` has the workers send every trial's files to the client
    even when they could write them into the sweep folder themselves; None (the default) lets
    each worker find out.
    """

    def __init__(self, spec: SweepSpec, trial, trials: list, out: Path | None = None,
                 shared_folder: bool | None = None):
        if shared_folder not in (None, False):
            raise ValueError(check.message("shared_folder", "None (find out) or False (the client writes)",
                                           shared_folder))
        self.spec, self.trial, self.trials = spec, trial, trials
        self.out = Path(out) if out is not None else None
        self.shared_folder = shared_folder
        self.checkpoints: dict = {}
        self.session: str | None = None

    # ---------------------------------------------------------------- creation
    @classmethod
    def create(cls, spec: SweepSpec, trial, out=None, shared_folder: bool | None = None) -> "Study":
        spec.check(trial_settings_rule(trial))
        trials = initial_trials(spec.space, spec.strategy, spec.trials, spec.seed)
        if out is not None:
            check_new_sweep_dir(Path(out))
        return cls(spec, trial, trials, out, shared_folder)

    @classmethod
    def load(cls, out, trial, shared_folder: bool | None = None) -> "Study":
        """The study saved in ``out/sweep.json``; ValueError when it is not a sweep folder, and
        :class:`chainrule.io.FormatError` naming sweep.json and the field when the file is not a
        valid one. Nothing is started or written before the whole file has been checked.

        The checks: :data:`SWEEP_SCHEMA`, field by field; then the settings by ``trial``'s rules
        (:func:`trial_settings_rule`: :class:`chainrule.runs.RunSettings`' for a training run),
        the spec as :meth:`SweepSpec.check` checks a new one, each trial's index in ``0..n-1``
        (``n`` the sweep's trials, or its grid's points) and listed once, its parameters those of
        the space and values it can give, and no more rungs than the sweep has.

        A trial the file does not list (an index of ``0..n-1`` that no entry has) is run again:
        its parameters come from the sweep's seed and its index (a grid's: its point), so it is
        the very trial that was lost. Not in a halving sweep whose trials have gone past the first
        rung, though: who went on was chosen with the missing trial's result, so that is an error.
        """
        out = Path(out)
        path = out / SWEEP_FILE
        if not out.is_dir():
            raise ValueError(f"--resume {out}: no such sweep folder")
        if not path.is_file():
            raise ValueError(f"--resume {out}: it holds no {SWEEP_FILE}; it is not a sweep folder")
        try:
            saved = io.load_json(path, SWEEP_SCHEMA)
            with check.json_values():  # a message shows a value as the file holds it
                spec, trials = _read_sweep(saved, trial)
        except RecursionError:  # JSON nested thousands deep: Python's parser gives up
            raise io.FormatError(f"{path}: nested too deeply to be a chainrule sweep file") from None
        except io.FormatError:
            raise
        except (TypeError, ValueError) as exc:
            raise io.FormatError(f"{path}: {' '.join(str(exc).split())}") from None
        return cls(spec, trial, trials, out, shared_folder)

    # ---------------------------------------------------------------- running
    def settings_for(self, t: Trial, epochs: int) -> dict:
        return apply_params({**self.spec.settings, "epochs": epochs}, t.params)

    def remaining(self) -> int:
        """How many trial runs are left (an upper bound with halving: failures shorten later rungs)."""
        budgets = self.spec.budgets()
        sizes = rung_sizes(len(self.trials), self.spec.eta, len(budgets)) if len(budgets) > 1 else [len(self.trials)]
        done = sum(min(len(t.rungs), len(budgets)) for t in self.trials)
        return max(0, sum(sizes) - done)

    def finished(self) -> bool:
        """Whether every trial run of the sweep has finished (a finished sweep needs no cluster)."""
        alive = list(self.trials)
        for r in range(len(self.spec.budgets())):
            if any(len(t.rungs) == r for t in alive):
                return False
            if r < len(self.spec.budgets()) - 1:
                alive = promote([t for t in alive if len(t.rungs) > r], r, self.spec.metric, self.spec.eta)
        return True

    def run(self, client, *, progress: bool = False, blas_threads: int = 1) -> "Study":
        """Run every trial run that has not finished, rung after rung; save as each one ends."""
        import uuid

        from chainrule.sweep.runner import submit_all

        budgets = self.spec.budgets()
        self.session = uuid.uuid4().hex  # sweep.json names it: a worker that reads it sees this folder
        self.save()
        bar = _progress(self.remaining(), progress)
        try:
            alive = list(self.trials)
            for r, epochs in enumerate(budgets):
                todo = [t for t in alive if len(t.rungs) == r]
                by_index = {t.index: t for t in todo}
                settings = {t.index: self.settings_for(t, epochs) for t in todo}
                jobs = [(t.index, settings[t.index], self._resume_state(t, r), self._destination(t))
                        for t in todo]
                for index, outcome in submit_all(client, self.trial, jobs, blas_threads=blas_threads):
                    # the epochs it trained: the rung's budget, or its own where epochs is a parameter
                    self._record(by_index[index], settings[index]["epochs"], outcome)
                    if r == len(budgets) - 1:
                        self.checkpoints.pop(index, None)  # nothing continues from the last rung
                    bar.update(1)
                    best = self.best()
                    if best is not None:
                        bar.set_postfix({"best": f"{best.value(self.spec.metric):.4g} (#{best.index})"}, refresh=False)
                if r < len(budgets) - 1:
                    alive = promote([t for t in alive if len(t.rungs) > r], r, self.spec.metric, self.spec.eta)
        finally:
            bar.close()
        self.save(final=True, client=client)
        return self

    def _destination(self, t: Trial | None = None):
        """Where a worker writes trial ``t``'s folder (None: the sweep folder itself)."""
        from chainrule.sweep.runner import Destination

        if self.out is None:
            return None
        out = self.out.resolve()  # the workers' current folder is not this one
        folder = out if t is None else out / self.trial_dir(t).relative_to(self.out)
        return Destination(str(folder), str(out / SWEEP_FILE), self.session, self.shared_folder)

    def _resume_state(self, t: Trial, rung: int):
        if rung == 0:
            return None
        if t.index in self.checkpoints:
            return self.checkpoints[t.index]
        if self.out is None:
            raise RuntimeError(f"trial {t.index} has no checkpoint to continue from")
        return self.trial.read_checkpoint(self.trial_dir(t))

    def _record(self, t: Trial, epochs: int, outcome: dict) -> None:
        """Add the rung trial ``t`` ran for ``epochs`` (its settings' epochs) to it, and save."""
        # What sweep.json can hold and read back (SWEEP_SCHEMA): ok or failed, numbers, text.
        status, error = outcome.get("status", "failed"), outcome.get("error")
        entry = {"epochs": epochs, "status": "ok" if status == "ok" else "failed",
                 "metrics": _numbers(outcome.get("metrics") or {}), "seconds": _seconds(outcome.get("seconds")),
                 "error": (None if error is None else str(error)) if status in ("ok", "failed") else
                 f"the trial reported the status {status!r}; expected 'ok' or 'failed'"}
        if entry["status"] == "ok" and _finite(entry["metrics"].get(self.spec.metric)) is None:
            entry.update(status="failed", error=f"the run reported no {self.spec.metric} "
                                                f"(got {sorted(entry['metrics'])}); it needs a validation part")
        t.rungs.append(entry)
        if entry["status"] == "ok":
            if "checkpoint" in outcome:
                self.checkpoints[t.index] = outcome["checkpoint"]
            if "files" in outcome:  # written by a worker that does not see the sweep folder
                from chainrule.sweep.runner import write_files

                write_files(self.trial_dir(t), outcome["files"])
        self.save()

    # ---------------------------------------------------------------- results
    def best(self) -> Trial | None:
        """The trial that got furthest (most rungs), best by the metric among those; None before any."""
        done = [t for t in self.trials if t.value(self.spec.metric) is not None]
        if not done:
            return None
        furthest = max(len(t.rungs) for t in done)
        return ranked([t for t in done if len(t.rungs) == furthest], self.spec.metric)[0]

    def trial_dir(self, t: Trial) -> Path:
        width = max(3, len(str(len(self.trials) - 1)))
        return self.out / TRIALS_DIR / f"{t.index:0{width}d}"

    def records(self) -> list:
        """One flat dict per trial, best first: index, status, the parameters, metrics, seconds."""
        metric = self.spec.metric
        order = ranked(self.trials, metric)
        rows = []
        for t in order:
            last = t.rungs[-1] if t.rungs else {}
            row = {"trial": t.index, "status": t.status}
            row.update({name: t.params.get(name) for name in self.spec.space})
            row[metric] = t.value(metric)
            for key, value in (last.get("metrics") or {}).items():
                row.setdefault(key, value)
            seconds = [r.get("seconds") for r in t.rungs if _finite(r.get("seconds")) is not None]
            row.update(epochs=last.get("epochs"), seconds=sum(seconds) if seconds else None,
                       error=last.get("error"))
            wrote = self.out is not None and any(r["status"] == "ok" for r in t.rungs)
            row["folder"] = str(self.trial_dir(t)) if wrote else None
            rows.append(row)
        return rows

    def to_dict(self) -> dict:
        from chainrule import __version__

        best = self.best()
        return {"format": SWEEP_FORMAT, "kind": "chainrule-sweep", "chainrule_version": __version__,
                "session": self.session, "spec": self.spec.to_dict(), "budgets": self.spec.budgets(),
                "best": None if best is None else {"trial": best.index, self.spec.metric: best.value(self.spec.metric),
                                                   "params": best.params},
                "trials": [t.to_dict() for t in self.trials]}

    def save(self, final: bool = False, client=None) -> None:
        """Rewrite sweep.json and sweep.csv (atomically); at the end, the best model and plots too
        (the plots drawn on one of ``client``'s workers when there is one)."""
        if self.out is None:
            return
        from chainrule import io

        self.out.mkdir(parents=True, exist_ok=True)
        io.write_json_atomic(self.out / SWEEP_FILE, self.to_dict())
        io.write_text_atomic(self.out / "sweep.csv", records_csv(self.records()))
        if final:
            best = self.best()
            model = self.trial_dir(best) / "model.npz" if best is not None else None
            if model is not None and model.is_file():
                arrays, meta = io.load_archive(model, kind="model")  # checked as it is copied
                meta = {k: v for k, v in meta.items() if k not in io.RESERVED_META_KEYS}
                io.save_archive(self.out / "model.npz", arrays, meta, kind="model")
            if client is not None:  # each picture on a worker of its own when there are several
                from chainrule.sweep.plots import plot_names
                from chainrule.sweep.runner import RETRIES, draw_plots, write_files

                records = self.records()
                drawing = [client.submit(draw_plots, records, self.spec.space, self.spec.metric, self._destination(),
                                         name, pure=False, retries=RETRIES) for name in plot_names(self.spec.space)]
                for drawn in client.gather(drawing):
                    write_files(self.out, drawn.get("files", {}))
            else:
                from chainrule.sweep.plots import write_plots

                write_plots(self.out, self.records(), self.spec.space, self.spec.metric)


def _read_sweep(saved: dict, trial) -> tuple:
    """``(spec, trials)`` of a sweep.json that passed :data:`SWEEP_SCHEMA`, checked further
    (see :meth:`Study.load`); TypeError / ValueError naming the field."""
    d = saved["spec"]
    try:
        settings = trial_settings_rule(trial, lambda key: f"the field 'spec.settings.{key}'")(dict(d["settings"]))
    except (TypeError, ValueError) as exc:
        if "the field 'spec.settings" in str(exc):
            raise
        raise type(exc)(f"the field 'spec.settings': {exc}") from None  # a message of the whole settings
    space = Space.from_dict(d["space"], where="the field 'spec.space'")
    spec = SweepSpec(space, settings, d["strategy"], d["metric"], d["seed"], d["trials"], d["eta"], d["min_epochs"])
    spec.check(trial_settings_rule(trial))
    expected = initial_trials(spec.space, spec.strategy, spec.trials, spec.seed)
    n_rungs = len(spec.budgets())
    listed: dict = {}
    for i, entry in enumerate(saved["trials"]):
        at = f"the field 'trials[{i}]"
        index = entry["index"]
        if index >= len(expected):
            raise ValueError(check.message(f"{at}.index'", f"a whole number in [0, {len(expected) - 1}] "
                                                            f"(the sweep has {len(expected)} trials)", index))
        if index in listed:
            raise ValueError(f"{at}.index' is {index}, the index of trials[{listed[index][0]}] too; "
                             "each trial is listed once")
        params = entry["params"]
        if set(params) != set(spec.space):
            raise ValueError(check.message(f"{at}.params'", f"an object of the space's parameters "
                                                             f"{', '.join(spec.space)}", params))
        for name, dist in spec.space.items():
            dist.check_value(f"{at}.params.{name}'", params[name])
        if len(entry["rungs"]) > n_rungs:
            raise ValueError(check.message(f"{at}.rungs'", f"a list of at most {n_rungs} rungs (the sweep's "
                                                            f"budgets {spec.budgets()})", entry["rungs"]))
        for r, rung in enumerate(entry["rungs"]):
            if rung["status"] == "ok" and _finite((rung.get("metrics") or {}).get(spec.metric)) is None:
                raise ValueError(f"{at}.rungs[{r}]' is ok but has no {spec.metric} (the sweep's metric)")
        listed[index] = (i, Trial.from_dict(entry))
    missing = [t.index for t in expected if t.index not in listed]
    if missing and spec.strategy == "halving" and any(len(t.rungs) > 1 for _, t in listed.values()):
        raise ValueError(f"the field 'trials' lacks the trial(s) {', '.join(map(str, missing[:10]))}, but the "
                         "halving sweep has gone past its first rung, which chose who went on with their results")
    return spec, [listed[t.index][1] if t.index in listed else t for t in expected]


def check_new_sweep_dir(out: Path) -> None:
    """ValueError unless ``out`` is new or an empty folder (a sweep's folder says how to resume)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()):
        if (out / SWEEP_FILE).exists():
            raise ValueError(f"--out {out} already holds a sweep; continue it with --resume {out}, "
                             "or choose another --out")
        raise ValueError(f"--out {out} is a folder that is not empty; choose another --out")


def _finite(v):
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _seconds(v):
    """A trial's seconds as sweep.json keeps them: a finite number >= 0, else None."""
    v = _finite(v)
    return v if v is not None and v >= 0 else None


def _numbers(metrics: dict) -> dict:
    """The metrics sweep.json keeps: numbers (a NaN is saved as null) and nulls, by name."""
    return {k: v for k, v in metrics.items()
            if isinstance(k, str) and (v is None or isinstance(v, (int, float)) and not isinstance(v, bool))}


def records_csv(records: list) -> str:
    """The records as CSV text, one column per key (in first-seen order)."""
    keys = list(dict.fromkeys(k for r in records for k in r))
    buf = _stdio.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    for r in records:
        writer.writerow({k: "" if r.get(k) is None else f"{r[k]:.6g}" if isinstance(r.get(k), float) else r[k]
                         for k in keys})
    return buf.getvalue()


def format_table(records: list, metric: str, limit: int | None = 20) -> str:
    """The records as an aligned text table, best first (at most ``limit`` rows)."""
    if not records:
        return "(no trials)"
    skip = {"error", "folder"}
    keys = [k for k in dict.fromkeys(k for r in records for k in r) if k not in skip]
    head = ["trial", "status", metric]
    keys = head + [k for k in keys if k not in head]
    shown = records if limit is None else records[:limit]

    def cell(v):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    rows = [keys] + [[cell(r.get(k)) for k in keys] for r in shown]
    widths = [max(len(row[i]) for row in rows) for i in range(len(keys))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    if limit is not None and len(records) > limit:
        lines.append(f"... and {len(records) - limit} more (sweep.csv has them all)")
    failed = [r for r in records if r.get("status") == "failed"]
    for r in failed[:5]:
        lines.append(f"trial {r['trial']} failed: {r.get('error')}")
    return "\n".join(lines)


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="sweep", unit="trial", disable=not enabled, file=sys.stderr, leave=True)
