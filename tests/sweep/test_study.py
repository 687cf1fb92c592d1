"""Sweeps on real Dask clusters (a scheduler and workers started as subprocesses), with a toy
trial whose every result the test computes itself by running the trial in this process."""
from __future__ import annotations

import csv
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

import chainrule as cr  # noqa: E402
from chainrule.sweep import Study, SweepSpec, parse_params  # noqa: E402
from chainrule.sweep.runner import SchedulerUnreachable  # noqa: E402
from toy_trial import ToyTrial  # noqa: E402

HERE = Path(__file__).resolve().parent
SPACE = ["lr=loguniform:1e-2:10", "reg=loguniform:1e-5:1e-1"]


def make_study(out=None, *, params=SPACE, trials=6, strategy="random", settings=None, trial=None,
               shared_folder=None, **kw):
    spec = SweepSpec(parse_params(params), ToyTrial().base_settings(settings or {}), strategy=strategy,
                     trials=trials, **kw)
    return Study.create(spec, trial or ToyTrial(), out, shared_folder)


def alone(study, t, epochs=None):
    """What the trial gives when run by itself in this process: the reference for every sweep."""
    return ToyTrial()(study.settings_for(t, epochs or study.spec.settings["epochs"]))["metrics"]


def read_sweep(out: Path) -> dict:
    return json.loads((out / "sweep.json").read_text())


def test_a_sweep_on_two_workers_gives_each_trial_what_it_gives_alone(client, tmp_path):
    out = tmp_path / "s"
    study = make_study(out).run(client)
    for t in study.trials:
        assert t.status == "ok" and t.rungs[0]["metrics"] == alone(study, t)
    saved = read_sweep(out)
    assert [t["index"] for t in saved["trials"]] == list(range(6))
    assert all(t["status"] == "ok" and len(t["rungs"]) == 1 for t in saved["trials"])
    assert saved["spec"]["space"]["lr"] == {"dist": "loguniform", "low": 0.01, "high": 10.0}
    best = max(study.trials, key=lambda t: (t.value("val_acc"), -t.index))
    assert saved["best"]["trial"] == study.best().index
    assert study.best().value("val_acc") == best.value("val_acc")
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert len(rows) == 6 and rows[0]["trial"] == str(study.records()[0]["trial"])
    accs = [float(r["val_acc"]) for r in rows]
    assert accs == sorted(accs, reverse=True)  # best first
    for t in study.trials:
        written = json.loads((study.trial_dir(t) / "result.json").read_text())
        assert written["settings"] == study.settings_for(t, 4)
        # Every trial trains with the sweep's seed: the same split and initial weights for all.
        assert written["settings"]["seed"] == 0 and written["settings"]["lr"] == t.params["lr"]
    assert (out / "scores.png").stat().st_size > 0 and (out / "lr_reg.png").stat().st_size > 0


def test_a_worker_killed_mid_sweep_has_its_trial_run_elsewhere_and_every_trial_finishes_once(new_cluster, tmp_path):
    cluster = new_cluster()
    cluster.add_workers("w0", "victim")
    runs = tmp_path / "runs"
    runs.mkdir()
    out = tmp_path / "s"
    study = make_study(out, trials=8, settings={"sleep": 0.15, "epochs": 3}, trial=ToyTrial(runs))
    with distributed.Client(cluster.address, timeout=60) as client:
        killed = []

        def kill_when_busy():
            # As soon as the victim starts a trial (the toy trial logs its start), kill it: the
            # trial sleeps 0.45 s in all, so it dies in the middle.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                started = [p.name for p in runs.iterdir() if "@victim@" in p.name]
                if started:
                    cluster.kill("victim")
                    killed.append(started[0].split("@")[0])
                    return
                time.sleep(0.01)

        watcher = threading.Thread(target=kill_when_busy)
        watcher.start()
        study.run(client)
        watcher.join()
    assert killed
    saved = read_sweep(out)
    assert sorted(t["index"] for t in saved["trials"]) == list(range(8))
    assert all(t["status"] == "ok" and len(t["rungs"]) == 1 for t in saved["trials"])
    for t in study.trials:
        assert t.rungs[0]["metrics"] == alone(study, t)
    started = [p.name.split("@")[:2] for p in runs.iterdir()]
    assert {trial for trial, _ in started} == {f"{t.params['lr']!r}-3" for t in study.trials}
    # The killed worker's trial started twice, there and then on the other worker.
    assert sorted(w for trial, w in started if trial == killed[0])[-2:] == ["victim", "w0"]


