"""`load_dataset`: one entry point for bundled, synthetic, downloaded and user files.

The registry `DATASETS` maps each name to a `DatasetSpec`. Downloaded sets list their files
with SHA-256 digests and mirrors; files are cached under ``<data_dir>/<name>/`` (``data_dir``
defaults to `cache_dir()`), so mnist and fashion-mnist, whose files share names, never clash.

Pixel values are kept as published (0..16 for digits, 0..255 for mnist, fashion-mnist and
cifar10), as float32; scaling is the caller's choice (`Standardizer`, `MeanImage`, or ``/ 255``).
"""

from __future__ import annotations

import os
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chainrule import validation as check

from . import synthetic
from .dataset import Dataset
from .download import DownloadError, cache_dir, fetch, sha256_file
from .formats import (
    CIFAR_IMAGE_SHAPE,
    MissingFileError,
    read_cifar_binary,
    read_csv,
    read_idx,
    read_npz,
)

#: Records in each official CIFAR-10 binary file; a module constant so tests can shrink it.
CIFAR_RECORDS_PER_FILE = 10_000

FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
CIFAR10_CLASSES = [
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
]


@dataclass(eq=False)
class DatasetSpec:
    """One entry of `DATASETS`: how to load a named dataset.

    Attributes
    ----------
    name : str
    kind : {"bundled", "synthetic", "download"}
        bundled sets ship with scikit-learn; synthetic ones are generated from ``seed``;
        download ones are fetched once into the cache.
    loader : callable
        ``loader(spec, seed=..., n_samples=..., noise=..., data_dir=...) -> Dataset``.
    description : str
        One line for listings (``chainrule datasets``).
    files : dict of str to str
        For downloads: file name -> expected SHA-256.
    mirrors : tuple of str
        For downloads: base URLs tried in order; a file's URL is ``mirror + file name``.
    classes : tuple of str, optional
        The class names, where the loader's source does not give them (default: ``"0"``, ``"1"``, ...).
    image_shape : tuple of int, optional
        The shape of one example as an image, where the source gives flat rows of pixels.
    """

    name: str
    kind: str
    loader: Callable[..., Dataset]
    description: str
    files: dict[str, str] = field(default_factory=dict)
    mirrors: tuple[str, ...] = ()
    classes: tuple[str, ...] | None = None
    image_shape: tuple[int, ...] | None = None


# --- bundled with scikit-learn -------------------------------------------------------------


def _load_sklearn(spec: DatasetSpec, *, seed, n_samples, noise, data_dir) -> Dataset:
    from sklearn import datasets as skd

    bunch = {
        "digits": skd.load_digits,
        "iris": skd.load_iris,
        "breast-cancer": skd.load_breast_cancer,
        "wine": skd.load_wine,
    }[spec.name]()
    names = getattr(bunch, "feature_names", None)
    ds = Dataset(
        bunch.data,
        bunch.target,
        name=spec.name,
        classes=[str(c) for c in bunch.target_names],
        image_shape=spec.image_shape,
        feature_names=list(names) if names is not None else None,
    )
    return _subsample(ds, n_samples, seed)


# --- synthetic -----------------------------------------------------------------------------


def _load_synthetic(spec: DatasetSpec, *, seed, n_samples, noise, data_dir) -> Dataset:
    make = getattr(synthetic, spec.name)
    kwargs = {"seed": seed}
    if n_samples is not None:
        kwargs["n_samples"] = n_samples
    if noise is not None:
        kwargs["noise"] = noise
    return make(**kwargs)


# --- downloads -----------------------------------------------------------------------------


def _fetch(spec: DatasetSpec, filename: str, data_dir) -> Path:
    """One file of ``spec``; when it cannot be downloaded, a DownloadError that lists *every*
    file of the set still missing, each with its URL and SHA-256, and the folder to put it in."""
    folder = (Path(data_dir).expanduser() if data_dir is not None else cache_dir()) / spec.name
    try:
        return fetch([m + filename for m in spec.mirrors], filename, spec.files[filename], folder)
    except DownloadError as exc:
        missing = [name for name, digest in spec.files.items()
                   if not ((folder / name).is_file() and sha256_file(folder / name) == digest)]
        listing = "; ".join(f"{name} from {spec.mirrors[0]}{name} (SHA-256 {spec.files[name]})"
                            for name in missing)
        raise DownloadError(
            f"could not download {spec.name} ({exc.reason}); download these {len(missing)} file(s) "
            f"by hand and put them in {folder}: {listing}",
            reason=exc.reason, files=missing, folder=folder,
        ) from None


