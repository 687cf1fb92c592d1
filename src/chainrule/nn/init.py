"""Weight initializations, all seeded: the lecture's small random numbers, Xavier/Glorot, He/Kaiming.

Each takes a shape ``(fan_out, fan_in)`` and an ``rng`` (int seed or numpy Generator) and returns
a float32 array.
"""
from __future__ import annotations

import numpy as np

from chainrule import validation as check
from chainrule.engine.api import as_generator


def small(shape, rng=None, scale=0.01):
    """``scale · randn`` (the lecture's ``W = 0.01 * np.random.randn(D, H)``)."""
    return (scale * as_generator(rng).standard_normal(shape)).astype(np.float32)


def xavier(shape, rng=None):
    """Glorot normal: N(0, 2 / (fan_in + fan_out)); keeps the variance of tanh/sigmoid layers."""
    fan_out, fan_in = shape
    return (np.sqrt(2.0 / (fan_in + fan_out)) * as_generator(rng).standard_normal(shape)).astype(np.float32)


def he(shape, rng=None):
    """He/Kaiming normal: N(0, 2 / fan_in); keeps the variance of ReLU layers."""
    fan_in = shape[1]
    return (np.sqrt(2.0 / fan_in) * as_generator(rng).standard_normal(shape)).astype(np.float32)


INITS = {"small": small, "xavier": xavier, "glorot": xavier, "he": he, "kaiming": he}


def get_init(name):
    """Look up an initialization by name; an unknown name lists the valid ones."""
    if callable(name):
        return name
    return INITS[check.choice("init", name, sorted(INITS))]
