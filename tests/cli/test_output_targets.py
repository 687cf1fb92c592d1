"""Where `-o` points: io.write_atomic writes through a symlink and refuses a device (`/dev/full`)."""
from __future__ import annotations

import os
import stat

from cli_helpers import run_cli


def _finished_run(tmp_path):
    result = run_cli("train", "--data", "moons", "--n-samples", "100", "--epochs", "2", "-q", "-o", "RUN",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (tmp_path / "good.csv").write_text("x1,x2\n0.1,0.2\n1.0,-0.5\n")


def test_predict_to_a_device_is_refused_and_the_device_stays_one(tmp_path):
    _finished_run(tmp_path)
    (tmp_path / "full").symlink_to("/dev/full")
    result = run_cli("predict", "RUN", "--input", "good.csv", "-o", "full", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == ("chainrule: error: cannot write full: it is not a regular file (a device, "
                                     "pipe or socket); give the path of a regular file")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_predict_through_a_symlink_writes_its_target(tmp_path):
    _finished_run(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "real.csv").write_text("old\n")
    (tmp_path / "link.csv").symlink_to(tmp_path / "out" / "real.csv")
    result = run_cli("predict", "RUN", "--input", "good.csv", "-o", "link.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "link.csv").is_symlink()
    rows = (tmp_path / "out" / "real.csv").read_text().splitlines()
    assert rows[0] == "class,p(0),p(1)" and len(rows) == 3