def _load_idx_set(spec: DatasetSpec, *, seed, n_samples, noise, data_dir) -> Dataset:
    X, y, split = [], [], []
    for part, prefix in (("train", "train"), ("test", "t10k")):
        images_file = f"{prefix}-images-idx3-ubyte.gz"
        labels_file = f"{prefix}-labels-idx1-ubyte.gz"
        images = read_idx(_fetch(spec, images_file, data_dir))
        labels = read_idx(_fetch(spec, labels_file, data_dir))
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(
                f"{spec.name}: {images_file} has shape {images.shape} and {labels_file} "
                f"{labels.shape}; expected (n, rows, cols) images and n labels"
            )
        if len(labels) and labels.max() > 9:
            raise ValueError(
                f"{spec.name}: {labels_file} holds label {labels.max()}, expected 0..9"
            )
        X.append(images.reshape(len(images), -1))
        y.append(labels)
        split.append(np.full(len(labels), part))
    ds = Dataset(
        np.concatenate(X),
        np.concatenate(y),
        name=spec.name,
        classes=list(spec.classes) if spec.classes else [str(k) for k in range(10)],
        image_shape=images.shape[1:],
        split=np.concatenate(split),
    )
    return _subsample(ds, n_samples, seed)


def _load_cifar10(spec: DatasetSpec, *, seed, n_samples, noise, data_dir) -> Dataset:
    (archive_name,) = spec.files
    archive = _fetch(spec, archive_name, data_dir)
    folder = "cifar-10-batches-bin/"
    batches = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    wanted = {folder + b for b in batches} | {folder + "batches.meta.txt"}
    contents = {}
    try:
        # One pass over the stream: seeking back in a .tar.gz means decompressing it again.
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if member.name in wanted and member.isfile():
                    contents[member.name] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise ValueError(f"{archive}: not a readable .tar.gz archive ({exc})") from None
    missing = sorted(wanted - set(contents) - {folder + "batches.meta.txt"})
    if missing:
        raise ValueError(f"{archive}: missing {missing}; is this cifar-10-binary.tar.gz?")
    X, y, split = [], [], []
    for batch in batches:
        images, labels = read_cifar_binary(
            contents[folder + batch], records=CIFAR_RECORDS_PER_FILE
        )
        X.append(images.reshape(len(images), -1))
        y.append(labels)
        split.append(np.full(len(labels), "test" if batch == "test_batch.bin" else "train"))
    meta = contents.get(folder + "batches.meta.txt", b"").decode("ascii", "replace").split()
    ds = Dataset(
        np.concatenate(X),
        np.concatenate(y),
        name=spec.name,
        classes=meta if len(meta) == 10 else CIFAR10_CLASSES,
        image_shape=CIFAR_IMAGE_SHAPE,
        split=np.concatenate(split),
    )
    return _subsample(ds, n_samples, seed)


# The digests below are SHA-256 of the compressed files exactly as served.
# mnist: tensorflow/datasets, tensorflow_datasets/url_checksums/mnist.txt (the cvdf-datasets
#   mirror); the same digests appear for the ossci-datasets and yann.lecun.com copies in other
#   projects, so all three mirrors serve identical bytes.
_MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
# fashion-mnist: tensorflow/datasets, tensorflow_datasets/url_checksums/fashion_mnist.txt (the
#   authors' S3 site); the authors' GitHub repository serves the same files.
_FASHION_FILES = {
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}
# cifar10: tensorflow/datasets, tensorflow_datasets/url_checksums/cifar10.txt (170,052,171 bytes,
#   from the authors' page https://www.cs.toronto.edu/~kriz/cifar.html).
_CIFAR10_FILES = {
    "cifar-10-binary.tar.gz": "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
}

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in [
        DatasetSpec("digits", "bundled", _load_sklearn, "8x8 digit images, 1797 x 64, 10 classes",
                    image_shape=(8, 8)),
        DatasetSpec("iris", "bundled", _load_sklearn, "iris flowers, 150 x 4, 3 classes"),
        DatasetSpec("breast-cancer", "bundled", _load_sklearn, "breast cancer, 569 x 30, 2 classes"),
        DatasetSpec("wine", "bundled", _load_sklearn, "wine cultivars, 178 x 13, 3 classes"),
        DatasetSpec("spiral", "synthetic", _load_synthetic, "cs231n spiral, 3 arms of 100 points"),
        DatasetSpec("xor", "synthetic", _load_synthetic, "4 clusters with XOR labels, 200 points"),
        DatasetSpec("moons", "synthetic", _load_synthetic, "two interleaving half circles, 200 points"),
        DatasetSpec("circles", "synthetic", _load_synthetic, "a circle inside a circle, 200 points"),
        DatasetSpec("blobs", "synthetic", _load_synthetic, "3 Gaussian blobs in 2-D, 300 points"),
        DatasetSpec(
            "mnist", "download", _load_idx_set,
            "28x28 handwritten digits, 60000 train + 10000 test (download, 11 MB)",
            files=dict(_MNIST_FILES),
            mirrors=(
                "https://storage.googleapis.com/cvdf-datasets/mnist/",
                "https://ossci-datasets.s3.amazonaws.com/mnist/",
                "http://yann.lecun.com/exdb/mnist/",
            ),
        ),
        DatasetSpec(
            "fashion-mnist", "download", _load_idx_set,
            "28x28 clothing images, 60000 train + 10000 test (download, 30 MB)",
            files=dict(_FASHION_FILES),
            classes=tuple(FASHION_CLASSES),
            mirrors=(
                "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/"
                "master/data/fashion/",
            ),
        ),
        DatasetSpec(
            "cifar10", "download", _load_cifar10,
            "32x32 colour images, 50000 train + 10000 test (download, 163 MB)",
            files=dict(_CIFAR10_FILES),
            mirrors=("https://www.cs.toronto.edu/~kriz/",),
        ),
    ]
}

