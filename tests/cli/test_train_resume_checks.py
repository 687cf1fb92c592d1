"""`chainrule train --resume` on a tampered checkpoint, `--n-samples` and `--crop` bounds: refused
before anything is printed or written, one line naming the file and the field, exit 2."""
from __future__ import annotations

import hashlib
import io as _io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import run_cli


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A tiny finished run: 2 epochs of an MLP with Adam on 100 moons."""
    cwd = tmp_path_factory.mktemp("finished")
    result = run_cli("train", "--data", "moons", "--n-samples", "100", "--epochs", "2", "-q", "-o", "RUN",
                     cwd=cwd)
    assert result.returncode == 0, result.stderr
    return cwd / "RUN"


def tamper(path: Path, change) -> None:
    """Rewrite the archive at ``path`` raw (no validation): ``change(meta, arrays)`` edits them."""
    with zipfile.ZipFile(path) as z:
        arrays = {n[:-4]: np.load(_io.BytesIO(z.read(n))) for n in z.namelist()}
    meta = json.loads(arrays.pop("__meta__").tobytes())
    change(meta, arrays)
    meta["arrays"] = {k: {"shape": list(v.shape), "dtype": v.dtype.name} for k, v in arrays.items()}
    with zipfile.ZipFile(path, "w") as out:
        for name, value in [("__meta__", np.frombuffer(json.dumps(meta).encode(), np.uint8)), *arrays.items()]:
            with out.open(name + ".npy", "w") as member:
                np.lib.format.write_array(member, value)


def digests(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _set(*keys, value):
    def change(meta, arrays):
        node = meta
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return change


def _delete(key):
    return lambda meta, arrays: meta.pop(key)


def _array(name, value):
    return lambda meta, arrays: arrays.__setitem__(name, value)


def _drop_array(name):
    return lambda meta, arrays: arrays.pop(name)


def _third_record(meta, arrays):
    meta["history"].append(dict(meta["history"][-1], epoch=3))
    meta["config"]["epochs"] = 3


CASES = [
    (_set("history", 0, "loss", value="a"), "the field 'history[0].loss' must be a finite number; got \"a\""),
    (_set("history", 1, "val_acc", value=7), "the field 'history[1].val_acc' must be a finite number in [0, 1]"),
    (_set("config", "lr", value="x"), "the field 'config.lr' must be a finite number > 0; got \"x\""),
    (_set("epoch", value=10**9), "the field 'epoch' is 1000000000 but the field 'history' holds 2 record(s)"),
    (_third_record, "the field 'epoch' is 2 but the field 'history' holds 3 record(s)"),
    (_delete("optimizer"), "the field 'optimizer' is missing or null; this run trains with Adam"),
    (_set("optimizer", value=None), "the field 'optimizer' is missing or null; this run trains with Adam"),
    (_set("optimizer", "param_groups", 0, "betas", value=[2, 3]),
     "the field 'optimizer' is not the state of its Adam: betas[0] must be a finite number in [0, 1); got 2"),
    (_set("optimizer", "param_groups", 0, "params", value=[0, 1, 2, 99]),
     "the field 'optimizer.param_groups' must number its parameters 0 to 3, once each and in order"),
    (_set("optimizer", "state", "0", "step", value="x"),
     "the field 'optimizer.state.0.step' must be a whole number >= 0; got \"x\""),
    (_set("optimizer", "state", "0", "exp_avg", value={"__array__": "nope"}),
     "the field 'optimizer.state.0.exp_avg' refers to the array \"nope\", which the file does not hold"),
    (_array("optimizer/state/0/exp_avg", np.zeros(3, np.float32)),
     "the field 'optimizer' is not the state of its Adam: state 'exp_avg' of parameter 0"),
    (_set("rng", "state", "state", value="x"), "the field 'rng' is not the state of a PCG64 generator"),
    (_set("rng", "bit_generator", value="nope"), "the field 'rng.bit_generator' must be one of"),
    (_set("callbacks", value="x"), "the field 'callbacks' must be an object; got \"x\""),
    (_set("stopped", value="yes"), "the field 'stopped' must be true or false; got \"yes\""),
    (_set("step", value="bogus"), "the field 'step' is 'bogus'; this run trains with the autodiff step"),
    (_set("step", value="analytic"), "the field 'step' is 'analytic'; this run trains with the autodiff step"),
    (_drop_array("model/0.weight"), "it holds no array 'model/0.weight'"),
    (_array("model/9.weight", np.zeros(2, np.float32)), "the array(s) 'model/9.weight' are no part of the model"),
    (_array("model/0.weight", np.zeros((3, 3), np.float32)),
     "the array 'model/0.weight' has shape (3, 3); the model's is (128, 2)"),
]


@pytest.mark.parametrize(("change", "message"), CASES)
def test_a_tampered_checkpoint_is_refused_before_anything_is_printed_or_written(
        finished_run, tmp_path, change, message):
    run = tmp_path / "RUN"
    run.mkdir()
    for p in finished_run.iterdir():
        (run / p.name).write_bytes(p.read_bytes())
    tamper(run / "checkpoint.npz", change)
    before = digests(run)
    result = run_cli("train", "-q", "--resume", "RUN", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "RUN/checkpoint.npz" in lines[0] and message in lines[0], lines[0]
    assert digests(run) == before  # metrics, model, plots and checkpoint byte-identical
    assert sorted(p.name for p in run.iterdir()) == sorted(before)  # no lock or temporary left


def test_the_untampered_checkpoint_resumes(finished_run, tmp_path):
    run = tmp_path / "RUN"
    run.mkdir()
    for p in finished_run.iterdir():
        (run / p.name).write_bytes(p.read_bytes())
    tamper(run / "checkpoint.npz", lambda meta, arrays: None)  # the same content, rewritten raw
    result = run_cli("train", "-q", "--resume", "RUN", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["epochs"] == 2


def test_a_checkpoint_that_is_a_folder_is_named_once(finished_run, tmp_path):
    run = tmp_path / "RUN"
    run.mkdir()
    for p in finished_run.iterdir():
        if p.name != "checkpoint.npz":
            (run / p.name).write_bytes(p.read_bytes())
    (run / "checkpoint.npz").mkdir()
    result = run_cli("train", "-q", "--resume", "RUN", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == ("chainrule: error: RUN/checkpoint.npz is a folder, not a checkpoint file; "
                                     "remove it (the run then starts again from its first epoch) or restore "
                                     "the file")


@pytest.mark.parametrize(("args", "message"), [
    (["--data", "spiral", "--n-samples", "1000000000000"],
     "--n-samples must be a whole number in [1, 10000000]; got 1000000000000"),
    (["--model", "cnn", "--crop", "1000000"],
     "--crop (the padding of a random crop of the 8x8 images of digits) must be a whole number in [0, 8]; got 1000000"),
], ids=["n-samples", "crop"])
def test_sizes_have_an_upper_bound_before_anything_is_allocated_or_printed(tmp_path, args, message):
    result = run_cli("train", *args, "--out", "D", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == f"chainrule: error: {message}"
    assert not (tmp_path / "D").exists()
