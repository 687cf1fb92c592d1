"""chainrule.validation: the one rule set, and the layers that read it (io's file schemas, run
settings, optimizers, the engine, nn.functional, the playground) say exactly what it says."""
import json
import re
import threading

import numpy as np
import pytest

from chainrule import io as cio
from chainrule import optim, validation as check
from chainrule.nn import functional as F


# ---------------------------------------------------------------------------- showing a value
def test_show_writes_python_by_default_and_json_inside_json_values():
    values = ["3", None, True, False, [1, "a"], {"k": None}, 2.5]
    assert [check.show(v) for v in values] == ["'3'", "None", "True", "False", "[1, 'a']", "{'k': None}", "2.5"]
    with check.json_values():
        assert [check.show(v) for v in values] == ['"3"', "null", "true", "false", '[1, "a"]', '{"k": null}', "2.5"]
        assert check.show(float("nan")) == "nan" and check.show(object).startswith("<class")  # not JSON: repr
    assert check.show(None) == "None"  # the block ended: back to Python


def test_show_cuts_long_values_to_show_max():
    long = "x" * 1000
    assert len(check.show(long)) == check.SHOW_MAX and check.show(long).endswith("...")
    with check.json_values():
        assert check.show(long) == '"' + "x" * (check.SHOW_MAX - 4) + "..."
    assert check.show("x" * (check.SHOW_MAX - 2)) == repr("x" * (check.SHOW_MAX - 2))  # exactly SHOW_MAX: whole


@pytest.mark.parametrize("value", [list(range(100_000)), ("a" * 500, 2), {"k": ["x" * 500, 1], "j": 2},
                                   [[[[list(range(200))]]]], {str(i): i for i in range(500)}, "y" * 10_000])
def test_show_of_a_long_value_is_its_full_text_cut(value):
    # show() reads only the head of a long value (a huge wrong list in a file is not written out
    # whole); what it shows is exactly the full text, cut
    def cut(text):
        return text if len(text) <= check.SHOW_MAX else text[:check.SHOW_MAX - 3] + "..."
    assert check.show(value) == cut(repr(value))
    with check.json_values():
        assert check.show(value) == cut(json.dumps(value))


def test_json_values_is_per_thread_and_restored_after_an_error():
    seen = {}
    inside, done = threading.Event(), threading.Event()

    def other():
        inside.wait(5)
        seen["other"] = check.show(None)  # another thread, while the main one is in the block
        done.set()

    t = threading.Thread(target=other)
    t.start()
    with pytest.raises(TypeError):
        with check.json_values():
            inside.set()
            done.wait(5)
            seen["main"] = check.show(None)
            check.integer("n", "1")
    t.join(5)
    assert seen == {"other": "None", "main": "null"} and check.show(None) == "None"


@pytest.mark.parametrize("rule, args, value, error, expected, as_json", [
    (check.integer, {"low": 1}, None, TypeError, "n must be a whole number >= 1; got None",
     "n must be a whole number >= 1; got null"),
    (check.integer, {"low": 1, "optional": True}, 0, ValueError, "n must be None or a whole number >= 1; got 0",
     "n must be null or a whole number >= 1; got 0"),
    (check.number, {"low": 0, "optional": True}, "1", TypeError, "n must be None or a finite number >= 0; got '1'",
     'n must be null or a finite number >= 0; got "1"'),
    (check.text, {"optional": True}, 3, TypeError, "n must be None or a non-empty string; got 3",
     "n must be null or a non-empty string; got 3"),
    (check.text, {"blank": True, "max_len": 2}, "abc", ValueError, "n must be a string of at most 2 characters; got 'abc'",
     'n must be a string of at most 2 characters; got "abc"'),
    (check.boolean, {}, 1, TypeError, "n must be True or False; got 1", "n must be true or false; got 1"),
])
def test_optional_and_text_variants(rule, args, value, error, expected, as_json):
    with pytest.raises(error) as info:
        rule("n", value, **args)
    assert str(info.value) == expected
    if args.get("optional"):
        assert rule("n", None, **args) is None
    with check.json_values(), pytest.raises(error) as info:
        rule("n", value, **args)
    assert str(info.value) == as_json


def test_text_blank_takes_the_empty_string_and_the_default_does_not():
    assert check.text("n", "", blank=True) == ""
    with pytest.raises(ValueError, match="^n must be a non-empty string; got ''$"):
        check.text("n", "")