def test_successive_halving_continues_the_best_third_from_their_checkpoints(client, tmp_path):
    study = make_study(tmp_path / "s", trials=9, strategy="halving", settings={"epochs": 9}, metric="val_loss")
    assert study.spec.budgets() == [1, 3, 9]
    study.run(client)
    reached = {n: [t for t in study.trials if len(t.rungs) >= n] for n in (1, 2, 3)}
    assert [len(reached[n]) for n in (1, 2, 3)] == [9, 3, 1]
    for n, epochs in ((1, 1), (2, 3), (3, 9)):
        for t in reached[n]:
            assert t.rungs[n - 1]["epochs"] == epochs
            # Resumed from its checkpoint, it ends exactly where training from scratch does.
            assert t.rungs[n - 1]["metrics"] == alone(study, t, epochs)
    for n in (1, 2):  # the ones that went on had the lowest val_loss of their rung
        loss = sorted(t.value("val_loss", n - 1) for t in reached[n])
        assert sorted(t.value("val_loss", n - 1) for t in reached[n + 1]) == loss[:len(reached[n + 1])]
    assert study.best() is reached[3][0]
    assert study.records()[0]["trial"] == reached[3][0].index and study.records()[0]["epochs"] == 9


def test_a_trial_that_fails_by_itself_is_recorded_and_the_sweep_goes_on(client, tmp_path):
    study = make_study(tmp_path / "s", params=["lr=choice:0.5,100", "model=choice:toy,other"],
                       strategy="grid").run(client)
    by = {(t.params["lr"], t.params["model"]): t for t in study.trials}
    assert by[(0.5, "toy")].status == "ok"
    assert by[(100, "toy")].status == "failed"
    assert by[(100, "toy")].rungs[0]["error"] == "FloatingPointError: the loss diverged at lr 100"
    assert by[(0.5, "other")].rungs[0]["error"] == "ValueError: unknown model 'other'"
    records = study.records()
    assert [r["status"] for r in records] == ["ok", "failed", "failed", "failed"]
    assert records[0]["trial"] == by[(0.5, "toy")].index
    assert [t["status"] for t in read_sweep(tmp_path / "s")["trials"]] == [t.status for t in study.trials]
    assert not study.trial_dir(by[(100, "toy")]).exists()


KILLED_CLIENT = """
import sys
sys.path.insert(0, {here!r})
import chainrule.sweep as S
from toy_trial import ToyTrial
S.run_study(params={space!r}, trials=9, strategy="halving", settings={{"epochs": 9, "sleep": 0.1}},
            out={out!r}, scheduler={address!r}, trial=ToyTrial())
"""


def test_a_killed_sweep_resumed_ends_as_an_uninterrupted_one(client, cluster, tmp_path):
    out = tmp_path / "killed"
    code = KILLED_CLIENT.format(here=str(HERE), space=SPACE, out=str(out), address=cluster.address)
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:  # killed during rung 1, after some of its trials finished
                trials = read_sweep(out)["trials"]
                if sum(len(t["rungs"]) >= 2 for t in trials) >= 1:
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.02)
        assert proc.poll() is None, proc.stderr.read().decode()
        proc.kill()
    finally:
        proc.wait(10)
    partial = read_sweep(out)["trials"]
    assert sum(len(t["rungs"]) for t in partial) < 9 + 3 + 1
    resumed = cr.sweep.run_study(resume=out, scheduler=cluster.address, trial=ToyTrial())
    whole = make_study(tmp_path / "whole", trials=9, strategy="halving", settings={"epochs": 9, "sleep": 0.1})
    whole.run(client)
    def results(study):  # everything but the seconds
        return [(t.index, t.params, [{k: v for k, v in r.items() if k != "seconds"} for r in t.rungs])
                for t in study.trials]

    assert results(resumed) == results(whole)
    assert [len(t.rungs) for t in whole.trials].count(3) == 1
    assert [t.status for t in resumed.trials] == [t.status for t in whole.trials]


