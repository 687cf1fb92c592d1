"""Tests for chainrule.io: archives (.npz + JSON meta, no pickle) and atomic writes."""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from chainrule import io as cio
from chainrule.io import (
    FORMAT_VERSION,
    FormatError,
    load_archive,
    save_archive,
    write_json_atomic,
    write_text_atomic,
)

# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def sample_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "fc1.weight": rng.standard_normal((4, 3)).astype(np.float32),
        "fc1.bias": np.zeros(4, np.float32),
        "double": rng.standard_normal((2, 3, 2)),
        "scalar": np.array(3.5, np.float32),
        "empty": np.zeros((0, 5), np.float32),
        "steps": np.arange(7, dtype=np.int64),
        "small": np.array([-3, 4], np.int8),
        "bytes": np.arange(5, dtype=np.uint8),
        "mask": np.array([True, False, True]),
        "complex": np.array([1 + 2j, -1j], np.complex64),
        "classes": np.array(["cat", "dog", "emu"]),
    }


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def write_raw(path: Path, members: dict[str, object], *, allow_pickle: bool = False) -> Path:
    """A hand-made .npz: each member is an array (written as .npy) or raw bytes."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, value in members.items():
            if isinstance(value, bytes):
                archive.writestr(name, value)
            else:
                with archive.open(name + ".npy", "w") as member:
                    np.lib.format.write_array(member, value, allow_pickle=allow_pickle)
    return path


def meta_array(meta: object) -> np.ndarray:
    return np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)


def valid_meta(arrays: dict[str, np.ndarray], **extra: object) -> dict[str, object]:
    return {
        "format": "chainrule",
        "format_version": FORMAT_VERSION,
        "kind": "weights",
        "arrays": {n: {"shape": list(a.shape), "dtype": a.dtype.name} for n, a in arrays.items()},
        **extra,
    }


def tampered(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, object]) -> Path:
    return write_raw(path, {"__meta__": meta_array(meta), **arrays})


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    w = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(2, np.float32)}
    return save_archive(tmp_path / "model.npz", w, {"epoch": 3}, kind="weights")


# --------------------------------------------------------------------------------------------
# round trips
# --------------------------------------------------------------------------------------------


def test_round_trip_of_many_dtypes_and_shapes(tmp_path: Path) -> None:
    arrays = sample_arrays()
    meta = {"epoch": 12, "config": {"sizes": [784, 256, 10], "act": "relu"}, "note": "héllo ✓"}
    path = save_archive(tmp_path / "a.npz", arrays, meta, kind="snapshot")
    assert path == tmp_path / "a.npz"
    loaded, loaded_meta = load_archive(path, kind="snapshot")
    assert list(loaded) == list(arrays)
    for name, array in arrays.items():
        assert loaded[name].dtype == array.dtype, name
        assert loaded[name].shape == array.shape, name
        np.testing.assert_array_equal(loaded[name], array)
    assert loaded_meta["epoch"] == 12
    assert loaded_meta["config"] == {"sizes": [784, 256, 10], "act": "relu"}
    assert loaded_meta["note"] == "héllo ✓"
    assert loaded_meta["format"] == "chainrule"
    assert loaded_meta["format_version"] == FORMAT_VERSION == 1
    assert loaded_meta["kind"] == "snapshot"
    assert loaded_meta["arrays"]["fc1.weight"] == {"shape": [4, 3], "dtype": "float32"}
    assert loaded_meta["arrays"]["classes"] == {"shape": [3], "dtype": "<U3"}


def test_archive_is_a_plain_npz_that_numpy_reads_without_pickle(saved: Path) -> None:
    with np.load(saved, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["__meta__", "b", "w"]
        meta = json.loads(npz["__meta__"].tobytes().decode("utf-8"))
        np.testing.assert_array_equal(npz["w"], np.arange(6, dtype=np.float32).reshape(2, 3))
    assert meta["kind"] == "weights" and meta["epoch"] == 3


def test_path_is_used_as_given_and_loads_from_str(tmp_path: Path) -> None:
    path = save_archive(str(tmp_path / "weights"), {"x": np.ones(2)}, {}, kind="weights")
    assert path == tmp_path / "weights"
    assert files_in(tmp_path) == ["weights"]
    arrays, _ = load_archive(str(path))
    np.testing.assert_array_equal(arrays["x"], [1.0, 1.0])


def test_compressed_round_trip(tmp_path: Path) -> None:
    arrays = {"z": np.zeros((100, 100), np.float32)}
    plain = save_archive(tmp_path / "p.npz", arrays, {}, kind="weights")
    small = save_archive(tmp_path / "c.npz", arrays, {}, kind="weights", compress=True)
    assert small.stat().st_size < plain.stat().st_size / 10
    np.testing.assert_array_equal(load_archive(small)[0]["z"], arrays["z"])


def test_numpy_scalars_and_tuples_in_meta(tmp_path: Path) -> None:
    meta = {"lr": np.float32(0.5), "n": np.int64(7), "ok": np.bool_(True), "shape": (2, 3)}
    path = save_archive(tmp_path / "a.npz", {}, meta, kind="weights")
    _, loaded = load_archive(path)
    assert (loaded["lr"], loaded["n"], loaded["ok"], loaded["shape"]) == (0.5, 7, True, [2, 3])
    assert type(loaded["n"]) is int and loaded["arrays"] == {}


def test_array_names_that_are_numpy_keywords(tmp_path: Path) -> None:
    arrays = {"file": np.ones(1), "allow_pickle": np.zeros(1), "a/b.c": np.ones(2)}
    path = save_archive(tmp_path / "a.npz", arrays, {}, kind="weights")
    assert sorted(load_archive(path)[0]) == ["a/b.c", "allow_pickle", "file"]


def test_big_endian_and_non_contiguous_arrays_round_trip(tmp_path: Path) -> None:
    big = np.arange(4, dtype=">f4")
    strided = np.arange(12, dtype=np.float64).reshape(3, 4)[:, ::2]
    path = save_archive(tmp_path / "a.npz", {"big": big, "strided": strided}, {}, kind="weights")
    loaded, meta = load_archive(path)
    assert loaded["big"].dtype == np.float32 and loaded["big"].dtype.isnative
    np.testing.assert_array_equal(loaded["big"], [0, 1, 2, 3])
    np.testing.assert_array_equal(loaded["strided"], strided)
    assert meta["arrays"]["big"]["dtype"] == "float32"


@settings(max_examples=60, deadline=None)
@given(
    array=hnp.arrays(
        dtype=st.sampled_from(["float32", "float64", "int16", "uint8", "bool", "complex64"]),
        shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),
    )
)
def test_round_trip_property(tmp_path_factory: pytest.TempPathFactory, array: np.ndarray) -> None:
    path = tmp_path_factory.mktemp("prop") / "a.npz"
    save_archive(path, {"a": array}, {"n": 1}, kind="weights")
    loaded, _ = load_archive(path, kind="weights", allow_nonfinite=True)
    assert loaded["a"].dtype == array.dtype and loaded["a"].shape == array.shape
    np.testing.assert_array_equal(loaded["a"], array)  # NaN equals NaN here


def test_nonfinite_values_are_refused_unless_allowed(tmp_path: Path) -> None:
    arrays = {"ok": np.ones(3, np.float32), "w": np.array([1.0, np.nan, np.inf], np.float32)}
    path = save_archive(tmp_path / "a.npz", arrays, {}, kind="weights")
    with pytest.raises(FormatError, match=r"'w' has 2 non-finite value"):
        load_archive(path)
    loaded, _ = load_archive(path, allow_nonfinite=True)
    assert np.isnan(loaded["w"][1]) and np.isinf(loaded["w"][2])


def test_nonfinite_complex_is_refused(tmp_path: Path) -> None:
    path = save_archive(tmp_path / "a.npz", {"c": np.array([complex(np.nan, 0)])}, {}, kind="m")
    with pytest.raises(FormatError, match="'c' has 1 non-finite"):
        load_archive(path)


# --------------------------------------------------------------------------------------------
# load: rejections
# --------------------------------------------------------------------------------------------


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        load_archive(tmp_path / "nope.npz")


@pytest.mark.parametrize("fraction", [0.0, 0.001, 0.1, 0.5, 0.9, 0.99])
def test_truncated_file_is_a_format_error(saved: Path, fraction: float) -> None:
    data = saved.read_bytes()
    saved.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(FormatError, match=r"model\.npz is not a valid chainrule archive: "):
        load_archive(saved)


def test_every_truncation_point_is_detected(saved: Path) -> None:
    data = saved.read_bytes()
    for cut in range(0, len(data), 7):
        saved.write_bytes(data[:cut])
        with pytest.raises(FormatError):
            load_archive(saved)


def test_random_bytes_are_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "noise.npz"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(FormatError, match="noise.npz is not a valid chainrule archive"):
        load_archive(path)


def test_zip_signature_followed_by_garbage(tmp_path: Path) -> None:
    path = tmp_path / "fake.npz"
    path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    with pytest.raises(FormatError, match="damaged or truncated zip"):
        load_archive(path)


def test_flipped_byte_in_array_data_is_detected(saved: Path) -> None:
    data = bytearray(saved.read_bytes())
    # the float32 value 5.0 is the last element of "w"; corrupt it inside the zip
    offset = bytes(data).index(np.float32(5.0).tobytes())
    data[offset] ^= 0xFF
    saved.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="CRC"):
        load_archive(saved)


def test_single_npy_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "a.npy"
    np.save(path, np.ones(3))
    with pytest.raises(FormatError, match="single .npy array"):
        load_archive(path)


def test_plain_npz_without_meta_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "plain.npz"
    np.savez(path, w=np.ones(3))
    with pytest.raises(FormatError, match="no __meta__ member"):
        load_archive(path)


def test_pickled_object_array_is_never_unpickled(tmp_path: Path) -> None:
    TRAP.clear()
    bomb = np.empty(1, dtype=object)
    bomb[0] = PickleTrap()
    arrays = {"bomb": bomb}
    meta = valid_meta({})
    meta["arrays"] = {"bomb": {"shape": [1], "dtype": "object"}}
    path = write_raw(
        tmp_path / "evil.npz", {"__meta__": meta_array(meta), **arrays}, allow_pickle=True
    )
    with pytest.raises(FormatError, match="'bomb'.*pickle"):
        load_archive(path)
    assert TRAP == []


TRAP: list[str] = []


def _spring_trap() -> None:
    TRAP.append("unpickled")


class PickleTrap:
    def __reduce__(self):
        return (_spring_trap, ())


def test_meta_that_is_not_json(tmp_path: Path) -> None:
    path = write_raw(tmp_path / "a.npz", {"__meta__": np.frombuffer(b"{not json", np.uint8)})
    with pytest.raises(FormatError, match="__meta__ is not UTF-8 JSON"):
        load_archive(path)


def test_meta_that_is_not_utf8(tmp_path: Path) -> None:
    path = write_raw(tmp_path / "a.npz", {"__meta__": np.frombuffer(b"\xff\xfe{}", np.uint8)})
    with pytest.raises(FormatError, match="__meta__ is not UTF-8 JSON"):
        load_archive(path)


def test_meta_that_is_not_an_object(tmp_path: Path) -> None:
    path = write_raw(tmp_path / "a.npz", {"__meta__": meta_array([1, 2])})
    with pytest.raises(FormatError, match="must be a JSON object, found list"):
        load_archive(path)


def test_meta_with_the_wrong_dtype(tmp_path: Path) -> None:
    path = write_raw(tmp_path / "a.npz", {"__meta__": np.zeros(3, np.float32)})
    with pytest.raises(FormatError, match="1-d uint8 array, found float32"):
        load_archive(path)


def test_meta_stored_as_raw_bytes_not_npy(tmp_path: Path) -> None:
    path = write_raw(tmp_path / "a.npz", {"__meta__": json.dumps(valid_meta({})).encode()})
    with pytest.raises(FormatError, match="not a .npy array"):
        load_archive(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "keras"}, "format is 'keras', expected 'chainrule'"),
        ({"format": None}, "format is None"),
        ({"format_version": 2}, "format_version 2 is newer than the newest this chainrule reads"),
        ({"format_version": 999}, "format_version 999 is newer"),
        ({"format_version": "1"}, 'format_version must be a whole number >= 1; got "1"'),
        ({"format_version": True}, "format_version must be a whole number >= 1; got true"),
        ({"format_version": 0}, "format_version must be a whole number >= 1; got 0"),
        ({"arrays": [1]}, "'arrays' must be a JSON object"),
        ({"arrays": {"w": {"shape": [2, -1], "dtype": "float32"}}}, "invalid declaration"),
        ({"arrays": {"w": {"shape": [2, 3]}}}, "invalid declaration"),
    ],
)
def test_bad_header_fields(tmp_path: Path, change: dict, message: str) -> None:
    arrays = {"w": np.ones((2, 3), np.float32)}
    meta = valid_meta(arrays) | change
    path = tampered(tmp_path / "a.npz", arrays, meta)
    with pytest.raises(FormatError, match=message):
        load_archive(path)


def test_missing_format_version(tmp_path: Path) -> None:
    meta = valid_meta({})
    del meta["format_version"]
    with pytest.raises(FormatError, match="format_version must be a whole number >= 1; got null"):
        load_archive(tampered(tmp_path / "a.npz", {}, meta))


def test_wrong_kind_names_both(saved: Path) -> None:
    with pytest.raises(FormatError, match="kind is 'weights', expected 'checkpoint'"):
        load_archive(saved, kind="checkpoint")
    assert load_archive(saved, kind="weights")[1]["kind"] == "weights"


def test_tampered_shape_names_array_and_both_shapes(tmp_path: Path) -> None:
    arrays = {"w": np.ones((2, 3), np.float32)}
    meta = valid_meta(arrays)
    meta["arrays"]["w"]["shape"] = [3, 2]
    with pytest.raises(FormatError, match=r"'w' has shape \(2, 3\), declared \(3, 2\)"):
        load_archive(tampered(tmp_path / "a.npz", arrays, meta))


def test_tampered_dtype_names_array_and_both_dtypes(tmp_path: Path) -> None:
    arrays = {"w": np.ones((2, 3), np.float32)}
    meta = valid_meta(arrays)
    meta["arrays"]["w"]["dtype"] = "float64"
    with pytest.raises(FormatError, match="'w' has dtype float32, declared float64"):
        load_archive(tampered(tmp_path / "a.npz", arrays, meta))


def test_unknown_declared_dtype(tmp_path: Path) -> None:
    arrays = {"w": np.ones(2, np.float32)}
    meta = valid_meta(arrays)
    meta["arrays"]["w"]["dtype"] = "float99"
    with pytest.raises(FormatError, match="'w' declares an unknown dtype 'float99'"):
        load_archive(tampered(tmp_path / "a.npz", arrays, meta))


def test_declared_array_missing(tmp_path: Path) -> None:
    arrays = {"w": np.ones(2, np.float32)}
    meta = valid_meta(arrays | {"b": np.ones(2, np.float32)})
    with pytest.raises(FormatError, match="declared array.* missing: b"):
        load_archive(tampered(tmp_path / "a.npz", arrays, meta))


def test_undeclared_extra_array(tmp_path: Path) -> None:
    arrays = {"w": np.ones(2, np.float32), "sneaky": np.ones(1, np.float32)}
    meta = valid_meta({"w": arrays["w"]})
    with pytest.raises(FormatError, match="undeclared member.*: sneaky"):
        load_archive(tampered(tmp_path / "a.npz", arrays, meta))


def test_undeclared_non_npy_member(tmp_path: Path) -> None:
    path = write_raw(tmp_path / "a.npz", {"__meta__": meta_array(valid_meta({})), "x.txt": b"hi"})
    with pytest.raises(FormatError, match="undeclared member.*x.txt"):
        load_archive(path)


def test_garbled_npy_header_inside_a_good_zip(tmp_path: Path) -> None:
    arrays = {"w": np.ones(2, np.float32)}
    path = write_raw(
        tmp_path / "a.npz",
        {"__meta__": meta_array(valid_meta(arrays)), "w.npy": b"\x93NUMPY\x01\x00garbage"},
    )
    with pytest.raises(FormatError, match="cannot read 'w'"):
        load_archive(path)


# --------------------------------------------------------------------------------------------
# save: rejections and atomicity
# --------------------------------------------------------------------------------------------


def test_object_array_is_refused_on_save(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'ragged' has dtype object"):
        save_archive(tmp_path / "a.npz", {"ragged": np.array([[1], [1, 2]], dtype=object)}, {},
                     kind="weights")
    assert files_in(tmp_path) == []


def test_structured_and_datetime_arrays_are_refused(tmp_path: Path) -> None:
    rec = np.zeros(2, dtype=[("a", "f4"), ("b", "i4")])
    with pytest.raises(ValueError, match="'rec' has dtype"):
        save_archive(tmp_path / "a.npz", {"rec": rec}, {}, kind="weights")
    with pytest.raises(ValueError, match="'when' has dtype datetime64"):
        save_archive(tmp_path / "a.npz", {"when": np.array(["2024-01-01"], "datetime64[D]")}, {},
                     kind="weights")


@pytest.mark.parametrize("name", ["__meta__", "", "/abs", "a\\b", "nul\x00"])
def test_bad_array_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="reserved|invalid array name"):
        save_archive(tmp_path / "a.npz", {name: np.ones(1)}, {}, kind="weights")


def test_non_str_array_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="array names must be str"):
        save_archive(tmp_path / "a.npz", {0: np.ones(1)}, {}, kind="weights")


@pytest.mark.parametrize("key", ["format", "format_version", "kind", "arrays"])
def test_reserved_meta_keys_are_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match=f"reserved key.*'{key}'"):
        save_archive(tmp_path / "a.npz", {}, {key: 1}, kind="weights")


@pytest.mark.parametrize(
    ("meta", "where"),
    [
        ({"tags": {"a", "b"}}, r"meta\['tags'\] is of type set"),
        ({"cfg": {"act": object()}}, r"meta\['cfg'\]\['act'\] is of type object"),
        ({"hist": [1.0, np.ones(2)]}, r"meta\['hist'\]\[1\] is of type ndarray.*store arrays"),
        ({"weights": {0: 1.0}}, r"meta\['weights'\] has the key 0 of type int"),
    ],
)
def test_meta_that_json_cannot_hold_names_the_key(tmp_path: Path, meta: dict, where: str) -> None:
    with pytest.raises(TypeError, match=where):
        save_archive(tmp_path / "a.npz", {}, meta, kind="weights")
    assert files_in(tmp_path) == []


def test_kind_must_be_a_non_empty_str(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="kind must be a non-empty str"):
        save_archive(tmp_path / "a.npz", {}, {}, kind="")


def test_missing_folder_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "no" / "such"
    with pytest.raises(FileNotFoundError, match=f"folder {folder} does not exist"):
        save_archive(folder / "a.npz", {}, {}, kind="weights")


def test_folder_that_is_a_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        write_text_atomic(tmp_path / "f" / "a.txt", "y")


def test_path_that_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        save_archive(tmp_path / "d", {}, {}, kind="weights")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_folder_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match=f"folder {folder} is not writable"):
            save_archive(folder / "a.npz", {}, {}, kind="weights")
    finally:
        folder.chmod(0o700)


def test_failed_save_keeps_the_old_file_when_meta_is_bad(saved: Path) -> None:
    before = saved.read_bytes()
    with pytest.raises(TypeError):
        save_archive(saved, {"w": np.zeros(1)}, {"bad": {1, 2}}, kind="weights")
    assert saved.read_bytes() == before
    assert files_in(saved.parent) == ["model.npz"]


def test_failed_replace_keeps_the_old_file_and_leaves_no_temp(
    saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = saved.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(cio.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        save_archive(saved, {"w": np.zeros(1000)}, {}, kind="weights")
    assert saved.read_bytes() == before
    assert files_in(saved.parent) == ["model.npz"]


def test_failure_while_writing_arrays_keeps_the_old_file(
    saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = saved.read_bytes()
    real_write = np.lib.format.write_array
    count = {"n": 0}

    def flaky_write(fp, array, *args, **kwargs):
        count["n"] += 1
        if count["n"] == 3:
            raise KeyboardInterrupt  # BaseException too must clean up
        return real_write(fp, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", flaky_write)
    with pytest.raises(KeyboardInterrupt):
        save_archive(saved, {"a": np.ones(3), "b": np.ones(3), "c": np.ones(3)}, {}, kind="m")
    assert saved.read_bytes() == before
    assert files_in(saved.parent) == ["model.npz"]


def test_failed_fsync_keeps_the_old_file(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = saved.read_bytes()

    def broken_fsync(fd):
        raise OSError("no space left")

    monkeypatch.setattr(cio.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="no space left"):
        save_archive(saved, {"w": np.zeros(3)}, {}, kind="weights")
    assert saved.read_bytes() == before
    assert files_in(saved.parent) == ["model.npz"]


def test_successful_save_replaces_and_leaves_no_temp(saved: Path) -> None:
    save_archive(saved, {"v": np.full(2, 7.0)}, {"epoch": 9}, kind="weights")
    arrays, meta = load_archive(saved)
    assert list(arrays) == ["v"] and meta["epoch"] == 9
    assert files_in(saved.parent) == ["model.npz"]


def test_new_file_gets_the_umask_mode_and_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = save_archive(tmp_path / "a.npz", {}, {}, kind="weights")
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        path.chmod(0o600)
        save_archive(path, {}, {}, kind="weights")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(old)


# --------------------------------------------------------------------------------------------
# JSON and text helpers
# --------------------------------------------------------------------------------------------


def test_write_json_atomic(tmp_path: Path) -> None:
    path = write_json_atomic(tmp_path / "m.json", {"acc": np.float64(0.25), "n": [np.int32(3)]})
    assert path == tmp_path / "m.json"
    text = path.read_text()
    assert text.endswith("}\n")
    assert json.loads(text) == {"acc": 0.25, "n": [3]}
    write_json_atomic(path, [1, 2], indent=None)
    assert path.read_text() == "[1, 2]\n"
    assert files_in(tmp_path) == ["m.json"]


def test_write_json_atomic_refuses_bad_values_before_touching_the_file(tmp_path: Path) -> None:
    path = write_json_atomic(tmp_path / "m.json", {"ok": 1})
    with pytest.raises(TypeError, match=r"obj\['run'\]\['fn'\] is of type function"):
        write_json_atomic(path, {"run": {"fn": lambda: 0}})
    assert json.loads(path.read_text()) == {"ok": 1}
    assert files_in(tmp_path) == ["m.json"]


def test_write_text_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_text_atomic(tmp_path / "c.toml", "lr = 0.1\n")
    assert path.read_text() == "lr = 0.1\n"
    monkeypatch.setattr(cio.os, "replace", lambda s, d: (_ for _ in ()).throw(OSError("boom")))
    with pytest.raises(OSError, match="boom"):
        write_text_atomic(path, "lr = 0.2\n")
    assert path.read_text() == "lr = 0.1\n"
    assert files_in(tmp_path) == ["c.toml"]
    with pytest.raises(TypeError, match="text must be a str"):
        write_text_atomic(path, b"bytes")  # type: ignore[arg-type]


def test_permission_error_from_the_folder_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cio.tempfile, "mkstemp", refuse)
    with pytest.raises(PermissionError, match=f"folder {tmp_path} is not writable"):
        save_archive(tmp_path / "a.npz", {}, {}, kind="weights")


# --------------------------------------------------------------------------------------------
# models: save_model / load_model
# --------------------------------------------------------------------------------------------


def _models():
    import chainrule as cr

    return [
        cr.nn.MLP(3, [5, 4], 2, activation="tanh", rng=1),
        cr.nn.Linear(3, 2, rng=2),
        cr.models.LinearClassifier(3, 4, loss="svm", reg=1e-3, margin=2.0, seed=3),
        cr.models.LogisticRegression(3, reg=0.5, seed=4),
        cr.models.BinarySVM(3, seed=5),
        cr.models.Perceptron(3, 3, lr=0.5, epochs=7, seed=6),
    ]


@pytest.mark.parametrize("model", _models(), ids=lambda m: type(m).__name__)
def test_save_model_and_load_model_rebuild_the_same_model(tmp_path, model):
    import chainrule as cr

    outputs = cio.model_widths(model)[1]
    classes = [f"c{k}" for k in range(2 if outputs == 1 else outputs)]  # load_model checks they fit
    path = cio.save_model(tmp_path / "m.npz", model, {"classes": classes, "note": {"x": 1}})
    back, meta = cio.load_model(path)
    assert type(back) is type(model) and back.get_config() == model.get_config()
    assert meta["classes"] == classes and meta["note"] == {"x": 1}
    for (name, p), (name2, q) in zip(model.named_parameters(), back.named_parameters()):
        assert name == name2 and p.dtype == q.dtype and np.array_equal(p.numpy(), q.numpy())
    X = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    assert np.array_equal(back(cr.Tensor(X)).numpy(), model(cr.Tensor(X)).numpy())


def test_save_model_refuses_what_load_model_could_not_rebuild(tmp_path):
    import chainrule as cr

    with pytest.raises(TypeError, match=r"cannot save a Sequential: expected one of \['BinarySVM'"):
        cio.save_model(tmp_path / "s.npz", cr.nn.Sequential(cr.nn.Linear(2, 2)))
    with pytest.raises(ValueError, match="meta may not set the key 'model'"):
        cio.save_model(tmp_path / "m.npz", cr.nn.Linear(2, 2), {"model": "mine"})
    assert list(tmp_path.iterdir()) == []


def test_load_model_names_what_is_wrong_with_a_model_file(tmp_path):
    import chainrule as cr

    good = cr.nn.Linear(3, 2, rng=0)
    arrays = good.state_dict()
    cases = [
        ({"model": {"class": "Transformer", "config": {}}}, arrays, r"'model.class' must be one of BinarySVM, .*; got \"Transformer\""),
        ({"model": {"class": "Linear", "config": {"in_features": -1, "out_features": 2}}}, arrays,
         "the Linear config .* is invalid"),
        ({"model": {"class": "Linear", "config": good.get_config()}}, {"weight": arrays["weight"]}, "bias"),
        ({"model": {"class": "Linear", "config": good.get_config()}},
         {**arrays, "weight": arrays["weight"].astype(np.float64)}, "array 'weight' has dtype float64, expected float32"),
        ({"model": {"class": "Linear", "config": good.get_config()}},
         {**arrays, "weight": np.zeros((2, 4), np.float32)}, "weight"),
    ]
    for i, (meta, arr, message) in enumerate(cases):
        path = save_archive(tmp_path / f"bad{i}.npz", arr, meta, kind="model")
        with pytest.raises(FormatError, match=message):
            cio.load_model(path)


def test_a_registered_model_class_can_be_saved_and_loaded(tmp_path):
    import chainrule as cr

    class Scaled(cr.nn.Module):
        def __init__(self, n):
            super().__init__()
            self.n = n
            self.scale = cr.nn.Parameter(np.full(n, 2.0, np.float32))

        def get_config(self):
            return {"n": self.n}

        def forward(self, x):
            return x * self.scale

    with pytest.raises(TypeError, match="cannot save a Scaled"):
        cio.save_model(tmp_path / "a.npz", Scaled(3))
    # load_model sizes a file's model before building it: a class that cannot say its shapes is refused
    with pytest.raises(TypeError, match="the model class Scaled has no parameter_shapes"):
        cio.register_model_class(Scaled)
    assert "Scaled" not in cio.MODEL_CLASSES
    Scaled.parameter_shapes = classmethod(lambda cls, config: {"scale": (config["n"],)})
    cio.register_model_class(Scaled)
    try:
        back, _ = cio.load_model(cio.save_model(tmp_path / "b.npz", Scaled(3)))
        assert isinstance(back, Scaled) and back.scale.numpy().tolist() == [2.0, 2.0, 2.0]
        rewrite_meta(tmp_path / "b.npz", lambda m: m["model"]["config"].update(n=10**12))
        error, peak = peak_bytes(lambda: cio.load_model(tmp_path / "b.npz"))
        assert isinstance(error, FormatError) and peak < 2**20
        assert "builds 'scale' of shape (1000000000000,), but the file holds (3,) (the config describes 3.6 TiB" in str(error)
    finally:
        cio.MODEL_CLASSES.pop("Scaled")
    with pytest.raises(TypeError, match="a model class must be a chainrule Module with get_config"):
        cio.register_model_class(int)




# --------------------------------------------------------------------------------------------
# untrusted files: memory bombs, tampered metadata, files of other kinds
# --------------------------------------------------------------------------------------------
import tracemalloc  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.io import SCHEMAS, dumps_strict, load_json, load_model, save_model  # noqa: E402


def rewrite_meta(path: Path, change) -> Path:
    """Rewrite an archive's __meta__ with ``change(meta)`` applied, the arrays untouched."""
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    meta = json.loads(np.load(path)["__meta__"].tobytes())
    change(meta)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            if name == "__meta__.npy":
                with archive.open(name, "w") as member:
                    np.lib.format.write_array(member, meta_array(meta))
            else:
                archive.writestr(name, data)
    return path


