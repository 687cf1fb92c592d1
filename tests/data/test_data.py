"""Tests for chainrule.data: loaders, parsers, downloads (never the network), preprocessing."""

from __future__ import annotations

import ast
import gzip
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from chainrule.data import (
    DATASETS,
    Dataset,
    DownloadError,
    MeanImage,
    MissingFileError,
    Standardizer,
    batches,
    cache_dir,
    fetch,
    load_dataset,
    read_cifar_binary,
    read_idx,
    train_val_test_split,
)
from chainrule.data import datasets as datasets_module
from chainrule.data import download as download_module

DATA_PACKAGE = Path(download_module.__file__).parent


# --- helpers that write the formats byte by byte, independently of the parsers -------------


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    dtype = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[type_code]
    header = bytes([0, 0, type_code, array.ndim])
    header += b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    return header + np.asarray(array).astype(dtype).tobytes()


def cifar_bytes(images_hwc: np.ndarray, labels) -> bytes:
    """Records of 1 label byte + the red plane, green plane, blue plane, each row-major."""
    out = bytearray()
    for image, label in zip(images_hwc, labels):
        out.append(int(label))
        for c in range(3):
            for h in range(32):
                for w in range(32):
                    out.append(int(image[h, w, c]))
    return bytes(out)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FakeOpener:
    """Serves bytes per URL; records every call. A URL mapped to an exception raises it."""

    def __init__(self, responses):
        self.responses = responses
        self.calls = []

    def __call__(self, url, timeout=None):
        self.calls.append(url)
        response = self.responses[url]
        if isinstance(response, BaseException):
            raise response
        return io.BytesIO(response)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any test that reaches the real opener fails instead of touching the network."""

    def refuse(url, timeout=None):
        raise AssertionError(f"test tried to download {url}")

    monkeypatch.setattr(download_module, "urlopen", refuse)


# --- bundled and synthetic sets ------------------------------------------------------------


@pytest.mark.parametrize(
    "name, n, d, counts, first_class",
    [
        ("digits", 1797, 64, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180], "0"),
        ("iris", 150, 4, [50, 50, 50], "setosa"),
        ("breast-cancer", 569, 30, [212, 357], "malignant"),
        ("wine", 178, 13, [59, 71, 48], "class_0"),
    ],
)
def test_bundled_datasets(name, n, d, counts, first_class):
    ds = load_dataset(name)
    assert ds.X.shape == (n, d) and len(ds) == n and ds.n_features == d
    assert ds.X.dtype == np.float32 and ds.y.dtype == np.int64
    assert ds.n_classes == len(counts) and ds.classes[0] == first_class
    assert np.bincount(ds.y).tolist() == counts
    assert ds.task == "classification" and ds.split is None
    assert len(ds.feature_names) == d


def test_digits_image_shape_and_pixel_range():
    ds = load_dataset("digits")
    assert ds.image_shape == (8, 8)
    assert ds.X.min() == 0.0 and ds.X.max() == 16.0
    assert ds.X[0].reshape(ds.image_shape).shape == (8, 8)


def test_names_ignore_case_and_underscores():
    assert len(load_dataset("Breast_Cancer")) == 569


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="^the dataset must be one of blobs, .*, or a path to a .csv or .npz file; got 'mnsit'$") as info:
        load_dataset("mnsit")
    for valid in ("digits", "spiral", "mnist", "cifar10"):
        assert valid in str(info.value)


def test_options_that_do_not_apply_are_rejected():
    with pytest.raises(ValueError, match="noise=0.3 applies only to the synthetic"):
        load_dataset("iris", noise=0.3)
    with pytest.raises(ValueError, match="label_column='species' applies only to CSV"):
        load_dataset("iris", label_column="species")


def test_spiral_matches_the_cs231n_recipe():
    ds = load_dataset("spiral")
    assert ds.X.shape == (300, 2) and ds.n_classes == 3
    assert np.bincount(ds.y).tolist() == [100, 100, 100]
    # The recipe recomputed here with the same generator stream.
    rng = np.random.default_rng(0)
    for j in range(3):
        r = np.linspace(0.0, 1.0, 100)
        t = np.linspace(j * 4, (j + 1) * 4, 100) + rng.standard_normal(100) * 0.2
        expected = np.c_[r * np.sin(t), r * np.cos(t)]
        np.testing.assert_allclose(ds.X[ds.y == j], expected, rtol=1e-6, atol=1e-7)
    radii = np.linalg.norm(ds.X, axis=1)
    assert radii.min() == 0.0 and radii.max() == pytest.approx(1.0)


def test_spiral_is_reproducible_per_seed():
    a, b, c = (load_dataset("spiral", seed=s) for s in (7, 7, 8))
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.allclose(a.X, c.X)
    np.testing.assert_array_equal(a.y, c.y)


def test_spiral_options():
    ds = load_dataset("spiral", n_samples=31, noise=0.0)
    assert np.bincount(ds.y).tolist() == [11, 10, 10]
    # Without noise each arm's angle is exactly linspace(4j, 4j+4).
    t = np.arctan2(ds.X[ds.y == 1, 0], ds.X[ds.y == 1, 1])
    np.testing.assert_allclose(np.sin(t[1:]), np.sin(np.linspace(4, 8, 10)[1:]), atol=1e-6)


def test_xor_labels_are_the_xor_of_the_signs():
    ds = load_dataset("xor", n_samples=400, noise=0.1)
    assert ds.X.shape == (400, 2) and np.bincount(ds.y).tolist() == [200, 200]
    expected = (ds.X[:, 0] > 0) != (ds.X[:, 1] > 0)
    assert np.array_equal(ds.y.astype(bool), expected)


@pytest.mark.parametrize("name, n, k", [("moons", 200, 2), ("circles", 200, 2), ("blobs", 300, 3)])
def test_sklearn_generators(name, n, k):
    ds = load_dataset(name, seed=3)
    assert ds.X.shape == (n, 2) and ds.n_classes == k
    np.testing.assert_array_equal(ds.X, load_dataset(name, seed=3).X)
    assert not np.allclose(ds.X, load_dataset(name, seed=4).X)
    assert not np.allclose(ds.X, load_dataset(name, seed=3, noise=0.5).X)
    assert len(load_dataset(name, n_samples=60)) == 60


def test_circles_radii():
    ds = load_dataset("circles", noise=0.0)
    radii = np.linalg.norm(ds.X, axis=1)
    np.testing.assert_allclose(radii[ds.y == 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(radii[ds.y == 1], 0.5, atol=1e-6)


def test_bad_synthetic_arguments():
    with pytest.raises(ValueError, match="noise must be a finite number >= 0; got -1"):
        load_dataset("moons", noise=-1)
    with pytest.raises(ValueError, match=r"n_samples \(for a 3-arm spiral\) must be a whole number >= 3; got 2"):
        load_dataset("spiral", n_samples=2)


def test_n_samples_subsamples_real_sets_reproducibly():
    full = load_dataset("digits")
    a = load_dataset("digits", n_samples=100, seed=1)
    b = load_dataset("digits", n_samples=100, seed=1)
    c = load_dataset("digits", n_samples=100, seed=2)
    assert len(a) == 100 and a.classes == full.classes and a.image_shape == (8, 8)
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)
    # Every kept row is a row of the full set, in the original order.
    rows = {r.tobytes(): i for i, r in enumerate(full.X)}
    positions = [rows[r.tobytes()] for r in a.X]
    assert positions == sorted(positions)
    with pytest.raises(ValueError, match=r"n_samples \(of the 1797 examples of 'digits'\) must be a whole number in \[1, 1797\]; got 5000"):
        load_dataset("digits", n_samples=5000)


# --- the Dataset container -----------------------------------------------------------------


def test_dataset_validates_and_converts():
    ds = Dataset(np.arange(6).reshape(3, 2), np.array([0, 2, 1]), name="toy")
    assert ds.X.dtype == np.float32 and ds.y.dtype == np.int64
    assert ds.classes == ["0", "1", "2"] and ds.n_classes == 3 and len(ds) == 3
    assert repr(ds) == "Dataset(name='toy', n=3, n_features=2, task='classification', n_classes=3)"
    with pytest.raises(ValueError, match="3 rows in X and 2 in y"):
        Dataset(np.zeros((3, 2)), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"1 NaN or infinite .* index \(1, 0\)"):
        Dataset(np.array([[0.0], [np.nan]]), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"image_shape \(3, 3\) holds 9 values but X has 2"):
        Dataset(np.zeros((3, 2)), np.zeros(3, dtype=int), image_shape=(3, 3))
    with pytest.raises(ValueError, match="label 2 has no class name"):
        Dataset(np.zeros((3, 1)), np.array([0, 1, 2]), classes=["a", "b"])
    with pytest.raises(ValueError, match="task must be one of"):
        Dataset(np.zeros((1, 1)), np.zeros(1), task="ranking")


def test_subset_keeps_metadata():
    ds = Dataset(np.arange(8).reshape(4, 2), [0, 1, 2, 1], classes=["a", "b", "c"],
                 split=["train", "train", "test", "test"])
    part = ds.subset([True, False, False, True])
    assert part.y.tolist() == [0, 1] and part.classes == ["a", "b", "c"]
    assert part.split.tolist() == ["train", "test"] and part.X.tolist() == [[0, 1], [6, 7]]
    assert ds.subset([3]).X.tolist() == [[6, 7]]
    train, test = ds.official_split()
    assert train.y.tolist() == [0, 1] and test.y.tolist() == [2, 1]


def test_regression_dataset():
    ds = Dataset(np.zeros((2, 1)), np.array([0.5, 1.5]), task="regression")
    assert ds.y.dtype == np.float32 and ds.n_classes == 0 and ds.classes == []


def test_official_split_requires_a_split():
    with pytest.raises(ValueError, match="'iris' has no official train/test split"):
        load_dataset("iris").official_split()


# --- IDX ------------------------------------------------------------------------------------


def test_read_idx_images_plain_and_gzip(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
    raw = idx_bytes(images)
    (tmp_path / "x.idx").write_bytes(raw)
    (tmp_path / "x.idx.gz").write_bytes(gzip.compress(raw))
    for source in (raw, tmp_path / "x.idx", str(tmp_path / "x.idx.gz"), gzip.compress(raw)):
        out = read_idx(source)
        assert out.dtype == np.uint8 and out.shape == (5, 4, 3)
        np.testing.assert_array_equal(out, images)


@pytest.mark.parametrize("code, values", [(0x0C, [-70000, 1, 70000]), (0x0E, [0.5, -2.25, 1e300]), (0x0B, [-3, 300, 7])])
def test_read_idx_big_endian_types(code, values):
    out = read_idx(idx_bytes(np.array(values), code))
    assert out.tolist() == values and out.dtype.isnative


def test_read_idx_rejects_truncated_and_bad_files(tmp_path):
    raw = idx_bytes(np.zeros((5, 4, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"truncated: shape \(5, 4, 3\) of uint8 needs 60 bytes, got 59"):
        read_idx(raw[:-1])
    with pytest.raises(ValueError, match="trailing bytes"):
        read_idx(raw + b"\x00")
    with pytest.raises(ValueError, match="bad IDX magic number 0x08030000"):
        read_idx(b"\x08\x03\x00\x00" + raw[4:])
    with pytest.raises(ValueError, match="bad IDX magic number 0x00000703"):
        read_idx(b"\x00\x00\x07\x03" + raw[4:])
    with pytest.raises(ValueError, match="truncated IDX header"):
        read_idx(raw[:9])
    gz = tmp_path / "cut.gz"
    gz.write_bytes(gzip.compress(raw)[:-10])
    with pytest.raises(ValueError, match="cut.gz: corrupt or truncated gzip"):
        read_idx(gz)
    with pytest.raises(MissingFileError, match="nope.idx"):
        read_idx(tmp_path / "nope.idx")


# --- CIFAR-10 binary ------------------------------------------------------------------------


def test_read_cifar_binary_transposes_chw_to_hwc(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(5, 32, 32, 3), dtype=np.uint8)
    labels = [3, 0, 9, 1, 1]
    raw = cifar_bytes(images, labels)
    assert len(raw) == 5 * 3073
    path = tmp_path / "data_batch_1.bin"
    path.write_bytes(raw)
    for source in (raw, path):
        out_images, out_labels = read_cifar_binary(source)
        assert out_images.shape == (5, 32, 32, 3) and out_images.dtype == np.uint8
        np.testing.assert_array_equal(out_images, images)
        assert out_labels.tolist() == labels and out_labels.dtype == np.int64
    # One pixel by hand: record 2, row 4, column 7, green is at 1 + 1024 + 4*32 + 7.
    assert read_cifar_binary(raw)[0][2, 4, 7, 1] == raw[2 * 3073 + 1 + 1024 + 4 * 32 + 7]


def test_read_cifar_binary_rejects_bad_files():
    raw = bytes([1]) + bytes(3072)
    with pytest.raises(ValueError, match="6145 bytes is not a whole number of 3073-byte"):
        read_cifar_binary((raw * 2)[:-1])
    with pytest.raises(ValueError, match="0 bytes"):
        read_cifar_binary(b"")
    with pytest.raises(ValueError, match="expected 10000 CIFAR-10 records, got 2"):
        read_cifar_binary(raw * 2, records=10000)
    with pytest.raises(ValueError, match="record 1 has label byte 128, expected 0..9"):
        read_cifar_binary(raw + bytes([128]) + bytes(3072))


# --- downloads ------------------------------------------------------------------------------

URL = "https://example.org/files/blob.bin"
PAYLOAD = b"chainrule test payload " * 100


def test_fetch_downloads_verifies_and_replaces_atomically(tmp_path):
    target = tmp_path / "cache" / "blob.bin"
    seen_during_download = []

    class Response(io.BytesIO):
        def read(self, size=-1):
            # While bytes stream in, only a temporary file exists, never the final name.
            seen_during_download.append((target.exists(), sorted(p.name for p in target.parent.iterdir())))
            return super().read(size)

    def opener(url, timeout=None):
        assert url == URL and timeout == 60.0
        return Response(PAYLOAD)

    path = fetch(URL, "blob.bin", sha(PAYLOAD), tmp_path / "cache", opener=opener)
    assert path == target and path.read_bytes() == PAYLOAD
    assert seen_during_download and all(not exists for exists, _ in seen_during_download)
    names = seen_during_download[0][1]
    assert len(names) == 1 and names[0].startswith(".blob.bin.") and names[0].endswith(".part")
    assert [p.name for p in target.parent.iterdir()] == ["blob.bin"]


def test_fetch_checksum_mismatch_leaves_nothing(tmp_path):
    opener = FakeOpener({URL: PAYLOAD + b"corrupt"})
    expected = sha(PAYLOAD)
    with pytest.raises(ValueError) as info:
        fetch(URL, "blob.bin", expected, tmp_path, opener=opener)
    message = str(info.value)
    assert "blob.bin" in message and expected in message and sha(PAYLOAD + b"corrupt") in message
    assert list(tmp_path.iterdir()) == []


def test_fetch_offline_raises_download_error_with_url_and_path(tmp_path):
    opener = FakeOpener({URL: urllib.error.URLError("Temporary failure in name resolution")})
    with pytest.raises(DownloadError) as info:
        fetch(URL, "blob.bin", sha(PAYLOAD), tmp_path / "d", opener=opener)
    message = str(info.value)
    assert isinstance(info.value, OSError)
    assert URL in message and str(tmp_path / "d" / "blob.bin") in message
    assert "name resolution" in message and "\n" not in message
    assert not (tmp_path / "d").exists()  # no partial file, and no folder made for nothing


def test_fetch_http_error_then_mirror(tmp_path):
    mirror = "https://mirror.example.org/blob.bin"
    not_found = urllib.error.HTTPError(URL, 404, "Not Found", {}, None)
    opener = FakeOpener({URL: not_found, mirror: PAYLOAD})
    path = fetch([URL, mirror], "blob.bin", sha(PAYLOAD), tmp_path, opener=opener)
    assert path.read_bytes() == PAYLOAD and opener.calls == [URL, mirror]
    opener = FakeOpener({URL: not_found})
    with pytest.raises(DownloadError, match="HTTP 404 Not Found"):
        fetch(URL, "other.bin", sha(PAYLOAD), tmp_path, opener=opener)


def test_fetch_uses_the_cache_and_redownloads_a_bad_copy(tmp_path):
    opener = FakeOpener({URL: PAYLOAD})
    for _ in range(3):
        fetch(URL, "blob.bin", sha(PAYLOAD), tmp_path, opener=opener)
    assert opener.calls == [URL]
    (tmp_path / "blob.bin").write_bytes(b"damaged")
    fetch(URL, "blob.bin", sha(PAYLOAD), tmp_path, opener=opener)
    assert len(opener.calls) == 2 and (tmp_path / "blob.bin").read_bytes() == PAYLOAD


def test_fetch_default_opener_is_the_module_attribute(tmp_path, monkeypatch):
    opener = FakeOpener({URL: PAYLOAD})
    monkeypatch.setattr(download_module, "urlopen", opener)
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "env"))
    path = fetch(URL, "blob.bin", sha(PAYLOAD).upper())
    assert path == tmp_path / "env" / "blob.bin" and opener.calls == [URL]


def test_fetch_validates_arguments(tmp_path):
    with pytest.raises(ValueError, match="sha256 must be 64 hexadecimal characters, got 'abc'"):
        fetch(URL, "blob.bin", "abc", tmp_path)
    with pytest.raises(ValueError, match="bare file name, got '../x'"):
        fetch(URL, "../x", sha(PAYLOAD), tmp_path)


def test_cache_dir_per_platform(monkeypatch, tmp_path):
    home = lambda: Path("/home/ada")  # noqa: E731
    pick = download_module._cache_dir
    assert pick("linux", {}, home) == Path("/home/ada/.cache/chainrule")
    assert pick("linux", {"XDG_CACHE_HOME": "/xdg"}, home) == Path("/xdg/chainrule")
    assert pick("linux", {"XDG_CACHE_HOME": "relative"}, home) == Path("/home/ada/.cache/chainrule")
    assert pick("darwin", {}, home) == Path("/home/ada/Library/Caches/chainrule")
    assert pick("win32", {"LOCALAPPDATA": "/appdata"}, home) == Path("/appdata/chainrule")
    assert pick("win32", {"CHAINRULE_DATA": "/mine", "LOCALAPPDATA": "/x"}, home) == Path("/mine")
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))
    assert cache_dir() == tmp_path


# --- the download loaders end to end, on tiny generated files -------------------------------


def write_tiny_mnist(folder: Path, rng) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for prefix, n in (("train", 5), ("t10k", 3)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        files[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(idx_bytes(images))
        files[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes(labels))
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


def patch_digests(monkeypatch, name, files):
    for filename, data in files.items():
        monkeypatch.setitem(DATASETS[name].files, filename, sha(data))


def test_mnist_loader_from_cached_files(tmp_path, monkeypatch):
    files = write_tiny_mnist(tmp_path / "mnist", np.random.default_rng(2))
    patch_digests(monkeypatch, "mnist", files)
    ds = load_dataset("mnist", data_dir=tmp_path)
    assert ds.X.shape == (8, 784) and ds.X.dtype == np.float32 and ds.image_shape == (28, 28)
    assert ds.classes == [str(k) for k in range(10)]
    assert ds.split.tolist() == ["train"] * 5 + ["test"] * 3
    train_images = read_idx(files["train-images-idx3-ubyte.gz"])
    test_labels = read_idx(files["t10k-labels-idx1-ubyte.gz"])
    np.testing.assert_array_equal(ds.X[:5].reshape(5, 28, 28), train_images)
    train, test = ds.official_split()
    assert len(train) == 5 and test.y.tolist() == test_labels.tolist()
    # The same files as Fashion-MNIST's: the class names are its spec's.
    files = write_tiny_mnist(tmp_path / "fashion-mnist", np.random.default_rng(2))
    patch_digests(monkeypatch, "fashion-mnist", files)
    fashion = load_dataset("fashion-mnist", data_dir=tmp_path)
    assert fashion.classes[0] == "T-shirt/top" and fashion.classes[9] == "Ankle boot" and len(fashion.classes) == 10
    np.testing.assert_array_equal(fashion.X, ds.X)


def test_mnist_loader_downloads_from_the_first_mirror(tmp_path, monkeypatch):
    files = write_tiny_mnist(tmp_path / "source", np.random.default_rng(3))
    patch_digests(monkeypatch, "mnist", files)
    mirror = DATASETS["mnist"].mirrors[0]
    opener = FakeOpener({mirror + name: data for name, data in files.items()})
    monkeypatch.setattr(download_module, "urlopen", opener)
    ds = load_dataset("mnist", data_dir=tmp_path / "cache")
    assert len(ds) == 8 and len(opener.calls) == 4
    assert sorted(p.name for p in (tmp_path / "cache" / "mnist").iterdir()) == sorted(files)
    load_dataset("mnist", data_dir=tmp_path / "cache")
    assert len(opener.calls) == 4


def test_fashion_mnist_offline_error_names_every_mirror_and_the_path(tmp_path, monkeypatch):
    spec = DATASETS["fashion-mnist"]
    offline = urllib.error.URLError("offline")
    opener = FakeOpener({m + name: offline for m in spec.mirrors for name in spec.files})
    monkeypatch.setattr(download_module, "urlopen", opener)
    with pytest.raises(DownloadError) as info:
        load_dataset("fashion-mnist", data_dir=tmp_path)
    message = str(info.value)
    assert f"put them in {tmp_path / 'fashion-mnist'}: " in message
    for mirror in spec.mirrors:  # every mirror tried for the first file, and why it failed
        assert f"{mirror}train-images-idx3-ubyte.gz (offline)" in message
    for name, digest in spec.files.items():  # every file still missing, its URL and checksum
        assert f"{name} from {spec.mirrors[0]}{name} (SHA-256 {digest})" in message
    assert info.value.files == list(spec.files) and info.value.folder == tmp_path / "fashion-mnist"


def cifar_archive(members: dict) -> bytes:
    """The CIFAR-10 binary tar.gz holding ``members`` (file name -> bytes) in its folder."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_cifar10_loader_reads_the_binary_archive(tmp_path, monkeypatch):
    rng = np.random.default_rng(4)
    members, expected = {}, []
    for batch in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        images = rng.integers(0, 256, size=(2, 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, size=2)
        members[batch] = cifar_bytes(images, labels)
        expected.append((images, labels))
    members["batches.meta.txt"] = "\n".join(
        ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    ).encode() + b"\n\n"
    archive = cifar_archive(members)
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / "cifar-10-binary.tar.gz").write_bytes(archive)
    monkeypatch.setitem(DATASETS["cifar10"].files, "cifar-10-binary.tar.gz", sha(archive))
    monkeypatch.setattr(datasets_module, "CIFAR_RECORDS_PER_FILE", 2)

    ds = load_dataset("cifar10", data_dir=tmp_path)
    assert ds.X.shape == (12, 3072) and ds.image_shape == (32, 32, 3)
    assert ds.classes[:2] == ["plane", "car"]
    assert ds.split.tolist() == ["train"] * 10 + ["test"] * 2
    np.testing.assert_array_equal(ds.X[-2:].reshape(2, 32, 32, 3), expected[-1][0])
    assert ds.y.tolist() == np.concatenate([labels for _, labels in expected]).tolist()

    monkeypatch.setattr(datasets_module, "CIFAR_RECORDS_PER_FILE", 10000)
    with pytest.raises(ValueError, match="expected 10000 CIFAR-10 records, got 2"):
        load_dataset("cifar10", data_dir=tmp_path)


