"""Strategies: the trials a sweep plans, the halving rungs and who goes on."""
import doctest
import importlib

import pytest

from chainrule.sweep import parse_params
from chainrule.sweep.space import trial_rng
from chainrule.sweep.strategies import Trial, initial_trials, promote, ranked, rung_sizes, rungs


@pytest.mark.parametrize("module", ["chainrule.sweep.space", "chainrule.sweep.strategies"])
def test_the_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0


def test_halving_rungs_grow_by_eta_and_end_at_the_full_budget():
    assert rungs(9, 3) == [1, 3, 9]
    assert rungs(30, 3) == [3, 9, 30]
    assert rungs(30, 2, min_epochs=4) == [4, 8, 30]  # not 16 then 30: the last step is at least eta
    assert rungs(5, 3) == [1, 5]
    assert rungs(1, 3) == [1]
    assert rung_sizes(10, 3, 3) == [10, 3, 1]
    with pytest.raises(ValueError, match="min_epochs \\(at most the 9 epochs\\) must be a whole number in \\[1, 9\\]; got 10"):
        rungs(9, 3, min_epochs=10)


def test_random_trials_draw_from_their_own_generators():
    space = parse_params(["lr=loguniform:1e-4:1e-1", "h=choice:16,32"])
    trials = initial_trials(space, "random", 5, seed=3)
    assert [t.index for t in trials] == list(range(5))
    assert [t.params for t in trials] == [space.sample(trial_rng(3, i)) for i in range(5)]
    # A longer sweep starts with the same trials.
    assert [t.params for t in initial_trials(space, "random", 8, seed=3)[:5]] == [t.params for t in trials]
    with pytest.raises(ValueError, match="--strategy random needs --trials N"):
        initial_trials(space, "random", None, seed=0)


def test_grid_trials_are_the_grid_in_order():
    space = parse_params(["lr=choice:0.1,0.01", "h=int:1:2"])
    trials = initial_trials(space, "grid", None, seed=0)
    assert [t.params for t in trials] == [{"lr": 0.1, "h": 1}, {"lr": 0.1, "h": 2}, {"lr": 0.01, "h": 1},
                                          {"lr": 0.01, "h": 2}]
    assert len(initial_trials(space, "grid", 4, seed=0)) == 4


def _trial(i, *values, status="ok"):
    return Trial(i, {}, [{"status": status, "metrics": {"val_acc": v, "val_loss": 1 - v}} for v in values])


def test_ranking_puts_failed_trials_last_and_breaks_ties_by_index():
    trials = [_trial(0, 0.5), _trial(1, 0.9), _trial(2, 0.9), _trial(3, 0.99, status="failed"), Trial(4, {})]
    assert [t.index for t in ranked(trials, "val_acc")] == [1, 2, 0, 3, 4]
    assert [t.index for t in ranked(trials, "val_loss")] == [1, 2, 0, 3, 4]
    assert [t.index for t in ranked([_trial(0, 0.2), _trial(1, 0.7)], "val_loss")] == [1, 0]


def test_promotion_keeps_the_best_third_of_a_rung_and_never_a_failed_trial():
    trials = [_trial(i, v) for i, v in enumerate([0.1, 0.8, 0.3, 0.9, 0.5, 0.7])]
    assert [t.index for t in promote(trials, 0, "val_acc", 3)] == [3, 1]
    assert [t.index for t in promote(trials, 0, "val_loss", 2)] == [3, 1, 5]
    failing = [_trial(0, 0.5, status="failed"), _trial(1, 0.2, status="failed")]
    assert promote(failing, 0, "val_acc", 3) == []


def test_a_grid_larger_than_a_sweep_may_be_is_refused_before_its_points_are_made():
    space = parse_params(["epochs=int:1:1000000000"])
    with pytest.raises(ValueError, match="the grid has 1000000000 points; a sweep has at most 100000 trials"):
        initial_trials(space, "grid", None, 0)
    with pytest.raises(ValueError, match="the grid has 1000000000 points but --trials is 5"):
        initial_trials(space, "grid", 5, 0)
    assert [t.params for t in initial_trials(parse_params(["epochs=int:1:3"]), "grid", None, 0)] == \
        [{"epochs": 1}, {"epochs": 2}, {"epochs": 3}]
