"""Convolution, pooling and padding: one Function each, forward and backward side by side.

The API is PyTorch's channels-first layout, (N, C, *spatial). Inside, a convolution works on
the channels-last view (N, *spatial, C) and returns a channels-first *view* of a channels-last
array (benchmarks/PERFORMANCE_LOG.md, entry 10: the measured choice); pooling works in
whichever of the two orders its input's memory is in, so neither transposes what the other
returns.

A convolution is one matrix product over a strided window view (im2col without a loop over
positions): ``cols[(n, *out), (*k, c)] = x_pad[n, *(out·stride + k·dilation), c]`` and
``y = cols · W_matᵀ + b`` (a channels-first input with few channels is copied offset-major
instead, entry 17). Its backward is the transposed products ``dW = gᵀ·cols`` and
``dcols = g·W_mat``, then col2im: one strided add per kernel offset (kh·kw adds, never one per
output position). Pooling loops over kernel offsets the same way. On the host, the large
temporaries and results come from a workspace reused across steps (:func:`workspace`, entry 16).
"""
from __future__ import annotations

import itertools
import math
import sys
import threading

import numpy as np

from chainrule.engine.backend import array_module
from chainrule.engine.function import Function


# ====================================================================== workspace
_POOL: list = []  # host buffers the ops reuse across steps; see workspace()
_POOL_LOCK = threading.Lock()
POOL_SIZE = 64


def workspace(xp, shape, dtype, fill=None):
    """An array of ``shape`` and ``dtype`` for an op's temporary or result, uninitialized or
    ``fill``-ed.

    On the host it comes from a pool of buffers kept across steps: a buffer is handed out again
    only when nothing else references it (its reference count says so; a view holds its base,
    so a saved or returned array is never reused while alive). A CNN step then no longer
    faults in fresh pages for its largest arrays every time (glibc returns freed blocks of
    megabytes to the system): 3,000 page faults and a quarter of a lenet step's CPU time
    (PERFORMANCE_LOG.md, entry 16). Other array modules allocate (CuPy has its own memory pool).
    :func:`release_workspace` empties the pool.
    """
    if xp is not np:
        return xp.empty(shape, dtype) if fill is None else xp.full(shape, fill, dtype)
    shape, dtype = tuple(shape), np.dtype(dtype)
    with _POOL_LOCK:
        for buf in _POOL:  # the references: the pool's, this loop's and getrefcount's argument
            if buf.shape == shape and buf.dtype == dtype and sys.getrefcount(buf) == 3:
                break
        else:
            buf = np.empty(shape, dtype)
            if len(_POOL) >= POOL_SIZE:  # full (shapes changed): drop the buffers not in use
                _POOL[:] = [b for b in _POOL if sys.getrefcount(b) > 3]
            if len(_POOL) < POOL_SIZE:
                _POOL.append(buf)
    if fill is not None:
        buf.fill(fill)
    return buf


def release_workspace() -> int:
    """Empty the host workspace (buffers still in use stay alive with their users); returns the
    bytes the pool held."""
    with _POOL_LOCK:
        held = sum(b.nbytes for b in _POOL)
        _POOL.clear()
    return held


# ====================================================================== layout helpers
def _last(x):
    """(N, C, *S) → the channels-last view (N, *S, C)."""
    return x.transpose(0, *range(2, x.ndim), 1)


def _first(x):
    """(N, *S, C) → the channels-first view (N, C, *S)."""
    return x.transpose(0, x.ndim - 1, *range(1, x.ndim - 1))


def _padded(view, pads, value, start):
    """``view`` with ``pads`` [(lo, hi), ...] of ``value`` on the spatial axes from ``start``."""
    if not any(lo or hi for lo, hi in pads):
        return view
    xp = array_module(view)
    shape = list(view.shape)
    for i, (lo, hi) in enumerate(pads):
        shape[start + i] += lo + hi
    out = workspace(xp, shape, view.dtype, fill=value)
    out[_inner(pads, view.shape[start:start + len(pads)], start)] = view
    return out


def _inner(pads, sizes, start=1):
    """The index of the unpadded region inside a padded array (spatial axes from ``start``)."""
    return (slice(None),) * start + tuple(slice(lo, lo + s) for (lo, _), s in zip(pads, sizes)) + (Ellipsis,)


