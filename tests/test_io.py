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
        ({"format_version": "1"}, "format_version is '1'"),
        ({"format_version": True}, "format_version is True"),
        ({"format_version": 0}, "format_version is 0"),
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
    with pytest.raises(FormatError, match="format_version is None"):
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
