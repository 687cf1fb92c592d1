"""``chainrule sweep``: many training runs with settings drawn from a search space, on Dask.

A sweep folder holds sweep.json and sweep.csv (every trial's parameters, status, metrics and
seconds, rewritten as trials finish), trials/NNN/ (each trial's run folder, what ``chainrule
train`` writes, pictures included: ``chainrule evaluate DIR/trials/007`` works), model.npz (the
best trial's model), scores.png and, for lr and reg, lr_reg.png. See ``chainrule.sweep``.
"""
from __future__ import annotations

from pathlib import Path

from chainrule.cli.common import (
    Formatter, Interrupted, UsageError, add_training_options, emit_json, int_at_least, new_folder, one_line,
    positive_float, say, stderr_line,
)

SWEEP_HELP = """\
Train many runs whose settings are drawn from a search space, and keep the best: the lecture's
random search, applied to hyper-parameters. Every option of 'chainrule train' sets what all
trials share; --param (or --space FILE) says what varies:

  --param lr=loguniform:1e-4:1e-1     a float whose logarithm is uniform (learning rates, reg)
  --param dropout=uniform:0:0.5       a float, uniform
  --param epochs=int:5:20             a whole number, both ends included
  --param hidden=choice:64,128,256    one of the values
  uniform and loguniform take :N for the number of grid points of --strategy grid.

The same space in a file: TOML (lr = "loguniform:1e-4:1e-1") or JSON ({"lr": "loguniform:..."}),
at the top level or under [params]; --param adds to it.

Trials run on Dask: with no --scheduler on a local cluster of --workers processes (one per
core), started and stopped by the command; with --scheduler tcp://HOST:PORT on a running cluster
('dask scheduler' and 'dask worker' started by hand, see the docs). The worker that trains a
trial writes its run folder: into the sweep folder when it sees it (this machine, or a shared
file system), else its files come back here and are written here.

Trial i draws its parameters from the sweep's --seed and i alone, and every trial trains with
that seed (the same split), so the results do not depend on the workers. A trial that fails by
itself (divergence, settings that do not fit) is recorded as failed and the sweep goes on. A
sweep stopped at any moment continues with --resume DIR, running only what had not finished;
--resume of a finished sweep prints its results and starts no cluster.
"""

SWEEP_EXAMPLES = """\
examples:
  chainrule sweep --param lr=loguniform:1e-4:1e-1 --param reg=loguniform:1e-6:1e-2 --trials 20
  chainrule sweep --model softmax --epochs 10 --param lr=loguniform:1e-3:1:4 --strategy grid
  chainrule sweep --space space.toml --trials 27 --strategy halving --epochs 27 --out sweeps/h
  chainrule sweep --param lr=loguniform:1e-4:1e-1 --trials 40 --scheduler tcp://10.0.0.5:8786
  chainrule sweep --resume sweeps/h                    # continue a stopped sweep
"""


def add_parser(sub) -> None:
    """Add the subcommand's parser to ``sub`` (argparse subparsers); it runs :func:`run`."""
    from chainrule.sweep import METRICS, STRATEGIES

    p = sub.add_parser("sweep", help="a hyper-parameter search over training runs, on Dask",
                       description=SWEEP_HELP, epilog=SWEEP_EXAMPLES, formatter_class=Formatter)
    add_training_options(p)
    g = p.add_argument_group("search")
    g.add_argument("--param", action="append", default=[], metavar="NAME=DIST",
                   help="a setting and its distribution: uniform:LOW:HIGH[:N], loguniform:LOW:HIGH[:N], "
                        "int:LOW:HIGH or choice:A,B,... (repeat for each parameter)")
    g.add_argument("--space", metavar="FILE", help="the search space in a .toml or .json file")
    g.add_argument("--trials", type=int_at_least(1), metavar="N",
                   help="how many trials (random, halving: required); grid: at most N points (default: all)")
    g.add_argument("--strategy", choices=STRATEGIES,
                   help="random draws (default), every point of a grid, or successive halving: all trials "
                        "train a few epochs, the best 1/eta go on with eta times more, from their checkpoints")
    g.add_argument("--metric", choices=tuple(METRICS), help="what 'best' means: val_acc (default, higher) "
                                                             "or val_loss (lower)")
    g.add_argument("--eta", type=int_at_least(2), help="halving: the factor between rungs (default: 3)")
    g.add_argument("--min-epochs", type=int_at_least(1), metavar="N",
                   help="halving: the first rung's epochs (default: epochs / eta^2)")
    g = p.add_argument_group("cluster")
    g.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run on this Dask scheduler's workers (default: a local cluster, started and stopped here)")
    g.add_argument("--workers", type=int_at_least(1), metavar="N",
                   help="the local cluster's worker processes (default: one per core)")
    g.add_argument("--connect-timeout", type=positive_float, metavar="SECONDS",
                   help="how long to wait for --scheduler before giving up (default: 10)")
    g = p.add_argument_group("output")
    g.add_argument("--out", metavar="DIR",
                   help="the sweep folder, new or empty (default: sweeps/DATA-MODEL-YYYYmmdd-HHMMSS)")
    g.add_argument("--resume", metavar="DIR", help="continue the sweep in DIR with its saved settings")
    g.add_argument("--no-trial-plots", action="store_true",
                   help="leave the pictures (curves.png, weights.png, ...) out of the trial folders; they "
                        "cost a worker about half a second a trial")
    g.add_argument("--json", action="store_true",
                   help="print one JSON object with the results on stdout instead of the progress bar and table")
    p.set_defaults(func=run)