def _offset(off, stride, dilation, out, start=1):
    """The index of the input entries that kernel offset ``off`` meets, over all outputs."""
    return (slice(None),) * start + tuple(slice(o * d, o * d + s * (n - 1) + 1, s)
                                          for o, s, d, n in zip(off, stride, dilation, out)) + (Ellipsis,)


def _pool_layout(x):
    """Pool in the input's own memory order: channels-last when that view is contiguous (a
    convolution's output), else channels-first (what elementwise ops return), so the passes
    over the kernel offsets read memory in order (PERFORMANCE_LOG.md, entry 11)."""
    last = _last(x)
    if last.flags.c_contiguous and not x.flags.c_contiguous:
        return last, 1, _first
    return x, 2, lambda y: y


def _windows(xpad, kernel, stride, dilation, out):
    """The strided view (N, *out, *kernel, C) of a channels-last padded input: no copy.

    ``sliding_window_view`` (NumPy's and CuPy's) rather than ``as_strided``: it dispatches on
    the array's own type, so the view stays on the array's device."""
    xp, nd = array_module(xpad), len(kernel)
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    v = xp.lib.stride_tricks.sliding_window_view(xpad, spans, axis=tuple(range(1, nd + 1)))
    # v is (N, *positions, C, *spans): keep every stride-th position and dilation-th tap.
    v = v[(slice(None), *(slice(0, s * (o - 1) + 1, s) for s, o in zip(stride, out)), slice(None),
           *(slice(None, None, d) for d in dilation))]
    return v.transpose(0, *range(1, nd + 1), *range(nd + 2, 2 * nd + 2), nd + 1)


def output_size(size, kernel, stride, pad, dilation=1):
    """⌊(size + pads − dilation·(kernel − 1) − 1) / stride⌋ + 1, the length of one output axis."""
    return (size + sum(pad) - dilation * (kernel - 1) - 1) // stride + 1


# ====================================================================== convolution
def conv_forward(x, weight, bias, stride, padding, dilation, groups):
    """The convolution on arrays: ``(y, geometry, cols, w_mat)`` with ``y`` the (N, *out, O)
    channels-last result (C-contiguous) and what :func:`conv_backward` needs.

    Shared by :class:`Conv` and the fused :class:`ConvReLU`, which each keep their own saved
    arrays, so both compute the same IEEE operations (as ``linear_forward`` is shared).
    """
    xp = array_module(x)
    n, nd, o_ch = x.shape[0], x.ndim - 2, weight.shape[0]
    kernel = weight.shape[2:]
    out = tuple(output_size(s, k, st, p, d) for s, k, st, p, d in zip(x.shape[2:], kernel, stride, padding, dilation))
    geometry = (x.shape, kernel, stride, padding, dilation, groups, out)
    og, cg = o_ch // groups, x.shape[1] // groups
    # A channels-first input (a network's input images, a row-major op's result) whose channel runs are
    # shorter than an output row (cifar's 3 colours, grey images' 1) is padded channels-first
    # and its windows copied offset-major, (k·k·c, rows): both sides of the copy are then
    # contiguous runs of an output row, where rows of k·k runs of c entries were
    # (PERFORMANCE_LOG.md, entries 13 and 17). Its transpose is the (rows, k·k·c) matrix.
    first = x.flags.c_contiguous and cg < out[-1]
    xpad = _last(_padded(x, padding, 0, 2)) if first else _padded(_last(x), padding, 0, 1)
    view = _windows(xpad, kernel, stride, dilation, out)
    rows = n * math.prod(out)
    w_mat = _last(weight).reshape(o_ch, -1)  # (O, *k·C/G): the windows' (*k, c) order
    width = math.prod(kernel) * cg
    dtype = np.result_type(x.dtype, weight.dtype)
    order = (*range(nd + 1, 2 * nd + 2), 0, *range(1, nd + 1)) if first or cg == 1 else None

    def im2col(v):
        v = v.transpose(order) if order else v
        buf = workspace(xp, (width, rows) if order else (rows, width), x.dtype)
        xp.copyto(buf.reshape(v.shape), v)
        return buf.T if order else buf

    y = workspace(xp, (rows, o_ch), dtype)
    cols = [im2col(view[..., g * cg:(g + 1) * cg] if groups > 1 else view) for g in range(groups)]
    if groups == 1:
        xp.dot(cols[0], w_mat.T, out=y)
    else:
        for g in range(groups):
            y[:, g * og:(g + 1) * og] = xp.dot(cols[g], w_mat[g * og:(g + 1) * og].T)
    if bias is not None:  # rows of W_out·O entries: numpy's inner loop runs long, not O short
        y.reshape(-1, out[-1] * o_ch)[...] += xp.tile(bias, out[-1])
    return y.reshape(n, *out, o_ch), geometry, cols, w_mat


