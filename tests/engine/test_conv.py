"""Convolution, pooling and padding: gradient-checked in float64 on Hypothesis-drawn shapes, and
compared with PyTorch's values and gradients where torch is installed.

The drawn shapes include odd sizes, strides larger than the kernel, dilation, groups, padding
larger than half the kernel, unbatched inputs and an empty batch.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr


def t64(a, grad=True):
    return cr.tensor(a, dtype="float64", requires_grad=grad)


@st.composite
def conv_cases(draw, nd=None, batch=(0, 2)):
    """A convolution's arguments: input and weight arrays, bias or None, stride, padding, dilation, groups."""
    nd = nd or draw(st.sampled_from([1, 2]))
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = [draw(st.integers(1, 3)) for _ in range(nd)]
    dilation = [draw(st.integers(1, 2)) for _ in range(nd)]
    same = draw(st.booleans()) and draw(st.booleans())
    stride = [1] * nd if same else [draw(st.integers(1, 4)) for _ in range(nd)]
    padding = "same" if same else [draw(st.integers(0, 3)) for _ in range(nd)]
    pads = [0] * nd if same else padding
    sizes = [draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), max(1, d * (k - 1) + 1 - 2 * p) + 4))
             for k, d, p in zip(kernel, dilation, pads)]
    n = draw(st.integers(*batch))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = rng.standard_normal((n, c_in, *sizes))
    w = rng.standard_normal((c_out, c_in // groups, *kernel))
    b = rng.standard_normal(c_out) if draw(st.booleans()) else None
    return x, w, b, dict(stride=tuple(stride), padding=padding if same else tuple(padding),
                         dilation=tuple(dilation), groups=groups)


def conv(nd):
    return cr.conv1d if nd == 1 else cr.conv2d


@settings(max_examples=40)
@given(case=conv_cases())
def test_conv_gradients(case):
    x, w, b, kw = case
    f = conv(x.ndim - 2)
    inputs = [t64(x), t64(w)] + ([t64(b)] if b is not None else [])
    result = cr.gradcheck(lambda *t: f(t[0], t[1], t[2] if len(t) > 2 else None, **kw), inputs)
    assert result.ok and result.checked == sum(a.size for a in (x, w, b) if a is not None)


def test_conv2d_is_the_sum_of_products_over_each_window():
    # An independent reference: the definition, one output position at a time.
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 2, 3, 2)), rng.standard_normal(6)
    y = cr.conv2d(t64(x, False), t64(w, False), t64(b, False), stride=(2, 1), padding=(2, 1), dilation=(1, 2), groups=2)
    xp = np.pad(x, ((0, 0), (0, 0), (2, 2), (1, 1)))
    ref = np.zeros(y.shape)
    for o in range(6):
        g = o // 3
        for i in range(y.shape[2]):
            for j in range(y.shape[3]):
                patch = xp[:, 2 * g:2 * g + 2, 2 * i:2 * i + 3, j:j + 3:2]
                ref[:, o, i, j] = (patch * w[o]).sum(axis=(1, 2, 3)) + b[o]
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-12, atol=1e-12)


def test_conv_output_shapes_and_unbatched_inputs():
    x = cr.ones(3, 10, 9)
    assert cr.conv2d(x, cr.ones(5, 3, 3, 3)).shape == (5, 8, 7)
    assert cr.conv2d(cr.ones(2, 3, 10, 9), cr.ones(5, 3, 3, 3), stride=2, padding=1).shape == (2, 5, 5, 5)
    assert cr.conv2d(cr.ones(2, 3, 10, 9), cr.ones(5, 3, 4, 4), padding="same").shape == (2, 5, 10, 9)
    assert cr.conv1d(cr.ones(100, 1, 40), cr.ones(25, 1, 5), stride=2, padding=1).shape == (100, 25, 19)
    assert cr.conv2d(cr.ones(0, 3, 5, 5), cr.ones(4, 3, 3, 3)).shape == (0, 4, 3, 3)