_FILE_SUFFIXES = (".csv", ".npz")


def load_dataset(
    name,
    *,
    seed: int = 0,
    n_samples: int | None = None,
    noise: float | None = None,
    data_dir=None,
    label_column: str | None = None,
    task: str | None = None,
) -> Dataset:
    """Load a dataset by registry name, or from a ``.csv`` / ``.npz`` file path.

    Parameters
    ----------
    name : str or os.PathLike
        A key of `DATASETS` (case and ``_`` vs ``-`` do not matter), or a path ending in
        ``.csv`` (header row required) or ``.npz`` (arrays ``X`` and ``y``).
    seed : int
        Seeds the synthetic generators and the choice of the ``n_samples`` subset.
    n_samples : int, optional
        Synthetic sets: how many points to generate. Other sets: keep a random subset of
        this many examples (same seed, same subset; original order kept).
    noise : float, optional
        Synthetic sets only: their noise level (see `chainrule.data.synthetic`).
    data_dir : str or os.PathLike, optional
        Downloads: files live in ``<data_dir>/<name>/``; default `cache_dir()`. Ignored by
        the other sets, so a caller can pass its setting along unconditionally.
    label_column : str, optional
        CSV only: the label column; default ``"label"`` if present, else the last column.
    task : {"classification", "regression"}, optional
        CSV and NPZ only: overrides the guess made from the label values.

    Returns
    -------
    Dataset
        mnist, fashion-mnist and cifar10 hold train and test together; ``ds.split`` marks
        each example and ``ds.official_split()`` returns ``(train, test)``.

    Raises
    ------
    ValueError
        Unknown name (the message lists the valid ones), missing or malformed file, or an
        option that does not apply to this dataset.
    DownloadError
        A download failed; the message says where to put the file by hand.

    Examples
    --------
    >>> ds = load_dataset("spiral", seed=1)
    >>> len(ds), ds.n_classes
    (300, 3)
    >>> load_dataset("digits").image_shape
    (8, 8)
    """
    if isinstance(name, os.PathLike) or (
        isinstance(name, str) and name.lower().endswith(_FILE_SUFFIXES)
    ):
        return _load_file(
            Path(name), seed=seed, n_samples=n_samples, noise=noise, data_dir=data_dir,
            label_column=label_column, task=task,
        )
    expected = f"one of {', '.join(sorted(DATASETS))}, or a path to a .csv or .npz file"
    if not isinstance(name, str):
        raise TypeError(check.message("the dataset", expected, name))
    key = name.strip().lower().replace("_", "-")
    if key not in DATASETS:
        if Path(name).exists():
            raise ValueError(
                f"cannot load {name!r}: only .csv and .npz files are supported, "
                f"got suffix {Path(name).suffix!r}"
            )
        raise ValueError(check.message("the dataset", expected, name))
    spec = DATASETS[key]
    if noise is not None and spec.kind != "synthetic":
        synthetic_names = [k for k, s in DATASETS.items() if s.kind == "synthetic"]
        raise ValueError(
            f"noise={noise!r} applies only to the synthetic datasets {synthetic_names}, "
            f"not to {key!r}"
        )
    if label_column is not None:
        raise ValueError(
            f"label_column={label_column!r} applies only to CSV files, not to {key!r}"
        )
    if task is not None:
        raise ValueError(f"task={task!r} applies only to CSV and NPZ files, not to {key!r}")
    return spec.loader(spec, seed=seed, n_samples=n_samples, noise=noise, data_dir=data_dir)


def _load_file(path: Path, *, seed, n_samples, noise, data_dir, label_column, task) -> Dataset:
    if noise is not None:
        raise ValueError(
            f"noise={noise!r} applies only to synthetic datasets, not to the file {path}"
        )
    suffix = path.suffix.lower()
    if not path.is_file():
        raise MissingFileError(2, f"{suffix[1:].upper()} file not found", str(path))
    if suffix == ".csv":
        ds = read_csv(path, label_column=label_column, task=task)
    elif suffix == ".npz":
        if label_column is not None:
            raise ValueError(
                f"label_column={label_column!r} applies only to CSV files; an .npz file "
                f"holds its labels in the array 'y' ({path})"
            )
        ds = read_npz(path, task=task)
    else:
        raise ValueError(f"cannot load {str(path)!r}: only .csv and .npz files are supported")
    return _subsample(ds, n_samples, seed)


def _subsample(ds: Dataset, n_samples, seed) -> Dataset:
    """Keep a seeded random subset of ``n_samples`` examples, in their original order."""
    if n_samples is None:
        return ds
    n_samples = check.integer(f"n_samples (of the {len(ds)} examples of {ds.name!r})", n_samples, 1, len(ds))
    if n_samples == len(ds):
        return ds
    rng = np.random.default_rng(seed)
    index = np.sort(rng.choice(len(ds), size=int(n_samples), replace=False))
    return ds.subset(index)
