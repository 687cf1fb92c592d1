"""How long one epoch of the CNN recipes takes here, measured on generated images of the real sizes.

    python benchmarks/cnn_epoch.py [--data mnist cifar10] [--threads N]

This machine has no network, so MNIST and CIFAR-10 cannot be downloaded; the time of an epoch
does not depend on what the pixels show, so this writes files of the real formats and sizes
(MNIST: 60,000 + 10,000 28×28 images as gzipped IDX; CIFAR-10: 5 × 10,000 + 10,000 32×32×3
images in the binary tar.gz) into a temporary folder, puts their SHA-256 digests in place of
the published ones *in this process only*, and runs the documented recipe for one epoch with
``chainrule train`` (in process): what a user waits for, the split, the augmentation, the
epoch-end evaluation and the run folder included. It prints the epoch's own seconds (from the
run's history) and the command's wall time. The accuracy on these images means nothing and is
not reported. Takes a few minutes.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

RECIPES = {
    "mnist": ["--model", "cnn"],
    "cifar10": ["--model", "cnn", "--crop", "4", "--flip"],
}


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _images(rng, n: int, shape) -> tuple[np.ndarray, np.ndarray]:
    labels = np.arange(n) % 10
    images = rng.integers(0, 60, size=(n, *shape), dtype=np.uint8)
    for k in range(10):  # a bright bar whose row says the class, so the network has something to learn
        images[labels == k, 2 + 2 * k: 4 + 2 * k, 4:24] = 250
    return images, labels


def write_mnist(folder: Path, rng) -> dict:
    files = {}
    for prefix, n in (("train", 60_000), ("t10k", 10_000)):
        images, labels = _images(rng, n, (28, 28))
        files[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(_idx(images), compresslevel=1)
        files[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(_idx(labels), compresslevel=1)
    return files


def write_cifar10(folder: Path, rng) -> dict:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
        names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
        members = {"batches.meta.txt": b"plane\ncar\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n"}
        for name in names:
            images, labels = _images(rng, 10_000, (32, 32, 3))
            planes = images.transpose(0, 3, 1, 2).reshape(10_000, -1)  # red, green, blue planes, row-major
            members[name] = np.concatenate([labels[:, None].astype(np.uint8), planes], axis=1).tobytes()
        for name, data in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return {"cifar-10-binary.tar.gz": buffer.getvalue()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", choices=sorted(RECIPES), default=sorted(RECIPES))
    ap.add_argument("--threads", type=int, default=None, help="BLAS threads (default: the library's own)")
    args = ap.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        ap.error(f"--threads must be a whole number >= 1; got {args.threads}")
    if args.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
    from chainrule.cli import main as chainrule
    from chainrule.data import DATASETS

    rng = np.random.default_rng(0)
    report = {}
    with tempfile.TemporaryDirectory(prefix="chainrule-cnn-epoch-") as tmp:
        for name in args.data:
            folder = Path(tmp) / "data" / name
            folder.mkdir(parents=True)
            files = (write_mnist if name == "mnist" else write_cifar10)(folder, rng)
            for filename, data in files.items():
                (folder / filename).write_bytes(data)
                DATASETS[name].files[filename] = hashlib.sha256(data).hexdigest()  # this process only
            out = Path(tmp) / f"run-{name}"
            flags = ["train", "--data", name, "--data-dir", str(Path(tmp) / "data"), *RECIPES[name],
                     "--epochs", "1", "--out", str(out), "--quiet"]
            began = time.perf_counter()
            code = chainrule(flags)
            wall = time.perf_counter() - began
            if code != 0:
                print(f"chainrule {' '.join(flags)} exited {code}", file=sys.stderr)
                return code
            epoch = json.loads((out / "metrics.json").read_text())["final"]  # the one epoch's record
            report[name] = {"command": "chainrule " + " ".join(flags), "epoch_seconds": epoch.get("seconds"),
                            "wall_seconds": wall, "loadavg": os.getloadavg()}
            print(f"{name}: one epoch {epoch.get('seconds', float('nan')):.1f} s "
                  f"(the command {wall:.1f} s wall, load average {os.getloadavg()[0]:.1f})", flush=True)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
