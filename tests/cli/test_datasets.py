"""`chainrule datasets`: the datasets --data accepts and the cache folder they are kept in."""
from __future__ import annotations

import json

from chainrule import cli
from chainrule.data import DATASETS


def test_datasets_lists_every_dataset_and_the_cache_folder(tmp_path, monkeypatch, capsys):
    # In-process: what a subprocess would add (the entry point) is tests/cli/test_main.py's.
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "cache"))
    assert cli.main(["datasets", "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert captured.err == ""
    assert [d["name"] for d in out["datasets"]] == list(DATASETS)
    assert out["cache_dir"] == str(tmp_path / "cache")
