"""Small 2-D classification sets for seeing a decision boundary: spiral, xor, moons, ...

Every generator is a pure function of its arguments: the same ``seed`` gives the same points.
"""

from __future__ import annotations


import numpy as np

from chainrule import validation as check

from .dataset import Dataset


def _check_count(n_samples, minimum: int, what: str) -> int:
    return check.integer(f"n_samples (for {what})", n_samples, low=minimum)


def _check_noise(noise) -> float:
    return check.number("noise", noise, low=0)


def _per_class(n_samples: int, n_classes: int) -> list[int]:
    """Split ``n_samples`` into ``n_classes`` counts differing by at most one."""
    base, extra = divmod(n_samples, n_classes)
    return [base + (k < extra) for k in range(n_classes)]


def spiral(
    n_samples: int = 300, *, n_classes: int = 3, noise: float = 0.2, seed: int = 0
) -> Dataset:
    """The cs231n spiral: ``n_classes`` arms that no straight line can separate.

    Arm ``j`` has ``N`` points at radius ``r = linspace(0, 1, N)`` and angle
    ``t = linspace(4j, 4(j+1), N) + noise * randn(N)``, placed at ``r * (sin t, cos t)``.

    Parameters
    ----------
    n_samples : int
        Total number of points, shared as evenly as possible between the arms
        (the default 300 gives the lecture's 100 per class).
    n_classes : int
        Number of arms (classes), K.
    noise : float
        Standard deviation of the angle noise, in radians.
    seed : int
        Seed of the random generator.

    Examples
    --------
    >>> ds = spiral()
    >>> ds.X.shape, np.bincount(ds.y).tolist()
    ((300, 2), [100, 100, 100])
    """
    n_classes = check.integer("n_classes", n_classes, low=1)
    n_samples = _check_count(n_samples, n_classes, f"a {n_classes}-arm spiral")
    noise = _check_noise(noise)
    rng = np.random.default_rng(seed)
    X, y = [], []
    for j, n in enumerate(_per_class(n_samples, n_classes)):
        r = np.linspace(0.0, 1.0, n)
        t = np.linspace(j * 4.0, (j + 1) * 4.0, n) + rng.standard_normal(n) * noise
        X.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
        y.append(np.full(n, j))
    return Dataset(
        np.concatenate(X),
        np.concatenate(y),
        name="spiral",
        classes=[str(j) for j in range(n_classes)],
        feature_names=["x1", "x2"],
    )


def xor(n_samples: int = 200, *, noise: float = 0.25, seed: int = 0) -> Dataset:
    """Four Gaussian clusters at the corners (±1, ±1), labelled by the XOR of their signs.

    Points near (1, 1) and (-1, -1) are class 0, near (-1, 1) and (1, -1) class 1: the
    smallest set a linear classifier cannot learn and one hidden layer can.

    Parameters
    ----------
    n_samples : int
        Total number of points, shared as evenly as possible between the 4 corners.
    noise : float
        Standard deviation of each cluster.
    seed : int

    Examples
    --------
    >>> ds = xor(8, noise=0.0)
    >>> ds.X[:2].tolist(), ds.y[:2].tolist()
    ([[-1.0, -1.0], [-1.0, -1.0]], [0, 0])
    """
    n_samples = _check_count(n_samples, 4, "the 4 xor clusters")
    noise = _check_noise(noise)
    rng = np.random.default_rng(seed)
    corners = np.array([[-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, -1.0]])
    X, y = [], []
    for corner, n in zip(corners, _per_class(n_samples, 4)):
        X.append(corner + noise * rng.standard_normal((n, 2)))
        y.append(np.full(n, int(corner[0] * corner[1] < 0)))
    return Dataset(
        np.concatenate(X), np.concatenate(y), name="xor", classes=["0", "1"],
        feature_names=["x1", "x2"],
    )


def moons(n_samples: int = 200, *, noise: float = 0.1, seed: int = 0) -> Dataset:
    """Two interleaving half circles (scikit-learn's ``make_moons``).

    Examples
    --------
    >>> moons(10).X.shape
    (10, 2)
    """
    from sklearn.datasets import make_moons

    n_samples = _check_count(n_samples, 2, "two moons")
    X, y = make_moons(n_samples=n_samples, noise=_check_noise(noise), random_state=seed)
    return Dataset(X, y, name="moons", classes=["0", "1"], feature_names=["x1", "x2"])