def test_registry_checksums_are_well_formed():
    for name in ("mnist", "fashion-mnist", "cifar10"):
        spec = DATASETS[name]
        assert spec.kind == "download" and spec.mirrors
        for digest in spec.files.values():
            assert len(digest) == 64 and int(digest, 16) >= 0
    assert DATASETS["mnist"].files["train-images-idx3-ubyte.gz"].startswith("440fcabf")
    assert list(DATASETS["cifar10"].files) == ["cifar-10-binary.tar.gz"]


# --- CSV and NPZ ----------------------------------------------------------------------------


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_with_string_labels(tmp_path):
    path = write(tmp_path, "flowers.csv", "w,h,species\n1,2,virginica\n3,4,setosa\n5,6.5,virginica\n\n")
    ds = load_dataset(path)
    assert ds.name == "flowers" and ds.feature_names == ["w", "h"]
    np.testing.assert_array_equal(ds.X, np.array([[1, 2], [3, 4], [5, 6.5]], dtype=np.float32))
    assert ds.y.tolist() == [1, 0, 1] and ds.classes == ["setosa", "virginica"]


def test_csv_label_column_choice(tmp_path):
    path = write(tmp_path, "t.csv", "a,label,b\n1,0,2\n3,1,4\n")
    ds = load_dataset(str(path))
    assert ds.feature_names == ["a", "b"] and ds.y.tolist() == [0, 1]
    ds = load_dataset(str(path), label_column="b")
    assert ds.feature_names == ["a", "label"] and ds.classes == ["2", "4"] and ds.y.tolist() == [0, 1]