def conv_backward(geometry, cols, w_mat, g, needs):
    """The gradients (x, W, b) of a convolution from ``g``, the output's gradient channels-last
    (N, *out, O); None for the inputs ``needs`` marks as needing none."""
    shape, kernel, stride, padding, dilation, groups, out = geometry
    xp = array_module(g)
    o_ch = w_mat.shape[0]
    og, cg = o_ch // groups, shape[1] // groups
    g = g.reshape(-1, o_ch)
    gx = gw = gb = None
    if needs[1]:  # OpenBLAS's faster form per layout: (colsᵀ·g)ᵀ for F-ordered cols, gᵀ·cols for C-ordered (entry 22)
        gw_mat = xp.concatenate([xp.dot(cols[i].T, g[:, i * og:(i + 1) * og]).T if cols[i].flags.f_contiguous
                                 else xp.dot(g[:, i * og:(i + 1) * og].T, cols[i]) for i in range(groups)])
        gw = xp.ascontiguousarray(_first(gw_mat.reshape(o_ch, *kernel, cg)))
    if len(needs) > 2 and needs[2]:
        gb = g.sum(axis=0)
    if needs[0]:
        padded = (shape[0], *(s + lo + hi for s, (lo, hi) in zip(shape[2:], padding)), shape[1])
        gpad = workspace(xp, padded, g.dtype, fill=0)
        kk = math.prod(kernel)
        dcols = workspace(xp, (kk, g.shape[0], cg), np.result_type(g.dtype, w_mat.dtype))
        for i in range(groups):
            # Offset-major (one (rows, C) block per kernel offset): each col2im add then reads
            # a contiguous block, 2.4× faster than slicing the (rows, k·C) product (entry 12).
            w_off = w_mat[i * og:(i + 1) * og].reshape(og, kk, cg).transpose(1, 0, 2)
            xp.matmul(g[:, i * og:(i + 1) * og], w_off, out=dcols)
            blocks = dcols.reshape(kk, shape[0], *out, cg)
            target = gpad[..., i * cg:(i + 1) * cg]
            for k, off in enumerate(itertools.product(*map(range, kernel))):
                target[_offset(off, stride, dilation, out)] += blocks[k]
        gx = _first(gpad[_inner(padding, shape[2:])])
    return gx, gw, gb


def _describe_conv(self):
    _, kernel, stride, padding, dilation, groups, _ = self.geometry
    return f"k={kernel}, s={stride}, p={padding}" + (f", d={dilation}" if max(dilation) > 1 else "") \
        + (f", groups={groups}" if groups > 1 else "")


class Conv(Function):
    """N-d convolution (cross-correlation, as in PyTorch) with stride, padding, dilation, groups.

    y[n, o, *p] = b[o] + Σ_{c, *k} W[o, c, *k] · x_pad[n, g·C/G + c, *(p·stride + k·dilation)].
    """

    name = "conv"
    describe = _describe_conv

    def forward(self, x, weight, bias=None, *, stride, padding, dilation, groups):
        y, self.geometry, cols, w_mat = conv_forward(x, weight, bias, stride, padding, dilation, groups)
        self.save(cols, w_mat)
        return _first(y)

    def backward(self, grad):
        return conv_backward(self.geometry, *self.saved, _last(grad), self.needs)


class ConvReLU(Function):
    """relu(conv(x, W) + b) as one op: the ReLU runs in place on the channels-last result, so
    the layout survives into the next pooling or convolution (ReLU alone returns a row-major
    copy), and no pre-activation array is kept. It shares :func:`conv_forward` and
    :func:`conv_backward` with :class:`Conv`, not its saved arrays."""

    name = "conv_relu"
    describe = _describe_conv

    def forward(self, x, weight, bias=None, *, stride, padding, dilation, groups):
        y, self.geometry, cols, w_mat = conv_forward(x, weight, bias, stride, padding, dilation, groups)
        array_module(y).maximum(y, 0, out=y)
        self.save(cols, w_mat, y)
        return _first(y)

    def backward(self, grad):
        cols, w_mat, y = self.saved
        xp = array_module(y)
        mask = xp.greater(y, 0, out=workspace(xp, y.shape, bool))
        g = xp.multiply(_last(grad), mask, out=workspace(xp, y.shape, grad.dtype))
        return conv_backward(self.geometry, cols, w_mat, g, self.needs)


