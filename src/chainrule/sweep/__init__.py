"""Hyper-parameter sweeps: the lecture's random search, applied to the settings of a training run.

``chainrule.sweep(...)`` (this module is callable) runs a sweep and returns its trials, best
first: a pandas DataFrame when pandas is installed, else a list of dicts. Each trial is an
ordinary training run (``chainrule.runs``) with some settings drawn from a search space
(:mod:`chainrule.sweep.space`); the trials run on Dask: a local cluster of one worker process per
core by default, or the cluster at ``scheduler="tcp://HOST:PORT"``.

>>> import chainrule as cr
>>> rows = cr.sweep(params=["lr=loguniform:1e-3:1e-1"], trials=2, workers=1,
...                 settings={"data": "blobs", "n_samples": 200, "model": "softmax", "epochs": 2})
... # doctest: +SKIP
"""
from __future__ import annotations

import sys
import types
from pathlib import Path

from chainrule import validation as check
from chainrule.sweep.space import (
    Choice, IntRange, LogUniform, Space, Uniform, load_space, parse_param, parse_params, trial_rng,
)
from chainrule.sweep.strategies import METRICS, STRATEGIES, Trial, rungs
from chainrule.sweep.study import Study, SweepSpec, format_table

__all__ = ["sweep", "run_study", "Space", "Uniform", "LogUniform", "IntRange", "Choice", "parse_param",
           "parse_params", "load_space", "trial_rng", "rungs", "Study", "SweepSpec", "Trial",
           "STRATEGIES", "METRICS", "format_table"]


def _resolve_space(space, params) -> Space | None:
    if space is None and not params:
        return None
    if isinstance(space, Space) or space is None:
        base = space
    elif isinstance(space, dict):
        base = Space.from_dict(space)
    elif isinstance(space, (str, Path)):
        base = load_space(space)
    else:
        raise TypeError(f"space must be a Space, a dict or a .toml / .json path, got {type(space).__name__}")
    if isinstance(params, str):
        params = [params]
    return parse_params(params, base) if params else Space(base.params)


def run_study(space=None, *, params=(), settings=None, trials=None, strategy=None, metric=None, seed=None,
              out=None, resume=None, scheduler=None, workers=None, eta=None, min_epochs=None,
              progress: bool = False, trial=None, connect_timeout: float | None = None,
              blas_threads: int = 1, trial_plots: bool = True, shared_folder: bool | None = None) -> Study:
    """Run a sweep and return its :class:`Study` (the trials and their results); see :func:`sweep`.

    Resuming a sweep that has finished starts no cluster: it rewrites the sweep's own files
    (sweep.json, sweep.csv, the best model, the plots) and returns it.
    """
    from chainrule.sweep.runner import DEFAULT_CONNECT_TIMEOUT, check_address, open_client
    from chainrule.sweep.trial import RunsTrial

    trial = trial if trial is not None else RunsTrial(plots=trial_plots)
    check.integer("workers", workers, low=1, optional=True)
    if workers is not None and scheduler is not None:
        raise ValueError("workers sets the size of the local cluster; with a scheduler the cluster's "
                         "own workers run the trials")
    if scheduler is not None:
        check_address(scheduler)
    given_space = _resolve_space(space, params)
    if resume is not None:
        study = Study.load(resume, trial, shared_folder)
        _check_same(study.spec, given_space, settings, trials, strategy, metric, seed, eta, min_epochs, trial)
        if study.finished():
            study.save(final=True)  # in case the client was stopped while it wrote them
            return study
    else:
        if given_space is None:
            Space({})  # the error that says how to give a space
        settings = dict(settings or {})
        if seed is not None and settings.get("seed", seed) != seed:
            raise ValueError(f"seed {seed} and settings' seed {settings['seed']} differ; the sweep's seed is "
                             "every trial's run seed, give one")
        seed = settings.get("seed", 0) if seed is None else seed
        base = trial.base_settings({**settings, "seed": seed})
        spec = SweepSpec(given_space, base, strategy or "random", metric or "val_acc", seed,
                         trials, 3 if eta is None else eta, min_epochs)
        study = Study.create(spec, trial, out, shared_folder)
    timeout = DEFAULT_CONNECT_TIMEOUT if connect_timeout is None else connect_timeout
    with open_client(scheduler, workers=workers, connect_timeout=timeout) as client:
        study.run(client, progress=progress, blas_threads=blas_threads)
    return study


