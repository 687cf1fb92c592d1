"""The default trial: a training run whose worker keeps the data for the trials that follow."""
from __future__ import annotations

import numpy as np
import pytest

from chainrule.runs import RunSettings, train_run
from chainrule.sweep import trial as trials
from chainrule.sweep.trial import RunsTrial, prepared_data


def test_a_worker_prepares_the_data_once_and_no_trial_can_change_it():
    iris = RunSettings(data="iris", model="softmax", epochs=2)
    first = prepared_data(iris)
    assert prepared_data(iris.replace(lr=0.5, epochs=3, reg=1e-3)) is first  # other settings, the same data
    assert prepared_data(iris.replace(seed=1)) is not first  # another split
    ds, raw, split, _ = first
    with pytest.raises(ValueError, match="read-only"):
        split.X_train[0, 0] = 1.0
    # Trials on the kept data end where a run that loads its own does, one after another.
    for lr in (0.1, 0.3):
        settings = iris.replace(lr=lr)
        outcome = RunsTrial()(settings.to_dict())
        alone = train_run(settings)
        def numbers(history):
            return [{k: v for k, v in r.items() if k != "seconds"} for r in history]

        assert numbers(outcome["history"]) == numbers(alone.history)
        assert outcome["metrics"]["val_loss"] == alone.history[-1]["val_loss"]
        np.testing.assert_array_equal(outcome["result"].model.weight.numpy(), alone.model.weight.numpy())


def test_at_most_a_few_data_sets_are_kept_and_a_changed_file_is_loaded_again(tmp_path):
    path = tmp_path / "d.csv"
    rows = "\n".join(f"{i % 7},{(i * 3) % 5},{i % 2}" for i in range(40))
    path.write_text("a,b,label\n" + rows + "\n")
    s = RunSettings(data=str(path), model="softmax", epochs=1)
    before = prepared_data(s)
    path.write_text("a,b,label\n" + rows.replace(",0\n", ",1\n", 3) + "\n")
    after = prepared_data(s)
    assert after is not before and not np.array_equal(after[0].y, before[0].y)
    for seed in range(trials.DATA_KEPT + 1):
        prepared_data(RunSettings(data="blobs", n_samples=60, model="softmax", seed=seed))
    assert len(trials._DATA) == trials.DATA_KEPT


def test_plots_must_be_a_bool():
    with pytest.raises(TypeError, match="plots must be True or False; got 'no'"):
        RunsTrial(plots="no")
