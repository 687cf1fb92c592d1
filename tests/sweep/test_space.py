"""The search space: its grammar, its files, its draws and its grids."""
import json

import numpy as np
import pytest

from chainrule.sweep.space import (
    Choice, IntRange, LogUniform, Space, Uniform, load_space, parse_param, parse_params, trial_rng,
)


def test_the_grammar_gives_each_distribution_its_values():
    assert parse_param("lr=loguniform:1e-4:1e-1") == ("lr", LogUniform(1e-4, 1e-1))
    assert parse_param("dropout=uniform:0:0.5:3") == ("dropout", Uniform(0.0, 0.5, 3))
    assert parse_param("epochs=int:2:5") == ("epochs", IntRange(2, 5))
    assert parse_param("batch-size=choice:32,128,full") == ("batch_size", Choice((32, 128, "full")))
    assert parse_param("activation=choice:relu,tanh") == ("activation", Choice(("relu", "tanh")))
    assert parse_param("momentum=choice:0.5,0.9")[1].values == (0.5, 0.9)


@pytest.mark.parametrize("text, words", [
    ("lr", "expected NAME=uniform"),
    ("lr=", "expected NAME=uniform"),
    ("=uniform:0:1", "expected NAME=uniform"),
    ("lr=loguniform", "expected NAME=uniform"),
    ("lr=gaussian:0:1", "unknown distribution 'gaussian'"),
    ("lr=loguniform:0:1", "loguniform needs LOW > 0"),
    ("lr=uniform:1:0", "needs LOW < HIGH"),
    ("lr=uniform:a:1", "'a' is not a number"),
    ("lr=uniform:0:inf", "not a finite number"),
    ("lr=uniform:0:1:0", "grid points must be a whole number >= 1"),
    ("lr=uniform:0:1:2:3", "takes LOW:HIGH or LOW:HIGH:N"),
    ("n=int:1.5:3", "'1.5' is not a whole number"),
    ("n=int:5:3", "int needs LOW <= HIGH"),
    ("h=choice:64,,128", "choice has an empty value"),
    ("h=choice:64,64", "lists a value twice"),
])
def test_bad_params_name_the_text_and_what_was_expected(text, words):
    with pytest.raises(ValueError) as info:
        parse_param(text)
    assert words in str(info.value)


def test_an_empty_space_says_how_to_give_one():
    with pytest.raises(ValueError, match="the search space is empty.*--param NAME=DIST"):
        parse_params([])


def test_draws_stay_in_range_and_loguniform_is_uniform_in_the_exponent():
    space = parse_params(["lr=loguniform:1e-4:1", "u=uniform:-1:1", "n=int:1:3", "c=choice:a,b"])
    rng = np.random.default_rng(0)
    draws = [space.sample(rng) for _ in range(4000)]
    lr = np.array([d["lr"] for d in draws])
    assert lr.min() >= 1e-4 and lr.max() <= 1
    # Each decade [1e-4, 1e-3), ..., [1e-1, 1] holds about a quarter of the draws.
    counts = np.histogram(np.log10(lr), bins=[-4, -3, -2, -1, 0])[0] / len(lr)
    assert np.allclose(counts, 0.25, atol=0.03)
    assert {d["n"] for d in draws} == {1, 2, 3} and {d["c"] for d in draws} == {"a", "b"}
    u = np.array([d["u"] for d in draws])
    assert -1 <= u.min() < -0.95 and 0.95 < u.max() <= 1


def test_the_grid_is_every_combination_log_spaced_for_loguniform():
    space = parse_params(["lr=loguniform:1e-3:1e-1:3", "n=int:1:2", "c=choice:x,y"])
    grid = space.grid()
    assert len(grid) == space.grid_size() == 12
    assert sorted({g["lr"] for g in grid}) == pytest.approx([1e-3, 1e-2, 1e-1])
    assert grid[0] == {"lr": pytest.approx(1e-3), "n": 1, "c": "x"}
    assert parse_params(["u=uniform:0:1:3"]).grid() == [{"u": 0.0}, {"u": 0.5}, {"u": 1.0}]


def test_a_grid_over_a_float_needs_its_number_of_points():
    with pytest.raises(ValueError, match=r"a grid needs the number of points.*lr=loguniform:0.0001:0.1:4"):
        parse_params(["lr=loguniform:1e-4:1e-1"]).grid()


