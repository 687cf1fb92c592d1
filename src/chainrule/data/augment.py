"""Cheap, seeded image augmentation for training convolutional networks on the CPU.

Both transforms work on a whole batch at once (no Python loop over images) and draw from the
``numpy.random.Generator`` they are given, so equal seeds give equal augmented epochs.
"""
from __future__ import annotations

import math

import numpy as np

from chainrule import validation as check

def _images(images, what):
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"{what}: expected images of shape (N, C, H, W); got {images.shape}")
    return images


def random_crop(images, padding: int, rng) -> np.ndarray:
    """Pad each (C, H, W) image with ``padding`` zeros on every side and cut an H×W window at a
    random offset (the same for all channels of an image): shifts of up to ±padding pixels.

    >>> import numpy as np
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> random_crop(x, 0, np.random.default_rng(0)).tolist() == x.tolist()
    True
    """
    images = _images(images, "random_crop")
    if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
        raise ValueError(f"random_crop: padding must be an int >= 0; got {padding!r}")
    if padding == 0:
        return images.copy()
    n, _, h, w = images.shape
    padded = np.pad(images, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (h, w), axis=(2, 3))  # (N, C, 2p+1, 2p+1, H, W)
    dy, dx = rng.integers(0, 2 * padding + 1, n), rng.integers(0, 2 * padding + 1, n)
    return windows[np.arange(n), :, dy, dx]


def horizontal_flip(images, rng, p: float = 0.5) -> np.ndarray:
    """Mirror each image left-right with probability ``p`` (for natural images such as
    CIFAR-10; digits would change meaning).

    >>> import numpy as np
    >>> horizontal_flip(np.array([[[[1, 2, 3]]]]), np.random.default_rng(0), p=1.0).tolist()
    [[[[3, 2, 1]]]]
    """
    images = _images(images, "horizontal_flip")
    check.number("horizontal_flip's p", p, 0, 1)
    out = images.copy()
    flip = rng.random(len(images)) < p
    out[flip] = images[flip][..., ::-1]
    return out


class Augment:
    """Random crops with padding and optional horizontal flips of flat image rows, seeded.

    ``Augment(image_shape, crop_padding=2, flip=False, seed=0)(X)`` takes rows of
    C·H·W pixels (what ``fit`` and the command line use) and returns new rows of the same
    shape; each call draws new shifts and flips from its own generator.

    >>> import numpy as np
    >>> aug = Augment((1, 4, 4), crop_padding=1, seed=0)
    >>> aug(np.ones((3, 16), np.float32)).shape
    (3, 16)
    """

    def __init__(self, image_shape, crop_padding: int = 0, flip: bool = False, seed=0):
        shape = tuple(int(s) for s in image_shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"Augment: image_shape must be (channels, height, width); got {image_shape!r}")
        if isinstance(crop_padding, bool) or not isinstance(crop_padding, (int, np.integer)) or crop_padding < 0:
            raise ValueError(f"Augment: crop_padding must be an int >= 0; got {crop_padding!r}")
        self.image_shape, self.crop_padding, self.flip = shape, int(crop_padding), bool(flip)
        self.rng = np.random.default_rng(seed)

    def __call__(self, X) -> np.ndarray:
        X = np.asarray(X)
        size = math.prod(self.image_shape)
        if X.ndim != 2 or X.shape[1] != size:
            raise ValueError(f"Augment: expected rows of {size} pixels for images of shape {self.image_shape}; "
                             f"got shape {X.shape}")
        images = X.reshape(len(X), *self.image_shape)
        if self.crop_padding:
            images = random_crop(images, self.crop_padding, self.rng)
        if self.flip:
            images = horizontal_flip(images, self.rng)
        return np.ascontiguousarray(images).reshape(len(X), size)

    def __repr__(self):
        return f"Augment(image_shape={self.image_shape}, crop_padding={self.crop_padding}, flip={self.flip})"