# ====================================================================== pooling
def max_pool_forward(x, kernel, stride, padding, dilation):
    """Max pooling on arrays: ``(y, geometry, xpad)`` with ``y`` in the pooling's own memory
    order (see :func:`_pool_layout`) and what :func:`max_pool_backward` needs.

    Shared by :class:`MaxPool` and the fused :class:`MaxPoolReLU` (as :func:`conv_forward` is
    by the two convolutions). The forward is a chain of ``maximum``s; the backward finds each
    window's first largest entry again (equal to the output, not taken by an earlier offset):
    branch-free passes, where tracking the argmax with masked copies in the forward was 10×
    slower (PERFORMANCE_LOG.md, entry 11).
    """
    xp = array_module(x)
    pads = [(p, p) for p in padding]
    view, start, back = _pool_layout(x)
    xpad = _padded(view, pads, -np.inf, start)
    out = tuple(output_size(s, k, st, p, d) for s, k, st, p, d in zip(x.shape[2:], kernel, stride, pads, dilation))
    geometry = (view.shape, start, back, kernel, stride, pads, dilation, out)
    offsets = list(itertools.product(*map(range, kernel)))
    first = xpad[_offset(offsets[0], stride, dilation, out, start)]
    y = workspace(xp, first.shape, x.dtype)
    xp.copyto(y, first)
    for off in offsets[1:]:
        xp.maximum(y, xpad[_offset(off, stride, dilation, out, start)], out=y)
    return y, geometry, xpad


def max_pool_backward(geometry, xpad, y, g):
    """The input's gradient (in the input's layout) of max pooling from ``g``, the output's
    gradient in the pooling's memory order; each window's first largest entry gets it."""
    shape, start, back, kernel, stride, pads, dilation, out = geometry
    xp = array_module(g)
    disjoint = all(s >= d * (k - 1) + 1 for s, k, d in zip(stride, kernel, dilation))
    # Windows that tile the padded input exactly write every entry of its gradient once.
    tiled = disjoint and all(s == k and d == 1 and o * k == n for s, k, d, o, n in
                             zip(stride, kernel, dilation, out, xpad.shape[start:start + len(out)]))
    gpad = workspace(xp, xpad.shape, g.dtype, fill=None if tiled else 0)
    offsets = list(itertools.product(*map(range, kernel)))
    first, taken = workspace(xp, y.shape, bool), None
    for i, off in enumerate(offsets):
        index = _offset(off, stride, dilation, out, start)
        xp.equal(xpad[index], y, out=first)
        if i == 0:
            if len(offsets) > 1:
                taken = workspace(xp, y.shape, bool)
                xp.copyto(taken, first)
        else:
            xp.greater(first, taken, out=first)  # equal to the max and not taken before: first & ~taken
            if i < len(offsets) - 1:
                taken |= first
        if disjoint:  # the windows do not overlap: write, no read-add
            xp.multiply(g, first, out=gpad[index])
        else:
            gpad[index] += g * first
    return back(gpad[_inner(pads, shape[start:start + len(out)], start)])


def _describe_pool(self):
    return f"k={self.geometry[3]}, s={self.geometry[4]}"


class MaxPool(Function):
    """The largest entry of each window; the gradient goes to the first largest (PyTorch's rule).

    Padded positions hold −∞, so they are never chosen (:func:`max_pool_forward`).
    """

    name = "max_pool"
    describe = _describe_pool

    def forward(self, x, *, kernel, stride, padding, dilation):
        y, self.geometry, xpad = max_pool_forward(x, kernel, stride, padding, dilation)
        self.save(xpad, y)
        return self.geometry[2](y)

    def backward(self, grad):
        xpad, y = self.saved
        g = _last(grad) if self.geometry[1] == 1 else grad
        return max_pool_backward(self.geometry, xpad, y, g)