def _check_same(spec: SweepSpec, space, settings, trials, strategy, metric, seed, eta, min_epochs, trial):
    given = {"space": space, "trials": trials, "strategy": strategy, "metric": metric, "seed": seed,
             "eta": eta, "min_epochs": min_epochs}
    clashes = [f"{k} {v} (the sweep has {getattr(spec, k)})" for k, v in given.items()
               if v is not None and v != getattr(spec, k)]
    if settings:
        base = trial.base_settings(dict(settings))
        clashes += [f"{k} {base[k]!r} (the sweep has {spec.settings.get(k)!r})"
                    for k in settings if base.get(k) != spec.settings.get(k)]
    if clashes:
        raise ValueError("resume continues a sweep with its saved settings; these differ: "
                         + "; ".join(clashes) + ". Drop them, or start a new sweep in another folder")


def sweep(space=None, *, params=(), settings=None, trials=None, strategy=None, metric=None, seed=None,
          out=None, resume=None, scheduler=None, workers=None, eta=None, min_epochs=None,
          progress: bool = False, trial=None, connect_timeout: float | None = None, as_frame: bool = True,
          trial_plots: bool = True, shared_folder: bool | None = None):
    """Run a hyper-parameter sweep; its trials best first (a pandas DataFrame if pandas is installed).

    Each trial trains ``settings`` (the options of ``chainrule train`` as a dict, e.g.
    ``{"data": "digits", "epochs": 10}``) with the trial's parameters drawn from the space in place.

    Parameters
    ----------
    space : Space, dict or path, optional
        The search space, or a ``.toml`` / ``.json`` file holding it; ``params`` adds to it.
    params : list of str
        Parameters in the ``--param`` grammar: ``["lr=loguniform:1e-4:1e-1", "hidden=choice:64,128"]``.
    trials : int
        How many trials (random, halving); for grid, at most this many points (default: all).
    strategy : ``"random"`` (default), ``"grid"`` or ``"halving"`` (successive halving, ``eta``
        the factor by which each rung shrinks the trials and grows their epochs, from ``min_epochs``).
    metric : ``"val_acc"`` (default, higher is better) or ``"val_loss"`` (lower is better).
    seed : int
        The sweep's seed: trial ``i`` draws its parameters from ``SeedSequence(seed)``'s child ``i``,
        and every trial's run has this seed, so all trials train on the same split from comparable
        initial weights and differ by their parameters alone (put ``seed`` in the space to vary it).
    out, resume : path
        A new folder to keep the results in (default: nothing written), or a sweep's folder to
        continue (a finished one is only reported: no cluster is started).
    trial_plots : bool
        Whether each trial's run folder gets the pictures of a ``chainrule train`` folder
        (default True; they are drawn on the workers).
    shared_folder : None or False
        None (default): each worker writes its trials' folders into ``out`` itself when it sees
        it (same machine or a shared file system), else sends their files back to be written
        here. False: always send them back.
    scheduler : str
        ``tcp://HOST:PORT`` of a running Dask scheduler; default: a local cluster of ``workers``
        processes (one per core), started and stopped here.
    trial : object
        What runs a trial (default: :class:`chainrule.sweep.trial.RunsTrial`, a training run).

    Examples
    --------
    >>> rows = sweep(params=["lr=loguniform:1e-3:1e-1"], trials=2, workers=1,
    ...              settings={"data": "blobs", "model": "softmax", "epochs": 2})  # doctest: +SKIP
    """
    study = run_study(space, params=params, settings=settings, trials=trials, strategy=strategy, metric=metric,
                      seed=seed, out=out, resume=resume, scheduler=scheduler, workers=workers, eta=eta,
                      min_epochs=min_epochs, progress=progress, trial=trial, connect_timeout=connect_timeout,
                      trial_plots=trial_plots, shared_folder=shared_folder)
    rows = study.records()
    if as_frame:
        try:
            import pandas
        except ImportError:
            return rows
        return pandas.DataFrame(rows)
    return rows


class _CallableModule(types.ModuleType):
    """``chainrule.sweep(...)`` runs a sweep; ``chainrule.sweep.Space`` and friends stay reachable."""

    def __call__(self, *args, **kwargs):
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