def peak_bytes(fn) -> tuple[object, int]:
    tracemalloc.start()
    try:
        try:
            result = fn()
        except Exception as exc:  # noqa: BLE001 - the caller checks it
            result = exc
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture
def mlp_file(tmp_path: Path) -> Path:
    meta = {"loss": "cross-entropy", "task": "classification", "classes": ["a", "b", "c"],
            "feature_names": ["x1", "x2"], "image_shape": None,
            "preprocess": {"kind": "standardize", "mean": [0.0, 1.0], "scale": [1.0, 2.0]},
            "data": {"data": "toy", "seed": 0, "n_samples": None, "test_size": 0.25, "val_size": 0.1}}
    return save_model(tmp_path / "model.npz", cr.nn.MLP(2, [4], 3, rng=0), meta)


def test_a_model_file_declaring_a_billion_units_is_refused_before_anything_is_allocated(mlp_file):
    rewrite_meta(mlp_file, lambda m: m["model"]["config"].update(hidden_sizes=[10**9]))
    error, peak = peak_bytes(lambda: load_model(mlp_file))
    assert isinstance(error, FormatError), error
    assert "builds '0.weight' of shape (1000000000, 2), but the file holds (4, 2)" in str(error)
    assert peak < 2**20  # not the 7.5 GiB the network would take