class MaxPoolReLU(Function):
    """max_pool(relu(x)) as one op, computed as relu(max_pool(x)): the maximum commutes with
    the (monotone) ReLU, so the values are the same bit for bit, and the ReLU and its mask run
    on the pooled result, k·k times smaller (PERFORMANCE_LOG.md, entry 20).

    The gradients are the unfused chain's too: a window whose maximum is positive sends its
    gradient to its first largest entry in both orders (the ReLU keeps positive entries and
    only lowers others to 0); a window whose maximum is ≤ 0 sends none (ReLU's derivative is
    0 there, at 0 included). Windows of NaN send none in both.
    """

    name = "max_pool_relu"
    describe = _describe_pool

    def forward(self, x, *, kernel, stride, padding, dilation):
        y, self.geometry, xpad = max_pool_forward(x, kernel, stride, padding, dilation)
        xp = array_module(y)
        xp.maximum(y, 0, out=y)  # y keeps each positive window maximum, so backward finds it
        self.save(xpad, y)
        return self.geometry[2](y)

    def backward(self, grad):
        xpad, y = self.saved
        xp = array_module(y)
        g = _last(grad) if self.geometry[1] == 1 else grad
        mask = xp.greater(y, 0, out=workspace(xp, y.shape, bool))
        g = xp.multiply(g, mask, out=workspace(xp, y.shape, grad.dtype))
        return max_pool_backward(self.geometry, xpad, y, g)


class AvgPool(Function):
    """The mean of each window. ``count_include_pad`` divides by the whole window (PyTorch's
    default) or only by the entries inside the input."""

    name = "avg_pool"

    def forward(self, x, *, kernel, stride, padding, count_include_pad):
        xp = array_module(x)
        pads = [(p, p) for p in padding]
        view, start, back = _pool_layout(x)
        xpad = _padded(view, pads, 0, start)
        ones = (1,) * len(kernel)
        out = tuple(output_size(s, k, st, p) for s, k, st, p in zip(x.shape[2:], kernel, stride, pads))
        offsets = list(itertools.product(*map(range, kernel)))
        y = xp.array(xpad[_offset(offsets[0], stride, ones, out, start)], order="C")
        for off in offsets[1:]:
            y += xpad[_offset(off, stride, ones, out, start)]
        if count_include_pad or not any(padding):
            divisor = xp.asarray(float(math.prod(kernel)), dtype=x.dtype)
        else:  # how many entries of each window lie inside the input
            inside = _padded(xp.ones((1,) * start + x.shape[2:] + (1,) * (2 - start), dtype=x.dtype), pads, 0, start)
            divisor = sum(inside[_offset(off, stride, ones, out, start)] for off in offsets)
        y /= divisor
        self.geometry = (view.shape, start, back, stride, pads, out, offsets, divisor)
        return back(y)

    def backward(self, grad):
        shape, start, back, stride, pads, out, offsets, divisor = self.geometry
        xp = array_module(grad)
        g = (_last(grad) if start == 1 else grad) / divisor
        gpad = _padded(xp.zeros(shape, dtype=grad.dtype), pads, 0, start)
        for off in offsets:
            gpad[_offset(off, stride, (1,) * len(out), out, start)] += g
        return back(gpad[_inner(pads, shape[start:start + len(out)], start)])


def adaptive_bins(size, out):
    """The (out, size) averaging matrix of adaptive pooling: row i averages entries
    ⌊i·size/out⌋ .. ⌈(i+1)·size/out⌉ − 1 (PyTorch's bins)."""
    a = np.zeros((out, size))
    for i in range(out):
        lo, hi = (i * size) // out, -((-(i + 1) * size) // out)
        a[i, lo:hi] = 1.0 / (hi - lo)
    return a


class AdaptiveAvgPool(Function):
    """Average pooling to a fixed output size. It is linear and separable: y = A_h · x · A_wᵀ
    per channel, so the backward is g ↦ A_hᵀ · g · A_w."""

    name = "adaptive_avg_pool"

    def forward(self, x, *, output_size):
        xp = array_module(x)
        self.mats = [xp.asarray(adaptive_bins(s, o), dtype=x.dtype) for s, o in zip(x.shape[2:], output_size)]
        y = x
        for axis, a in enumerate(self.mats, start=2):
            y = xp.moveaxis(xp.tensordot(y, a, axes=([axis], [1])), -1, axis)
        return y

    def backward(self, grad):
        xp = array_module(grad)
        g = grad
        for axis, a in enumerate(self.mats, start=2):
            g = xp.moveaxis(xp.tensordot(g, a, axes=([axis], [0])), -1, axis)
        return g


