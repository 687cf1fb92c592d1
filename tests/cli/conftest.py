"""The run every default gives (the README's main job), trained once for the whole session:
tests/cli/test_train.py checks the folder it writes, test_evaluate.py, test_predict.py and
test_summary.py read it.
"""
from __future__ import annotations

import json
import time

import pytest

from cli_helpers import ok, run_cli


@pytest.fixture(scope="session")
def default_run(tmp_path_factory):
    """`chainrule train` with every default: the README's main-job command (MLP on digits)."""
    cwd = tmp_path_factory.mktemp("default")
    began = time.perf_counter()
    result = ok(run_cli("train", "--out", "runs/default", "--json", cwd=cwd))
    seconds = time.perf_counter() - began
    return cwd / "runs" / "default", json.loads(result.stdout), seconds
