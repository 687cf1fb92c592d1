"""The default trial: an ordinary training run (``chainrule.runs``), sent back as plain data.

On the worker, :func:`chainrule.runs.train_run` trains in memory; what comes back to the client is
the model's parameters (arrays), its metadata, the history, the metrics and the checkpoint state
(arrays + JSON-able meta) — never the data set, which the client loads itself from the same
settings to write the run folder (the split is the settings' seed's, so it is the same split).
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["RunsTrial", "SWEEP_METRICS"]

# The per-epoch numbers a sweep records of a run (its last epoch's): the training loss and
# accuracy and the validation ones. The test part is left out on purpose: choosing by it would
# make the final test score optimistic.
SWEEP_METRICS = ("loss", "train_acc", "val_loss", "val_acc")


class RunsTrial:
    """Runs one trial with ``chainrule.runs.train_run`` on a worker and writes it on the client.

    Any object with these four methods can run a sweep's trials (the tests pass their own):

    - ``base_settings(given)``: the settings every trial starts from, completed and checked;
    - ``trial(settings, resume=state)``: train (on a worker) and return the outcome: a dict with
      ``status``, ``metrics``, ``history``, ``seconds``, ``checkpoint`` (what a continuing trial
      resumes from) and whatever ``write`` needs;
    - ``write(folder, outcome)``: write the trial's run folder (on the client);
    - ``read_checkpoint(folder)``: the checkpoint state back from a run folder (a resumed halving sweep).
    """

    def base_settings(self, given: dict) -> dict:
        """``RunSettings(**given)`` checked, as a dict (every field present)."""
        from chainrule.runs import RunSettings

        return RunSettings.from_dict(dict(given)).to_dict()

    def __call__(self, settings: dict, resume=None) -> dict:
        from chainrule.runs import RunSettings, train_run

        result = train_run(RunSettings.from_dict(settings), resume=resume)
        final = result.metrics.get("final") or (result.history[-1] if result.history else {})
        return {"status": "ok", "metrics": {k: final[k] for k in SWEEP_METRICS if k in final},
                "history": list(result.history), "seconds": result.seconds, "checkpoint": result.checkpoint,
                "parameters": {k: v for k, v in result.model.state_dict().items()},
                "run": {"settings": result.settings.to_dict(), "loss": result.loss, "metrics": result.metrics,
                        "meta": result.meta}}

    def write(self, folder: Path, outcome: dict) -> None:
        """Write the run folder of ``chainrule train`` from a trial's outcome, without its pictures
        (they cost seconds a trial; ``chainrule evaluate`` draws them), config.json anew: a
        trial that went on to a later rung has more epochs than the one before."""
        from chainrule import runs

        result = self.result(outcome)
        (Path(folder) / "config.json").unlink(missing_ok=True)
        runs.write_run(folder, result, plots=False)

    def result(self, outcome: dict):
        """The :class:`chainrule.runs.RunResult` of an outcome, rebuilt here with this machine's data."""
        from chainrule import runs

        run = outcome["run"]
        settings = runs.RunSettings.from_dict(run["settings"])
        p = runs.prepare_run(settings)  # the same data, model and split: they follow from the settings
        p.model.load_state_dict(outcome["parameters"])
        return runs.RunResult(settings=settings, model=p.model, loss=p.loss, history=list(outcome["history"]),
                              metrics=run["metrics"], checkpoint=outcome["checkpoint"], meta=run["meta"],
                              seconds=outcome["seconds"], dataset=p.dataset, split=p.split, raw_split=p.raw_split)

    def read_checkpoint(self, folder: Path):
        """``(arrays, meta)`` of the run folder's checkpoint.npz."""
        from chainrule import io

        return io.load_archive(Path(folder) / "checkpoint.npz", kind="checkpoint")