def test_the_embedded_cluster_with_one_worker_gives_what_two_workers_give(client, tmp_path):
    # chainrule.sweep(...) with no scheduler: a LocalCluster of one worker process, started and
    # stopped by the call; the same sweep on the two-worker cluster gives identical metrics.
    rows = cr.sweep(params=SPACE, trials=6, workers=1, trial=ToyTrial(), as_frame=False)
    two = make_study(trials=6).run(client)
    def without_seconds(records):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in records]

    assert [r["trial"] for r in rows] == [r["trial"] for r in two.records()]
    assert without_seconds(rows) == without_seconds(two.records())
    frame = cr.sweep(params=SPACE, trials=2, workers=1, trial=ToyTrial())
    pytest.importorskip("pandas")
    assert list(frame["trial"]) == [r["trial"] for r in make_study(trials=2).run(client).records()]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_scikit_learn_search_runs_on_the_same_cluster_through_joblibs_dask_backend(client):
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.model_selection import GridSearchCV
    from sklearn.preprocessing import StandardScaler

    from chainrule.estimators import SoftmaxClassifier

    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    grid = {"alpha": [1e-4, 1e-2], "learning_rate_init": [0.01, 0.1]}
    here = GridSearchCV(SoftmaxClassifier(max_iter=300, random_state=0), grid, cv=3).fit(X, y)
    with joblib.parallel_backend("dask"):
        there = GridSearchCV(SoftmaxClassifier(max_iter=300, random_state=0), grid, cv=3, n_jobs=-1).fit(X, y)
    assert list(there.cv_results_["mean_test_score"]) == list(here.cv_results_["mean_test_score"])
    assert there.best_score_ > 0.8
    assert sum(client.run(lambda: 1).values()) == 2  # both workers are still there


# ---------------------------------------------------------------------- bad input
def test_more_grid_points_than_trials_is_an_error():
    with pytest.raises(ValueError, match="the grid has 6 points but --trials is 4"):
        make_study(params=["lr=loguniform:1e-2:1:3", "reg=choice:0,0.1"], strategy="grid", trials=4)


@pytest.mark.parametrize("kw, words", [
    ({"strategy": "bayes"}, "strategy must be one of random, grid, halving; got 'bayes'"),
    ({"metric": "accuracy"}, "metric must be one of val_acc, val_loss; got 'accuracy'"),
    ({"params": ["lr=uniform:0:1", "width=int:1:3"]}, "the space names 'width', which is not a setting"),
    ({"params": ["epochs=int:1:3"], "strategy": "halving"}, "halving chooses the epochs of each rung"),
    ({"trials": 0}, "trials must be None or a whole number in [1, 100000]; got 0"),
    ({"trials": 10 ** 12}, "trials must be None or a whole number in [1, 100000]; got 1000000000000"),
    ({"strategy": "halving", "eta": 1}, "eta (the halving factor) must be a whole number >= 2"),
])
def test_bad_sweep_settings_say_what_was_expected(kw, words):
    with pytest.raises(ValueError) as info:
        make_study(**kw)
    assert words in str(info.value)


def test_a_folder_holding_another_sweep_is_not_overwritten(client, tmp_path):
    out = tmp_path / "s"
    make_study(out, trials=1).run(client)
    before = (out / "sweep.json").read_bytes()
    with pytest.raises(ValueError, match=f"--out {out} already holds a sweep; continue it with --resume"):
        make_study(out, trials=1)
    assert (out / "sweep.json").read_bytes() == before
    with pytest.raises(ValueError, match="resume continues a sweep with its saved settings; these differ: trials 5"):
        cr.sweep(resume=out, trials=5, trial=ToyTrial(), scheduler="tcp://127.0.0.1:1")
    assert (out / "sweep.json").read_bytes() == before


def test_an_unreachable_scheduler_is_a_connection_error_naming_it():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SchedulerUnreachable, match=f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port} within 1 s"):
        cr.sweep(params=SPACE, trials=1, trial=ToyTrial(), scheduler=f"tcp://127.0.0.1:{port}", connect_timeout=1)
    with pytest.raises(ValueError, match="--scheduler 'localhost': expected an address such as tcp://HOST:8786"):
        cr.sweep(params=SPACE, trials=1, trial=ToyTrial(), scheduler="localhost")