@pytest.fixture
def cnn_file(tmp_path: Path) -> Path:
    meta = {"loss": "cross-entropy", "task": "classification", "classes": ["a", "b", "c"], "image_shape": [1, 8, 8]}
    return save_model(tmp_path / "cnn.npz", cr.nn.CNN((1, 8, 8), 3, "c4-bn-m2", rng=0), meta)


@pytest.mark.parametrize(("change", "message"), [
    # a giant network: sized from the config and refused before anything is allocated
    (lambda c: c.update(spec="c4-bn-m2-fc1000000000"),
     "builds '5.weight' of shape (1000000000, 64), but the file holds (3, 64) (the config describes 253.3 GiB"),
    (lambda c: c.update(spec="c1000000000-bn-m2"), "its output (1000000000, 8, 8) holds 64000000000 values per example"),
    # a 0.4-gigapixel input: the same convolution, but the output layer would take 4.5 GiB
    (lambda c: c.update(input_shape=[1, 20000, 20000]), "builds '5.weight' of shape (3, 400000000), but the file holds (3, 64)"),
    (lambda c: c.update(input_shape=[1, 10**6, 10**6]), "input_shape (1, 1000000, 1000000) with 3 classes is absurdly large"),
    (lambda c: c.update(spec="c4k99p0-bn-m2"), "the kernel (99 wide) is larger than the padded input"),
    (lambda c: c.update(spec="c4-bn-m2-x"), "cannot parse 'x'"),
    (lambda c: c.update(layers=3), "unknown key(s) ['layers']"),
])
def test_a_cnn_file_whose_config_does_not_describe_its_arrays_is_refused_unbuilt(cnn_file, change, message):
    rewrite_meta(cnn_file, lambda m: change(m["model"]["config"]))
    error, peak = peak_bytes(lambda: load_model(cnn_file))
    assert isinstance(error, FormatError), error
    assert str(error).startswith(f"{cnn_file} is not a valid chainrule archive: ") and message in str(error), error
    assert peak < 2**20


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: m.update(classes=["a", "b"]), "the field 'classes' names 2 class(es); a model with 3 output(s) has 3"),
    (lambda m: m.update(image_shape=[9, 9]), "the field 'image_shape' [9, 9] holds 81 values; the model takes 64"),
    (lambda m: m.update(feature_names=["x"]), "the field 'feature_names' names 1 feature(s); the model takes 64"),
])
def test_a_cnn_files_metadata_must_fit_its_image_and_classes(cnn_file, change, message):
    # The widths are the CNN's own (C·H·W inputs, n_classes outputs), not its first dense layer's.
    assert load_model(cnn_file)[0].spec == "c4-bn-m2"
    rewrite_meta(cnn_file, change)
    with pytest.raises(FormatError) as info:
        load_model(cnn_file)
    assert message in str(info.value)


