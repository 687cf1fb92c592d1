"""The benchmark yardsticks are right before they are fast: gradients, trajectories, harness.

No timing here. The references live in benchmarks/ (not a package); they are loaded by path.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def load(name: str):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


ref = load("reference_numpy")
harness = load("harness")

TORCH_MISSING = (
    "torch is not installed: the numpy-vs-torch check needs it "
    "(pip install torch==2.13.0, for comparison only)"
)
MICROGRAD_MISSING = (
    "micrograd is not installed: the numpy-vs-micrograd check needs it "
    "(pip install micrograd==0.1.0, for comparison only)"
)


def numerical_grads(f, params: list[np.ndarray], eps: float = 1e-6) -> list[np.ndarray]:
    """Centered differences of the scalar ``f()`` with respect to every entry of ``params``."""
    grads = []
    for p in params:
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + eps
            up = f()
            p[idx] = old - eps
            down = f()
            p[idx] = old
            g[idx] = (up - down) / (2 * eps)
        grads.append(g)
    return grads


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def naive_xent(params: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    """An independent, unfused cross-entropy: log-softmax written out, no in-place tricks."""
    h = x
    n = len(params) // 2
    for i in range(n):
        h = h @ params[2 * i] + params[2 * i + 1]
        if i < n - 1:
            h = np.where(h > 0, h, 0.0)
    logp = h - np.log(np.sum(np.exp(h - h.max(1, keepdims=True)), 1, keepdims=True)) \
        - h.max(1, keepdims=True)
    return float(-np.mean(logp[np.arange(len(y)), y]))


# --------------------------------------------------------------------------------------------
# reference_numpy: the MLP
# --------------------------------------------------------------------------------------------


def tiny_problem(sizes=(5, 4, 3, 3), batch=6, seed=0):
    rng = np.random.default_rng(seed)
    params = ref.make_mlp(list(sizes), seed=seed, dtype=np.float64)
    # non-zero biases, so their gradients and the ReLU kinks are exercised
    for i in range(1, len(params), 2):
        params[i][:] = rng.standard_normal(params[i].shape) * 0.1
    x = rng.standard_normal((batch, sizes[0]))
    y = rng.integers(0, sizes[-1], batch)
    return params, x, y


def test_make_mlp_shapes_dtype_and_he_scale() -> None:
    params = ref.make_mlp([784, 256, 256, 10], seed=0)
    assert [p.shape for p in params] == [(784, 256), (256,), (256, 256), (256,), (256, 10), (10,)]
    assert all(p.dtype == np.float32 for p in params)
    assert np.std(params[0]) == pytest.approx(np.sqrt(2 / 784), rel=0.02)
    assert not params[1].any()
    np.testing.assert_array_equal(ref.make_mlp([3, 2], seed=5)[0], ref.make_mlp([3, 2], seed=5)[0])


def test_loss_matches_an_unfused_cross_entropy() -> None:
    params, x, y = tiny_problem()
    loss, _ = ref.loss_and_grads([p.copy() for p in params], x, y)
    assert loss == pytest.approx(naive_xent(params, x, y), rel=1e-12)


def test_loss_is_stable_for_huge_logits() -> None:
    params = [np.eye(2) * 1e4, np.zeros(2)]
    loss, grads = ref.loss_and_grads(params, np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([0, 1]))
    assert np.isfinite(loss) and loss == pytest.approx(1e4 / 2)
    assert all(np.isfinite(g).all() for g in grads)


def test_gradients_match_finite_differences_in_float64() -> None:
    params, x, y = tiny_problem()
    _, grads = ref.loss_and_grads(params, x, y)
    numeric = numerical_grads(lambda: naive_xent(params, x, y), params)
    for analytic, num in zip(grads, numeric):
        assert analytic.shape == num.shape
        assert rel_error(analytic, num) < 1e-6


def test_train_step_is_sgd_on_those_gradients() -> None:
    params, x, y = tiny_problem()
    loss, grads = ref.loss_and_grads([p.copy() for p in params], x, y)
    expected = [p - 0.3 * g for p, g in zip(params, grads)]
    step_loss = ref.train_step(params, x, y, 0.3)
    assert step_loss == pytest.approx(loss, rel=1e-12)
    for got, want in zip(params, expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_train_step_stays_float32_and_learns() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 20)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    params = ref.make_mlp([20, 16, 2], seed=1)
    first = ref.train_epoch(params, x, y, 16, 0.1)
    for _ in range(30):
        last = ref.train_epoch(params, x, y, 16, 0.1)
    assert all(p.dtype == np.float32 for p in params)
    assert last < 0.5 * first


def test_train_epoch_covers_a_ragged_last_batch() -> None:
    params, x, y = tiny_problem(batch=7)
    copy = [p.copy() for p in params]
    ref.train_epoch(params, x, y, 3, 0.1)  # batches of 3, 3, 1
    for start in (0, 3, 6):
        ref.train_step(copy, x[start:start + 3], y[start:start + 3], 0.1)
    for a, b in zip(params, copy):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------------------------
# reference_numpy: micrograd's demo
# --------------------------------------------------------------------------------------------


def demo_loss_naive(params, X, y, alpha=1e-4) -> float:
    h = X
    for i in range(3):
        h = h @ params[2 * i] + params[2 * i + 1]
        if i < 2:
            h = np.maximum(h, 0)
    data = np.mean(np.maximum(1 - y * h[:, 0], 0))
    return float(data + alpha * sum(np.sum(p * p) for p in params))


def test_demo_gradients_match_finite_differences() -> None:
    X, y = ref.moons(20, 0.1, seed=3)
    params = ref.make_demo_mlp(seed=3)
    for i in range(1, len(params), 2):
        params[i][:] = np.random.default_rng(i).standard_normal(params[i].shape) * 0.1
    loss, grads = ref.demo_loss_and_grads(params, X, y)
    assert loss == pytest.approx(demo_loss_naive(params, X, y), rel=1e-12)
    numeric = numerical_grads(lambda: demo_loss_naive(params, X, y), params)
    for analytic, num in zip(grads, numeric):
        assert rel_error(analytic, num) < 1e-5


def test_demo_train_reaches_the_demos_accuracy() -> None:
    X, y = ref.moons(100, 0.1, seed=0)
    params = ref.make_demo_mlp(seed=0)
    losses = ref.demo_train(params, X, y, steps=100)
    assert len(losses) == 100 and losses[-1] < 0.25 * losses[0]
    scores = ref.forward(params, X)[-1][:, 0]
    assert np.mean((scores > 0) == (y > 0)) >= 0.95


def test_demo_matches_micrograd_step_for_step() -> None:
    pytest.importorskip("micrograd", reason=MICROGRAD_MISSING)
    rm = load("reference_micrograd")
    X, y = ref.moons(100, 0.1, seed=0)
    model = rm.make_model(seed=1337)
    params = rm.params_as_numpy(model)
    ours = ref.demo_train(params, X, y, steps=2)
    theirs = rm.demo_train(model, X, y, steps=2)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    for a, b in zip(params, rm.params_as_numpy(model)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------------------------
# reference_torch agrees with reference_numpy
# --------------------------------------------------------------------------------------------


def test_numpy_and_torch_mlps_follow_the_same_loss_trajectory() -> None:
    torch = pytest.importorskip("torch", reason=TORCH_MISSING)
    rt = load("reference_torch")
    X, y = harness.mnist_like(512, 784, 10, seed=2)
    params = ref.make_mlp([784, 256, 256, 10], seed=2)
    model = rt.from_numpy_params([p.copy() for p in params])
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    ours, theirs = [], []
    for epoch in range(3):
        for start in range(0, 512, 64):
            sl = slice(start, start + 64)
            ours.append(ref.train_step(params, X[sl], y[sl], 0.05))
            theirs.append(rt.train_step(model, opt, Xt[sl], yt[sl]))
    np.testing.assert_allclose(ours, theirs, rtol=2e-5)
    assert ours[-1] < 0.9 * ours[0]  # it moved, so the agreement means something
    for a, b in zip(params, rt.to_numpy_params(model)):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=2e-5)


def test_numpy_and_torch_demo_agree() -> None:
    pytest.importorskip("torch", reason=TORCH_MISSING)
    rt = load("reference_torch")
    import torch

    X, y = ref.moons(100, 0.1, seed=0)
    params = ref.make_demo_mlp(seed=0)
    model = rt.make_demo_mlp([p.copy() for p in params])
    ours = ref.demo_train(params, X, y, steps=20)
    theirs = rt.demo_train(model, torch.from_numpy(X), torch.from_numpy(y), steps=20)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)


# --------------------------------------------------------------------------------------------
# harness
# --------------------------------------------------------------------------------------------


def test_compare_alternates_and_keeps_the_best(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    # A fake clock that advances one second per reading, so every timing is 1.0 unless a
    # function moves it on; B's second call (the first kept round) takes 5 seconds more.
    ticks = {"now": 0.0}

    def fake_counter() -> float:
        ticks["now"] += 1.0
        return ticks["now"]

    def a() -> None:
        calls.append("A")

    def b() -> None:
        calls.append("B")
        if calls.count("B") == 2:
            ticks["now"] += 5.0

    monkeypatch.setattr(harness.time, "perf_counter", fake_counter)
    detail = harness.compare_detailed({"A": a, "B": b}, repeats=3, warmup=1)
    assert calls == ["A", "B"] * 4
    assert detail["times"]["A"] == [1.0, 1.0, 1.0]
    assert detail["times"]["B"] == [6.0, 1.0, 1.0]  # round 2 (first kept) was the slow one
    assert detail["best"] == {"A": 1.0, "B": 1.0}
    assert detail["threads"] == 1


def test_compare_number_divides_and_threads_are_limited() -> None:
    counts = {"x": 0}

    def x() -> None:
        counts["x"] += 1

    def blas_threads() -> None:
        pools = [p for p in harness.threadpool_info() if p["user_api"] == "blas"]
        assert all(p["num_threads"] == 1 for p in pools)

    best = harness.compare({"x": x, "check": blas_threads}, repeats=2, warmup=1,
                           number={"x": 10, "check": 1})
    assert counts["x"] == 30 and set(best) == {"x", "check"}
    assert all(v >= 0 for v in best.values())


def test_compare_pauses_between_timings_only_with_several_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(harness.time, "sleep", sleeps.append)
    harness.compare({"a": lambda: None, "b": lambda: None}, repeats=2, warmup=0, threads=1)
    assert sleeps == []
    detail = harness.compare_detailed({"a": lambda: None, "b": lambda: None}, repeats=2,
                                      warmup=0, threads=2)
    assert sleeps == [harness.DEFAULT_PAUSE] * 4 and detail["pause"] == harness.DEFAULT_PAUSE
    assert detail["threads"] == 2


def test_compare_rejects_bad_repeats() -> None:
    with pytest.raises(ValueError, match="repeats >= 1"):
        harness.compare({"a": lambda: None}, repeats=0)


def test_peak_memory_sees_numpy_allocations() -> None:
    peak = harness.peak_memory(lambda: np.ones(2_000_000, np.float32).sum())
    assert 8_000_000 <= peak < 9_000_000
    assert harness.peak_memory(lambda: None) < 100_000


def test_write_results_records_the_machine(tmp_path: Path) -> None:
    path = harness.write_results(tmp_path / "r.json", {"mlp": {"best": {"numpy": 0.1}}})
    data = json.loads(path.read_text())
    assert data["results"] == {"mlp": {"best": {"numpy": 0.1}}}
    machine = data["machine"]
    assert machine["numpy"] == np.__version__
    assert machine["python"] == sys.version.split()[0]
    assert machine["cpu_model"]
    assert any(p["user_api"] == "blas" for p in machine["blas"])
    assert "OPENBLAS_CORETYPE" in machine["blas_env"]
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_reference_fns_run_once() -> None:
    for fns in (harness.mlp_epoch_fns(64, sizes=[12, 8, 3], n=128), harness.tiny_step_fns(8),
                harness.demo_step_fns()):
        assert "numpy" in fns
        for name, fn in fns.items():
            if name != "micrograd":  # about a second per step: exercised by its own test
                fn()


# --------------------------------------------------------------------------------------------
# the CNN workloads: chainrule's and torch's networks are the same network
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(harness.CNN_WORKLOADS))
def test_cnn_workloads_follow_the_same_loss_trajectory_in_chainrule_and_torch(name) -> None:
    torch = pytest.importorskip("torch", reason=TORCH_MISSING)
    sys.path.insert(0, str(BENCH))
    suite = load("suite")
    rt = load("reference_torch")
    import chainrule as cr

    shape, batch, layers = harness.CNN_WORKLOADS[name]
    ours, theirs = suite.chainrule_cnn(layers, seed=0), rt.make_cnn(layers, seed=0)
    with torch.no_grad():  # torch's weights into chainrule's layers (same shapes, same order)
        for p, q in zip(ours.parameters(), theirs.parameters()):
            assert p.shape == tuple(q.shape)
            p.data[...] = q.detach().numpy()
    X, y = harness.mnist_like(batch, int(np.prod(shape)), 10, seed=3)
    X = X.reshape(batch, *shape)
    opt = cr.optim.SGD(ours.parameters(), lr=0.05)
    topt = torch.optim.SGD(theirs.parameters(), lr=0.05)
    a = [suite.chainrule_step(ours, opt, X, y) for _ in range(4)]
    b = [rt.train_step(theirs, topt, torch.from_numpy(X), torch.from_numpy(y)) for _ in range(4)]
    np.testing.assert_allclose(a, b, rtol=1e-4)
    assert a[-1] < a[0]  # it moved, so the agreement means something


def test_cnn_flop_and_im2col_counts_by_hand() -> None:
    sys.path.insert(0, str(BENCH))
    suite = load("suite")
    # digits: conv 1→16 (3×3) on 8×8, pool to 4×4, conv 16→32 (3×3), linear 512→10, batch 64.
    conv1, conv2, linear = 64 * 16 * 64 * 9, 64 * 32 * 16 * 16 * 9, 64 * 512 * 10
    assert harness.cnn_flops("cnn_digits") == 2 * (2 * conv1 + 3 * conv2 + 3 * linear)
    assert suite.im2col_bytes("cnn_digits") == 4 * (64 * 64 * 9 + 64 * 16 * 16 * 9)


# --------------------------------------------------------------------------------------------
# nn.Sequential against nn.MLP (issue 14): one network built two ways
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sizes", [harness.TINY_SIZES, [30, 16, 12, 10]], ids=["tiny", "three-layer"])
def test_the_sequential_and_mlp_builds_take_the_same_steps(sizes) -> None:
    sys.path.insert(0, str(BENCH))
    suite = load("suite")
    import chainrule as cr

    X, y = harness.mnist_like(24, sizes[0], sizes[-1], seed=1)
    mlp, seq = suite.chainrule_mlp(sizes), suite.chainrule_sequential(sizes)
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU"] * (len(sizes) - 2) + ["Linear"]
    om, os_ = cr.optim.SGD(mlp.parameters(), lr=0.5), cr.optim.SGD(seq.parameters(), lr=0.5)
    a = [suite.chainrule_step(mlp, om, X, y) for _ in range(5)]
    b = [suite.sequential_step(seq, os_, X, y) for _ in range(5)]
    assert a == b and a[-1] < a[0]  # the fused linear_relu rounds as Linear then ReLU does
    for p, q in zip(mlp.parameters(), seq.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
