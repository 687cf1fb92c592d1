"""Run the engine, nn, optim, fit and io on a CUDA device and compare with the CPU.

    PYTHONPATH=src python3 scripts/gpu_check.py      # on a machine with CUDA and CuPy

Everything goes through the device API (``device="cuda"``, ``.to``, ``fit(device=...)``), so this
is also the check that no host conversion hides in a device path (the test suite checks the same
on its fake GPU, bit for bit). Prints one line per check and exits 1 if any differs from the CPU
result beyond float tolerance.
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


def on(dev, a):
    return cr.tensor(a, dtype=a.dtype, requires_grad=a.dtype.kind == "f", device=dev)


to_np = cr.to_host


def check(name, fn, *arrays, rtol=1e-5):
    global failures
    try:
        results = []
        for dev in ("cpu", "cuda"):
            ts = [on(dev, a) for a in arrays]
            out = fn(*ts)
            out.sum().backward() if out.size > 1 else out.backward()
            assert out.device == cr.device(dev), out.device
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

# A network trained on the GPU takes the same steps as on the CPU, with every optimizer; a
# model saved on the GPU loads on the CPU and predicts the same.
X = rng.standard_normal((64, 10)).astype(np.float32)
Y = rng.integers(0, 3, 64)
for name in sorted(cr.optim.OPTIMIZERS):
    try:
        weights = {}
        for dev in ("cpu", "cuda"):
            net = cr.nn.MLP(10, [32, 32], 3, dropout=0.1, rng=0)
            options = {"rng": 0} if name.startswith("random") else {}
            cr.fit(net, X, Y, optimizer=name, lr=1e-2, epochs=3, batch_size=16, device=dev,
                   optimizer_options=options)
            assert cr.nn.module_device(net) == cr.device(dev)
            weights[dev] = net.state_dict()
            if dev == "cuda":
                import tempfile
                from pathlib import Path

                from chainrule import io

                path = Path(tempfile.mkdtemp()) / "net.npz"
                io.save_model(path, net)
                loaded, _ = io.load_model(path)
                assert cr.nn.module_device(loaded) == cr.device("cpu")
                np.testing.assert_allclose(cr.train.predict_scores(loaded, X), cr.train.predict_scores(net, X),
                                           rtol=1e-5, atol=1e-5)
        for k in weights["cpu"]:
            np.testing.assert_allclose(weights["cpu"][k], weights["cuda"][k], rtol=1e-3, atol=1e-4)
        print(f"ok    fit with {name} and dropout, 3 epochs, same weights on CPU and GPU; saved on the GPU, loaded on the CPU")
    except Exception as exc:
        failures += 1
        print(f"FAIL  fit with {name} on the GPU: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        traceback.print_exc(limit=4)

print(f"{failures} failure(s)")
sys.exit(1 if failures else 0)
