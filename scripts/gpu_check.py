"""Run the engine, nn and optim on CuPy arrays and compare with NumPy (the backend seam's check).

    PYTHONPATH=src python3 scripts/gpu_check.py      # on a machine with CUDA and CuPy

Prints one line per check and exits 1 if any differs from the NumPy result beyond float tolerance.
"""
import sys
import traceback

import numpy as np

import chainrule as cr
from chainrule.nn import functional as F

try:
    import cupy as cp
except ImportError:  # pragma: no cover - only meaningful on a GPU machine
    print("cupy is not installed: nothing to check")
    sys.exit(0)

failures = 0


def on(xp, a):
    return cr.Tensor(xp.asarray(a), dtype=a.dtype, requires_grad=a.dtype.kind == "f")


def to_np(a):
    return a.get() if hasattr(a, "get") else np.asarray(a)


def check(name, fn, *arrays, rtol=1e-5):
    global failures
    try:
        results = []
        for xp in (np, cp):
            ts = [on(xp, a) for a in arrays]
            out = fn(*ts)
            out.sum().backward() if out.size > 1 else out.backward()
            assert type(out.data).__module__.split(".")[0] == xp.__name__, type(out.data)
            results.append((to_np(out.data), [to_np(t.grad) if t.grad is not None else None for t in ts]))
        (a, ga), (b, gb) = results
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-6)
        for x, y in zip(ga, gb):
            if x is not None:
                np.testing.assert_allclose(x, y, rtol=rtol, atol=1e-6)
        print(f"ok    {name}")
    except Exception as exc:  # report and go on: the point is the list
        failures += 1
        print(f"FAIL  {name}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        traceback.print_exc(limit=3)


rng = np.random.default_rng(0)
A = rng.standard_normal((4, 3)).astype(np.float32)
B = rng.standard_normal((3,)).astype(np.float32)
P = rng.uniform(0.5, 2, (4, 3)).astype(np.float32)
W = rng.standard_normal((5, 3)).astype(np.float32)
b5 = rng.standard_normal(5).astype(np.float32)
y = np.array([0, 2, 1, 4])

check("add/mul/sub/div broadcast", lambda a, b: (a + b) * a - a / (b.abs() + 1), A, B)
check("exp/log/sqrt/reciprocal/pow", lambda p: p.exp() + p.log() + p.sqrt() + p.reciprocal() + p ** 3, P)
check("relu/sigmoid/tanh/abs/clip", lambda a: a.relu() + a.sigmoid() + a.tanh() + a.abs() + a.clip(-0.5, 0.5), A)
check("maximum/minimum/where", lambda a, b: cr.maximum(a, b) + cr.minimum(a, b) + cr.where(a.data > 0, a, b), A, B)
check("matmul 2-D and 1-D", lambda a, b: (a @ b).sum() + (a.T @ a).sum(), A, B)
check("sum/mean/max/min axes", lambda a: a.sum(axis=0).sum() + a.mean(axis=1).sum() + a.max(axis=1).sum() + a.min(), A)
check("reshape/transpose/getitem", lambda a: a.reshape(3, 4).T[1:, ::2].sum() + a[np.arange(4), np.array([0, 1, 2, 0])].sum(), A)
check("concatenate/stack", lambda a: cr.concatenate([a, a * 2], axis=1).sum() + cr.stack([a, a], axis=0).sum(), A)
check("linear / linear_relu", lambda a, w, b: cr.linear(a, w, b).sum() + F.linear_relu(a, w, b).sum(), A, W, b5)
check("softmax / log_softmax", lambda a: F.softmax(a).max() + F.log_softmax(a).sum(), A)
check("cross_entropy", lambda a, w, b: F.cross_entropy(cr.linear(a, w, b), y), A, W, b5)
check("multiclass_hinge", lambda a, w, b: F.multiclass_hinge(cr.linear(a, w, b), y), A, W, b5)
check("binary losses", lambda a: F.binary_cross_entropy_with_logits(a[:, 0], np.array([0, 1, 1, 0]))
      + F.binary_hinge(a[:, 1], np.array([-1, 1, 1, -1])), A)

# A network trained on the GPU takes the same steps as on the CPU.
try:
    X = rng.standard_normal((64, 10)).astype(np.float32)
    Y = rng.integers(0, 3, 64)
    weights = {}
    for name, xp in (("numpy", np), ("cupy", cp)):
        net = cr.nn.MLP(10, [32, 32], 3, rng=0)
        for p in net.parameters():
            p.data = xp.asarray(p.data)
        opt = cr.optim.Adam(net.parameters(), lr=1e-2)
        xt = cr.Tensor(xp.asarray(X))
        for _ in range(20):
            loss = F.cross_entropy(net(xt), xp.asarray(Y))
            opt.zero_grad()
            loss.backward(keep_grads=False)
            opt.step()
        weights[name] = [to_np(p.data) for p in net.parameters()]
    for a, b in zip(weights["numpy"], weights["cupy"]):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
    print("ok    MLP + Adam, 20 steps, same weights on CPU and GPU")
except Exception as exc:
    failures += 1
    print(f"FAIL  MLP + Adam on the GPU: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    traceback.print_exc(limit=4)

print(f"{failures} failure(s)")
sys.exit(1 if failures else 0)
