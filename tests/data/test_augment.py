"""chainrule.data.augment: random crops with padding and horizontal flips, batched and seeded."""
import numpy as np
import pytest

from chainrule.data import Augment, horizontal_flip, random_crop


def test_random_crop_is_a_shift_of_at_most_the_padding_filled_with_zeros():
    x = np.arange(1, 1 + 2 * 5 * 5, dtype=np.float32).reshape(2, 1, 5, 5)
    out = random_crop(x, 2, np.random.default_rng(0))
    assert out.shape == x.shape
    for img, crop in zip(x, out):
        padded = np.pad(img, ((0, 0), (2, 2), (2, 2)))
        matches = [(dy, dx) for dy in range(5) for dx in range(5)
                   if np.array_equal(padded[:, dy:dy + 5, dx:dx + 5], crop)]
        assert len(matches) == 1  # exactly one offset of the padded image gives the crop


def test_random_crop_uses_every_offset_and_the_same_one_for_all_channels():
    x = np.random.default_rng(0).random((400, 3, 4, 4)).astype(np.float32)
    out = random_crop(x, 1, np.random.default_rng(1))
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    seen = set()
    for n in range(len(x)):
        offsets = [(dy, dx) for dy in range(3) for dx in range(3) if np.array_equal(padded[n, :, dy:dy + 4, dx:dx + 4], out[n])]
        assert len(offsets) == 1
        seen.add(offsets[0])
    assert len(seen) == 9


def test_horizontal_flip_mirrors_about_half_of_the_images():
    x = np.random.default_rng(0).random((1000, 2, 3, 5))
    out = horizontal_flip(x, np.random.default_rng(0))
    flipped = np.array([np.array_equal(o, i[..., ::-1]) for o, i in zip(out, x)])
    kept = np.array([np.array_equal(o, i) for o, i in zip(out, x)])
    assert np.all(flipped ^ kept) and 0.45 < flipped.mean() < 0.55


def test_augment_is_seeded_and_keeps_rows():
    X = np.random.default_rng(0).random((10, 3 * 6 * 6)).astype(np.float32)
    a, b = Augment((3, 6, 6), crop_padding=2, flip=True, seed=5), Augment((3, 6, 6), crop_padding=2, flip=True, seed=5)
    first = a(X)
    assert first.shape == X.shape and np.array_equal(first, b(X))
    assert not np.array_equal(first, a(X))  # each call draws new shifts
    assert np.array_equal(Augment((3, 6, 6))(X), X)


@pytest.mark.parametrize("call, message", [
    (lambda: random_crop(np.zeros((2, 4, 4)), 1, np.random.default_rng(0)), r"shape \(N, C, H, W\); got \(2, 4, 4\)"),
    (lambda: random_crop(np.zeros((1, 1, 4, 4)), -1, np.random.default_rng(0)), "padding must be an int >= 0"),
    (lambda: horizontal_flip(np.zeros((1, 1, 4, 4)), np.random.default_rng(0), p=2), r"horizontal_flip's p must be a finite number in \[0, 1\]; got 2"),
    (lambda: Augment((1, 8, 8))(np.zeros((3, 60))), r"rows of 64 pixels for images of shape \(1, 8, 8\); got shape \(3, 60\)"),
    (lambda: Augment((8, 8)), "image_shape must be"),
])
def test_bad_input_names_the_values(call, message):
    with pytest.raises(ValueError, match=message):
        call()