def test_workers_that_see_the_sweep_folder_write_the_trials_there_and_others_send_the_files(client, tmp_path):
    shared = make_study(tmp_path / "shared", trials=4).run(client)
    sent = make_study(tmp_path / "sent", trials=4, shared_folder=False).run(client)
    assert shared.records() != [] and [
        {k: v for k, v in r.items() if k not in ("seconds", "folder")} for r in shared.records()] == [
        {k: v for k, v in r.items() if k not in ("seconds", "folder")} for r in sent.records()]
    for t in shared.trials:
        written = json.loads((shared.trial_dir(t) / "result.json").read_text())
        assert written["written_in"] == str(shared.trial_dir(t).resolve())  # in place, by the worker
        other = json.loads((sent.trial_dir(t) / "result.json").read_text())
        assert Path(other["written_in"]).name.startswith("chainrule-trial-")  # a worker's temporary folder
        assert not Path(other["written_in"]).exists()
        assert (sent.trial_dir(t) / "checkpoint.json").read_text() == (shared.trial_dir(t) / "checkpoint.json").read_text()
    for study in (shared, sent):  # the sweep's plots, drawn on a worker, in place or sent back
        assert (study.out / "lr_reg.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="shared_folder must be None"):
        make_study(trials=1, shared_folder=True)


# ---------------------------------------------------------------------- parameters and the run settings' rules
RUN = {"data": "iris", "model": "softmax", "epochs": 1}


@pytest.mark.parametrize("param, settings, line", [
    ("lr=uniform:-1:-0.5", RUN,
     "the parameter lr=uniform:-1:-0.5: its low end -1 is not a value lr may take: "
     "--lr must be a finite number > 0; got -1.0"),
    ("lr=uniform:0:0.5", RUN,  # the high end is fine, the low one is not
     "the parameter lr=uniform:0:0.5: its low end 0 is not a value lr may take: "
     "--lr must be a finite number > 0; got 0.0"),
    ("reg=uniform:-5:-1", RUN,
     "the parameter reg=uniform:-5:-1: its low end -5 is not a value reg may take: "
     "--reg must be a finite number >= 0; got -5.0"),
    ("batch_size=int:0:0", RUN,
     "the parameter batch_size=int:0:0: its low end 0 is not a value batch_size may take: "
     "--batch-size must be 'full' or a whole number >= 1; got 0"),
    ("test_size=uniform:0.1:1", RUN,
     "the parameter test_size=uniform:0.1:1: its high end 1 is not a value test_size may take: "
     "--test-size must be a fraction in [0, 1); got 1.0"),
    ("hidden=choice:64,a", {"data": "iris", "epochs": 1},
     "the parameter hidden=choice:64,a: its choice 'a' is not a value hidden may take: "
     "--hidden must be a whole number >= 1; got 'a'"),
    ("epochs=int:0:5", RUN,
     "the parameter epochs=int:0:5: its low end 0 is not a value epochs may take: "
     "--epochs must be a whole number >= 1; got 0"),
    ("hidden=choice:16,32", RUN,  # a setting the model does not take
     "the parameter hidden=choice:16,32: its choice 16 is not a value hidden may take: "
     "--hidden does not apply to --model softmax"),
])
def test_parameter_values_that_break_the_run_settings_rules_are_refused_before_a_cluster_starts(
        tmp_path, monkeypatch, param, settings, line):
    import chainrule.sweep.runner as runner

    def no_cluster(*args, **kwargs):
        raise AssertionError("a cluster was started")

    monkeypatch.setattr(runner, "open_client", no_cluster)
    with pytest.raises((TypeError, ValueError)) as info:
        cr.sweep.run_study(params=[param], trials=2, settings=settings, workers=1, out=tmp_path / "s")
    assert str(info.value) == line
    assert not (tmp_path / "s").exists()


def test_parameter_values_inside_the_rules_make_a_study():
    from chainrule.sweep.trial import RunsTrial

    trial = RunsTrial()
    spec = SweepSpec(parse_params(["lr=uniform:1e-3:0.5", "batch_size=choice:8,full", "epochs=int:1:3"]),
                     trial.base_settings(RUN), trials=3)
    study = Study.create(spec, trial)
    assert [sorted(t.params) for t in study.trials] == [["batch_size", "epochs", "lr"]] * 3
    assert all(1e-3 <= t.params["lr"] <= 0.5 and t.params["epochs"] in (1, 2, 3) for t in study.trials)


# ---------------------------------------------------------------------- sweep.json read back
def saved_runs_sweep(out, **kw):
    """A sweep of training runs saved before any trial ran (no cluster needed to write it)."""
    from chainrule.sweep.trial import RunsTrial

    trial = RunsTrial()
    spec = SweepSpec(parse_params(["lr=loguniform:1e-2:1", "hidden=choice:16,32"]),
                     trial.base_settings({"data": "iris", "epochs": 2}), trials=3, **kw)
    study = Study.create(spec, trial, out)
    study.save()
    return study, trial


OK_RUNG = {"epochs": 2, "status": "ok", "metrics": {"val_acc": 0.5, "val_loss": 1.0}, "seconds": 1.0, "error": None}


def _set(*keys, value):
    def change(d):
        for key in keys[:-1]:
            d = d[key]
        d[keys[-1]] = value
    return change


@pytest.mark.parametrize("change, words", [
    (_set("trials", 1, "index", value=0),
     "the field 'trials[1].index' is 0, the index of trials[0] too; each trial is listed once"),
    (_set("trials", 1, "index", value=-1), "the field 'trials[1].index' must be a whole number in [0, 99999]; got -1"),
    (_set("trials", 1, "index", value=3),
     "the field 'trials[1].index' must be a whole number in [0, 2] (the sweep has 3 trials); got 3"),
    (_set("trials", 1, "params", "lr", value="x"),
     "the field 'trials[1].params.lr' must be a finite number (of loguniform:0.01:1); got \"x\""),
    (_set("trials", 1, "params", "lr", value=5.0),
     "the field 'trials[1].params.lr' must be a number in [0.01, 1] (of loguniform:0.01:1); got 5.0"),
    (_set("trials", 1, "params", "hidden", value=17),
     "the field 'trials[1].params.hidden' must be one of the values of choice:16,32; got 17"),
    (_set("trials", 1, "params", value={"lr": 0.1}),
     "the field 'trials[1].params' must be an object of the space's parameters lr, hidden; got {\"lr\": 0.1}"),
    (_set("spec", "settings", "lr", value=-1), "the field 'spec.settings.lr' must be a finite number > 0; got -1"),
    (_set("spec", "settings", "epochs", value="2"), "the field 'spec.settings.epochs' must be a whole number >= 1; got \"2\""),
    (_set("spec", "settings", "width", value=3), "the field 'spec.settings': unknown run setting(s) 'width'"),
    (_set("spec", "trials", value=10 ** 12),
     "the field 'spec.trials' must be null or a whole number in [1, 100000]; got 1000000000000"),
    (_set("spec", "space", "lr", value="uniform:-1:1"),
     "the parameter lr=uniform:-1:1: its low end -1 is not a value lr may take: --lr must be a finite number > 0"),
    (_set("trials", 1, "status", value="bogus"),
     "the field 'trials[1].status' must be one of ok, failed, pending; got \"bogus\""),
    (_set("trials", 1, "rungs", value=[{**OK_RUNG, "status": "bogus"}]),
     "the field 'trials[1].rungs[0].status' must be one of ok, failed; got \"bogus\""),
    (_set("trials", 1, "rungs", value=[{**OK_RUNG, "metrics": {"val_acc": "x"}}]),
     "the field 'trials[1].rungs[0].metrics.val_acc' must be null or a finite number; got \"x\""),
    (_set("trials", 1, "rungs", value=[{**OK_RUNG, "metrics": {"loss": 1.0}}]),
     "the field 'trials[1].rungs[0]' is ok but has no val_acc (the sweep's metric)"),
    (_set("trials", 1, "rungs", value=[OK_RUNG, OK_RUNG]),
     "the field 'trials[1].rungs' must be a list of at most 1 rungs (the sweep's budgets [2])"),
    (_set("trials", value="x"), "the field 'trials' must be a list of objects; got \"x\""),
    (_set("kind", value="model"), "the field 'kind' must be one of chainrule-sweep; got \"model\""),
    (_set("format", value=2), "the field 'format' must be 1 (the sweep file versions this chainrule reads); got 2"),
])
def test_a_bad_sweep_json_is_refused_naming_the_field_and_left_as_it_was(tmp_path, change, words):
    from chainrule.io import FormatError

    out = tmp_path / "s"
    _, trial = saved_runs_sweep(out)
    saved = read_sweep(out)
    change(saved)
    (out / "sweep.json").write_text(json.dumps(saved))
    before = (out / "sweep.json").read_bytes()
    with pytest.raises(FormatError) as info:
        Study.load(out, trial)
    assert str(info.value).startswith(f"{out / 'sweep.json'}: {words}"), str(info.value)
    assert "\n" not in str(info.value)
    assert (out / "sweep.json").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["sweep.csv", "sweep.json"]


def test_a_sweep_json_read_back_unchanged_is_the_sweep_that_was_saved(tmp_path):
    study, trial = saved_runs_sweep(tmp_path / "s")
    again = Study.load(tmp_path / "s", trial)
    assert again.spec.to_dict() == study.spec.to_dict()
    assert [(t.index, t.params, t.rungs) for t in again.trials] == [(t.index, t.params, t.rungs) for t in study.trials]


def test_a_sweep_json_nested_too_deeply_is_a_format_error(tmp_path):
    from chainrule.io import FormatError

    out = tmp_path / "s"
    _, trial = saved_runs_sweep(out)
    (out / "sweep.json").write_text('{"format": 1, "kind": "chainrule-sweep", "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(FormatError, match="sweep.json: nested too deeply to be a chainrule sweep file"):
        Study.load(out, trial)


def test_a_halving_sweep_missing_a_trial_after_its_first_rung_is_refused(tmp_path):
    from chainrule.io import FormatError

    out = tmp_path / "h"
    make_study(out, trials=3, strategy="halving", settings={"epochs": 9}).save()
    saved = read_sweep(out)
    assert saved["budgets"] == [1, 3, 9]
    saved["trials"][0]["rungs"] = [{**OK_RUNG, "epochs": 1}, {**OK_RUNG, "epochs": 3}]
    del saved["trials"][2]
    (out / "sweep.json").write_text(json.dumps(saved))
    with pytest.raises(FormatError, match=r"sweep.json: the field 'trials' lacks the trial\(s\) 2, but the halving "
                                          "sweep has gone past its first rung"):
        Study.load(out, ToyTrial())
    del saved["trials"][0]["rungs"][1]  # still in its first rung: trial 2 runs again
    (out / "sweep.json").write_text(json.dumps(saved))
    loaded = Study.load(out, ToyTrial())
    assert [(t.index, t.status) for t in loaded.trials] == [(0, "ok"), (1, "pending"), (2, "pending")]


def test_a_trial_missing_from_sweep_json_is_run_again(client, tmp_path):
    out = tmp_path / "s"
    whole = make_study(out, trials=3).run(client)
    saved = read_sweep(out)
    lost = saved["trials"].pop(1)
    (out / "sweep.json").write_text(json.dumps(saved))
    resumed = Study.load(out, ToyTrial())
    assert [t.index for t in resumed.trials] == [0, 1, 2] and resumed.trials[1].status == "pending"
    assert resumed.trials[1].params == lost["params"]  # the trial that was lost: the seed and its index say which
    assert not resumed.finished() and resumed.remaining() == 1
    resumed.run(client)
    assert resumed.finished()
    assert [(t.index, t.params, t.rungs[0]["metrics"]) for t in resumed.trials] == \
        [(t.index, t.params, t.rungs[0]["metrics"]) for t in whole.trials]
    assert resumed.trials[1].rungs[0]["metrics"] == alone(resumed, resumed.trials[1])
    assert [t["index"] for t in read_sweep(out)["trials"]] == [0, 1, 2]


# ---------------------------------------------------------------------- epochs as a parameter
def test_a_trial_with_epochs_in_the_space_is_recorded_with_the_epochs_it_trained(client, tmp_path):
    from chainrule.sweep import format_table

    out = tmp_path / "s"
    study = make_study(out, params=["lr=loguniform:1e-2:10", "epochs=int:2:3"], trials=6).run(client)
    assert study.spec.settings["epochs"] == 4 and study.spec.budgets() == [4]
    drawn = [t.params["epochs"] for t in study.trials]
    assert set(drawn) == {2, 3}
    for t in study.trials:
        # The toy trial reports the epoch it ended at: it trained the trial's epochs, not the budget's 4.
        assert t.rungs[0]["metrics"]["epoch"] == t.params["epochs"] == t.rungs[0]["epochs"]
        assert t.rungs[0]["metrics"] == alone(study, t)
    assert [t["rungs"][0]["epochs"] for t in read_sweep(out)["trials"]] == drawn
    records = study.records()
    assert [r["epochs"] for r in records] == [study.trials[r["trial"]].params["epochs"] for r in records]
    with open(out / "sweep.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(int(r["trial"]), int(r["epochs"])) for r in rows] == [(r["trial"], r["epochs"]) for r in records]
    table = format_table(records, "val_acc").splitlines()
    column = table[0].split().index("epochs")
    assert [int(line.split()[column]) for line in table[2:2 + len(records)]] == [r["epochs"] for r in records]
    assert "4" not in {line.split()[column] for line in table[2:2 + len(records)]}
