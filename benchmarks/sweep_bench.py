"""The sweep benchmark: 16 short trials on 2 local Dask workers against 1, and the cost of a trial.

    OPENBLAS_NUM_THREADS=1 python benchmarks/sweep_bench.py [--trials 16] [--repeats 2] [--out FILE]

Measured side by side, alternating A B A B and keeping the best of each (harness.compare):

- ``workers_2`` and ``workers_1``: the wall time of ``chainrule.sweep`` with a local cluster of
  2 worker processes and of 1, cluster start and stop included (what a user waits for);
  target: ``workers_2 / workers_1 <= 0.55``;
- ``run_on_2`` and ``run_on_1``: the same sweep on clusters started beforehand (the trials, the
  transfers and the writing, without the start of the worker processes);
- ``in_process``: the same 16 training runs, one after another, by ``chainrule.runs.train_run``
  in this process (the work itself, no Dask, no files);
- ``train_cli``: one ``chainrule train`` of the same settings as a fresh process (what running
  the trials by hand costs each time: Python start, imports, data, training, writing the folder).

The overhead per trial of a sweep is ``(workers_1 - in_process) / trials``: cluster start,
moving results, writing each trial's run folder, the progress bar. On a shared 2-core machine
the 2-worker ratio measures the spare core as much as chainrule: run it when the machine is quiet.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

TARGET = 0.55
SETTINGS = {"data": "digits", "model": "mlp", "hidden": [64], "epochs": 8, "n_samples": 1000}  # ~0.1 s a trial
PARAMS = ["lr=loguniform:1e-3:3e-2", "reg=loguniform:1e-6:1e-3"]


def main(argv=None) -> int:
    import chainrule as cr
    from chainrule.runs import RunSettings, train_run
    from chainrule.sweep.trial import RunsTrial

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="chainrule-sweep-bench-"))
    count = iter(range(10 ** 6))

    def sweep(workers):
        return lambda: cr.sweep(params=PARAMS, trials=args.trials, workers=workers, settings=SETTINGS,
                                out=tmp / f"s{next(count)}", as_frame=False)

    study = cr.sweep.Study.create(cr.sweep.SweepSpec(cr.sweep.parse_params(PARAMS),
                                                     RunsTrial().base_settings(SETTINGS), trials=args.trials),
                                  RunsTrial())
    every = [RunSettings.from_dict(study.settings_for(t, SETTINGS["epochs"])) for t in study.trials]

    def in_process():
        for s in every:
            train_run(s)

    def train_cli():
        flags = ["--data", "digits", "--hidden", "64", "--epochs", "8", "--n-samples", "1000",
                 "--lr", "0.01", "--out", str(tmp / f"t{next(count)}")]
        subprocess.run([sys.executable, "-m", "chainrule", "train", *flags], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    from chainrule.sweep.runner import open_client

    def phase(client):  # the sweep on a cluster already started: the trials and their writing only
        return lambda: cr.sweep.Study.create(study.spec, RunsTrial(), tmp / f"p{next(count)}").run(client)

    with open_client(workers=2) as two, open_client(workers=1) as one:
        phases = harness.compare({"run_on_2": phase(two), "run_on_1": phase(one)}, repeats=args.repeats, warmup=0)
    detailed = harness.compare_detailed({"workers_2": sweep(2), "workers_1": sweep(1), "in_process": in_process,
                                         "train_cli": train_cli}, repeats=args.repeats, warmup=0)
    best = {**detailed["best"], **phases}
    ratio = best["workers_2"] / best["workers_1"]
    overhead = (best["workers_1"] - best["in_process"]) / args.trials
    report = {"trials": args.trials, "run_ratio_2_over_1": best["run_on_2"] / best["run_on_1"], "settings": SETTINGS, "params": PARAMS, "best_seconds": best,
              "ratio_2_over_1": ratio, "target": TARGET, "overhead_per_trial_seconds": overhead,
              "train_run_per_trial_seconds": best["in_process"] / args.trials,
              "train_cli_seconds": best["train_cli"], "cores": os.cpu_count(),
              "loadavg": os.getloadavg()}
    print(json.dumps(report, indent=2, default=str))
    print(f"on started clusters, 2 workers / 1 worker: {best['run_on_2'] / best['run_on_1']:.2f}")
    print(f"2 workers / 1 worker: {ratio:.2f} (target <= {TARGET}); overhead per trial "
          f"{overhead * 1000:.0f} ms over train_run's {best['in_process'] / args.trials * 1000:.0f} ms; "
          f"one 'chainrule train' process: {best['train_cli']:.2f} s")
    if args.out:
        harness.write_results(args.out, report)
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