def test_the_same_space_from_toml_json_and_the_command_line(tmp_path):
    cli = parse_params(["lr=loguniform:1e-4:1e-1", "batch-size=choice:32,128", "epochs=int:1:3"])
    (tmp_path / "s.toml").write_text('[params]\nlr = "loguniform:1e-4:1e-1"\n'
                                     'batch-size = {dist = "choice", values = [32, 128]}\n'
                                     'epochs = {dist = "int", low = 1, high = 3}\n')
    (tmp_path / "s.json").write_text(json.dumps({"lr": {"dist": "loguniform", "low": 1e-4, "high": 0.1},
                                                 "batch_size": "choice:32,128", "epochs": "int:1:3"}))
    assert load_space(tmp_path / "s.toml") == cli
    assert load_space(tmp_path / "s.json") == cli
    assert Space.from_dict(cli.to_dict()) == cli  # what sweep.json keeps
    # --param adds to (and overrides) a file's space.
    both = parse_params(["lr=uniform:0.1:0.2", "reg=loguniform:1e-6:1e-2"], load_space(tmp_path / "s.json"))
    assert list(both) == ["lr", "batch_size", "epochs", "reg"] and both["lr"] == Uniform(0.1, 0.2)


@pytest.mark.parametrize("content, suffix, words", [
    ("lr = ", ".toml", "is not valid TOML"),
    ("{", ".json", "not valid UTF-8 JSON"),
    ("[" * 100_000, ".json", "nested too deeply to be a search space"),
    ("a = " + "[" * 100_000, ".toml", "nested too deeply to be a search space"),
    ('{"lr": 3}', ".json", "expected a string such as 'loguniform:1e-4:1e-1'"),
    ('{"lr": {"dist": "uniform", "low": 0}}', ".json", "uniform needs high"),
    ('{"lr": {"dist": "uniform", "low": 0, "high": 1, "mean": 2}}', ".json", "unknown key(s) ['mean']"),
    ('{}', ".json", "the search space is empty"),
    ("lr: 1", ".yaml", "expected a .toml or .json file"),
])
def test_bad_space_files_name_the_file_and_the_problem(tmp_path, content, suffix, words):
    path = tmp_path / f"space{suffix}"
    path.write_text(content)
    with pytest.raises(ValueError) as info:
        load_space(path)
    assert words in str(info.value) and str(path) in str(info.value)


def test_a_trials_draws_depend_on_the_sweep_seed_and_its_index_only():
    space = parse_params(["lr=loguniform:1e-4:1", "c=choice:a,b,c,d"])
    draws = {(s, i): space.sample(trial_rng(s, i)) for s in (0, 1) for i in range(6)}
    assert draws[(0, 3)] == space.sample(trial_rng(0, 3))
    assert len({d["lr"] for d in draws.values()}) == len(draws)
    # SeedSequence's own spawn: trial i draws from the sweep's i-th child.
    child = np.random.SeedSequence(7).spawn(3)[2]
    assert space.sample(trial_rng(7, 2)) == space.sample(np.random.default_rng(child))


def test_each_distribution_names_the_values_that_bound_its_draws():
    assert Uniform(-1.0, 0.5).ends() == [("low end", -1.0), ("high end", 0.5)]
    assert LogUniform(1e-4, 1e-1, 3).ends() == [("low end", 1e-4), ("high end", 1e-1)]
    assert IntRange(2, 5).ends() == [("low end", 2), ("high end", 5)]
    assert Choice((64, "full")).ends() == [("choice", 64), ("choice", "full")]


@pytest.mark.parametrize("dist, good, bad, words", [
    (LogUniform(1e-2, 1.0), [1e-2, 0.5, 1.0, 1.0 + 1e-12], [1.5, "x", True], "of loguniform:0.01:1"),
    (Uniform(0.0, 0.5), [0.0, 0.25, 0.5], [-0.1, None], "of uniform:0:0.5"),
    (IntRange(2, 5), [2, 5], [1, 6, 2.0, "3"], "of int:2:5"),
    (Choice((64, "full")), [64, "full"], [64.0, 65, "Full"], "of choice:64,full"),
])
def test_a_value_read_back_is_checked_against_its_distribution(dist, good, bad, words):
    for value in good:
        dist.check_value("p", value)
    for value in bad:
        with pytest.raises((TypeError, ValueError)) as info:
            dist.check_value("p", value)
        assert str(info.value).startswith("p must be ") and words in str(info.value), str(info.value)


def test_the_size_of_a_huge_int_grid_is_counted_without_making_it():
    space = parse_params(["epochs=int:1:1000000000", "h=choice:16,32"])
    assert space.grid_size() == 2_000_000_000
