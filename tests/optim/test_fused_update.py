"""The fused parameter update: SGD's p ← p − η·x as one BLAS axpy on large parameters.

A parameter of at least ``FUSED_MIN_SIZE`` elements is updated with one rounding per element
(what PyTorch's ``p.add_(x, alpha=-lr)`` computes); smaller ones keep ``u = η·x; p -= u``. The
choice depends on the parameter alone, so the flat and per-parameter paths and the devices agree
bit for bit.
"""
import numpy as np
import pytest

import chainrule as cr
from chainrule.optim.optimizer import axpy
from chainrule.optim import SGD
from chainrule.optim.optimizer import FUSED_MIN_SIZE

BIG = (100, 90)  # 9,000 elements: above FUSED_MIN_SIZE, and a group of it stays below the flat limit
assert np.prod(BIG) >= FUSED_MIN_SIZE


def one_rounding(p, a, x):
    """p + a·x rounded once to float32: the float64 product of two float32 numbers is exact."""
    return (p.astype(np.float64) + np.float64(np.float32(a)) * x.astype(np.float64)).astype(np.float32)


def assert_rounded_once(actual, once, twice):
    """Every element is ``once`` (p + a·x rounded once) or, at the few elements a BLAS kernel
    leaves to a scalar loop (the last ones of a block on OpenBLAS's Haswell kernels), ``twice``
    (a·x rounded, then the sum): the vector loops, nearly all of it, fuse."""
    actual, once, twice = (np.asarray(a) for a in (actual, once, twice))
    assert ((actual == once) | (actual == twice)).all()
    assert (actual != once).sum() <= 64  # one kernel tail (and one per BLAS thread) at most


def big_param(seed, order="F"):
    rng = np.random.default_rng(seed)
    data = np.asarray(rng.standard_normal(BIG), dtype=np.float32, order=order)
    return cr.Tensor(data, requires_grad=True)


@pytest.mark.parametrize("order", ["F", "C"])
def test_sgd_on_a_large_parameter_rounds_once(order):
    p = big_param(0, order)
    g = np.asarray(np.random.default_rng(1).standard_normal(BIG), np.float32, order=order)
    start = p.data.copy()
    p.grad = g
    SGD([p], lr=0.01).step()
    two_roundings = start - np.float32(0.01) * g
    assert_rounded_once(p.data, one_rounding(start, -0.01, g), two_roundings)
    assert (p.data != two_roundings).sum() > 100  # the fused path was taken: the two differ widely
    assert p.data.flags.f_contiguous == (order == "F")  # updated in place, in its own layout


def test_a_small_parameter_keeps_the_two_roundings():
    p = cr.Tensor(np.linspace(-1, 1, 50, dtype=np.float32), requires_grad=True)
    g = np.random.default_rng(1).standard_normal(50).astype(np.float32)
    start = p.data.copy()
    p.grad = g
    SGD([p], lr=0.3).step()
    np.testing.assert_array_equal(p.data, start - np.float32(0.3) * g)


@pytest.mark.parametrize("kwargs", [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True},
                                    {"momentum": 0.9, "dampening": 0.5}, {"weight_decay": 0.1}],
                         ids=["plain", "momentum", "nesterov", "dampening", "l2"])
