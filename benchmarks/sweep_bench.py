"""The sweep benchmark: 16 short trials on 2 local Dask workers against 1, and where a trial's time goes.

    OPENBLAS_NUM_THREADS=1 python benchmarks/sweep_bench.py [--workload short|tiny] [--trials 16]
        [--repeats 2] [--no-phases] [--out FILE]

Two workloads (``WORKLOADS``): ``short``, the issue's "16 short trials" (a digits MLP 256-128,
30 epochs: about 2 s of training a trial, the length of a quick learning-rate search), and
``tiny`` (a 64-unit MLP on 1,000 digits, 8 epochs: 0.1 s of training, most of a trial's time
is its pictures), where the sweep's fixed cost (starting the cluster, the workers' first
imports, the final plots, the shutdown: about 3.5 s however many workers) is most of the time
and bounds the ratio (Amdahl).

Measured side by side, alternating A B A B and keeping the best of each (harness.compare):

- ``workers_2`` and ``workers_1``: the wall time of ``chainrule.sweep`` with a local cluster of
  2 worker processes and of 1, cluster start and stop included (what a user waits for);
  target: ``workers_2 / workers_1 <= 0.55``;
- ``run_on_2`` and ``run_on_1``: the same sweep on clusters started beforehand (the trials and
  their folders, without the start of the worker processes);
- ``in_process``: the same 16 runs trained and written (``train_run`` + ``write_run``, pictures
  included: the work of the trials) one after another in this process, no Dask;
- ``train_cli``: one ``chainrule train`` of the same settings as a fresh process (what running
  the trials by hand costs each time: Python start, imports, data, training, writing the folder).

``parts`` says where one trial's time goes, measured in this process (best of the repeats):
loading and splitting the data (a worker does it once: ``RunsTrial`` keeps it), training, writing
the run folder without pictures, and drawing the pictures; ``cluster_start`` is the time to
start a local cluster of 1 and of 2 workers (their first trial also imports chainrule's training
stack). The overhead per trial of a sweep is ``(workers_1 - in_process) / trials``. On a shared
2-core machine the 2-worker ratio measures the spare core as much as chainrule: run it when the
machine is quiet (the load average is in the report).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

TARGET = 0.55
WORKLOADS = {
    "short": {"data": "digits", "model": "mlp", "hidden": [256, 128], "epochs": 30},  # ~2 s a trial
    "tiny": {"data": "digits", "model": "mlp", "hidden": [64], "epochs": 8, "n_samples": 1000},  # ~0.1 s
}
PARAMS = ["lr=loguniform:1e-3:3e-2", "reg=loguniform:1e-6:1e-3"]


def main(argv=None) -> int:
    import chainrule as cr
    from chainrule.runs import RunSettings, prepare_data, prepare_run, train_run, write_run
    from chainrule.sweep.runner import open_client
    from chainrule.sweep.trial import RunsTrial

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", choices=sorted(WORKLOADS), default="short")
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--no-phases", action="store_true",
                    help="skip the sweeps on clusters started beforehand (run_on_2 / run_on_1)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    settings = WORKLOADS[args.workload]
    tmp = Path(tempfile.mkdtemp(prefix="chainrule-sweep-bench-"))
    count = iter(range(10 ** 6))

    def sweep(workers):
        return lambda: cr.sweep(params=PARAMS, trials=args.trials, workers=workers, settings=settings,
                                out=tmp / f"s{next(count)}", as_frame=False)

    study = cr.sweep.Study.create(cr.sweep.SweepSpec(cr.sweep.parse_params(PARAMS),
                                                     RunsTrial().base_settings(settings), trials=args.trials),
                                  RunsTrial())
    every = [RunSettings.from_dict(study.settings_for(t, settings["epochs"])) for t in study.trials]

    def in_process():
        for s in every:
            write_run(tmp / f"r{next(count)}", train_run(s))

    def train_cli():
        flags = ["--data", settings["data"], "--hidden", *map(str, settings["hidden"]), "--epochs",
                 str(settings["epochs"]), *(["--n-samples", str(settings["n_samples"])] if "n_samples" in settings else []),
                 "--lr", "0.01", "--out", str(tmp / f"t{next(count)}")]
        subprocess.run([sys.executable, "-m", "chainrule", "train", *flags], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    # Where one trial's time goes (this process, after a first run has imported everything).
    one = every[0]
    data = prepare_data(one)
    result = train_run(one, prepared=prepare_run(one, data))
    write_run(tmp / "warm", result)
    parts = harness.compare({
        "data": lambda: prepare_data(one),
        "train": lambda: train_run(one, prepared=prepare_run(one, data)),
        "folder": lambda: write_run(tmp / f"f{next(count)}", result, plots=False),
        "folder_and_pictures": lambda: write_run(tmp / f"f{next(count)}", result),
    }, repeats=max(3, args.repeats), warmup=0)
    parts["pictures"] = parts.pop("folder_and_pictures") - parts["folder"]

    def started(workers):
        def start_stop():
            with open_client(workers=workers):
                pass
        return start_stop

    cluster = harness.compare({"cluster_2": started(2), "cluster_1": started(1)}, repeats=args.repeats, warmup=0)

    def phase(client):  # the sweep on a cluster already started: the trials and their writing only
        return lambda: cr.sweep.Study.create(study.spec, RunsTrial(), tmp / f"p{next(count)}").run(client)

    phases = {}
    if not args.no_phases:
        with open_client(workers=2) as two, open_client(workers=1) as one_worker:
            for c in (two, one_worker):  # the workers' first trial imports the training stack: not timed
                phase(c)()
            phases = harness.compare({"run_on_2": phase(two), "run_on_1": phase(one_worker)},
                                     repeats=args.repeats, warmup=0)
    detailed = harness.compare_detailed({"workers_2": sweep(2), "workers_1": sweep(1), "in_process": in_process,
                                         "train_cli": train_cli}, repeats=args.repeats, warmup=0)
    best = {**detailed["best"], **phases}
    ratio = best["workers_2"] / best["workers_1"]
    run_ratio = best["run_on_2"] / best["run_on_1"] if phases else None
    overhead = (best["workers_1"] - best["in_process"]) / args.trials
    report = {"trials": args.trials, "workload": args.workload, "settings": settings, "params": PARAMS,
              "best_seconds": best,
              "parts_per_trial_seconds": parts, "cluster_start_stop_seconds": cluster,
              "ratio_2_over_1": ratio, "run_ratio_2_over_1": run_ratio, "target": TARGET,
              "overhead_per_trial_seconds": overhead,
              "in_process_per_trial_seconds": best["in_process"] / args.trials,
              "train_cli_seconds": best["train_cli"], "cores": os.cpu_count(),
              "loadavg": os.getloadavg()}
    print(json.dumps(report, indent=2, default=str))
    print("one trial: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in parts.items())
          + f"; cluster start+stop: 1 worker {cluster['cluster_1']:.2f} s, 2 workers {cluster['cluster_2']:.2f} s")
    if phases:
        print(f"on started clusters, 2 workers / 1 worker: {run_ratio:.2f}")
    print(f"2 workers / 1 worker: {ratio:.2f} (target <= {TARGET}); overhead per trial "
          f"{overhead * 1000:.0f} ms over the {best['in_process'] / args.trials * 1000:.0f} ms of training and "
          f"writing it in process; one 'chainrule train' process: {best['train_cli']:.2f} s")
    if args.out:
        harness.write_results(args.out, report)
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
