"""The compiled kernels of the ``fast`` extra (engine/kernels.py, numba) against the NumPy path.

CI installs the extra (.ci/run), so these run there; without numba they skip, and every op runs
its NumPy path (which tests/engine/test_conv.py covers: its drawn channel counts are never a
multiple of the vector lanes, so it runs the NumPy path with or without numba).

- Values and gradients equal the NumPy path's within float32 / float64 rounding of a different
  summation order (pooling bit for bit, and the bias gradient of a C-contiguous gradient), on Hypothesis-drawn shapes: odd
  sizes, every padding the kernels take, kernels 1–5 wide, an empty batch, widths that use every
  register block (8, 4 and 1 output pixels).
- float64 gradchecks of the compiled ops.
- Every case the kernels do not take (stride, dilation, groups, channel counts, large padding,
  mixed dtypes, 1-D, overlapping or padded pooling, channels-first pooling, the fake GPU) runs
  the NumPy path: the kernels are counted and must not run.
- ``CHAINRULE_JIT=0`` turns them off in a fresh process, ``1`` on; unset, they run where the CPU
  has AVX-512 (``conv.wide_vectors``).
"""
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.engine import conv
from chainrule.nn import functional as F

pytest.importorskip("numba")
from chainrule.engine import kernels  # noqa: E402  (after the skip: numba is an optional extra)

KERNELS = ("corr", "corr_wgrad", "row_sum", "max_pool_tiled", "max_pool_tiled_backward")


@pytest.fixture(autouse=True)
def jit_on():
    was = conv.set_jit(True)
    assert was, "numba imports, so the compiled kernels must turn on"
    yield
    conv.set_jit(was)


@pytest.fixture
def calls(monkeypatch):
    """How often each compiled kernel ran (the real kernels still run)."""
    counts = dict.fromkeys(KERNELS, 0)
    for name in KERNELS:
        def counted(*args, _fn=getattr(kernels, name), _name=name):
            counts[_name] += 1
            return _fn(*args)
        monkeypatch.setattr(kernels, name, counted)
    return counts


def lanes(dtype):
    return 64 // np.dtype(dtype).itemsize


