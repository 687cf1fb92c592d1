"""`chainrule train --model cnn`: convolutional networks from the command line (issue 13, part 3).

The commands run in this process (``chainrule.cli.main``) so that the MNIST and CIFAR-10 tests
can point the loaders at small generated files of the real formats (idx gzip, the CIFAR binary
tar.gz) with their digests patched in, as the data tests do.
"""
from __future__ import annotations

import gzip
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import io, runs
from chainrule.cli import main
from chainrule.data import DATASETS, apply_preprocess, fit_preprocess, load_dataset
from chainrule.data import datasets as datasets_module

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))  # tests/data, wherever pytest starts
from test_data import cifar_archive, cifar_bytes, idx_bytes, sha  # noqa: E402  (the formats, byte by byte)


def cli(capsys, *args) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def ok(capsys, *args) -> str:
    code, out, err = cli(capsys, *args)
    assert code == 0, (code, out[-2000:], err[-2000:])
    return out


def error(capsys, *args) -> str:
    code, out, err = cli(capsys, *args)
    lines = err.splitlines()
    assert code == 2 and out == "" and len(lines) == 1 and lines[0].startswith("chainrule: error: "), (code, out, err)
    return lines[0]


def weights(path: Path) -> dict:
    model, _ = io.load_model(path)
    return {k: np.asarray(v) for k, v in model.state_dict().items()}


SMALL = ["train", "--model", "cnn", "--data", "digits", "--n-samples", "400", "--conv", "c8-m2-c16",
         "--batch-size", "16"]


# ====================================================================== digits
@pytest.mark.slow
def test_default_cnn_on_digits_reaches_98_5_percent(tmp_path, monkeypatch, capsys):
    # The bar: the standard 75/25 stratified split (seed 0), the default network and
    # training; scikit-learn's MLPClassifier gets 97.8 %, our MLP 97.6 %.
    monkeypatch.chdir(tmp_path)
    result = json.loads(ok(capsys, "train", "--model", "cnn", "--out", "run", "--json"))
    # no --conv: the default network for 8x8 images, and config.json leaves the unset option out
    assert "conv" not in result["settings"] and result["settings"]["preprocess"] == "global-standardize"
    assert result["test"]["n"] == 450
    assert result["test"]["accuracy"] >= 0.985, result["test"]["accuracy"]


def test_a_short_cnn_run_beats_chance_and_writes_its_pictures(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = ok(capsys, *SMALL, "--epochs", "4", "--crop", "1", "--feature-maps", "3", "--out", "run")
    assert "cnn c8-m2-c16 on 1x8x8 images (crop 1)" in out
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] > 0.5  # ten classes: chance is 10 % (69 % here)
    files = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"filters.png", "feature_maps.png", "model.npz", "checkpoint.npz"} <= files
    assert "weights.png" not in files
    import matplotlib.image

    filters = matplotlib.image.imread(tmp_path / "run" / "filters.png")
    assert filters.shape[0] > 100 and filters.std() > 0.01
    model, meta = io.load_model(tmp_path / "run" / "model.npz")
    assert isinstance(model, cr.nn.CNN) and model.spec == "c8-m2-c16" and model.input_shape == (1, 8, 8)
    assert meta["preprocess"]["kind"] == "global-standardize" and len(meta["preprocess"]["mean"]) == 1


def test_feature_maps_are_the_first_convolution_after_relu_of_the_chosen_example(tmp_path, monkeypatch):
    settings = runs.RunSettings(model="cnn", conv="c4-m2", n_samples=200, epochs=1)
    result = runs.train_run(settings)
    conv = result.model[0]
    drawn = {}

    def record(maps, path, *, title=None):
        drawn["maps"], drawn["title"] = np.array(maps), title
        Path(path).write_bytes(b"png")
        return Path(path)

    monkeypatch.setattr(cr.viz, "plot_feature_maps", record)
    files = runs.conv_plots(result.model, result.split.X_test, tmp_path, 7)
    assert set(files) == {"filters", "feature_maps"} and Path(files["filters"]).stat().st_size > 1000
    x = result.split.X_test[7].reshape(1, 1, 8, 8)
    expected = np.maximum(cr.nn.functional.conv2d(cr.tensor(x), conv.weight, conv.bias, padding=1).numpy(), 0)[0]
    np.testing.assert_allclose(drawn["maps"], expected, rtol=1e-5, atol=1e-6)  # ReLU(conv(x)) of example 7
    assert drawn["title"].startswith("test example 7: 4 feature maps of 8x8")
    with pytest.raises(ValueError, match=r"--feature-maps 50: the test part holds 50 example\(s\); give an index from 0 to 49"):
        runs.check_example(50, 50)