# ====================================================================== padding
class Pad(Function):
    """Constant padding of the trailing axes; the gradient is the unpadded region."""

    name = "pad"

    def forward(self, x, *, pads, value):
        xp = array_module(x)
        full = [(0, 0)] * (x.ndim - len(pads)) + list(pads)
        self.index = tuple(slice(lo, lo + s) for (lo, _), s in zip(full, x.shape))
        out = xp.full(tuple(s + lo + hi for s, (lo, hi) in zip(x.shape, full)), value, dtype=x.dtype)
        out[self.index] = x
        return out

    def backward(self, grad):
        return grad[self.index]


# ====================================================================== functional forms
def _tensor(x):
    from chainrule.engine.tensor import Tensor

    return x if isinstance(x, Tensor) else Tensor(x)


def _ints(value, nd, what, op, low=1):
    """An int or a sequence of ``nd`` ints, each ≥ ``low``, as a tuple of ``nd`` ints."""
    items = (value,) * nd if isinstance(value, (int, np.integer)) else tuple(value) if isinstance(value, (tuple, list)) else None
    if items is None or len(items) != nd or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low
                                                for v in items):
        raise ValueError(f"{op}: {what} must be an int >= {low} or {nd} of them; got {value!r}")
    return tuple(int(v) for v in items)


def _batched(x, nd, op):
    """The input with a batch axis (an unbatched (C, *S) input gets one, as in PyTorch)."""
    x = _tensor(x)
    if x.ndim == nd + 1:
        return x.reshape(1, *x.shape), True
    if x.ndim != nd + 2:
        raise ValueError(f"{op}: expected a {nd + 2}-d input (N, C, {', '.join('HW'[-nd:] if nd < 3 else 'DHW')}) "
                         f"or a {nd + 1}-d unbatched one; got shape {x.shape}")
    return x, False


def _check_fits(op, shape, kernel, pads, dilation):
    for axis, (s, k, (lo, hi), d) in enumerate(zip(shape, kernel, pads, dilation)):
        if d * (k - 1) + 1 > s + lo + hi:
            raise ValueError(
                f"{op}: the kernel ({k} wide, dilation {d}: spans {d * (k - 1) + 1}) is larger than "
                f"the padded input ({s} + padding {lo + hi} = {s + lo + hi}) along spatial axis {axis}"
            )