def on_both_paths(fn, arrays, dtype):
    """``fn(*tensors)``'s value and every input's gradient (of Σ v·fn with a fixed v), with the
    compiled kernels on, then off."""
    results = []
    for on in (True, False):
        conv.set_jit(on)
        tensors = [cr.tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
        y = fn(*tensors)
        v = np.random.default_rng(1).standard_normal(y.shape)
        (y * cr.tensor(v, dtype=dtype)).sum().backward()
        results.append([y.numpy()] + [t.grad for t in tensors])
    conv.set_jit(True)
    return results


def assert_close(compiled, numpy_path, dtype):
    eps = np.finfo(dtype).eps
    for a, b in zip(compiled, numpy_path):
        assert a.shape == b.shape and a.dtype == b.dtype
        scale = max(1.0, float(np.abs(b).max(initial=0)))
        np.testing.assert_allclose(a, b, rtol=0, atol=300 * eps * scale)


@st.composite
def compiled_cases(draw):
    """A conv2d the kernels take (stride 1, one group, O a multiple of the lanes, pads ≤ k − 1),
    its options, and a tiled max pooling after it or none."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    lane = lanes(dtype)
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    if draw(st.booleans()) and draw(st.booleans()):
        padding = "same"
        pads = [((k - 1) // 2, k - 1 - (k - 1) // 2) for k in kernel]
    else:
        padding = tuple(draw(st.integers(0, k - 1)) for k in kernel)
        pads = [(p, p) for p in padding]
    sizes = [draw(st.integers(max(1, k - lo - hi), max(1, k - lo - hi) + 18)) for k, (lo, hi) in zip(kernel, pads)]
    c_in = draw(st.sampled_from([1, 2, 3, lane]))
    c_out = lane * draw(st.integers(1, 2))
    n = draw(st.integers(0, 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = rng.standard_normal((n, c_in, *sizes))
    w = rng.standard_normal((c_out, c_in, *kernel)) / np.sqrt(c_in * kernel[0] * kernel[1])
    b = rng.standard_normal(c_out) if draw(st.booleans()) else None
    op = draw(st.sampled_from([F.conv2d, F.conv2d_relu]))
    pool = draw(st.sampled_from([None, F.max_pool2d, F.max_pool2d_relu]))
    pool_k = draw(st.integers(1, 3))
    out = [s + lo + hi - k + 1 for s, k, (lo, hi) in zip(sizes, kernel, pads)]
    if min(out) < pool_k:
        pool = None
    # Pooling runs channels-last (compiled) when the convolution's result is not also
    # contiguous channels-first, as it is with an empty batch or a 1×1 map (then NumPy's path).
    compiled_pool = pool is not None and n > 0 and out[0] * out[1] > 1
    return dtype, x, w, b, op, dict(padding=padding), pool, pool_k, compiled_pool


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=compiled_cases())
def test_compiled_conv_and_pool_equal_the_numpy_path(case, calls):
    calls.update(dict.fromkeys(KERNELS, 0))  # the fixture is not reset between drawn cases
    dtype, x, w, b, op, options, pool, pool_k, compiled_pool = case
    arrays = [x, w] + ([b] if b is not None else [])

    def fn(*t):
        y = op(t[0], t[1], t[2] if len(t) > 2 else None, **options)
        return pool(y, pool_k) if pool is not None else y

    compiled, numpy_path = on_both_paths(fn, arrays, dtype)
    assert calls["corr"] >= 1 and calls["corr_wgrad"] == 1
    assert calls["corr"] == (2 if x.shape[1] % lanes(dtype) == 0 else 1)  # the input gradient's
    assert calls["row_sum"] == (b is not None)
    assert calls["max_pool_tiled"] == calls["max_pool_tiled_backward"] == compiled_pool
    assert_close(compiled, numpy_path, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_bias_gradient_adds_rows_in_numpys_order(dtype):
    g = np.random.default_rng(3).standard_normal((1001, 16)).astype(dtype)
    out = np.empty(16, dtype)
    kernels.row_sum(g, out)
    np.testing.assert_array_equal(out, g.sum(axis=0))  # C-contiguous: NumPy adds row after row too


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=compiled_cases())
def test_compiled_ops_pass_gradcheck_in_float64(case):
    _, x, w, b, op, options, pool, pool_k, _ = case
    x, w = x[:1], w[:8, :] if w.shape[0] > 8 else w  # small: centered differences cost two calls an entry
    b = b[:w.shape[0]] if b is not None else None
    inputs = [cr.tensor(a, dtype="float64", requires_grad=True) for a in (x, w, b) if a is not None]

    def fn(*t):
        y = op(t[0], t[1], t[2] if len(t) > 2 else None, **options)
        return pool(y, pool_k) if pool is not None else y

    result = cr.gradcheck(fn, inputs, samples=40)  # 40 entries of each input, drawn at random
    assert result.ok and result.checked == sum(min(a.size, 40) for a in (x, w, b) if a is not None)


def channels_last(a):
    """``a`` (N, C, H, W) as a tensor viewing channels-last memory, as a convolution returns it."""
    return cr.tensor(np.ascontiguousarray(a.transpose(0, 2, 3, 1)), requires_grad=True).permute(0, 3, 1, 2)


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("kernel", [(2, 2), (3, 2), (1, 3)])
def test_compiled_max_pool_is_the_numpy_path_bit_for_bit(relu, kernel, calls):
    # Ties (small integers), all-negative windows, NaN and ±inf; sizes that leave rows and
    # columns beyond the last window (their gradient is 0).
    rng = np.random.default_rng(0)
    a = rng.integers(-3, 3, size=(2, 16, 7, 8)).astype(np.float32)
    a[0, 0, 0, 0], a[0, 1, 2, 2], a[1, 2, 3, 3], a[1, 3, 4, 5] = np.nan, np.inf, -np.inf, np.nan
    a[1, 4] = -1.0
    op = F.max_pool2d_relu if relu else F.max_pool2d
    v = rng.standard_normal((2, 16, 7 // kernel[0], 8 // kernel[1])).astype(np.float32)
    results = []
    for on in (True, False):
        conv.set_jit(on)
        t = cr.tensor(np.ascontiguousarray(a.transpose(0, 2, 3, 1)), requires_grad=True)
        y = op(t.permute(0, 3, 1, 2), kernel)  # channels-last memory, as after a convolution
        (y * cr.tensor(v)).sum().backward()
        results.append((y.numpy(), t.grad))
    assert calls["max_pool_tiled"] == calls["max_pool_tiled_backward"] == 1
    assert np.isnan(results[0][0]).any() and (results[0][1] == 0).any()
    for compiled, numpy_path in zip(*results):
        np.testing.assert_array_equal(compiled, numpy_path)


def test_a_lenet_layer_equals_torch(calls):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((3, 16, 14, 14)), rng.standard_normal((32, 16, 5, 5)) * 0.05, rng.standard_normal(32)
    tensors = [cr.tensor(x, requires_grad=True), cr.tensor(w, requires_grad=True), cr.tensor(b, requires_grad=True)]
    y = F.max_pool2d_relu(F.conv2d(*tensors, padding=2), 2)
    v = rng.standard_normal(y.shape).astype(np.float32)
    (y * cr.tensor(v)).sum().backward()
    refs = [torch.tensor(a.astype(np.float32), requires_grad=True) for a in (x, w, b)]
    ty = torch.nn.functional.max_pool2d(torch.relu(torch.nn.functional.conv2d(*refs, padding=2)), 2)
    (ty * torch.from_numpy(v)).sum().backward()
    assert calls["corr"] == 2 and calls["max_pool_tiled"] == 1
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-4)
    for t, r in zip(tensors, refs):
        np.testing.assert_allclose(t.grad, r.grad.numpy(), rtol=1e-4, atol=2e-4 * float(np.abs(t.grad).max()))


rng_f = np.random.default_rng(4)
X16 = rng_f.standard_normal((2, 16, 8, 8)).astype(np.float32)
W16 = rng_f.standard_normal((16, 16, 3, 3)).astype(np.float32)


def T(a, **options):
    return cr.tensor(a, requires_grad=True, **options)


FALLBACKS = [
    ("stride 2", lambda: F.conv2d(T(X16), T(W16), stride=2)),
    ("dilation 2", lambda: F.conv2d(T(X16), T(W16), dilation=2)),
    ("two groups", lambda: F.conv2d(T(X16), T(W16[:, :8]), groups=2)),
    ("10 output channels", lambda: F.conv2d(T(X16), T(W16[:10]))),
    ("padding > kernel - 1", lambda: F.conv2d(T(X16), T(W16), padding=3)),
    ("mixed dtypes", lambda: F.conv2d(T(X16), T(W16, dtype="float64"))),
    ("float16", lambda: F.conv2d(T(X16, dtype="float16"), T(W16, dtype="float16"))),
    ("conv1d", lambda: F.conv1d(T(X16[..., 0]), T(W16[..., 0]))),
    ("overlapping pooling", lambda: F.max_pool2d(channels_last(X16), 2, stride=1)),
    ("padded pooling", lambda: F.max_pool2d(channels_last(X16), 2, padding=1)),
    ("dilated pooling", lambda: F.max_pool2d(channels_last(X16), 2, dilation=2)),
    ("channels-first pooling", lambda: F.max_pool2d_relu(T(X16), 2)),
]


@pytest.mark.parametrize("name, make", FALLBACKS, ids=[f[0] for f in FALLBACKS])
def test_what_the_kernels_do_not_take_runs_the_numpy_path(name, make, calls):
    y = make()
    y.sum().backward()
    assert sum(calls.values()) == 0, calls
    conv.set_jit(False)
    np.testing.assert_array_equal(make().numpy(), y.numpy())


def test_the_fake_gpu_runs_the_numpy_path(fake_gpu, calls):
    x = cr.tensor(X16, requires_grad=True, device="fake")
    w = cr.tensor(W16, requires_grad=True, device="fake")
    y = F.max_pool2d_relu(F.conv2d(x, w, padding=1), 2)
    y.sum().backward()
    assert sum(calls.values()) == 0, calls


def test_the_kernels_take_the_same_input_the_numpy_path_refuses():
    bad = [lambda: F.conv2d(cr.ones(1, 16, 3, 3), cr.ones(16, 16, 5, 5)),
           lambda: F.conv2d(cr.ones(1, 8, 6, 6), cr.ones(16, 16, 3, 3))]
    for make in bad:
        messages = []
        for on in (True, False):
            conv.set_jit(on)
            with pytest.raises(ValueError) as info:
                make()
            messages.append(str(info.value))
        assert messages[0] == messages[1]


@pytest.mark.parametrize("value, expected", [("0", "False"), ("1", "True"), (None, str(conv.wide_vectors()))])
def test_chainrule_jit_0_turns_the_kernels_off(value, expected):
    # Unset, the machine decides: the kernels are written for AVX-512's 64-byte vectors.
    env = {k: v for k, v in os.environ.items() if k != "CHAINRULE_JIT"}
    if value is not None:
        env["CHAINRULE_JIT"] = value
    code = ("import chainrule as cr; from chainrule.engine.conv import jit_enabled; "
            "cr.conv2d(cr.ones(1, 1, 4, 4), cr.ones(16, 1, 3, 3)); print(jit_enabled())")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == expected


def test_the_switch_takes_only_true_false_and_the_variable_only_0_or_1():
    with pytest.raises(TypeError, match=r"set_jit's enabled must be True or False; got 'no'"):
        conv.set_jit("no")
    env = {**{k: v for k, v in os.environ.items() if k != "CHAINRULE_JIT"}, "CHAINRULE_JIT": "off"}
    code = "import chainrule as cr; cr.conv2d(cr.ones(1, 1, 4, 4), cr.ones(16, 1, 3, 3))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "ValueError: the environment variable CHAINRULE_JIT must be one of 0, 1; got 'off'" in out.stderr
