"""The default trial: an ordinary training run (``chainrule.runs``), written where it ran.

On the worker, :func:`chainrule.runs.train_run` trains in memory and :func:`chainrule.runs.write_run`
writes the trial's run folder, pictures included, exactly as ``chainrule train`` writes its own:
into the sweep folder when the worker sees it, else into a temporary folder whose files go back
to the client (see :func:`chainrule.sweep.runner.execute`). A worker keeps the data of the
trials it ran (:func:`prepared_data`): trials that share the data settings share the split, so
it is loaded once per worker, not once per trial.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

__all__ = ["RunsTrial", "SWEEP_METRICS", "prepared_data"]

# The per-epoch numbers a sweep records of a run (its last epoch's): the training loss and
# accuracy and the validation ones. The test part is left out on purpose: choosing by it would
# make the final test score optimistic.
SWEEP_METRICS = ("loss", "train_acc", "val_loss", "val_acc")

# This process's prepared data, by data settings (a worker's trials mostly share one entry).
_DATA: OrderedDict = OrderedDict()
DATA_KEPT = 2


def _data_key(settings) -> tuple:
    from chainrule.runs import DATA_SETTINGS

    key = tuple((name, repr(getattr(settings, name))) for name in DATA_SETTINGS)
    # A data file that changed on disk is other data: its size and time are part of the key.
    stamp = None
    if settings.data.lower().endswith((".csv", ".npz")):
        try:
            st = os.stat(settings.data)
            stamp = (st.st_size, st.st_mtime_ns)
        except OSError:
            stamp = "missing"
    return key + (("file", stamp),)


def prepared_data(settings) -> tuple:
    """:func:`chainrule.runs.prepare_data` for ``settings``, kept for the next trial of this process.

    The arrays kept are made read-only, so a trial can never change the data the next one gets;
    at most :data:`DATA_KEPT` data sets are kept (the oldest goes first).
    """
    from chainrule.runs import prepare_data

    key = _data_key(settings)
    if key in _DATA:
        _DATA.move_to_end(key)
        return _DATA[key]
    data = prepare_data(settings)
    ds, raw, split, _ = data
    for part in (ds.X, ds.y, *raw, *split):
        if hasattr(part, "setflags"):
            part.setflags(write=False)
    _DATA[key] = data
    while len(_DATA) > DATA_KEPT:
        _DATA.popitem(last=False)
    return data


class RunsTrial:
    """Runs one trial with ``chainrule.runs.train_run`` and writes its run folder, on a worker.

    ``plots=False`` leaves the pictures (``curves.png``, ``weights.png`` or
    ``decision_regions.png``) out of the trial folders; by default a trial folder holds what a
    ``chainrule train`` folder holds.

    Any object with these four methods can run a sweep's trials (the tests pass their own):

    - ``base_settings(given)``: the settings every trial starts from, completed and checked;
    - ``trial(settings, resume=state)``: train (on a worker) and return the outcome: a dict with
      ``status``, ``metrics``, ``seconds``, ``checkpoint`` (what a continuing trial resumes from)
      and whatever ``write`` needs;
    - ``write(folder, outcome)``: write the trial's run folder (on the worker, into the sweep
      folder or into a temporary folder whose files the client copies);
    - ``read_checkpoint(folder)``: the checkpoint state back from a run folder (halving's next rung).

    And, optionally, ``check_settings(settings, name)``: ``base_settings`` whose messages name a
    setting ``name(key)`` (the field of a sweep.json that holds it); without it a sweep checks
    the settings it reads back with ``base_settings``.
    """

    def __init__(self, plots: bool = True):
        from chainrule import validation as check

        self.plots = check.boolean("plots", plots)

    def base_settings(self, given: dict) -> dict:
        """``RunSettings(**given)`` checked, as a dict (every field present)."""
        return self.check_settings(given)

    def check_settings(self, settings: dict, name=None) -> dict:
        """``settings`` checked by :class:`chainrule.runs.RunSettings`' rules, as a complete dict;
        a message names a setting ``name(key)`` (default: its ``chainrule train`` option)."""
        from chainrule.runs import RunSettings

        return RunSettings.from_dict(dict(settings), **({} if name is None else {"name": name})).to_dict()

    def __call__(self, settings: dict, resume=None) -> dict:
        from chainrule.runs import RunSettings, prepare_run, train_run

        settings = RunSettings.from_dict(settings)
        prepared = prepare_run(settings, prepared_data(settings))
        result = train_run(settings, resume=resume, prepared=prepared)
        final = result.metrics.get("final") or (result.history[-1] if result.history else {})
        return {"status": "ok", "metrics": {k: final[k] for k in SWEEP_METRICS if k in final},
                "history": list(result.history), "seconds": result.seconds, "checkpoint": result.checkpoint,
                "result": result}

    def write(self, folder: Path, outcome: dict) -> None:
        """Write the run folder of ``chainrule train`` from a trial's outcome (on the worker that
        trained it), ``config.json`` anew: a trial that went on to a later rung has more epochs
        than the one before."""
        from chainrule import runs

        result = outcome["result"]
        # Replaced whole (write_run keeps it), with the data's SHA-256 as chainrule train records
        # it, so that resuming the trial folder with chainrule train checks the data too.
        runs.write_config(folder, result.settings, data_sha256=result.dataset.fingerprint())
        runs.write_run(folder, result, plots=self.plots)

    def read_checkpoint(self, folder: Path):
        """``(arrays, meta)`` of the run folder's checkpoint.npz."""
        from chainrule import io

        return io.load_archive(Path(folder) / "checkpoint.npz", kind="checkpoint")