def test_csv_numeric_labels_and_regression(tmp_path):
    ds = load_dataset(write(tmp_path, "gaps.csv", "x,y\n0,5\n1,1\n2,3\n"))
    assert ds.y.tolist() == [2, 0, 1] and ds.classes == ["1", "3", "5"]
    ds = load_dataset(write(tmp_path, "reg.csv", "x,y\n0,0.5\n1,1.25\n"))
    assert ds.task == "regression" and ds.y.dtype == np.float32 and ds.y.tolist() == [0.5, 1.25]
    ds = load_dataset(write(tmp_path, "counts.csv", "x,y\n0,1\n1,3\n"), task="regression")
    assert ds.task == "regression" and ds.y.tolist() == [1.0, 3.0]


@pytest.mark.parametrize(
    "text, message",
    [
        ("a,b,label\n1,x2,0\n", r"line 2, column 'b': expected a number, got 'x2'"),
        ("a,label\n1,0\n\nq,1\n", r"line 4, column 'a': expected a number, got 'q'"),
        ("a,label\n1,0\n,1\n", r"line 3, column 'a': expected a number, got ''"),
        ("a,label\n1,0\ninf,1\n", r"line 3, column 'a': features must be finite, got 'inf'"),
        ("a,label\n1,0\n2\n", r"line 3: expected 2 fields like the header, got 1"),
        ("1,2\n3,4\n", r"looks like data; a header row of column names is required"),
        ("a,label\n", r"has a header but no data rows"),
        ("", r"the CSV file is empty"),
        ("a,label\n1,\n", r"line 2: the label column 'label' is empty"),
        ("label\n1\n", r"need at least one feature column"),
    ],
)
def test_csv_errors(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        load_dataset(write(tmp_path, "bad.csv", text))


def test_csv_that_is_not_utf8(tmp_path):
    (tmp_path / "latin.csv").write_bytes(b"a,label\n1,0\n\xff\xfe,1\n")
    with pytest.raises(ValueError, match="latin.csv: not a readable UTF-8 CSV file"):
        load_dataset(tmp_path / "latin.csv")


def test_csv_missing_label_column_and_missing_file(tmp_path):
    path = write(tmp_path, "t.csv", "a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"label column 'target' not found; columns are \['a', 'b'\]"):
        load_dataset(path, label_column="target")
    missing = tmp_path / "absent.csv"
    with pytest.raises(ValueError, match="CSV file not found") as info:
        load_dataset(missing)
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, MissingFileError)
    assert str(missing) in str(info.value)
    with pytest.raises(ValueError, match=r"only .csv and .npz files are supported, got suffix '.txt'"):
        load_dataset(str(write(tmp_path, "data.txt", "a")))


def test_npz_loading(tmp_path):
    path = tmp_path / "imgs.npz"
    X = np.random.default_rng(5).random((6, 4, 4))
    np.savez(path, X=X, y=np.array(["cat", "dog", "cat", "cat", "dog", "dog"]))
    ds = load_dataset(path)
    assert ds.X.shape == (6, 16) and ds.image_shape == (4, 4)
    np.testing.assert_allclose(ds.X, X.reshape(6, 16).astype(np.float32))
    assert ds.classes == ["cat", "dog"] and ds.y.tolist() == [0, 1, 0, 0, 1, 1]
    named = tmp_path / "named.npz"
    np.savez(named, X=np.eye(3), y=np.array([2, 0, 2]), classes=np.array(["a", "b", "c"]))
    ds = load_dataset(named)
    assert ds.y.tolist() == [2, 0, 2] and ds.classes == ["a", "b", "c"]


def test_npz_errors(tmp_path):
    np.savez(tmp_path / "keys.npz", data=np.eye(2), labels=np.arange(2))
    with pytest.raises(ValueError, match=r"missing \['X', 'y'\]; found \['data', 'labels'\]"):
        load_dataset(tmp_path / "keys.npz")
    np.savez(tmp_path / "len.npz", X=np.eye(3), y=np.arange(2))
    with pytest.raises(ValueError, match=r"y must have shape \(3,\) to match X's 3 rows, got \(2,\)"):
        load_dataset(tmp_path / "len.npz")
    np.savez(tmp_path / "nan.npz", X=np.array([[1.0, np.inf]]), y=np.array([0]))
    with pytest.raises(ValueError, match=r"X contains 1 NaN or infinite value\(s\); the first is inf"):
        load_dataset(tmp_path / "nan.npz")
    np.savez(tmp_path / "obj.npz", X=np.eye(2), y=np.array([{"a": 1}, 2], dtype=object))
    with pytest.raises(ValueError, match=r"holds Python objects \(dtype object\), which chainrule never loads"):
        load_dataset(tmp_path / "obj.npz")
    np.savez(tmp_path / "ok.npz", X=np.eye(2), y=np.arange(2))
    with pytest.raises(ValueError, match="label_column='y' applies only to CSV"):
        load_dataset(tmp_path / "ok.npz", label_column="y")


# --- splits, scaling, batches ---------------------------------------------------------------


def test_split_is_stratified_reproducible_and_disjoint():
    X = np.arange(200).reshape(100, 2)
    y = np.repeat([0, 1, 2, 3], [40, 30, 20, 10])
    s = train_val_test_split(X, y, test_size=0.2, val_size=0.1, seed=3)
    assert (len(s.y_train), len(s.y_val), len(s.y_test)) == (70, 10, 20)
    assert np.bincount(s.y_test).tolist() == [8, 6, 4, 2]
    assert np.bincount(s.y_val).tolist() == [4, 3, 2, 1]
    ids = np.concatenate([s.X_train[:, 0], s.X_val[:, 0], s.X_test[:, 0]]) // 2
    assert sorted(ids.tolist()) == list(range(100))
    np.testing.assert_array_equal(y[s.X_test[:, 0] // 2], s.y_test)
    again = train_val_test_split(X, y, test_size=0.2, val_size=0.1, seed=3)
    np.testing.assert_array_equal(again.X_test, s.X_test)
    other = train_val_test_split(X, y, test_size=0.2, val_size=0.1, seed=4)
    assert not np.array_equal(other.X_test, s.X_test)


def test_split_without_validation_and_for_regression():
    X, y = np.arange(20.0).reshape(10, 2), np.linspace(0, 1, 10)
    s = train_val_test_split(X, y, test_size=0.3)
    assert len(s.X_val) == 0 and s.X_val.shape == (0, 2) and len(s.y_test) == 3
    with pytest.raises(ValueError, match="test_size must be a fraction in \\[0, 1\\); got 1.5"):
        train_val_test_split(X, y, test_size=1.5)
    with pytest.raises(ValueError, match="0.6 \\+ 0.5 = 1.1"):
        train_val_test_split(X, y, test_size=0.6, val_size=0.5)
    with pytest.raises(ValueError, match="same length, got 10 and 9"):
        train_val_test_split(X, y[:9])


@pytest.mark.parametrize("n, test_size, val_size, least", [(1, 0.25, 0.0, 2), (2, 0.25, 0.1, 3), (3, 0.5, 0.25, 4)])
def test_too_few_examples_to_split_are_counted_before_scikit_learn_sees_them(n, test_size, val_size, least):
    X, y = np.arange(2.0 * n).reshape(n, 2), np.arange(n) % 2
    with pytest.raises(ValueError) as info:
        train_val_test_split(X, y, test_size=test_size, val_size=val_size)
    assert str(info.value).startswith(f"{n} example(s) are too few to split: the test part (test_size={test_size:g})")
    assert str(info.value).endswith(f"leaving none to train on; give at least {least} examples")
    X, y = np.arange(2.0 * least).reshape(least, 2), np.arange(least) % 2
    parts = train_val_test_split(X, y, test_size=test_size, val_size=val_size, stratify=False)
    assert len(parts.y_train) == 1 and len(parts.y_train) + len(parts.y_val) + len(parts.y_test) == least


def test_standardizer_values_and_round_trip(tmp_path):
    rng = np.random.default_rng(6)
    X = np.column_stack([rng.normal(3, 2, 50), np.full(50, 7.0), rng.normal(-1, 0.5, 50)]).astype(np.float32)
    s = Standardizer().fit(X)
    np.testing.assert_allclose(s.mean_, X.astype(np.float64).mean(0), rtol=1e-12)
    assert s.scale_[1] == 1.0
    np.testing.assert_allclose(s.scale_[[0, 2]], X.astype(np.float64).std(0)[[0, 2]], rtol=1e-12)
    Z = s.transform(X)
    assert Z.dtype == np.float32
    np.testing.assert_allclose(Z.mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(Z.std(0), [1, 0, 1], atol=1e-5)
    assert np.all(Z[:, 1] == 0)
    np.testing.assert_allclose(s.inverse_transform(Z), X, rtol=1e-5)
    np.savez(tmp_path / "scaler.npz", **s.to_dict())
    with np.load(tmp_path / "scaler.npz") as saved:
        restored = Standardizer.from_dict(saved)
    np.testing.assert_array_equal(restored.transform(X), Z)
    with pytest.raises(ValueError, match="not fitted yet"):
        Standardizer().transform(X)
    with pytest.raises(ValueError, match="fitted on 3 features, got X with 2"):
        s.transform(X[:, :2])
    with pytest.raises(ValueError, match=r"missing \['scale'\]"):
        Standardizer.from_dict({"mean": s.mean_})


def test_mean_image():
    X = np.array([[0.0, 10.0], [2.0, 30.0]], dtype=np.float32)
    m = MeanImage()
    Z = m.fit_transform(X)
    assert m.mean_.tolist() == [1.0, 20.0] and Z.tolist() == [[-1.0, -10.0], [1.0, 10.0]]
    restored = MeanImage.from_dict(m.to_dict())
    np.testing.assert_array_equal(restored.transform(X), Z)
    np.testing.assert_array_equal(restored.inverse_transform(Z), X)


@pytest.mark.parametrize("batch_size, sizes", [(None, [10]), (4, [4, 4, 2]), (1, [1] * 10), (25, [10])])
def test_batches_cover_every_index_once(batch_size, sizes):
    for epoch in range(2):
        parts = list(batches(10, batch_size, rng=epoch))
        assert [len(p) for p in parts] == sizes
        assert all(p.dtype == np.int64 for p in parts)
        assert sorted(np.concatenate(parts).tolist()) == list(range(10))


def test_batches_order():
    assert [b.tolist() for b in batches(5, 2, shuffle=False)] == [[0, 1], [2, 3], [4]]
    shuffled = np.concatenate(list(batches(50, 8, rng=0)))
    assert shuffled.tolist() != list(range(50))
    np.testing.assert_array_equal(shuffled, np.concatenate(list(batches(50, 8, rng=np.random.default_rng(0)))))
    assert list(batches(0, 4)) == []


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-3, ValueError), (2.5, TypeError), ("8", TypeError),
                                        (True, TypeError)])
def test_batches_reject_bad_sizes_eagerly(bad, error):
    with pytest.raises(error, match=f"batch_size must be None .* got {re.escape(repr(bad))}$"):
        batches(10, bad)


# --- import discipline ----------------------------------------------------------------------


def test_data_package_imports_nothing_else_from_chainrule():
    # ... but chainrule.validation, the bottom layer, which itself imports nothing of chainrule.
    for path in DATA_PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                imported = [f"{node.module}.{a.name}" for a in node.names]
                assert not (node.module or "").startswith("chainrule") or imported == ["chainrule.validation"], \
                    (path.name, imported)
            if isinstance(node, ast.ImportFrom) and node.level > 1:
                pytest.fail(f"{path.name} imports from outside chainrule.data")
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("chainrule") for a in node.names), path.name


def test_importing_the_data_package_does_not_import_sklearn():
    code = "import sys, chainrule.data; print('sklearn' in sys.modules, 'scipy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "PYTHONWARNINGS": "ignore"}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]