def _conv(nd, x, weight, bias, stride, padding, dilation, groups, op_class=Conv):
    op = f"conv{nd}d"
    x, unbatched = _batched(x, nd, op)
    weight = _tensor(weight)
    if weight.ndim != nd + 2:
        raise ValueError(f"{op}: weight must be {nd + 2}-d (out_channels, in_channels/groups, *kernel); got shape {weight.shape}")
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int; got {groups!r}")
    out_ch, in_ch = weight.shape[0], x.shape[1]
    if in_ch % groups or out_ch % groups:
        raise ValueError(f"{op}: groups={groups} must divide both the input's {in_ch} channels and the "
                         f"weight's {out_ch} output channels")
    if in_ch != weight.shape[1] * groups:
        raise ValueError(f"{op}: the input has {in_ch} channels (shape {x.shape}) but the weight of shape "
                         f"{weight.shape} expects {weight.shape[1] * groups} (in_channels/groups={weight.shape[1]}, groups={groups})")
    if bias is not None:
        bias = _tensor(bias)
        if bias.shape != (out_ch,):
            raise ValueError(f"{op}: bias must have shape ({out_ch},); got {bias.shape}")
    stride, dilation = _ints(stride, nd, "stride", op), _ints(dilation, nd, "dilation", op)
    kernel = weight.shape[2:]
    if padding == "valid":
        pads = [(0, 0)] * nd
    elif padding == "same":
        if max(stride) > 1:
            raise ValueError(f"{op}: padding='same' needs stride 1; got stride {stride}")
        # PyTorch's split: the odd extra entry goes after (right / bottom).
        pads = [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation)]
    elif isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int, a tuple of ints, 'same' or 'valid'; got {padding!r}")
    else:
        pads = [(p, p) for p in _ints(padding, nd, "padding", op, low=0)]
    _check_fits(op, x.shape[2:], kernel, pads, dilation)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    y = op_class.apply(*inputs, stride=stride, padding=pads, dilation=dilation, groups=int(groups))
    return y.reshape(*y.shape[1:]) if unbatched else y


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution of (N, C_in, L) by a weight (C_out, C_in/groups, k), as PyTorch's conv1d.

    y[n, o, t] = b[o] + Σ_{c, j} W[o, c, j] · x_pad[n, c, t·stride + j·dilation]; the output
    length is ⌊(L + 2·padding − dilation·(k − 1) − 1) / stride⌋ + 1. ``padding`` is an int,
    ``"valid"`` (0) or ``"same"`` (stride 1 only).

    >>> import chainrule as cr
    >>> x = cr.tensor([[[1.0, 2.0, 3.0, 4.0]]])
    >>> cr.conv1d(x, cr.tensor([[[1.0, -1.0]]])).tolist()
    [[[-1.0, -1.0, -1.0]]]
    """
    return _conv(1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution of (N, C_in, H, W) by a weight (C_out, C_in/groups, kh, kw), as PyTorch's.

    y[n, o, i, j] = b[o] + Σ_{c, u, v} W[o, c, u, v] · x_pad[n, c, i·s_h + u·d_h, j·s_w + v·d_w];
    each output side is ⌊(H + 2·p − d·(k − 1) − 1) / s⌋ + 1. ``stride``, ``padding`` and
    ``dilation`` are ints or pairs; ``padding`` may be ``"valid"`` or ``"same"`` (stride 1).
    ``groups`` splits the channels into independent convolutions.

    >>> import chainrule as cr
    >>> x = cr.arange(16.0).reshape(1, 1, 4, 4)
    >>> cr.conv2d(x, cr.ones(1, 1, 2, 2), stride=2).tolist()
    [[[[10.0, 18.0], [42.0, 50.0]]]]
    """
    return _conv(2, input, weight, bias, stride, padding, dilation, groups)


