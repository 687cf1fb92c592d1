"""The `chainrule` command against bad input: a catalogue of files, folders, options and
expressions a user (or an attacker) might give it.

Every case runs the real command (``cli.main``, what the console script calls; in a subprocess
for the memory bombs and the network, see IN_A_PROCESS) in an empty working folder, with the
fixtures it reads in a shared folder ``{F}``. For each one the command must exit with 2 (bad
input: anything the user named or supplied, a path included) or 1 (the machine or the network
failed while it ran), print exactly one line on stderr starting ``chainrule: error:`` and
containing the expected words, print nothing on stdout and no traceback, and leave no file
behind: the working folder stays empty and the fixtures stay byte for byte as they were.

The memory bombs are made by the fixture (a 2 kB model that asks
for a billion hidden units, an .npy header declaring 10^11 floats, a 64 kB member inflating to
64 MiB) and must be refused before anything is allocated.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import io

from cli_helpers import cli_env, command, run_in_process
from test_io import rewrite_meta  # the metadata of an existing archive, rewritten


def snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns, p.stat().st_mode)
            for p in sorted(root.rglob("*"))}


RUN = ["train", "--data", "{F}/flowers.csv", "--model", "softmax", "--epochs", "2"]

# (name, arguments, words the one stderr line must contain, exit code)
CATALOGUE = [
    # ------------------------------------------------------------------ CSV files
    ("missing data file", ["train", "--data", "{F}/missing.csv"], "no such file", 2),
    ("ragged CSV", ["train", "--data", "{F}/ragged.csv"], "line 3: expected 3 fields", 2),
    ("text in a feature cell", ["train", "--data", "{F}/text_cell.csv"], "column 'x2': expected a number, got 'abc'", 2),
    ("empty CSV", ["train", "--data", "{F}/empty.csv"], "the CSV file is empty", 2),
    ("CSV with a header only", ["train", "--data", "{F}/header_only.csv"], "a header but no data rows", 2),
    ("CSV without a header", ["train", "--data", "{F}/no_header.csv"], "a header row of column names is required", 2),
    ("CSV cell too large for float32", ["train", "--data", "{F}/huge_cell.csv"],
     "the value 1e+39 at row 1, column 1 does not fit in float32", 2),
    ("CSV cell NaN", ["train", "--data", "{F}/nan_cell.csv"], "features must be finite, got 'nan'", 2),
    ("CSV that is not UTF-8", ["train", "--data", "{F}/latin1.csv"], "not a readable UTF-8 CSV file", 2),
    ("CSV with one class", ["train", "--data", "{F}/one_class.csv"], "1 class(es) in its labels", 2),
    ("missing label column", [*RUN, "--label-column", "kind"], "label column 'kind' not found", 2),
    ("a folder named like a CSV", ["train", "--data", "{F}/folder.csv"], "no such file", 2),
    ("binary model on three classes", ["train", "--data", "{F}/flowers.csv", "--model", "logistic"],
     "--model logistic is a binary classifier but flowers has 3 classes", 2),
    ("one example to split", ["train", "--data", "{F}/one_row.csv"],
     "1 example(s) are too few to split: the test part (test_size=0.25) takes 1", 2),
    ("squared error on classes", ["train", "--data", "{F}/flowers.csv", "--loss", "mse"], "--loss mse is for numeric", 2),
    # ------------------------------------------------------------------ NPZ data files
    ("NPZ without X", ["train", "--data", "{F}/no_x.npz"], "the archive needs arrays 'X' and 'y', missing ['X']", 2),
    ("NPZ with a pickled array", ["train", "--data", "{F}/objects.npz"], "cannot read the arrays", 2),
    ("NPZ that is text", ["train", "--data", "{F}/text.npz"], "not a readable .npz archive", 2),
    ("NPZ with 1-D X", ["train", "--data", "{F}/flat_x.npz"], "X must have shape (n, d)", 2),
    ("NPZ with too few labels", ["train", "--data", "{F}/short_y.npz"], "y must have shape (6,)", 2),
    ("NPZ with infinity", ["train", "--data", "{F}/inf_x.npz"], "NaN or infinite value(s)", 2),
    # ------------------------------------------------------------------ model files: memory bombs
    ("model declaring a billion units", ["evaluate", "--model", "{F}/bomb_hidden.npz", "--data", "{F}/flowers.csv"],
     "builds '0.weight' of shape (1000000000, 2), but the file holds (4, 2)", 2),
    ("npy header declaring 10^11 floats", ["predict", "{F}/bomb_header.npz", "--input", "{F}/two_features.csv"],
     "has shape (100000000000,), declared (3, 2)", 2),
    ("member inflating past its shape", ["summary", "--model", "{F}/bomb_zip.npz"],
     "holds more data than its shape (3, 2)", 2),
    ("metadata declaring 373 GiB", ["evaluate", "{F}/bomb_declared.npz", "--data", "{F}/flowers.csv"],
     "declare 372.5 GiB (4000000000", 2),
    ("CNN model declaring a 0.4-gigapixel input", ["summary", "--model", "{F}/bomb_cnn.npz"],
     "builds '5.weight' of shape (3, 400000000), but the file holds (3, 64)", 2),
    # ------------------------------------------------------------------ model files: tampered metadata
    ("preprocess as a string", ["predict", "{F}/m_preprocess.npz", "--input", "{F}/two_features.csv"],
     "the field 'preprocess' must be an object; got \"standardize\"", 2),
    ("data as a string", ["evaluate", "{F}/m_data.npz"], "the field 'data' must be an object", 2),
    ("classes as a number", ["predict", "{F}/m_classes5.npz", "--input", "{F}/two_features.csv"],
     "the field 'classes' must be a list of strings; got 5", 2),
    ("loss as a list", ["predict", "{F}/m_loss.npz", "--input", "{F}/two_features.csv"],
     "the field 'loss' must be one of binary-hinge, cross-entropy, hinge, logistic, mse, perceptron, softmax, svm; "
     "got [\"x\"]", 2),
    ("two class names for three outputs", ["predict", "{F}/m_two_classes.npz", "--input", "{F}/two_features.csv"],
     "the field 'classes' names 2 class(es); a model with 3 output(s) has 3", 2),
    ("unknown preprocessing", ["predict", "{F}/m_whiten.npz", "--input", "{F}/two_features.csv"],
     "the field 'preprocess.kind' must be one of standardize, global-standardize, mean-image, none; got \"whiten\"", 2),
    ("unknown model class", ["summary", "--model", "{F}/m_class.npz"], "the field 'model.class' must be one of BinarySVM, CNN, Linear, LinearClassifier, "
     "LinearModel, LogisticRegression, MLP, Perceptron; got \"ResNet\"", 2),
    ("model format 99", ["evaluate", "{F}/m_format.npz"], "format_version 99 is newer than the newest", 2),
    ("model with NaN weights", ["predict", "{F}/m_nan.npz", "--input", "{F}/two_features.csv"],
     "array 'weight' has 1 non-finite value(s)", 2),
    ("a text file as the model", ["predict", "{F}/passwd", "--input", "{F}/two_features.csv"],
     "it is not a zip file (an .npz archive is a zip of .npy arrays); it looks like a text file", 2),
    ("a CSV as the model", ["evaluate", "--model", "{F}/flowers.csv"], "it looks like a text file", 2),
    ("an empty model file", ["summary", "--model", "{F}/empty.npz"], "the file is empty", 2),
    ("a truncated model", ["evaluate", "{F}/truncated_model.npz"], "is not a valid chainrule archive", 2),
    ("a corrupt model", ["predict", "{F}/corrupt.npz", "--input", "{F}/two_features.csv"],
     "is not a valid chainrule archive", 2),
    ("a folder without a model", ["evaluate", "{F}/folder.csv"], "holds no model.npz", 2),
    ("a missing model", ["predict", "{F}/nowhere.npz", "--input", "{F}/two_features.csv"], "no such model file", 2),
    ("two different models", ["evaluate", "{F}/run", "--model", "{F}/m_nan.npz"], "two models given", 2),
    ("no model at all", ["evaluate"], "give the model: chainrule evaluate RUN_DIR", 2),
    # ------------------------------------------------------------------ predict's input
    ("input cell too large for float32", ["predict", "{F}/run", "--input", "{F}/huge_input.csv"],
     "--input {F}/huge_input.csv: the value 1e+39 at row 0, column 1 does not fit in float32", 2),
    ("input with text", ["predict", "{F}/run", "--input", "{F}/text.csv"],
     "line 2, field 2: expected a finite number, got 'abc'", 2),
    ("headerless input with text in its first row", ["predict", "{F}/run", "--input", "{F}/bare_text.csv"],
     "line 1, field 2: expected a finite number, got 'abc' (a header row names every column, or the model's "
     "features, or its label column 'label'; this first row is read as data)", 2),
    ("input of the wrong width", ["predict", "{F}/run", "--input", "{F}/wide.csv"],
     "3 feature column(s), but the model expects 2", 2),
    ("missing input", ["predict", "{F}/run", "--input", "{F}/missing.csv"], "no such file", 2),
    ("output into a missing folder", ["predict", "{F}/run", "--input", "{F}/two_features.csv", "-o", "{F}/no/p.csv"],
     "the folder {F}/no does not exist", 2),
    # ------------------------------------------------------------------ run folders
    ("resume a missing folder", ["train", "--resume", "{F}/nowhere"], "no such run folder", 2),
    ("resume a folder without config.json", ["train", "--resume", "{F}/a_folder"], "holds no config.json", 2),
    ("resume with other settings", ["train", "--resume", "{F}/run", "--lr", "0.5"], "--lr 0.5 (the run has 0.001)", 2),
    ("resume a truncated checkpoint", ["train", "--resume", "{F}/r_truncated"], "is not a valid chainrule archive", 2),
    ("checkpoint epoch as text", ["train", "--resume", "{F}/r_epoch"],
     "the field 'epoch' must be a whole number >= 0; got \"1\"", 2),
    ("checkpoint history as text", ["train", "--resume", "{F}/r_history"],
     "the field 'history' must be a list of objects; got \"", 2),
    ("config.json not JSON", ["train", "--resume", "{F}/r_notjson"], "config.json: not valid UTF-8 JSON", 2),
    ("config.json of format 99", ["train", "--resume", "{F}/r_format"],
     "the field 'format' must be 1 or 2 (the run configuration file versions this chainrule reads); got 99 "
     "(newer than this chainrule reads; upgrade chainrule)", 2),
    ("config.json naming an unknown model", ["train", "--resume", "{F}/r_model"],
     "config.json: the field 'settings.model' must be one of mlp, softmax, svm, perceptron, logistic, binary-svm, "
     "cnn; got \"resnet\"", 2),
    ("config.json with an unknown preprocessing", ["train", "--resume", "{F}/r_preprocess"],
     "config.json: the field 'settings.preprocess' must be one of standardize, global-standardize, mean-image, "
     "none; got \"whiten\"", 2),
    ("config.json with epochs as text", ["train", "--resume", "{F}/r_epochs"],
     "config.json: the field 'settings.epochs' must be a whole number >= 1; got \"2\"", 2),
    ("--out is a file", [*RUN, "-o", "{F}/a_file"], "is a file, not a folder", 2),
    ("--out under a file", [*RUN, "--out", "{F}/a_file/run"], "is a file, not a folder", 2),
    ("--out holding a run", [*RUN, "--out", "{F}/run"], "already holds a run", 2),
    ("--out not empty", [*RUN, "--out", "{F}/a_folder"], "is a folder that is not empty", 2),
    # ------------------------------------------------------------------ options
    ("negative learning rate", ["train", "--lr", "-0.1"], "--lr: must be a finite number > 0; got -0.1", 2),
    ("learning rate inf", ["train", "--lr", "inf"], "--lr: must be a finite number > 0; got inf", 2),
    ("seed beyond 32 bits", ["train", "--seed", "4294967296"], "--seed: must be a whole number in [0, 4294967295]; got 4294967296", 2),
    ("negative seed", ["compare", "--seed", "-1"], "--seed: must be a whole number in [0, 4294967295]; got -1", 2),
    ("epochs 0", ["train", "--epochs", "0"], "--epochs: must be a whole number >= 1; got 0", 2),
    ("batch size abc", ["train", "--batch-size", "abc"], "must be 'full' or a whole number >= 1; got 'abc'", 2),
    ("compare batch size 0", ["compare", "--batch-size", "0"], "must be 'full' or a whole number >= 1; got 0", 2),
    ("hidden size 0", ["train", "--hidden", "64", "0"], "--hidden: must be a whole number >= 1; got 0", 2),
    ("a network too large to hold", [*RUN[:3], "--hidden", "1000000000"],
     "--hidden 1000000000 makes a network of 6000000003 parameters (22.4 GiB as float32), more than "
     "the 8.0 GiB a model file may hold", 2),
    ("unknown model", ["train", "--model", "resnet"], "invalid choice: 'resnet'", 2),
    ("unknown activation", ["train", "--activation", "swish"], "invalid choice: 'swish'", 2),
    ("unknown schedule", ["train", "--schedule", "warmup"], "invalid choice: 'warmup'", 2),
    ("batch size 0", ["train", "--batch-size", "0"], "--batch-size: must be 'full' or a whole number >= 1", 2),
    ("unknown optimizer", ["train", "--optimizer", "lbfgs"], "invalid choice: 'lbfgs'", 2),
    ("unknown dataset", ["train", "--data", "imagenet"], "the dataset must be one of blobs, breast-cancer, cifar10, circles, digits, "
     "fashion-mnist, iris, mnist, moons, spiral, wine, xor, or a path to a .csv or .npz file; got 'imagenet'", 2),
    ("option the model lacks", [*RUN[:3], "--model", "perceptron", "--optimizer", "adam"],
     "--optimizer does not apply to --model perceptron", 2),
    ("unknown option", ["train", "--frobnicate"], "unrecognized arguments: --frobnicate (see 'chainrule train --help')", 2),
    ("unknown option of predict", ["predict", "--colour"], "(see 'chainrule predict --help')", 2),
    ("unknown command", ["frobnicate"], "invalid choice: 'frobnicate'", 2),
    ("summary of nothing", ["summary"], "give the layer sizes (--layers 3 4 2) or a saved model", 2),
    ("summary of one layer", ["summary", "--layers", "3"], "at least two sizes", 2),
    ("summary of both", ["summary", "--layers", "3", "2", "--model", "{F}/run"], "give --layers or --model, not both", 2),
    ("summary classes of an MLP", ["summary", "--layers", "3", "2", "--classes", "5"],
     "--classes applies to --conv, not --layers", 2),
    ("summary activation of a saved model", ["summary", "--model", "{F}/run", "--activation", "tanh"],
     "--activation applies to --layers, not --model", 2),
    ("compare hidden sizes of a linear model", ["compare", "--hidden", "5"],
     "--hidden applies to --model mlp, not --model softmax", 2),
    ("compare a step for a strategy it does not run", ["compare", "--strategies", "sgd", "--lr", "adam=1"],
     "--lr adam=1 is for a strategy this comparison does not run (--strategies sgd)", 2),
    ("compare one step twice", ["compare", "--lr", "sgd=0.1", "--lr", "sgd=0.2"],
     "--lr names sgd twice (sgd=0.1 and sgd=0.2)", 2),
    ("unknown strategy", ["compare", "--strategies", "newton"],
     "--strategies must be one of random-search, random-local-search, full-batch-gd, mini-batch-gd, sgd, momentum, "
     "adam; got 'newton'", 2),
    # ------------------------------------------------------------------ --model cnn (issue 13)
    ("conv string that does not parse", ["train", "--model", "cnn", "--conv", "c16-q2"],
     "--conv: cannot parse 'q2' in the CNN layer string 'c16-q2'; expected c<filters>", 2),
    ("conv kernel larger than the padded input", ["train", "--model", "cnn", "--conv", "c8k11p1"],
     "--conv c8k11p1: CNN layer string 'c8k11p1' does not fit (1, 8, 8) images at layer 0 (Conv2d): the kernel (11 wide) is larger than the padded input (8 + padding 2 = 10)", 2),
    ("conv with zero filters", ["train", "--model", "cnn", "--conv", "c0"], "filters, kernel and stride must be at least 1", 2),
    ("conv for an mlp", ["train", "--conv", "c8"], "--conv does not apply to --model mlp", 2),
    ("cnn on data without an image shape", [*RUN[:3], "--model", "cnn"],
     "--model cnn needs images, but flowers has no image shape (rows of 2 values); give --image-shape", 2),
    ("image shape that does not divide the rows", [*RUN[:3], "--model", "cnn", "--image-shape", "3x1"],
     "--image-shape 3x1 (3 pixels) does not divide the 2 values of a row of flowers", 2),
    ("image shape of the wrong size", [*RUN[:3], "--model", "cnn", "--image-shape", "2x2x2"],
     "--image-shape 2x2x2 holds 8 values per image, but a row of flowers has 2", 2),
    ("image shape that is not the data's", ["train", "--model", "cnn", "--image-shape", "2x4x8"],
     "--image-shape 2x4x8 is not the 1x8x8 images of digits", 2),
    ("image shape not CxHxW", ["train", "--model", "cnn", "--image-shape", "8by8"],
     "--image-shape: must be CxHxW or HxW of whole numbers >= 1, such as 1x28x28; got '8by8'", 2),
    ("negative crop", ["train", "--model", "cnn", "--crop", "-1"], "--crop: must be a whole number >= 0; got -1", 2),
    ("flip for an mlp", ["train", "--flip"], "--flip does not apply to --model mlp", 2),
    ("cnn with a binary loss", ["train", "--model", "cnn", "--loss", "logistic"],
     "--model cnn has one output per class; it trains with --loss cross-entropy or svm", 2),
    ("feature maps of a missing test example", ["train", "--model", "cnn", "--feature-maps", "450"],
     "--feature-maps 450: the test part holds 450 example(s); give an index from 0 to 449", 2),
    ("feature maps of an mlp", [*RUN, "--feature-maps", "0"], "--feature-maps applies to --model cnn, not --model softmax", 2),
    ("summary of a conv spec without images", ["summary", "--conv", "c8"], "--conv needs the input images: --image-shape", 2),
    ("summary of a conv spec too large", ["summary", "--conv", "c8k9p0", "--image-shape", "1x8x8"],
     "the kernel (9 wide) is larger than the padded input (8 + padding 0 = 8)", 2),
    ("compare a cnn on points", ["compare", "--model", "cnn"], "--model cnn needs images, but spiral has no image shape", 2),
    # ------------------------------------------------------------------ expressions
    ("unfinished expression", ["graph", "(x + ", "--var", "x=1"], "unexpected end of input at column 6", 2),
    ("unknown function", ["graph", "foo(x)", "--var", "x=1"], "unknown function 'foo'", 2),
    ("nesting too deep", ["graph", "(" * 101 + "x" + ")" * 101, "--var", "x=1"], "nested too deeply", 2),
    ("a tree too deep", ["graph", "+".join(["x"] * 252), "--var", "x=1"], "more than 250 operators deep", 2),
    ("expression too long", ["graph", "x" + " " * 1000, "--var", "x=1"], "expression too long", 2),
    ("variable without a value", ["graph", "x * q", "--var", "x=1"], "no value for the variable 'q'", 2),
    ("unknown variable", ["graph", "x * 2", "--var", "x=1", "--var", "y=2"], "the expression has no variable 'y'", 2),
    ("bad --var syntax", ["graph", "x * 2", "--var", "x"], "expected NAME=VALUE such as x=-2, got 'x'", 2),
    ("bad --var value", ["graph", "x * 2", "--var", "x=two"], "the value of x must be a number", 2),
    ("bad drawing suffix", ["graph", "x * 2", "--var", "x=1", "-o", "c.txt"], "must end in .svg", 2),
    # ------------------------------------------------------------------ the network (exit 1)
    ("mnist offline", ["train", "--data", "mnist", "--data-dir", "{F}/no_data"],
     "download these 4 file(s) by hand and put them in {F}/no_data/mnist: train-images-idx3-ubyte.gz from", 1),
]


def _rows(n_per_class=8, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for name, centre in (("setosa", (-2, 0)), ("versicolor", (2, 0)), ("virginica", (0, 3))):
        for x in rng.normal(centre, 0.6, size=(n_per_class, 2)):
            rows.append(f"{x[0]:.4f},{x[1]:.4f},{name}")
    return rows


def _make_fixtures(F: Path) -> None:
    def text(name, content):
        (F / name).write_text(content)

    text("flowers.csv", "x1,x2,species\n" + "\n".join(_rows()) + "\n")
    text("ragged.csv", "x1,x2,label\n1,2,a\n3,b\n")
    text("text_cell.csv", "x1,x2,label\n1,2,a\n3,abc,b\n")
    text("empty.csv", "")
    text("header_only.csv", "x1,x2,label\n")
    text("no_header.csv", "1,2,3\n4,5,6\n")
    text("huge_cell.csv", "x1,x2,label\n1,2,a\n3,1e39,b\n1,2,a\n3,4,b\n")
    text("nan_cell.csv", "x1,x2,label\n1,2,a\nnan,1,b\n")
    (F / "latin1.csv").write_bytes("x1,x2,espèce\n1,2,a\n".encode("latin-1"))
    text("one_class.csv", "x1,x2,label\n1,2,a\n3,4,a\n5,6,a\n")
    (F / "folder.csv").mkdir()
    np.savez(F / "no_x.npz", y=np.zeros(3))
    np.savez(F / "objects.npz", X=np.array([[1.0], [2.0]], dtype=object), y=np.zeros(2))
    text("text.npz", "X,y\n1,2\n")
    np.savez(F / "flat_x.npz", X=np.arange(6.0), y=np.zeros(6))
    np.savez(F / "short_y.npz", X=np.ones((6, 2)), y=np.zeros(4))
    np.savez(F / "inf_x.npz", X=np.array([[1.0, np.inf], [2.0, 3.0]]), y=np.array([0, 1]))
    text("two_features.csv", "x1,x2\n1,2\n")
    text("huge_input.csv", "x1,x2\n1,1e39\n")
    text("text.csv", "x1,x2\n1,abc\n")
    text("bare_text.csv", "1,abc\n2,3\n")
    text("one_row.csv", "x1,x2,label\n1,2,0\n")
    text("wide.csv", "1,2,3\n")
    text("passwd", "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n")
    (F / "empty.npz").write_bytes(b"")
    (F / "corrupt.npz").write_bytes(b"PK\x03\x04" + bytes(range(256)))
    text("a_file", "not a folder\n")
    (F / "a_folder").mkdir()
    text("a_folder/notes.txt", "mine\n")

    result = subprocess.run(command(*[a.replace("{F}", str(F)) for a in RUN], "--out", F / "run", "--json"),
                            cwd=F, env=cli_env(F), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    model = F / "run" / "model.npz"
    _, meta = io.load_model(model)
    keep = {k: v for k, v in meta.items() if k not in io.RESERVED_META_KEYS + ("model",)}

    # memory bombs
    io.save_model(F / "bomb_hidden.npz", cr.nn.MLP(2, [4], 3, rng=0), keep)
    rewrite_meta(F / "bomb_hidden.npz", lambda m: m["model"]["config"].update(hidden_sizes=[10**9]))
    _bomb_header(model, F / "bomb_header.npz")
    _bomb_zip(model, F / "bomb_zip.npz")
    shutil.copy(model, F / "bomb_declared.npz")
    rewrite_meta(F / "bomb_declared.npz", lambda m: m["arrays"]["weight"].update(shape=[10**11]))
    io.save_model(F / "bomb_cnn.npz", cr.nn.CNN((1, 8, 8), 3, "c4-bn-m2", rng=0))
    rewrite_meta(F / "bomb_cnn.npz", lambda m: m["model"]["config"].update(input_shape=[1, 20000, 20000]))
    # tampered metadata
    for name, change in {
        "m_preprocess": lambda m: m.update(preprocess="standardize"),
        "m_data": lambda m: m.update(data="digits"),
        "m_classes5": lambda m: m.update(classes=5),
        "m_loss": lambda m: m.update(loss=["x"]),
        "m_two_classes": lambda m: m.update(classes=["setosa", "virginica"]),
        "m_whiten": lambda m: m["preprocess"].update(kind="whiten"),
        "m_class": lambda m: m["model"].update({"class": "ResNet"}),
        "m_format": lambda m: m.update(format_version=99),
    }.items():
        shutil.copy(model, F / f"{name}.npz")
        rewrite_meta(F / f"{name}.npz", change)
    linear, _ = io.load_model(model)
    linear.weight.data[0, 0] = np.nan
    io.save_model(F / "m_nan.npz", linear, keep)
    data = model.read_bytes()
    (F / "truncated_model.npz").write_bytes(data[: len(data) // 2])
    # run folders
    for name, change in {
        "r_truncated": None,
        "r_epoch": ("checkpoint", lambda m: m.update(epoch="1")),
        "r_history": ("checkpoint", lambda m: m.update(history="abc")),
        "r_notjson": ("config", lambda c: "{not json"),
        "r_format": ("config", lambda c: {**c, "format": 99}),
        "r_model": ("config", lambda c: {**c, "settings": {**c["settings"], "model": "resnet"}}),
        "r_preprocess": ("config", lambda c: {**c, "settings": {**c["settings"], "preprocess": "whiten"}}),
        "r_epochs": ("config", lambda c: {**c, "settings": {**c["settings"], "epochs": "2"}}),
    }.items():
        folder = F / name
        folder.mkdir()
        for f in ("config.json", "checkpoint.npz"):
            shutil.copy(F / "run" / f, folder / f)
        if change is None:
            data = (folder / "checkpoint.npz").read_bytes()
            (folder / "checkpoint.npz").write_bytes(data[: len(data) // 2])
        elif change[0] == "checkpoint":
            rewrite_meta(folder / "checkpoint.npz", change[1])
        else:
            config = change[1](json.loads((folder / "config.json").read_text()))
            (folder / "config.json").write_text(config if isinstance(config, str) else json.dumps(config))


def _bomb_header(model: Path, out: Path) -> None:
    """A copy of ``model`` whose 'weight' member's .npy header claims 10^11 floats."""
    import io as bytes_io

    buf = bytes_io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": (10**11,)})
    with zipfile.ZipFile(model) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, buf.getvalue() + bytes(24) if info.filename == "weight.npy"
                         else src.read(info))