def test_every_class_a_model_file_may_name_is_sized_before_it_is_built():
    classes = [cr.nn.MLP, cr.nn.CNN, cr.nn.Linear, *cio.MODEL_CLASSES.values()]
    assert {"Perceptron", "LinearClassifier"} <= set(cio.MODEL_CLASSES)
    for cls in classes:
        assert callable(getattr(cls, "parameter_shapes", None)), cls


def test_declared_arrays_beyond_the_limit_are_refused_unread(tmp_path, monkeypatch):
    arrays = {"w": np.ones((2, 3), np.float32)}
    meta = valid_meta(arrays)
    meta["arrays"]["w"]["shape"] = [10**11]  # 373 GiB of float32
    path = tampered(tmp_path / "a.npz", arrays, meta)
    error, peak = peak_bytes(lambda: load_archive(path))
    assert isinstance(error, FormatError)
    assert "declare 372.5 GiB (400000000000 bytes), more than the limit of 8.0 GiB" in str(error)
    assert peak < 2**20
    # the limit is documented and can be changed: per call, or for the process
    small = save_archive(tmp_path / "s.npz", {"w": np.ones(100, np.float32)}, {}, kind="weights")
    with pytest.raises(FormatError, match="declare 400 B .*limit of 399 B"):
        load_archive(small, max_bytes=399)
    assert load_archive(small, max_bytes=400)[0]["w"].shape == (100,)
    monkeypatch.setenv("CHAINRULE_MAX_ARCHIVE_BYTES", "100")
    assert cio.max_archive_bytes() == 100
    with pytest.raises(FormatError, match="limit of 100 B"):
        load_archive(small)