def conv2d_relu(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """relu(conv2d(...)), fused: the same values, gradients and errors as
    ``conv2d(...).relu()``, one graph node, and the result stays channels-last in memory.

    >>> import chainrule as cr
    >>> x = cr.arange(16.0).reshape(1, 1, 4, 4)
    >>> cr.conv2d_relu(x, -cr.ones(1, 1, 2, 2), cr.tensor([30.0]), stride=2).tolist()
    [[[[20.0, 12.0], [0.0, 0.0]]]]
    """
    return _conv(2, input, weight, bias, stride, padding, dilation, groups, ConvReLU)


def _pool_args(nd, x, kernel_size, stride, padding, dilation, ceil_mode, op):
    x, unbatched = _batched(x, nd, op)
    kernel = _ints(kernel_size, nd, "kernel_size", op)
    stride = kernel if stride is None or stride == () else _ints(stride, nd, "stride", op)
    padding = _ints(padding, nd, "padding", op, low=0)
    dilation = _ints(dilation, nd, "dilation", op)
    if ceil_mode:
        raise ValueError(f"{op}: ceil_mode=True is not supported; pad the input instead")
    for p, k in zip(padding, kernel):
        if 2 * p > k:
            raise ValueError(f"{op}: padding {padding} must be at most half the kernel size {kernel}")
    _check_fits(op, x.shape[2:], kernel, [(p, p) for p in padding], dilation)
    return x, unbatched, kernel, stride, padding, dilation


def _unbatch(y, unbatched):
    return y.reshape(*y.shape[1:]) if unbatched else y


def _max_pool(nd, x, kernel_size, stride, padding, dilation, ceil_mode, op_class=MaxPool):
    x, unbatched, kernel, stride, padding, dilation = _pool_args(
        nd, x, kernel_size, stride, padding, dilation, ceil_mode, f"max_pool{nd}d")
    return _unbatch(op_class.apply(x, kernel=kernel, stride=stride, padding=padding, dilation=dilation), unbatched)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """The maximum of each window of (N, C, L); ``stride`` defaults to ``kernel_size``.

    The gradient flows to the window's (first) largest entry, like the lecture's max gate.

    >>> import chainrule as cr
    >>> cr.max_pool1d(cr.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
    [[[3.0, 2.0]]]
    """
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """The maximum of each kh×kw window of (N, C, H, W); ``stride`` defaults to ``kernel_size``.

    Padding (at most half the kernel) is −∞, so it is never chosen. The gradient flows to each
    window's first largest entry.

    >>> import chainrule as cr
    >>> cr.max_pool2d(cr.arange(16.0).reshape(1, 1, 4, 4), 2).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool2d_relu(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """max_pool2d(relu(input), ...), fused: the same values, gradients and errors as
    ``max_pool2d(input.relu(), ...)``, one graph node; the ReLU runs on the pooled result
    (max(relu(x)) = relu(max(x))), k·k times smaller than the input.

    >>> import chainrule as cr
    >>> cr.max_pool2d_relu(cr.tensor([[[[-1.0, -2.0, 3.0, 0.5], [-4.0, -0.5, 1.0, 2.0]]]]), 2).tolist()
    [[[[0.0, 3.0]]]]
    """
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, MaxPoolReLU)


def _avg_pool(nd, x, kernel_size, stride, padding, ceil_mode, count_include_pad):
    x, unbatched, kernel, stride, padding, _ = _pool_args(
        nd, x, kernel_size, stride, padding, 1, ceil_mode, f"avg_pool{nd}d")
    y = AvgPool.apply(x, kernel=kernel, stride=stride, padding=padding, count_include_pad=bool(count_include_pad))
    return _unbatch(y, unbatched)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """The mean of each window of (N, C, L); ``stride`` defaults to ``kernel_size``.

    >>> import chainrule as cr
    >>> cr.avg_pool1d(cr.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
    [[[2.0, 1.0]]]
    """
    return _avg_pool(1, input, kernel_size, stride, padding, ceil_mode, count_include_pad)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """The mean of each kh×kw window of (N, C, H, W); each entry gets 1/(kh·kw) of the gradient.

    With padding, ``count_include_pad=True`` (PyTorch's default) divides by kh·kw, ``False``
    by the number of entries inside the input.

    >>> import chainrule as cr
    >>> cr.avg_pool2d(cr.arange(16.0).reshape(1, 1, 4, 4), 2).tolist()
    [[[[2.5, 4.5], [10.5, 12.5]]]]
    """
    return _avg_pool(2, input, kernel_size, stride, padding, ceil_mode, count_include_pad)


def _adaptive(nd, x, output_size):
    op = f"adaptive_avg_pool{nd}d"
    x, unbatched = _batched(x, nd, op)
    if isinstance(output_size, (tuple, list)):
        output_size = tuple(s if s is not None else x.shape[2 + i] for i, s in enumerate(output_size))
    size = _ints(output_size, nd, "output_size", op)
    return _unbatch(AdaptiveAvgPool.apply(x, output_size=size), unbatched)


def adaptive_avg_pool1d(input, output_size):
    """Average pooling of (N, C, L) to ``output_size`` entries, with PyTorch's bins."""
    return _adaptive(1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling of (N, C, H, W) to ``output_size`` (an int or (h, w)), with PyTorch's bins:
    output row i averages input rows ⌊i·H/h⌋ .. ⌈(i+1)·H/h⌉ − 1.

    >>> import chainrule as cr
    >>> cr.adaptive_avg_pool2d(cr.arange(16.0).reshape(1, 1, 4, 4), 1).tolist()
    [[[[7.5]]]]
    """
    return _adaptive(2, input, output_size)


def pad(input, pad, mode="constant", value=0.0):
    """Pad the trailing axes with ``value``; ``pad`` is PyTorch's (left, right, top, bottom, …),
    the last axis first. The gradient is the unpadded region of the output's gradient.

    >>> import chainrule as cr
    >>> cr.pad(cr.ones(1, 2), (1, 2)).tolist()
    [[0.0, 1.0, 1.0, 0.0, 0.0]]
    """
    x = _tensor(input)
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is supported; got {mode!r}")
    if not isinstance(pad, (tuple, list)) or len(pad) % 2 or len(pad) // 2 > x.ndim or \
            any(isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 0 for p in pad):
        raise ValueError(f"pad: pad must be an even-length sequence of non-negative ints, two per "
                         f"trailing axis (at most {x.ndim} axes); got {pad!r}")
    pairs = [(int(pad[i]), int(pad[i + 1])) for i in range(0, len(pad), 2)][::-1]
    return Pad.apply(x, pads=pairs, value=value)