def test_resume_of_an_augmented_cnn_run_is_bit_identical(tmp_path, monkeypatch, capsys):
    # A run folder stopped after epoch 2 of 5 (its config and checkpoint, as a killed run leaves
    # them) continues with --resume to the weights of the uninterrupted run, crops and flips
    # included: the augmentation's generator is in the checkpoint (train.AugmentEachEpoch).
    monkeypatch.chdir(tmp_path)
    settings = runs.RunSettings(model="cnn", data="digits", n_samples=300, conv="c8-m2-c16", batch_size=16,
                                epochs=5, crop=1, flip=True)
    whole = runs.train_run(settings)
    early = runs.train_run(settings.replace(epochs=2))
    assert "rng" in early.checkpoint[1]["callbacks"]["AugmentEachEpoch"]  # the crops' and flips' generator
    (tmp_path / "stopped").mkdir()
    runs.write_config(tmp_path / "stopped", settings, data_sha256=early.dataset.fingerprint())
    io.save_archive(tmp_path / "stopped" / "checkpoint.npz", *early.checkpoint, kind="checkpoint")
    ok(capsys, "train", "--resume", "stopped", "-q")
    a = {k: np.asarray(v) for k, v in whole.model.state_dict().items()}
    b = weights(tmp_path / "stopped" / "model.npz")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert json.loads((tmp_path / "stopped" / "metrics.json").read_text())["epochs"] == 5