def test_an_npy_header_that_disagrees_with_the_metadata_is_refused_before_its_data(tmp_path):
    # The metadata declares 6 floats; the member's own header claims 10^11 of them.
    arrays = {"w": np.ones((2, 3), np.float32)}
    header = {"descr": "<f4", "fortran_order": False, "shape": (10**11,)}
    buf = __import__("io").BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    path = write_raw(tmp_path / "a.npz", {"__meta__": meta_array(valid_meta(arrays)),
                                          "w.npy": buf.getvalue() + bytes(24)})
    error, peak = peak_bytes(lambda: load_archive(path))
    assert isinstance(error, FormatError)
    assert "array 'w' has shape (100000000000,), declared (2, 3)" in str(error)
    assert peak < 2**20


def test_a_member_that_inflates_beyond_its_shape_is_cut_off(tmp_path):
    # 64 MiB of zeros after a valid header, deflated to ~64 kB: only the declared 24 bytes
    # (and one more, to see that there is more) are ever decompressed.
    arrays = {"w": np.ones((2, 3), np.float32)}
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("__meta__.npy", "w") as member:
            np.lib.format.write_array(member, meta_array(valid_meta(arrays)))
        with archive.open("w.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array(member, arrays["w"])
            for _ in range(64):
                member.write(bytes(2**20))
    assert path.stat().st_size < 2**20
    error, peak = peak_bytes(lambda: load_archive(path))
    assert isinstance(error, FormatError)
    assert "array 'w' holds more data than its shape (2, 3)" in str(error)
    assert peak < 4 * 2**20


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: m.update(preprocess="standardize"),
     "the field 'preprocess' must be an object; got \"standardize\""),
    (lambda m: m.update(data="digits"), "the field 'data' must be an object; got \"digits\""),
    (lambda m: m.update(classes=5), "the field 'classes' must be a list of strings; got 5"),
    (lambda m: m.update(loss=["x"]), "the field 'loss' must be one of binary-hinge, cross-entropy, hinge, logistic, mse, perceptron, softmax, svm; got [\"x\"]"),
    (lambda m: m.update(loss="l1"), "the field 'loss' must be one of binary-hinge, cross-entropy, hinge, logistic, mse, perceptron, softmax, svm; got \"l1\""),
    (lambda m: m.update(classes=["a", "b"]), "the field 'classes' names 2 class(es); a model with 3 output(s) has 3"),
    (lambda m: m.update(classes=["a", "a", "b"]), "the field 'classes' repeats a name"),
    (lambda m: m.update(classes=["a", 1, "c"]), "the field 'classes[1]' must be a string of at most 1000 characters; got 1"),
    (lambda m: m["preprocess"].update(kind="whiten"), "the field 'preprocess.kind' must be one of standardize, global-standardize, mean-image, none; got \"whiten\""),
    (lambda m: m["preprocess"].pop("scale"), "the field 'preprocess.scale' is missing (standardize needs it)"),
    (lambda m: m["preprocess"].update(mean=[0.0]), "the field 'preprocess.mean' has 1 values; the model takes 2"),
    (lambda m: m["preprocess"].update(scale=[1.0, 0.0]), "the field 'preprocess.scale[1]' must be a finite number > 0; got 0.0"),
    (lambda m: m["data"].update(seed=-1), "the field 'data.seed' must be a whole number in [0, 4294967295]; got -1"),
    (lambda m: m["data"].update(test_size=1.5), "the field 'data.test_size' must be a fraction in [0, 1); got 1.5"),
    (lambda m: m.update(feature_names=["x1"]), "the field 'feature_names' names 1 feature(s); the model takes 2"),
    (lambda m: m.update(image_shape=[3, 3]), "the field 'image_shape' [3, 3] holds 9 values; the model takes 2"),
    (lambda m: m.update(task="regression"), "the field 'loss' is 'cross-entropy' but the field 'task' is 'regression'"),
    (lambda m: m["model"].update({"class": "Perceptron2"}), "the field 'model.class' must be one of BinarySVM, "),
    (lambda m: m["model"].update(config="big"), "the field 'model.config' must be an object"),
    (lambda m: m["model"]["config"].update(hidden_sizes=["4"]), "the MLP config"),
    (lambda m: m.pop("model"), "the field 'model' is missing"),
    (lambda m: m.update(format_version=99), "format_version 99 is newer than the newest this chainrule reads"),
])
def test_tampered_model_metadata_is_refused_naming_the_file_and_the_field(mlp_file, change, message):
    rewrite_meta(mlp_file, change)
    with pytest.raises(FormatError) as info:
        load_model(mlp_file)
    assert str(info.value).startswith(f"{mlp_file} is not a valid chainrule archive: "), info.value
    assert message in str(info.value)