def test_flat_and_per_parameter_paths_agree_on_a_large_parameter(kwargs):
    rng = np.random.default_rng(2)
    grads = [(rng.standard_normal(BIG).astype(np.float32), rng.standard_normal(7).astype(np.float32))
             for _ in range(4)]
    runs = []
    for idle in (False, True):  # an idle parameter forces the one-parameter-at-a-time path
        params = [big_param(0), cr.Tensor(np.arange(7, dtype=np.float32), requires_grad=True)]
        extra = [cr.Tensor(np.ones(3, np.float32), requires_grad=True)] if idle else []
        opt = SGD(params + extra, lr=0.05, **kwargs)
        trajectory = []
        for g_big, g_small in grads:
            params[0].grad, params[1].grad = g_big, g_small
            opt.step()
            trajectory.append([p.data.copy() for p in params])
        runs.append(trajectory)
    for flat, each in zip(*runs):
        for a, b in zip(flat, each):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_on_a_large_parameter_rounds_as_torch(momentum):
    torch = pytest.importorskip("torch")
    p = big_param(3)
    tp = torch.tensor(p.data.copy(), requires_grad=True)
    opt, topt = SGD([p], lr=0.02, momentum=momentum), torch.optim.SGD([tp], lr=0.02, momentum=momentum)
    rng = np.random.default_rng(4)
    for _ in range(3):
        g = rng.standard_normal(BIG).astype(np.float32)
        p.grad, tp.grad = g, torch.from_numpy(g.copy())
        x = g if not momentum or not opt.state[p] else opt.state[p]["momentum_buffer"] * np.float32(momentum) + g
        start = p.data.copy()
        opt.step()
        topt.step()
        # torch's vectorized add rounds once everywhere; BLAS's kernel may round a tail twice
        assert_rounded_once(p.data, tp.detach().numpy(), start - np.float32(0.02) * x)
        tp.data = torch.from_numpy(p.data.copy())  # each step from the same start


def test_axpy_falls_back_where_blas_cannot_run():
    x = np.arange(6, dtype=np.float16).reshape(2, 3)
    y = np.ones((2, 3), np.float16)
    assert axpy(-0.5, x, y) is y
    np.testing.assert_array_equal(y, np.ones((2, 3), np.float16) - np.float16(0.5) * x)
    strided = np.ones((4, 6), np.float32)[:, ::2]  # not contiguous: y += a·x
    axpy(2.0, np.ones((4, 3), np.float32), strided)
    np.testing.assert_array_equal(strided, np.full((4, 3), 3.0, np.float32))
    # x in the other memory order than y: read element for element, y stays in place
    y = np.zeros((3, 4), np.float32, order="F")
    before = y.__array_interface__["data"][0]
    axpy(1.0, np.arange(12, dtype=np.float32).reshape(3, 4), y)
    np.testing.assert_array_equal(y, np.arange(12, dtype=np.float32).reshape(3, 4))
    assert y.__array_interface__["data"][0] == before and y.flags.f_contiguous


def test_a_large_parameter_on_the_fake_gpu_takes_the_cpus_steps(fake_gpu):
    rng = np.random.default_rng(5)
    grads = [rng.standard_normal(BIG).astype(np.float32) for _ in range(3)]
    out = {}
    for dev in ("cpu", fake_gpu):
        p = cr.Tensor(cr.to_device(big_param(0).data, dev), requires_grad=True)
        opt = SGD([p], lr=0.05, momentum=0.9)
        for g in grads:
            p.grad = cr.to_device(g, dev) if dev != "cpu" else g
            opt.step()
        out[dev] = p.numpy()
    np.testing.assert_array_equal(out["cpu"], out[fake_gpu])


def test_axpy_hands_blas_blocks_it_runs_on_the_calling_thread(monkeypatch):
    # OpenBLAS gives a level-1 call of over 10,000 elements to its threads; SciPy's OpenBLAS is a
    # second one beside NumPy's, and on two cores their threads stall each other (2-7 ms a call
    # seen after a two-thread product). Every call stays at or under the block, and the blocks
    # cover y once, in order.
    from scipy.linalg import blas

    from chainrule.optim import optimizer

    calls = []

    def recording(x, y, n, a, offx=0, offy=0):
        calls.append((n, offx, offy))
        return blas.saxpy(x, y, n=n, a=a, offx=offx, offy=offy)

    monkeypatch.setitem(optimizer._BLAS_AXPY, np.dtype(np.float32), recording)
    rng = np.random.default_rng(5)
    y = np.asarray(rng.standard_normal((150, 140)), np.float32, order="F")  # 21,000 elements
    x = rng.standard_normal((150, 140)).astype(np.float32)
    start = y.copy(order="K")
    assert axpy(-0.25, x, y) is y
    assert calls == [(8192, 0, 0), (8192, 8192, 8192), (4616, 16384, 16384)]
    assert optimizer._AXPY_BLOCK == 8192 < 10_000
    assert_rounded_once(y, one_rounding(start, -0.25, x), start - np.float32(0.25) * x)