def test_evaluate_and_predict_a_saved_cnn(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    ok(capsys, *SMALL, "--epochs", "3", "--out", "run", "-q")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    evaluated = json.loads(ok(capsys, "evaluate", "run", "--json", "--no-plot"))
    assert evaluated["accuracy"] == pytest.approx(metrics["test"]["accuracy"]) and evaluated["n"] == metrics["test"]["n"]
    ds = load_dataset("digits")
    rows = ds.X[:5]
    (tmp_path / "rows.csv").write_text("\n".join(",".join(f"{v:g}" for v in r) for r in rows) + "\n")
    predicted = json.loads(ok(capsys, "predict", "run", "--input", "rows.csv", "--format", "json"))
    saved = io.load_model(tmp_path / "run" / "model.npz")
    model, meta = saved
    expected = runs.Head(model, "cross-entropy", meta["classes"]).predict(apply_preprocess(meta["preprocess"], rows))
    assert [p["class"] for p in predicted["predictions"]] == [meta["classes"][k] for k in expected]
    line = error(capsys, "evaluate", "run", "--data", "spiral")
    assert "the model takes 1x8x8 images, rows of 64 values; the data has rows of 2 values" in line


def test_compare_gives_every_strategy_the_same_cnn_and_budget(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    result = json.loads(ok(capsys, "compare", "--data", "digits", "--n-samples", "300", "--model", "cnn",
                           "--conv", "c4-m2", "--strategies", "sgd", "adam", "--budget", "40", "--json", "--out", "c"))
    assert [r["strategy"] for r in result["results"]] == ["sgd", "adam"]
    assert all(r["evaluations"] == 40 for r in result["results"])
    assert result["results"][1]["test_acc"] > 0.3
    assert "--conv applies to --model cnn" in error(capsys, "compare", "--conv", "c4", "--out", "d")


def test_summary_counts_a_conv_spec_the_lectures_way(capsys):
    out = json.loads(ok(capsys, "summary", "--conv", "c16k5-m2-c32k5-m2", "--image-shape", "1x28x28", "--json"))
    # out·(in·kh·kw) weights + out biases: 16·25 + 16, 32·16·25 + 32, then 32·7·7 → 10
    assert out["parameters"] == (16 * 25 + 16) + (32 * 16 * 25 + 32) + (32 * 7 * 7 * 10 + 10) == 28938
    text = ok(capsys, "summary", "--conv", "c16k5-m2-c32k5-m2", "--image-shape", "28x28")
    assert "16×14×14" in text and "416 + 12832 + 15690 = 28880 weights + 58 biases = 28938" in text


# ====================================================================== the recipes' data paths
def write_mnist(folder: Path, rng, n_train=40, n_test=10) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 40, size=(n, 28, 28)).astype(np.uint8)
        for i, k in enumerate(labels):  # a bright bar whose row says the class: learnable
            images[i, 2 + 2 * k: 4 + 2 * k, 4:24] = 250
        files[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(idx_bytes(images))
        files[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes(labels.astype(np.uint8)))
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_mnist_recipe_trains_from_idx_gzip_files(name, tmp_path, monkeypatch, capsys):
    files = write_mnist(tmp_path / "data" / name, np.random.default_rng(0))
    for filename, data in files.items():
        monkeypatch.setitem(DATASETS[name].files, filename, sha(data))
    monkeypatch.chdir(tmp_path)
    epochs = 6 if name == "mnist" else 1  # fashion-mnist's files take the same path: read, train, evaluate
    out = ok(capsys, "train", "--data", name, "--data-dir", "data", "--model", "cnn", "--epochs", epochs,
             "--crop", "2", "--out", "run", "--feature-maps", "9")
    assert "cnn c16k5-m2-c32k5-m2 on 1x28x28 images (crop 2)" in out  # the default for 28x28
    assert "36 train / 4 validation / 10 test examples" in out  # the official test part kept
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    if name == "mnist":
        assert metrics["test"]["accuracy"] >= 0.5  # ten bar positions, 36 examples: well above chance
    evaluated = json.loads(ok(capsys, "evaluate", "run", "--json", "--no-plot"))
    assert evaluated["accuracy"] == pytest.approx(metrics["test"]["accuracy"]) and evaluated["n"] == 10


def write_cifar(folder: Path, rng) -> bytes:
    members = {}
    for batch in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        labels = rng.integers(0, 10, size=2)
        images = rng.integers(0, 256, size=(2, 32, 32, 3), dtype=np.uint8)
        members[batch] = cifar_bytes(images, labels)
    members["batches.meta.txt"] = b"plane\ncar\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n"
    archive = cifar_archive(members)
    folder.mkdir(parents=True)
    (folder / "cifar-10-binary.tar.gz").write_bytes(archive)
    return archive


def test_cifar10_recipe_trains_from_the_binary_archive_on_channels_first_images(tmp_path, monkeypatch, capsys):
    archive = write_cifar(tmp_path / "data" / "cifar10", np.random.default_rng(1))
    monkeypatch.setitem(DATASETS["cifar10"].files, "cifar-10-binary.tar.gz", sha(archive))
    monkeypatch.setattr(datasets_module, "CIFAR_RECORDS_PER_FILE", 2)
    monkeypatch.chdir(tmp_path)
    out = ok(capsys, "train", "--data", "cifar10", "--data-dir", "data", "--model", "cnn", "--conv", "c4-m4",
             "--epochs", "2", "--crop", "4", "--flip", "--out", "run")
    assert "cnn c4-m4 on 3x32x32 images (crop 4, flip)" in out and "9 train / 1 validation / 2 test" in out
    model, meta = io.load_model(tmp_path / "run" / "model.npz")
    assert model.input_shape == (3, 32, 32) and meta["preprocess"]["channels_first"] == [32, 32, 3]
    # The rows (stored H×W×C, as Dataset.image_shape says) reach the network as C×H×W images:
    # channel c of the network's input is colour plane c of the picture.
    ds = load_dataset("cifar10", data_dir=tmp_path / "data")
    rows = apply_preprocess(meta["preprocess"], ds.X[:2])
    pictures = ds.X[:2].reshape(2, 32, 32, 3)
    mean, scale = meta["preprocess"]["mean"][0], meta["preprocess"]["scale"][0]
    np.testing.assert_allclose(rows.reshape(2, 3, 32, 32)[:, 1], (pictures[..., 1] - mean) / scale, rtol=1e-5, atol=1e-5)
    assert (tmp_path / "run" / "filters.png").stat().st_size > 1000  # colour filters (3 input channels)
    evaluated = json.loads(ok(capsys, "evaluate", "run", "--json", "--no-plot"))
    assert evaluated["n"] == 2


# ====================================================================== the preprocessing it relies on
def test_global_standardize_uses_one_mean_and_scale_and_channels_first_reorders():
    X = np.array([[0.0, 2.0, 4.0, 6.0], [2.0, 4.0, 6.0, 8.0]])
    spec = fit_preprocess("global-standardize", X, channels_first=(1, 2, 2))
    assert spec["mean"] == [4.0] and spec["scale"] == [pytest.approx(math.sqrt(6.0))]
    out = apply_preprocess(spec, X)
    z = (X - 4.0) / math.sqrt(6.0)
    np.testing.assert_allclose(out, z[:, [0, 2, 1, 3]], rtol=1e-6)  # H×W×C (1, 2, 2) → C×H×W
    assert out.dtype == np.float32
    with pytest.raises(ValueError, match="rows of 3 values are not 1x2x2 images"):
        apply_preprocess(spec, X[:, :3])
    assert fit_preprocess("global-standardize", np.ones((3, 2)))["scale"] == [1.0]  # constant data


def test_a_model_file_with_wrong_preprocessing_widths_is_refused(tmp_path):
    net = cr.nn.CNN((1, 4, 4), 2, "c2", rng=0)
    good = {"preprocess": {"kind": "global-standardize", "mean": [0.0], "scale": [1.0], "channels_first": [4, 4, 1]},
            "image_shape": [4, 4]}
    io.save_model(tmp_path / "good.npz", net, good)
    assert io.load_model(tmp_path / "good.npz")[1]["preprocess"]["channels_first"] == [4, 4, 1]
    for pre, words in [({"kind": "global-standardize", "mean": [0.0, 1.0], "scale": [1.0]},
                        "'preprocess.mean' has 2 values; global-standardize keeps one"),
                       ({"kind": "none", "channels_first": [4, 4, 3]},
                        r"'preprocess.channels_first' \[4, 4, 3\] holds 48 values; the model takes 16"),
                       ({"kind": "standardize", "mean": [0.0] * 15, "scale": [1.0] * 15},
                        "'preprocess.mean' has 15 values; the model takes 16 features")]:
        io.save_model(tmp_path / "bad.npz", net, {"preprocess": pre})
        with pytest.raises(ValueError, match=words):
            io.load_model(tmp_path / "bad.npz")
    io.save_model(tmp_path / "bad.npz", net, {"image_shape": [5, 5]})
    with pytest.raises(ValueError, match=r"'image_shape' \[5, 5\] holds 25 values; the model takes 16"):
        io.load_model(tmp_path / "bad.npz")