def test_the_untampered_model_loads_with_its_metadata(mlp_file):
    model, meta = load_model(mlp_file)
    assert model.num_parameters() == 2 * 4 + 4 + 4 * 3 + 3 and meta["classes"] == ["a", "b", "c"]


def valid_checkpoint_meta() -> dict:
    """The metadata of a checkpoint that passes the schema: one finished epoch of SGD."""
    config = {"loss": "cross-entropy", "optimizer": "sgd", "lr": 0.1, "epochs": 3, "batch_size": 32, "reg": 0.0,
              "schedule": "none", "seed": 0, "shuffle": True, "optimizer_options": {}}
    return {"epoch": 1, "evaluations": 3, "config": config, "step": "autodiff",
            "history": [{"epoch": 1, "loss": 0.5, "lr": 0.1, "train_acc": 0.75, "seconds": 0.01, "evaluations": 3}],
            "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "momentum": 0.0, "params": [0, 1]}]},
            "schedule": None, "rng": np.random.default_rng(0).bit_generator.state, "callbacks": {},
            "stopped": False}


@pytest.mark.parametrize(("change", "message"), [
    ({"epoch": "3"}, "the field 'epoch' must be a whole number >= 0; got \"3\""),
    ({"history": "abc"}, "the field 'history' must be a list of objects"),
    ({"history": [{"epoch": "one", "loss": 0.5}]}, "the field 'history[0].epoch' must be a whole number >= 1"),
    ({"rng": {"bit_generator": "PCG64"}}, "the field 'rng.state' is missing"),
    ({"evaluations": -4}, "the field 'evaluations' must be a whole number >= 0; got -4"),
    ({"schedule": 7}, "the field 'schedule' must be null or an object; got 7"),
])
def test_tampered_checkpoint_metadata_is_refused(tmp_path, change, message):
    meta = valid_checkpoint_meta()
    path = save_archive(tmp_path / "c.npz", {"w": np.ones(2, np.float32)}, meta | change, kind="checkpoint")
    with pytest.raises(FormatError, match="c.npz is not a valid chainrule archive: ") as info:
        load_archive(path, kind="checkpoint")
    assert message in str(info.value)
    assert load_archive(save_archive(tmp_path / "ok.npz", {}, meta, kind="checkpoint"), kind="checkpoint")