def _bomb_zip(model: Path, out: Path) -> None:
    """A copy of ``model`` whose 'weight' member inflates from ~64 kB to 64 MiB."""
    with zipfile.ZipFile(model) as src, zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            with dst.open(info.filename, "w", force_zip64=True) as member:
                member.write(src.read(info))
                if info.filename == "weight.npy":
                    for _ in range(64):
                        member.write(bytes(2**20))


# The cases a separate process proves more for: the memory bombs (an allocation the guards failed
# to stop must hit a child, not the test process) and the network (offline by the child's own
# proxy settings). Every other case runs in-process through cli.main, which is all the console
# script calls (sys.exit(main())): the same code, exit code and output, without the second of
# interpreter start-up per case. tests/cli/test_main.py and test_run_folders.py start the real
# command as a process.
IN_A_PROCESS = {"model declaring a billion units", "npy header declaring 10^11 floats",
                "member inflating past its shape", "metadata declaring 373 GiB",
                "CNN model declaring a 0.4-gigapixel input", "mnist offline"}


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    """Run every case, each in its own empty folder: IN_A_PROCESS four at a time as subprocesses
    while the others run one after another in this process."""
    root = tmp_path_factory.mktemp("catalogue")
    F = root / "fixtures"
    F.mkdir()
    _make_fixtures(F)
    before = snapshot(F)
    cases = {}
    for name, args, _, _ in CATALOGUE:
        cwd = root / "cases" / name.replace(" ", "_").replace("/", "_")
        cwd.mkdir(parents=True)
        cases[name] = ([a.replace("{F}", str(F)) for a in args], cwd, cli_env(cwd))  # before os.environ changes

    def in_a_process(name):
        args, cwd, env = cases[name]
        result = subprocess.run(command(*args), cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                                stdin=subprocess.DEVNULL)
        return name, result

    with ThreadPoolExecutor(4) as pool:
        children = pool.map(in_a_process, sorted(IN_A_PROCESS))
        results = {name: run_in_process(*cases[name]) for name in cases if name not in IN_A_PROCESS}
        results.update(children)
    results = {name: (result, sorted(p.name for p in cases[name][1].iterdir())) for name, result in results.items()}
    return results, before, snapshot(F), F


def test_the_catalogue_has_at_least_60_distinct_bad_inputs():
    assert len(CATALOGUE) >= 60 and len({c[0] for c in CATALOGUE}) == len(CATALOGUE)
    assert IN_A_PROCESS <= {c[0] for c in CATALOGUE}
    # A new memory bomb belongs in a process too: every case whose file the fixture makes a bomb.
    assert {c[0] for c in CATALOGUE if any("bomb" in a for a in c[1])} <= IN_A_PROCESS


@pytest.mark.parametrize("name, args, message, code", CATALOGUE, ids=[c[0] for c in CATALOGUE])
def test_bad_input_is_one_line_and_leaves_nothing(catalogue, name, args, message, code):
    results, before, after, F = catalogue
    result, left = results[name]
    assert (result.returncode, result.stdout) == (code, ""), result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("chainrule: error: "), result.stderr
    assert message.replace("{F}", str(F)) in lines[0]
    assert "Traceback" not in result.stderr and "pickle" not in lines[0]
    assert left == []  # nothing written where the command ran
    assert after == before  # nor among its inputs: the run folders and model files are as they were