def given_settings(args) -> dict:
    """The training options given on the command line, as run settings (the rest take defaults)."""
    from chainrule.runs import RunSettings
    import dataclasses

    return {f.name: getattr(args, f.name) for f in dataclasses.fields(RunSettings)
            if getattr(args, f.name, None) is not None}


def run(args) -> int:
    """``chainrule sweep``: see the module docstring and ``chainrule sweep --help``."""
    from chainrule import sweep as sweeps
    from chainrule.sweep.runner import DaskMissing

    settings = given_settings(args)
    try:
        if args.resume is not None:
            if args.out is not None and Path(args.out).resolve() != Path(args.resume).resolve():
                raise UsageError(f"--resume {args.resume} and --out {args.out} name different folders; give one")
            out, resume = None, Path(args.resume)
            space = None
            if args.param or args.space:
                space = sweeps.parse_params(args.param, sweeps.load_space(args.space) if args.space else None)
        else:
            space = sweeps.parse_params(args.param, sweeps.load_space(args.space) if args.space else None)
            out, resume = (Path(args.out) if args.out is not None else
                          new_folder("sweeps", settings.get("data", "digits"), settings.get("model", "mlp"))), None
        study = sweeps.run_study(
            space, settings=settings, trials=args.trials, strategy=args.strategy, metric=args.metric,
            seed=settings.pop("seed", None), out=out, resume=resume, scheduler=args.scheduler,
            workers=args.workers, eta=args.eta, min_epochs=args.min_epochs, progress=not args.json,
            connect_timeout=args.connect_timeout, trial_plots=not args.no_trial_plots)
    except (ConnectionError, DaskMissing) as exc:  # the environment, not the input: exit 1
        stderr_line(f"chainrule: error: {one_line(exc)}")
        return 1
    except KeyboardInterrupt:
        where = resume or out
        raise Interrupted(f"interrupted; the finished trials are in {where}, continue with "
                                f"chainrule sweep --resume {where}") from None
    return _report(study, args.json)


def _report(study, as_json: bool) -> int:
    from chainrule.sweep import format_table

    metric = study.spec.metric
    records = study.records()
    best = study.best()
    summary = {"out": str(study.out), "metric": metric, "strategy": study.spec.strategy,
               "trials": len(study.trials), "ok": sum(t.status == "ok" for t in study.trials),
               "failed": sum(t.status == "failed" for t in study.trials),
               "best": None if best is None else {"trial": best.index, metric: best.value(metric),
                                                  "params": best.params, "folder": str(study.trial_dir(best))},
               "records": records}
    if as_json:
        emit_json(summary)
        return 0
    say(format_table(records, metric))
    if best is None:
        say(f"no trial finished; sweep folder {study.out}")
        return 1
    params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in best.params.items())
    say(f"best: trial {best.index} ({params}), {metric} {best.value(metric):.4g}; "
        f"{summary['ok']} ok, {summary['failed']} failed of {summary['trials']}")
    say(f"sweep folder {study.out}: sweep.json, sweep.csv, trials/, model.npz (the best model); "
        f"chainrule evaluate {study.trial_dir(best)}")
    return 0