@pytest.mark.parametrize(("content", "what"), [
    (b"root:x:0:0:root:/root:/bin/bash\n", "it looks like a text file"),
    (b"x1,x2,label\n1,2,a\n", "it looks like a text file"),
    (bytes([0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0xFF, 0xFE]), "it looks like a binary file of another kind"),
])
def test_a_file_that_is_not_a_zip_says_what_it_is_not(tmp_path, content, what):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    with pytest.raises(FormatError) as info:
        load_model(path)
    text = str(info.value)
    assert "it is not a zip file (an .npz archive is a zip of .npy arrays)" in text and what in text
    assert "pickle" not in text and "unsafe" not in text


def test_meta_with_nan_is_not_json(tmp_path):
    path = write_raw(tmp_path / "a.npz", {"__meta__": np.frombuffer(b'{"x": NaN}', np.uint8)})
    with pytest.raises(FormatError, match="NaN is not a JSON value"):
        load_archive(path)


def test_load_json_checks_size_strictness_and_schema(tmp_path):
    schema = cio.Schema("run config", {1: cio.Obj({"epochs": cio.Int(1)})}, version_key="format")
    path = tmp_path / "config.json"
    path.write_text('{"format": 1, "epochs": 3}')
    assert load_json(path, schema) == {"format": 1, "epochs": 3}
    for text, message in [('{"format": 99, "epochs": 3}', "the field 'format' must be 1 (the run config file "
                                                          "versions this chainrule reads); got 99 (newer than"),
                          ('{"format": 1, "epochs": Infinity}', "not valid UTF-8 JSON (Infinity is not a JSON value)"),
                          ('{"format": 1, "epochs": 0}', "the field 'epochs' must be a whole number >= 1; got 0"),
                          ("[1]", "the file must be a JSON object; got [1]")]:
        path.write_text(text)
        with pytest.raises(FormatError, match="config.json: ") as info:
            load_json(path, schema)
        assert message in str(info.value)
    path.write_text(" " * 2000)
    with pytest.raises(FormatError, match="larger than 1.0 KiB"):
        load_json(path, max_bytes=1024)


def test_dumps_strict_writes_standard_json():
    text = dumps_strict({"loss": float("nan"), "best": np.float32("inf"), "curve": np.array([1.0, -np.inf]),
                         "ok": 0.5, "path": Path("a/b")})
    assert json.loads(text, parse_constant=lambda c: pytest.fail(c)) == {
        "loss": None, "best": None, "curve": [1.0, None], "ok": 0.5, "path": "a/b"}


@pytest.mark.parametrize("model", [
    cr.nn.MLP(3, [5, 4], 2), cr.nn.MLP(3, [4], 1, dropout=0.5), cr.nn.MLP(2, [], 3), cr.nn.Linear(3, 4),
    cr.nn.Linear(3, 4, bias=False), cr.models.LinearClassifier(3, 4, loss="svm"),
    cr.models.LogisticRegression(5), cr.models.BinarySVM(2), cr.models.Perceptron(3), cr.models.Perceptron(3, 4),
], ids=repr)
def test_parameter_shapes_are_what_the_constructor_builds(model):
    # load_model trusts parameter_shapes to size a file's model before building it.
    shapes = type(model).parameter_shapes(model.get_config())
    assert shapes == {name: tuple(p.shape) for name, p in model.named_parameters()}
    assert cr.nn.summary_from_shapes(shapes).to_dict()["parameters"] == model.num_parameters()
    if isinstance(model, cr.nn.MLP):
        assert cr.nn.summary_from_shapes(shapes).to_dict() == cr.nn.summary(model).to_dict()