def test_conv_with_an_empty_batch_has_empty_gradients_for_its_input_and_zero_for_the_weight():
    x, w = t64(np.zeros((0, 2, 5, 5))), t64(np.ones((3, 2, 3, 3)))
    cr.conv2d(x, w).sum().backward()
    assert x.grad.shape == (0, 2, 5, 5) and np.array_equal(w.grad, np.zeros((3, 2, 3, 3)))


@pytest.mark.parametrize("call, message", [
    (lambda: cr.conv2d(cr.ones(1, 1, 4, 4), cr.ones(1, 1, 7, 7), padding=1), r"kernel \(7 wide, dilation 1: spans 7\) is larger than the padded input \(4 \+ padding 2 = 6\)"),
    (lambda: cr.conv2d(cr.ones(1, 1, 5, 5), cr.ones(1, 1, 3, 3), dilation=3), "spans 7"),
    (lambda: cr.conv2d(cr.ones(1, 3, 5, 5), cr.ones(4, 2, 3, 3)), "the input has 3 channels"),
    (lambda: cr.conv2d(cr.ones(1, 4, 5, 5), cr.ones(4, 2, 3, 3), groups=3), "groups=3 must divide both the input's 4 channels"),
    (lambda: cr.conv2d(cr.ones(1, 4, 5, 5), cr.ones(4, 4, 3, 3), stride=2, padding="same"), "padding='same' needs stride 1"),
    (lambda: cr.conv2d(cr.ones(1, 1, 5, 5), cr.ones(2, 1, 3, 3), cr.ones(3)), r"bias must have shape \(2,\)"),
    (lambda: cr.conv2d(cr.ones(1, 1, 5, 5), cr.ones(1, 1, 3, 3), stride=0), "stride must be an int >= 1"),
    (lambda: cr.conv2d(cr.ones(1, 1, 5, 5), cr.ones(1, 1, 3, 3), padding=-1), "padding must be an int >= 0"),
    (lambda: cr.conv2d(cr.ones(5, 5), cr.ones(1, 1, 3, 3)), r"expected a 4-d input .* got shape \(5, 5\)"),
    (lambda: cr.conv1d(cr.ones(1, 1, 5), cr.ones(1, 1, 3, 3)), "weight must be 3-d"),
    (lambda: cr.max_pool2d(cr.ones(1, 1, 4, 4), 3, padding=2), "padding .* at most half the kernel"),
    (lambda: cr.max_pool2d(cr.ones(1, 1, 2, 2), 3), "larger than the padded input"),
    (lambda: cr.avg_pool2d(cr.ones(1, 1, 4, 4), 2, ceil_mode=True), "ceil_mode=True is not supported"),
    (lambda: cr.pad(cr.ones(2, 2), (1,)), "even-length sequence"),
])
def test_bad_arguments_are_value_errors_that_name_the_values(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------- pooling
@st.composite
def pool_cases(draw, nd=None):
    nd = nd or draw(st.sampled_from([1, 2]))
    kernel = [draw(st.integers(1, 3)) for _ in range(nd)]
    stride = [draw(st.integers(1, 4)) for _ in range(nd)]
    padding = [draw(st.integers(0, k // 2)) for k in kernel]
    sizes = [draw(st.integers(max(1, k - 2 * p), max(1, k - 2 * p) + 4)) for k, p in zip(kernel, padding)]
    n, c = draw(st.integers(0, 2)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    # Distinct values 0.05 apart: no ties, so max pooling is differentiable at every input.
    count = n * c * int(np.prod(sizes))
    x = (rng.permutation(count) * 0.05 - count * 0.025).reshape(n, c, *sizes)
    return x, dict(kernel_size=tuple(kernel), stride=tuple(stride), padding=tuple(padding))


@given(case=pool_cases(), layout=st.sampled_from(["first", "last"]))
def test_max_pool_gradients(case, layout):
    x, kw = case
    f = cr.max_pool1d if x.ndim == 3 else cr.max_pool2d
    # Both memory orders the op works in: channels-first arrays and channels-last views.
    prepare = (lambda t: t) if layout == "first" else channels_last
    assert cr.gradcheck(lambda t: f(prepare(t), **kw), [t64(x)]).ok


@given(case=pool_cases(nd=2), layout=st.sampled_from(["first", "last"]))
def test_fused_max_pool2d_relu_gradients(case, layout):
    x, kw = case
    prepare = (lambda t: t) if layout == "first" else channels_last
    # Shifted by a quarter step, no entry lies within 0.0125 of ReLU's kink.
    assert cr.gradcheck(lambda t: cr.max_pool2d_relu(prepare(t), **kw), [t64(x + 0.0125)]).ok


@settings(max_examples=40)
@given(case=pool_cases(nd=2), layout=st.sampled_from(["first", "last"]), ties=st.booleans())
def test_fused_max_pool2d_relu_is_relu_then_max_pool2d_bit_for_bit(case, layout, ties):
    x, kw = case
    if ties:  # coarse values: windows of equal maxima, of zeros after the ReLU, and exact zeros
        x = np.round(x * 4) / 4
    prepare = (lambda t: t) if layout == "first" else channels_last
    results = []
    for op in (lambda t: cr.max_pool2d(prepare(t).relu(), **kw), lambda t: cr.max_pool2d_relu(prepare(t), **kw)):
        t = t64(x)
        y = op(t)
        (y * cr.tensor(np.arange(y.size, dtype=np.float64).reshape(y.shape) % 3 - 1)).sum().backward()
        results.append((y.numpy(), t.grad))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_fused_max_pool2d_relu_matches_torch_on_ties_and_negative_windows():
    x = np.array([[[[-1.0, -2.0, 3.0, 3.0], [-4.0, -0.5, 1.0, 2.0], [0.0, 0.0, 0.0, -1.0], [0.0, 0.0, -2.0, -3.0]]]])
    _compare(lambda t: cr.max_pool2d_relu(t, 2), lambda t: torch_f().max_pool2d(torch_f().relu(t), 2), [x])
    g = t64(x)
    cr.max_pool2d_relu(g, 2).sum().backward()  # only the first 3 of window (0, 1) gets a gradient
    assert g.grad.tolist() == [[[[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0] * 4, [0.0] * 4]]]


def torch_f():
    return pytest.importorskip("torch").nn.functional


@pytest.mark.parametrize("call", [
    lambda f: f(cr.ones(1, 1, 4, 4), 3, padding=2), lambda f: f(cr.ones(1, 1, 2, 2), 3),
    lambda f: f(cr.ones(4, 4), 2), lambda f: f(cr.ones(1, 1, 4, 4), 2, ceil_mode=True),
    lambda f: f(cr.ones(1, 1, 4, 4), 0), lambda f: f(cr.ones(1, 1, 4, 4), 2, stride=(1, 1, 1)),
])
def test_fused_max_pool2d_relu_rejects_what_max_pool2d_rejects_with_the_same_error(call):
    errors = []
    for op in (lambda x, *a, **k: cr.max_pool2d(cr.relu(x), *a, **k), cr.max_pool2d_relu):
        with pytest.raises(ValueError) as info:
            call(op)
        errors.append(str(info.value))
    assert errors[0] == errors[1]


@given(case=pool_cases(), include=st.booleans())
def test_avg_pool_gradients(case, include):
    x, kw = case
    f = cr.avg_pool1d if x.ndim == 3 else cr.avg_pool2d
    assert cr.gradcheck(lambda t: f(t, count_include_pad=include, **kw), [t64(x)]).ok


def channels_last(t):
    """t as a channels-first tensor backed by channels-last memory (what a convolution returns)."""
    return cr.conv2d(t, cr.tensor(np.eye(t.shape[1]).reshape(t.shape[1], t.shape[1], *(1,) * (t.ndim - 2)),
                                  dtype="float64")) if t.ndim == 4 else \
        cr.conv1d(t, cr.tensor(np.eye(t.shape[1])[:, :, None], dtype="float64"))


def test_max_pool_sends_the_gradient_to_the_first_of_tied_maxima():
    x = t64(np.zeros((1, 1, 2, 4)))  # all ties: PyTorch picks each window's first entry
    cr.max_pool2d(x, 2).sum().backward()
    assert x.grad.tolist() == [[[[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]]]]


def test_overlapping_max_pool_windows_add_their_gradients():
    x = t64(np.array([[[0.0, 5.0, 1.0, 2.0]]]))
    cr.max_pool1d(x, 2, stride=1).sum().backward()  # windows (0,5), (5,1), (1,2): 5 wins twice
    assert x.grad.tolist() == [[[0.0, 2.0, 0.0, 1.0]]]


@given(h=st.integers(1, 9), w=st.integers(1, 9), oh=st.integers(1, 4), ow=st.integers(1, 4))
def test_adaptive_avg_pool_gradients(h, w, oh, ow):
    x = np.random.default_rng(h * 10 + w).standard_normal((2, 2, h, w))
    assert cr.gradcheck(lambda t: cr.adaptive_avg_pool2d(t, (oh, ow)), [t64(x)]).ok
    assert cr.gradcheck(lambda t: cr.adaptive_avg_pool1d(t, oh), [t64(x[:, :, 0])]).ok


@given(shape=st.lists(st.integers(0, 3), min_size=1, max_size=3), data=st.data())
def test_pad_gradients_and_values(shape, data):
    pads = data.draw(st.lists(st.integers(0, 2), min_size=2, max_size=2 * len(shape)).filter(lambda p: len(p) % 2 == 0))
    x = np.random.default_rng(0).standard_normal(shape)
    y = cr.pad(t64(x), tuple(pads), value=0.5)
    widths = [(0, 0)] * (len(shape) - len(pads) // 2) + [(pads[i], pads[i + 1]) for i in range(0, len(pads), 2)][::-1]
    np.testing.assert_array_equal(y.numpy(), np.pad(x, widths, constant_values=0.5))
    assert cr.gradcheck(lambda t: cr.pad(t, tuple(pads)), [t64(x)]).ok


# ---------------------------------------------------------------- PyTorch as the oracle
def _compare(ours, theirs, inputs, rtol=1e-10, atol=1e-10):
    torch = pytest.importorskip("torch")
    ts = [t64(a) if a is not None else None for a in inputs]
    tt = [torch.tensor(a, requires_grad=True) if a is not None else None for a in inputs]
    y, ty = ours(*ts), theirs(*tt)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=rtol, atol=atol)
    g = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(g)
    ty.backward(torch.tensor(g))
    for a, b in zip(ts, tt):
        if a is not None:
            np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=rtol, atol=atol)


@settings(max_examples=60)
@given(case=conv_cases(batch=(1, 3)))
def test_conv_matches_torch(case):
    torch = pytest.importorskip("torch")
    x, w, b, kw = case
    tf = torch.nn.functional.conv1d if x.ndim == 3 else torch.nn.functional.conv2d
    f = conv(x.ndim - 2)
    _compare(lambda x_, w_, b_: f(x_, w_, b_, **kw), lambda x_, w_, b_: tf(x_, w_, b_, **kw), [x, w, b])


@settings(max_examples=60)
@given(case=pool_cases(), dilation=st.integers(1, 2))
def test_max_pool_matches_torch(case, dilation):
    torch = pytest.importorskip("torch")
    x, kw = case
    eff = [dilation * (k - 1) + 1 for k in kw["kernel_size"]]
    if any(s + 2 * p < e for s, p, e in zip(x.shape[2:], kw["padding"], eff)):
        return  # torch would reject it too; the error is tested above
    for size, k, st_, p in zip(x.shape[2:], kw["kernel_size"], kw["stride"], kw["padding"]):
        starts = np.arange(0, size + 2 * p - (dilation * (k - 1) + 1) + 1, st_) - p
        inside = (starts[:, None] + dilation * np.arange(k) >= 0) & (starts[:, None] + dilation * np.arange(k) < size)
        if not inside.any(axis=1).all():
            return  # a window made only of padding: its gradient goes nowhere for us, somewhere for torch
    nd = x.ndim - 2
    ours, theirs = (cr.max_pool1d, torch.nn.functional.max_pool1d) if nd == 1 else (cr.max_pool2d, torch.nn.functional.max_pool2d)
    _compare(lambda t: ours(t, dilation=dilation, **kw), lambda t: theirs(t, dilation=dilation, **kw), [x])


@settings(max_examples=30)
@given(case=pool_cases(nd=2))
def test_fused_max_pool2d_relu_matches_torch(case):
    torch = pytest.importorskip("torch")
    x, kw = case
    f = torch.nn.functional
    _compare(lambda t: cr.max_pool2d_relu(t, **kw), lambda t: f.max_pool2d(f.relu(t), **kw), [x + 0.0125])


@settings(max_examples=60)
@given(case=pool_cases(), include=st.booleans())
def test_avg_pool_matches_torch(case, include):
    torch = pytest.importorskip("torch")
    x, kw = case
    ours, theirs = (cr.avg_pool1d, torch.nn.functional.avg_pool1d) if x.ndim == 3 else (cr.avg_pool2d, torch.nn.functional.avg_pool2d)
    _compare(lambda t: ours(t, count_include_pad=include, **kw), lambda t: theirs(t, count_include_pad=include, **kw), [x])


@given(h=st.integers(1, 11), w=st.integers(1, 11), oh=st.integers(1, 5), ow=st.integers(1, 5))
def test_adaptive_avg_pool_matches_torch(h, w, oh, ow):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(h * 100 + w).standard_normal((2, 3, h, w))
    _compare(lambda t: cr.adaptive_avg_pool2d(t, (oh, ow)), lambda t: torch.nn.functional.adaptive_avg_pool2d(t, (oh, ow)), [x])
    _compare(lambda t: cr.adaptive_avg_pool1d(t, oh), lambda t: torch.nn.functional.adaptive_avg_pool1d(t, oh), [x[:, :, 0]])


def test_a_chain_of_convolutions_and_pools_matches_torch_in_float32():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 12, 12)).astype(np.float32)
    w1, w2 = (rng.standard_normal(s).astype(np.float32) * 0.3 for s in ((8, 3, 3, 3), (6, 8, 3, 3)))

    def ours(x_, a, b):
        return cr.conv2d(cr.max_pool2d(cr.conv2d(x_, a, padding=1).relu(), 2), b, padding=1).relu().sum()

    def theirs(x_, a, b):
        f = torch.nn.functional
        return f.relu(f.conv2d(f.max_pool2d(f.relu(f.conv2d(x_, a, padding=1)), 2), b, padding=1)).sum()

    ts = [cr.tensor(a, requires_grad=True) for a in (x, w1, w2)]
    tt = [torch.tensor(a, requires_grad=True) for a in (x, w1, w2)]
    y, ty = ours(*ts), theirs(*tt)
    y.backward()
    ty.backward()
    assert y.item() == pytest.approx(ty.item(), rel=1e-5)
    for a, b in zip(ts, tt):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=1e-4, atol=1e-4)


@settings(max_examples=25)
@given(case=conv_cases(nd=2))
def test_fused_conv2d_relu_is_conv2d_then_relu(case):
    x, w, b, kw = case
    inputs = [t64(x), t64(w)] + ([t64(b)] if b is not None else [])
    fused = cr.conv2d_relu(*inputs[:2], inputs[2] if b is not None else None, **kw)
    plain = cr.conv2d(*inputs[:2], inputs[2] if b is not None else None, **kw).relu()
    np.testing.assert_array_equal(fused.numpy(), plain.numpy())
    # away from the kink: shift the bias so no output is within 1e-3 of 0
    assume_away = np.abs(plain.numpy()) > 1e-3
    if assume_away.all():
        assert cr.gradcheck(lambda *t: cr.conv2d_relu(t[0], t[1], t[2] if len(t) > 2 else None, **kw), inputs).ok


_X, _W = np.linspace(-2, 2, 3 * 36).reshape(1, 3, 6, 6), np.linspace(1, -1, 4 * 3 * 9).reshape(4, 3, 3, 3)
ACCEPTED = [  # (input, weight, bias, keywords) that conv2d takes, in the forms a user passes them
    (_X, _W, None, {}), (_X[0], _W, np.ones(4), {"padding": "same"}),  # an unbatched image
    (_X, np.ones((3, 1, 2, 2)), np.zeros(3), {"groups": 3, "stride": (2, 1), "dilation": 2}),
    (_X.tolist(), _W, None, {"padding": (1, 0)}), (_X, _W, None, {"padding": "valid", "dilation": (1, 2)}),
]
REJECTED = [
    (np.ones((1, 3, 5, 5)), np.ones((4, 2, 3, 3)), None, {}),  # channels do not match
    (np.ones((1, 3, 2, 2)), np.ones((4, 3, 3, 3)), None, {}),  # kernel larger than the input
    (np.ones((3, 5)), np.ones((4, 3, 3, 3)), None, {}),  # not an image
    (np.ones((1, 3, 5, 5)), np.ones((4, 3, 3)), None, {}),  # weight not 4-d
    (np.ones((1, 3, 5, 5)), np.ones((4, 3, 3, 3)), np.ones(3), {}),  # bias of the wrong size
    (np.ones((1, 3, 5, 5)), np.ones((4, 3, 3, 3)), None, {"stride": 0}),
    (np.ones((1, 3, 5, 5)), np.ones((4, 3, 3, 3)), None, {"padding": "full"}),
    (np.ones((1, 3, 5, 5)), np.ones((4, 3, 3, 3)), None, {"padding": "same", "stride": 2}),
    (np.ones((1, 3, 5, 5)), np.ones((4, 3, 3, 3)), None, {"groups": 2}),
    (np.ones((1, 3, 5, 5)), np.ones((4, 3, 3, 3)), None, {"dilation": (1, 2, 3)}),
    (np.ones((1, 3, 5, 5)), np.ones((4, 3, 3, 3)), None, {"padding": -1}),
    (np.array([["a"]]), np.ones((4, 3, 3, 3)), None, {}),  # not numbers
]


@pytest.mark.parametrize("x, w, b, kw", ACCEPTED)
def test_fused_conv2d_relu_accepts_what_conv2d_accepts_with_equal_values_and_gradients(x, w, b, kw):
    results = []
    for op in (lambda *t: cr.conv2d(*t, **kw).relu(), lambda *t: cr.conv2d_relu(*t, **kw)):
        ts = [cr.tensor(a, dtype="float64", requires_grad=True) for a in (x, w) + ((b,) if b is not None else ())]
        y = op(ts[0], ts[1], ts[2] if b is not None else None)
        (y * cr.tensor(np.arange(y.size, dtype=np.float64).reshape(y.shape) % 5)).sum().backward()
        results.append([y.numpy()] + [t.grad for t in ts])
    np.testing.assert_array_equal(results[0][0], results[1][0])
    # The gradients come from the same conv_backward; ReLU's row-major gradient can reach it in
    # another memory layout (an F-ordered view at batch 1), and BLAS then rounds differently.
    for a, c in zip(results[0][1:], results[1][1:]):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("x, w, b, kw", REJECTED)
def test_fused_conv2d_relu_rejects_what_conv2d_rejects_with_the_same_error(x, w, b, kw):
    errors = []
    for op in (cr.conv2d, cr.conv2d_relu):
        with pytest.raises((ValueError, TypeError)) as info:
            op(x, w, b, **kw)
        errors.append((type(info.value), str(info.value)))
    assert errors[0] == errors[1]
