"""How a worker finds out that it sees the client's sweep folder, and how the client writes the
files of a worker that does not."""
from __future__ import annotations

import json
import uuid

import pytest

from chainrule.sweep.runner import Destination, execute, sees_sweep, write_files
from toy_trial import ToyTrial


def test_a_worker_sees_the_sweep_folder_only_when_its_sweep_json_names_the_session(tmp_path):
    marker = tmp_path / "sweep.json"
    session = uuid.uuid4().hex
    assert not sees_sweep(str(marker), session)  # no such file here: another machine's folder
    marker.write_text(json.dumps({"session": uuid.uuid4().hex}))
    assert not sees_sweep(str(marker), session)  # a folder of the same name, another sweep
    later = uuid.uuid4().hex
    marker.write_text(json.dumps({"session": later}))
    assert sees_sweep(str(marker), later)
    (tmp_path / "bad.json").write_text("[1, 2]")
    assert not sees_sweep(str(tmp_path / "bad.json"), later)
    (tmp_path / "deep.json").write_text("[" * 100_000)  # nested past Python's parser: not this sweep
    assert not sees_sweep(str(tmp_path / "deep.json"), later)


def test_execute_writes_in_place_or_sends_the_files_back(tmp_path):
    session = uuid.uuid4().hex
    (tmp_path / "sweep.json").write_text(json.dumps({"session": session}))
    settings = ToyTrial().base_settings({"epochs": 2})
    folder = tmp_path / "trials" / "000"
    here = execute(ToyTrial(), settings, destination=Destination(str(folder), str(tmp_path / "sweep.json"), session))
    alone = ToyTrial()(settings)
    assert here == {"status": "ok", "metrics": alone["metrics"], "seconds": here["seconds"], "written": True}
    assert json.loads((folder / "checkpoint.json").read_text()) == alone["checkpoint"]
    away = execute(ToyTrial(), settings, destination=Destination(str(tmp_path / "x"), str(tmp_path / "sweep.json"),
                                                                  session, shared=False))
    assert sorted(away["files"]) == ["checkpoint.json", "result.json"] and not (tmp_path / "x").exists()
    write_files(tmp_path / "copy", away["files"])
    assert (tmp_path / "copy" / "checkpoint.json").read_text() == (folder / "checkpoint.json").read_text()
    # With no folder to write, the checkpoint comes back (a halving sweep in memory goes on from it).
    assert execute(ToyTrial(), settings)["checkpoint"] == alone["checkpoint"]
    failed = execute(ToyTrial(), {**settings, "lr": 100.0}, destination=Destination(str(tmp_path / "y"), "", session))
    assert failed["status"] == "failed" and "files" not in failed and not (tmp_path / "y").exists()


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/passwd", ""])
def test_write_files_refuses_a_path_outside_the_trial_folder(tmp_path, name):
    with pytest.raises(ValueError, match="expected a relative path and bytes"):
        write_files(tmp_path / "t", {name: b"x"})
    assert not (tmp_path / "escape.txt").exists()


def test_the_local_cluster_runs_its_workers_with_one_blas_thread_and_no_profiler():
    # open_client() with no scheduler starts the embedded cluster with LOCAL_CLUSTER_CONFIG: the
    # worker processes receive it (the statistical profiler off, the monitors slowed down) and
    # the client's config is its own again once the cluster is shut down.
    pytest.importorskip("distributed")
    import dask

    from chainrule.sweep.runner import LOCAL_CLUSTER_CONFIG, open_client

    def seen():
        import os

        import dask

        return ({key: dask.config.get(key) for key in LOCAL_CLUSTER_CONFIG}, os.environ.get("OPENBLAS_NUM_THREADS"))

    before = {key: dask.config.get(key) for key in LOCAL_CLUSTER_CONFIG}
    assert before["distributed.worker.profile.enabled"] is True  # Dask's default, which the cluster turns off
    with open_client(workers=1) as client:
        (config, blas), = client.run(seen).values()
    assert config == LOCAL_CLUSTER_CONFIG
    assert blas == "1"
    assert {key: dask.config.get(key) for key in LOCAL_CLUSTER_CONFIG} == before