def circles(n_samples: int = 200, *, noise: float = 0.05, seed: int = 0) -> Dataset:
    """A small circle inside a large one, radius ratio 0.5 (scikit-learn's ``make_circles``).

    Examples
    --------
    >>> circles(10).X.shape
    (10, 2)
    """
    from sklearn.datasets import make_circles

    n_samples = _check_count(n_samples, 2, "two circles")
    X, y = make_circles(
        n_samples=n_samples, noise=_check_noise(noise), factor=0.5, random_state=seed
    )
    return Dataset(X, y, name="circles", classes=["0", "1"], feature_names=["x1", "x2"])


def blobs(n_samples: int = 300, *, noise: float = 1.0, seed: int = 0) -> Dataset:
    """Three isotropic Gaussian blobs in 2-D (scikit-learn's ``make_blobs``).

    ``noise`` is each blob's standard deviation (``cluster_std``).

    Examples
    --------
    >>> np.bincount(blobs(30).y).tolist()
    [10, 10, 10]
    """
    from sklearn.datasets import make_blobs

    n_samples = _check_count(n_samples, 3, "three blobs")
    X, y = make_blobs(
        n_samples=n_samples, centers=3, n_features=2, cluster_std=_check_noise(noise),
        random_state=seed,
    )
    return Dataset(X, y, name="blobs", classes=["0", "1", "2"], feature_names=["x1", "x2"])


def gaussians(n_samples: int = 200, *, noise: float = 0.5, seed: int = 0) -> Dataset:
    """Two Gaussian clusters centred at (1, 1) (class 1) and (−1, −1) (class 0).

    ``noise`` is each cluster's standard deviation; TensorFlow Playground's "gaussian" set.

    Examples
    --------
    >>> ds = gaussians(6, noise=0.0)
    >>> ds.X.tolist()[:1], ds.y.tolist()
    ([[-1.0, -1.0]], [0, 0, 0, 1, 1, 1])
    """
    n_samples = _check_count(n_samples, 2, "two gaussians")
    noise = _check_noise(noise)
    rng = np.random.default_rng(seed)
    X, y = [], []
    for label, n in enumerate(_per_class(n_samples, 2)):
        X.append((2.0 * label - 1.0) + noise * rng.standard_normal((n, 2)))
        y.append(np.full(n, label))
    return Dataset(np.concatenate(X), np.concatenate(y), name="gaussians", classes=["0", "1"],
                   feature_names=["x1", "x2"])


def _surface(name: str, fn, n_samples: int, noise: float, seed: int) -> Dataset:
    n_samples = _check_count(n_samples, 1, name)
    noise = _check_noise(noise)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, (n_samples, 2))
    y = fn(X[:, 0], X[:, 1]) + noise * rng.standard_normal(n_samples)
    return Dataset(X, y.astype(np.float32), name=name, feature_names=["x1", "x2"], task="regression")


def plane(n_samples: int = 200, *, noise: float = 0.0, seed: int = 0) -> Dataset:
    """A regression plane: x uniform on [−1, 1]², target (x₁ + x₂) / 2 plus Gaussian noise.

    Examples
    --------
    >>> ds = plane(3, seed=1)
    >>> bool(np.allclose(ds.y, ds.X.sum(axis=1) / 2)), ds.task
    (True, 'regression')
    """
    return _surface("plane", lambda a, b: (a + b) / 2, n_samples, noise, seed)


def bumps(n_samples: int = 200, *, noise: float = 0.0, seed: int = 0) -> Dataset:
    """A regression surface of two Gaussian bumps, +1 at (0.5, 0.5) and −1 at (−0.5, −0.5).

    Target ``exp(−8|x − (½, ½)|²) − exp(−8|x + (½, ½)|²)`` plus Gaussian noise, x uniform on [−1, 1]².

    Examples
    --------
    >>> float(bumps(500, seed=0).y.max()) > 0.9
    True
    """
    def fn(a, b):
        return np.exp(-8 * ((a - 0.5) ** 2 + (b - 0.5) ** 2)) - np.exp(-8 * ((a + 0.5) ** 2 + (b + 0.5) ** 2))

    return _surface("bumps", fn, n_samples, noise, seed)