def test_declared_schemas_cover_the_files_chainrule_writes():
    assert set(SCHEMAS) == {"model", "checkpoint"} and all(s.version == FORMAT_VERSION for s in SCHEMAS.values())


# --------------------------------------------------------------------------------------------
# folder locks
# --------------------------------------------------------------------------------------------
import subprocess  # noqa: E402
import sys  # noqa: E402


def test_a_folder_lock_is_exclusive_names_its_owner_and_leaves_nothing(tmp_path):
    first = cio.FolderLock(tmp_path).acquire()
    assert (tmp_path / ".lock").read_text() == f"{os.getpid()}\n" and first.held
    with pytest.raises(cio.FolderInUseError, match=rf"is in use by process {os.getpid()} \(its lock file .*\.lock\)"):
        cio.FolderLock(tmp_path).acquire()
    first.release()
    first.release()  # idempotent
    assert list(tmp_path.iterdir()) == []
    with cio.FolderLock(tmp_path) as again:
        assert again.held
    assert list(tmp_path.iterdir()) == []


def test_a_lock_held_by_another_process_is_refused_and_a_dead_owners_lock_is_taken_over(tmp_path):
    code = ("import sys, time; from chainrule import io; lock = io.FolderLock(sys.argv[1]).acquire(); "
            "print('locked', flush=True); time.sleep(60)")
    owner = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout.readline().strip() == "locked"
        with pytest.raises(cio.FolderInUseError) as info:
            cio.FolderLock(tmp_path).acquire()
        assert info.value.pid == owner.pid
    finally:
        owner.kill()  # dies holding the lock: its file stays, stale
        owner.wait(10)
    assert (tmp_path / ".lock").read_text() == f"{owner.pid}\n"
    lock = cio.FolderLock(tmp_path).acquire()
    assert (tmp_path / ".lock").read_text() == f"{os.getpid()}\n"
    lock.release()


# --------------------------------------------------------------------------------------------
# write_atomic through links, not onto devices; deeply nested JSON; a model's dropout
# --------------------------------------------------------------------------------------------


def test_write_atomic_writes_through_a_symlink_and_keeps_the_link(tmp_path):
    target = tmp_path / "data" / "real.csv"
    target.parent.mkdir()
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    assert write_text_atomic(link, "new\n") == link
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["real.csv"]  # the temporary went beside it
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "data" / "later.csv")
    write_text_atomic(dangling, "made\n")
    assert dangling.is_symlink() and (tmp_path / "data" / "later.csv").read_text() == "made\n"


def test_write_atomic_refuses_a_target_that_is_not_a_regular_file(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "full"
    link.symlink_to("/dev/full")  # the device is never opened, let alone replaced
    for path in (fifo, link):
        with pytest.raises(ValueError, match=f"cannot write {path}: it is not a regular file"):
            write_text_atomic(path, "x\n")
    assert stat.S_ISFIFO(fifo.stat().st_mode) and stat.S_ISCHR(os.stat("/dev/full").st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "pipe"]


def test_deeply_nested_json_is_a_format_error_naming_the_file(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    path = tmp_path / "config.json"
    path.write_text(deep)
    with pytest.raises(FormatError, match=f"^{path}: nested too deeply to be a chainrule file$"):
        load_json(path)
    with pytest.raises(FormatError, match=f"^{path}: nested too deeply to be a chainrule run configuration file$"):
        load_json(path, cio.Schema("run configuration", {1: cio.Obj()}))
    archive = tmp_path / "a.npz"
    with zipfile.ZipFile(archive, "w") as z:
        with z.open("__meta__.npy", "w") as member:
            np.lib.format.write_array(member, np.frombuffer(deep.encode(), np.uint8))
    with pytest.raises(FormatError, match="a.npz is not a valid chainrule archive: __meta__ is nested too deeply "
                                          "to be chainrule metadata$"):
        load_archive(archive)


@pytest.mark.parametrize("dropout", [5.0, -0.1, "half"])
def test_a_model_files_bad_dropout_is_named_before_the_model_is_sized(mlp_file, dropout):
    rewrite_meta(mlp_file, lambda m: m["model"]["config"].update(dropout=dropout))
    with pytest.raises(FormatError) as info:
        load_model(mlp_file)
    assert str(info.value) == (f"{mlp_file} is not a valid chainrule archive: the field 'model.config.dropout' "
                               f"must be a finite number in [0, 1); got {json.dumps(dropout)}")


def test_checkpoint_schema_checks_what_its_fields_say_together(tmp_path):
    meta = valid_checkpoint_meta()
    SCHEMAS["checkpoint"].check({"format_version": 1, "arrays": {}, **meta}, "c")
    bad = [({"epoch": 2}, "the field 'epoch' is 2 but the field 'history' holds 1 record(s)"),
           ({"evaluations": 4}, "the field 'evaluations' is 4 but the last record of the field 'history' has 3"),
           ({"history": [dict(meta["history"][0], epoch=2)]}, "the field 'history[0].epoch' is 2"),
           ({"history": [dict(meta["history"][0], extra="x")]}, "the field 'history[0].extra' must be null or a "
                                                                  "finite number"),
           ({"epoch": 4, "history": [dict(meta["history"][0], epoch=i, evaluations=3) for i in range(1, 5)]},
            "the field 'epoch' is 4, more than the 3 epochs of the field 'config.epochs'"),
           ({"callbacks": {"EarlyStopping": {"best": None, "wait": "2"}}},
            "the field 'callbacks.EarlyStopping.wait' must be a whole number >= 0"),
           ({"optimizer": {"state": {"7": {}}, "param_groups": [{"params": [0, 1]}]}},
            "the field 'optimizer.state.7' is the state of no parameter (there are 2, numbered 0 to 1)")]
    for change, message in bad:
        with pytest.raises(FormatError) as info:
            SCHEMAS["checkpoint"].check({"format_version": 1, "arrays": {}, **meta, **change}, "c")
        assert str(info.value).startswith(f"c: {message}"), (change, info.value)