# ---------------------------------------------------------------------------- io's schema = validation's rules
SCHEMA_CASES = [  # (the field's rule in a file schema, the validation call it stands for, a bad value)
    (cio.Int(0), lambda n, v: check.integer(n, v, low=0), "3"),
    (cio.Int(0), lambda n, v: check.integer(n, v, low=0), -1),
    (cio.Int(1, 9), lambda n, v: check.integer(n, v, 1, 9), 10),
    (cio.Int(1, null=True), lambda n, v: check.integer(n, v, low=1, optional=True), [1]),
    (cio.Number(0, low_open=True), lambda n, v: check.number(n, v, low=0, low_open=True), 0),
    (cio.Number(0, null=True), lambda n, v: check.number(n, v, low=0, optional=True), True),
    (cio.Fraction(), check.fraction, 1.5),
    (cio.Bool(), check.boolean, 0),
    (cio.Str(("a", "b")), lambda n, v: check.choice(n, v, ("a", "b")), "c"),
    (cio.Str(nonempty=True), lambda n, v: check.text(n, v, max_len=100_000), ""),  # io's default max_len
    (cio.Str(nonempty=True, null=True), lambda n, v: check.text(n, v, max_len=100_000, optional=True), {}),
    (cio.Str(max_len=3), lambda n, v: check.text(n, v, blank=True, max_len=3), "abcd"),
    (cio.Value(check.seed, optional=False), lambda n, v: check.seed(n, v, optional=False), 2 ** 40),
]


@pytest.mark.parametrize("field, rule, value", SCHEMA_CASES)
def test_a_file_field_is_refused_with_validations_own_message(field, rule, value):
    schema = cio.Schema("example", {1: cio.Obj({"x": field})})
    assert json.loads(json.dumps(value)) == value  # what a file can hold
    with check.json_values(), pytest.raises((TypeError, ValueError)) as expected:
        rule("the field 'x'", value)
    with pytest.raises(cio.FormatError) as got:
        schema.check({"format_version": 1, "x": value}, "run.json")
    assert str(got.value) == f"run.json: {expected.value}"
    with check.json_values():  # the value as the file holds it
        assert str(got.value).endswith(f"; got {check.show(value)}")


def test_lists_objects_and_null_build_the_same_message():
    schema = cio.Schema("example", {1: cio.Obj({"names": cio.List(cio.Str(max_len=9), "strings", max_len=2)},
                                               {"opt": cio.Obj(null=True)})})
    cases = [({"names": 5, "opt": None}, "the field 'names' must be a list of strings; got 5"),
             ({"names": ["a", "b", "c"]}, 'the field \'names\' must be a list of 0 to 2 strings; got ["a", "b", "c"]'),
             ({"names": ["a", 7]}, "the field 'names[1]' must be a string of at most 9 characters; got 7"),
             ({"names": [], "opt": 7}, "the field 'opt' must be null or an object; got 7"),
             ({"opt": None}, "the field 'names' is missing")]
    for document, message in cases:
        with pytest.raises(cio.FormatError) as info:
            schema.check({"format_version": 1, **document}, "f.json")
        assert str(info.value) == f"f.json: {message}"
    schema.check({"format_version": 1, "names": ["a"], "opt": None}, "f.json")


def test_a_rule_changed_in_validation_changes_every_layers_message(monkeypatch, tmp_path):
    """One place: change validation's message and io's schemas, run settings read from a
    config.json, optimizers, schedules, the engine, nn.functional and the playground all follow."""
    from chainrule import runs
    from chainrule.engine import zeros
    from chainrule.playground.settings import SettingsError, check_int

    monkeypatch.setattr(check, "message",
                        lambda name, what, value, *, optional=False: f"<{name}> wants <{what}>, not <{check.show(value)}>")
    schema = cio.Schema("example", {1: cio.Obj({"epoch": cio.Int(0)})})
    with pytest.raises(cio.FormatError, match=re.escape('run.json: <the field \'epoch\'> wants <a whole number >= 0>, '
                                                        'not <"3">')):
        schema.check({"format_version": 1, "epoch": "3"}, "run.json")
    runs.write_config(tmp_path, runs.RunSettings())
    config = json.loads((tmp_path / "config.json").read_text())
    config["settings"]["epochs"] = "2"
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(cio.FormatError, match=re.escape("<the field 'settings.epochs'> wants <a whole number >= 1>, "
                                                        'not <"2">')):
        runs.read_config(tmp_path)
    calls = [
        (lambda: optim.SGD([zeros(2, requires_grad=True)], lr=-1.0), ValueError, "<lr> wants <a finite number >= 0>, not <-1.0>"),
        (lambda: optim.make_schedule("step", optim.SGD([zeros(2, requires_grad=True)], lr=0.1), epochs=0), ValueError,
         "<epochs> wants <a whole number >= 1>, not <0>"),
        (lambda: zeros(4).chunk(0), ValueError, "<chunk's chunks> wants <a whole number >= 1>, not <0>"),
        (lambda: F.mse(zeros(2), np.zeros(2), reduction="avg"), ValueError,
         "<reduction> wants <one of mean, sum, none>, not <'avg'>"),
        (lambda: check_int("budget", 1, 10, 20), SettingsError, "<budget> wants <a whole number in [10, 20]>, not <1>"),
    ]
    for call, error, message in calls:
        with pytest.raises(error) as info:
            call()
        assert str(info.value) == message
