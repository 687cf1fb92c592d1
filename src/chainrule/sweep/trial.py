"""The default trial: an ordinary training run (``chainrule.runs``), sent back as plain data."""
from __future__ import annotations

from pathlib import Path

__all__ = ["RunsTrial"]


class RunsTrial:
    """Runs one trial with ``chainrule.runs.train_run`` on a worker and writes it on the client.

    A trial needs four things, which any object with these methods can provide (tests pass
    their own): ``base_settings(given)`` completes and checks the settings every trial starts
    from; ``trial(settings, resume=state)`` trains (on a worker) and returns its outcome dict:
    ``status``, ``metrics`` (the final ones, validation included), ``history``, ``seconds``,
    ``checkpoint`` (what a continuing trial resumes from) and what ``write`` needs;
    ``write(folder, outcome)`` writes the run folder (on the client); ``read_checkpoint(folder)``
    reads the checkpoint back from a run folder (a resumed halving sweep).
    """

    def base_settings(self, given: dict) -> dict:
        from chainrule.runs import RunSettings

        return RunSettings.from_dict(dict(given)).to_dict()

    def __call__(self, settings: dict, resume=None) -> dict:
        from chainrule.runs import RunSettings, train_run

        result = train_run(RunSettings.from_dict(settings), resume=resume)
        return {"status": "ok", "metrics": dict(result.metrics), "history": list(result.history),
                "seconds": result.seconds, "checkpoint": result.checkpoint, "result": result}

    def write(self, folder: Path, outcome: dict) -> None:
        from chainrule.runs import write_run

        write_run(folder, outcome["result"])

    def read_checkpoint(self, folder: Path):
        from chainrule import io

        return io.load_archive(Path(folder) / "checkpoint.npz", kind="checkpoint")
