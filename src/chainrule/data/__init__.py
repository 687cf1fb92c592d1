"""Datasets for chainrule: bundled, synthetic, downloaded (cached, SHA-256 checked) and files.

Everything here needs only numpy and the standard library at import time; scikit-learn is
imported by the functions that use it.

Examples
--------
>>> from chainrule.data import load_dataset, train_val_test_split, Standardizer, batches
>>> ds = load_dataset("spiral")
>>> parts = train_val_test_split(ds.X, ds.y, test_size=0.2)
>>> X_train = Standardizer().fit_transform(parts.X_train)
>>> sum(len(b) for b in batches(len(X_train), 32, rng=0))
240
"""

from .augment import Augment, horizontal_flip, random_crop
from .dataset import Dataset, as_model_dtype
from .datasets import DATASETS, DatasetSpec, load_dataset
from .download import DownloadError, cache_dir, fetch, sha256_file
from .formats import MissingFileError, read_cifar_binary, read_csv, read_idx, read_npz
from .preprocess import (
    PREPROCESSING, MeanImage, Split, Standardizer, apply_preprocess, batches, fit_preprocess, prepare_split,
    split_dataset, train_val_test_split,
)
from .synthetic import blobs, bumps, circles, gaussians, moons, plane, spiral, xor

__all__ = [
    "Augment",
    "DATASETS",
    "PREPROCESSING",
    "apply_preprocess",
    "fit_preprocess",
    "prepare_split",
    "split_dataset",
    "Dataset",
    "DatasetSpec",
    "DownloadError",
    "MeanImage",
    "MissingFileError",
    "PREPROCESSING",
    "Split",
    "Standardizer",
    "as_model_dtype",
    "horizontal_flip",
    "random_crop",
    "batches",
    "blobs",
    "bumps",
    "cache_dir",
    "circles",
    "fetch",
    "fit_preprocess",
    "gaussians",
    "load_dataset",
    "moons",
    "plane",
    "read_cifar_binary",
    "read_csv",
    "read_idx",
    "read_npz",
    "sha256_file",
    "spiral",
    "train_val_test_split",
    "xor",
]
