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
import os
import sys
import threading

import numpy as np

from chainrule import validation as check
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


# ====================================================================== compiled kernels (optional)
_JIT = {"read": False, "kernels": None}  # the kernels module once decided; None: the NumPy path


def _kernels():
    """engine.kernels when the compiled path is on, else None. Decided once, on first use: what
    ``CHAINRULE_JIT`` asks, else on where numba imports (``pip install "chainrule[fast]"``) and
    the CPU has the vectors the kernels are written for (:func:`wide_vectors`)."""
    if not _JIT["read"]:
        ask = jit_from_environment()
        set_jit(wide_vectors() if ask is None else ask)
    return _JIT["kernels"]


def jit_from_environment():
    """What the environment asks for: ``CHAINRULE_JIT=1`` the compiled kernels, ``0`` the NumPy
    path, unset or empty None (this machine decides, :func:`wide_vectors`); any other value
    raises ValueError naming it. The command line checks it before it starts (:func:`_kernels`
    reads it at the first convolution)."""
    value = os.environ.get("CHAINRULE_JIT", "").strip()
    if not value:
        return None
    return check.choice("the environment variable CHAINRULE_JIT", value, ("0", "1")) == "1"


def wide_vectors() -> bool:
    """Whether this CPU has 64-byte vectors (AVX-512), for which the kernels are written: they
    keep 16 accumulators of 64 bytes in registers. On AVX2 (an AMD EPYC, Zen 3) they spill, and
    NumPy's path measured faster (lenet 38 against 44 ms a step, cifar 71 against 84), so there
    the kernels run only when ``CHAINRULE_JIT=1`` or ``set_jit(True)`` asks."""
    try:
        from llvmlite import binding  # numba's own code generator
    except ImportError:
        return False
    return bool(binding.get_host_cpu_features().get("avx512f", False))


def set_jit(enabled: bool) -> bool:
    """Turn the compiled convolution and pooling kernels on or off in this process; returns
    whether they are on (False when asked for but numba is not installed).

    By default they are on when numba imports and the CPU has AVX-512 (:func:`wide_vectors`),
    unless the environment variable ``CHAINRULE_JIT`` says otherwise (read once, on the first
    convolution). Off, every op runs its NumPy path;
    results agree within float32 rounding (docs/benchmarks.md, "Compiled kernels").

    >>> from chainrule.engine.conv import set_jit, jit_enabled
    >>> was = jit_enabled()
    >>> set_jit(False)
    False
    >>> _ = set_jit(was)
    """
    kernels = None
    if check.boolean("set_jit's enabled", enabled):
        try:
            from chainrule.engine import kernels
        except ImportError:  # numba is an optional extra
            kernels = None
    _JIT.update(read=True, kernels=kernels)
    return kernels is not None


def jit_enabled() -> bool:
    """Whether the compiled kernels are in use (see :func:`set_jit`)."""
    return _kernels() is not None


def _lanes(dtype):
    return 64 // np.dtype(dtype).itemsize


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
def _compiled_conv(x, weight, bias, stride, dilation, groups, padding):
    """Whether :func:`conv_forward` runs the compiled kernels (engine/kernels.py): host arrays
    of one float dtype, 2-D, stride 1, no dilation, one group, output channels a multiple of
    the vector lanes, each padding at most the kernel's size − 1 (the input gradient's padded
    form needs it). Anything else runs the NumPy path."""
    if _kernels() is None or array_module(x) is not np or array_module(weight) is not np:
        return False
    dtype = x.dtype
    return (x.ndim == 4 and dtype in (np.float32, np.float64) and weight.dtype == dtype
            and (bias is None or (array_module(bias) is np and bias.dtype == dtype))
            and stride == (1, 1) and dilation == (1, 1) and groups == 1 and weight.shape[0] % _lanes(dtype) == 0
            and all(lo <= k - 1 and hi <= k - 1 for (lo, hi), k in zip(padding, weight.shape[2:])))


def _conv_forward_compiled(x, weight, bias, out, padding):
    """The compiled forward: a direct correlation of the padded channels-last input, no window
    matrix (PERFORMANCE_LOG.md, entry 29). Saves the padded input and the weight's
    (KH, KW, C, O) copy, as the NumPy path saves its own copy of the weight."""
    kernels, dtype = _kernels(), x.dtype
    (p0, p1), (q0, q1) = padding
    n, c, h, w = x.shape
    xpad = workspace(np, (n, h + p0 + p1, w + q0 + q1, c), dtype, fill=0)
    xpad[:, p0:p0 + h, q0:q0 + w] = _last(x)
    y = workspace(np, (n, *out, weight.shape[0]), dtype)
    b = np.ascontiguousarray(bias) if bias is not None else np.empty(0, dtype)
    wk = np.ascontiguousarray(weight.transpose(2, 3, 1, 0))  # (KH, KW, C, O), a copy: saved
    kernels.corr(xpad, wk, b, y)
    return y, (xpad, wk)


def _conv_backward_compiled(geometry, xpad, wk, g, needs):
    """The compiled gradients: the weight's by a direct reduction, the bias's by rows in
    order, the input's as the correlation of the zero-padded output gradient with the flipped
    kernel (no col2im); the input's goes through the NumPy col2im when its channels are not a
    multiple of the lanes."""
    shape, kernel, _, padding, _, _, out, _ = geometry
    kernels, dtype = _kernels(), xpad.dtype
    o_ch, c = wk.shape[3], shape[1]
    g = np.ascontiguousarray(g, dtype=dtype)
    gx = gw = gb = None
    if needs[1]:
        gwk = workspace(np, (*kernel, c, o_ch), dtype)
        kernels.corr_wgrad(xpad, g, gwk)
        gw = np.ascontiguousarray(gwk.transpose(3, 2, 0, 1))
    if len(needs) > 2 and needs[2]:
        gb = np.empty(o_ch, dtype)
        kernels.row_sum(g.reshape(-1, o_ch), gb)
    if needs[0] and c % _lanes(dtype) == 0:
        (kh, kw), (p0, _), (q0, _) = kernel, *padding
        gpad = workspace(np, (shape[0], shape[2] + kh - 1, shape[3] + kw - 1, o_ch), dtype, fill=0)
        gpad[:, kh - 1 - p0:kh - 1 - p0 + out[0], kw - 1 - q0:kw - 1 - q0 + out[1]] = g
        gxl = workspace(np, (shape[0], shape[2], shape[3], c), dtype)
        flipped = np.ascontiguousarray(wk[::-1, ::-1].transpose(0, 1, 3, 2))  # (KH, KW, O, C)
        kernels.corr(gpad, flipped, np.empty(0, dtype), gxl)
        gx = _first(gxl)
    elif needs[0]:
        gx = _col2im_grad(geometry, np.ascontiguousarray(wk.transpose(3, 0, 1, 2)).reshape(o_ch, -1), g.reshape(-1, o_ch))
    return gx, gw, gb


def conv_forward(x, weight, bias, stride, padding, dilation, groups):
    """The convolution on arrays: ``(y, geometry, state)`` with ``y`` the (N, *out, O)
    channels-last result (C-contiguous) and what :func:`conv_backward` needs.

    Shared by :class:`Conv` and the fused :class:`ConvReLU`, which each keep their own saved
    arrays, so both compute the same IEEE operations (as ``linear_forward`` is shared). The
    compiled kernels run where :func:`_compiled_conv` says, after the same validation.
    """
    xp = array_module(x)
    n, nd, o_ch = x.shape[0], x.ndim - 2, weight.shape[0]
    kernel = weight.shape[2:]
    out = tuple(output_size(s, k, st, p, d) for s, k, st, p, d in zip(x.shape[2:], kernel, stride, padding, dilation))
    compiled = _compiled_conv(x, weight, bias, stride, dilation, groups, padding)
    geometry = (x.shape, kernel, stride, padding, dilation, groups, out, compiled)
    if compiled:
        y, state = _conv_forward_compiled(x, weight, bias, out, padding)
        return y, geometry, state
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
    return y.reshape(n, *out, o_ch), geometry, (cols, w_mat)


def conv_backward(geometry, state, g, needs):
    """The gradients (x, W, b) of a convolution from ``g``, the output's gradient channels-last
    (N, *out, O); None for the inputs ``needs`` marks as needing none."""
    if geometry[7]:
        return _conv_backward_compiled(geometry, *state, g, needs)
    cols, w_mat = state
    shape, kernel, stride, padding, dilation, groups, out, _ = geometry
    xp = array_module(g)
    o_ch = w_mat.shape[0]
    og = o_ch // groups
    g = g.reshape(-1, o_ch)
    gx = gw = gb = None
    if needs[1]:  # OpenBLAS's faster form per layout: (colsᵀ·g)ᵀ for F-ordered cols, gᵀ·cols for C-ordered (entry 22)
        gw_mat = xp.concatenate([xp.dot(cols[i].T, g[:, i * og:(i + 1) * og]).T if cols[i].flags.f_contiguous
                                 else xp.dot(g[:, i * og:(i + 1) * og].T, cols[i]) for i in range(groups)])
        gw = xp.ascontiguousarray(_first(gw_mat.reshape(o_ch, *kernel, shape[1] // groups)))
    if len(needs) > 2 and needs[2]:
        gb = g.sum(axis=0)
    if needs[0]:
        gx = _col2im_grad(geometry, w_mat, g)
    return gx, gw, gb


def _col2im_grad(geometry, w_mat, g):
    """The input's gradient (N, C, *S) from ``g`` (rows, O): offset-major products, then one
    strided add per kernel offset into the padded gradient."""
    shape, kernel, stride, padding, dilation, groups, out, _ = geometry
    xp = array_module(g)
    o_ch = w_mat.shape[0]
    og, cg = o_ch // groups, shape[1] // groups
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
    return _first(gpad[_inner(padding, shape[2:])])


def _describe_conv(self):
    _, kernel, stride, padding, dilation, groups = self.geometry[:6]
    return f"k={kernel}, s={stride}, p={padding}" + (f", d={dilation}" if max(dilation) > 1 else "") \
        + (f", groups={groups}" if groups > 1 else "")


class Conv(Function):
    """N-d convolution (cross-correlation, as in PyTorch) with stride, padding, dilation, groups.

    y[n, o, *p] = b[o] + Σ_{c, *k} W[o, c, *k] · x_pad[n, g·C/G + c, *(p·stride + k·dilation)].
    """

    name = "conv"
    describe = _describe_conv

    def forward(self, x, weight, bias=None, *, stride, padding, dilation, groups):
        y, self.geometry, state = conv_forward(x, weight, bias, stride, padding, dilation, groups)
        self.save(*state)
        return _first(y)

    def backward(self, grad):
        return conv_backward(self.geometry, self.saved, _last(grad), self.needs)


class ConvReLU(Function):
    """relu(conv(x, W) + b) as one op: the ReLU runs in place on the channels-last result, so
    the layout survives into the next pooling or convolution (ReLU alone returns a row-major
    copy), and no pre-activation array is kept. It shares :func:`conv_forward` and
    :func:`conv_backward` with :class:`Conv`, not its saved arrays."""

    name = "conv_relu"
    describe = _describe_conv

    def forward(self, x, weight, bias=None, *, stride, padding, dilation, groups):
        y, self.geometry, state = conv_forward(x, weight, bias, stride, padding, dilation, groups)
        array_module(y).maximum(y, 0, out=y)
        self.save(*state, y)
        return _first(y)

    def backward(self, grad):
        *state, y = self.saved
        xp = array_module(y)
        mask = xp.greater(y, 0, out=workspace(xp, y.shape, bool))
        g = xp.multiply(_last(grad), mask, out=workspace(xp, y.shape, grad.dtype))
        return conv_backward(self.geometry, state, g, self.needs)


# ====================================================================== pooling
def _compiled_pool(x, view, start, kernel, stride, padding, dilation):
    """Whether max pooling runs the compiled kernels: a host array of one float dtype, 2-D,
    channels-last in memory (a convolution's output), windows that tile it (stride = kernel,
    no padding, no dilation) of at most 128 entries (an int8 offset)."""
    return (_kernels() is not None and array_module(x) is np and x.ndim == 4 and start == 1
            and x.dtype in (np.float32, np.float64) and view.flags.c_contiguous and tuple(stride) == tuple(kernel)
            and not any(padding) and tuple(dilation) == (1, 1) and math.prod(kernel) <= 128)


def max_pool_forward(x, kernel, stride, padding, dilation, relu=False):
    """Max pooling on arrays, then ``relu`` if asked: ``(y, geometry, state)`` with ``y`` in
    the pooling's own memory order (see :func:`_pool_layout`) and what
    :func:`max_pool_backward` needs (the padded input; the compiled path's int8 winners).

    Shared by :class:`MaxPool` and the fused :class:`MaxPoolReLU` (as :func:`conv_forward` is
    by the two convolutions). The forward is a chain of ``maximum``s; the backward finds each
    window's first largest entry again (equal to the output, not taken by an earlier offset):
    branch-free passes, where tracking the argmax with masked copies in the forward was 10×
    slower (PERFORMANCE_LOG.md, entry 11). The compiled kernels (where :func:`_compiled_pool`
    says) record that entry in one pass instead (entry 29).
    """
    xp = array_module(x)
    pads = [(p, p) for p in padding]
    view, start, back = _pool_layout(x)
    out = tuple(output_size(s, k, st, p, d) for s, k, st, p, d in zip(x.shape[2:], kernel, stride, pads, dilation))
    compiled = _compiled_pool(x, view, start, kernel, stride, padding, dilation)
    geometry = (view.shape, start, back, kernel, stride, pads, dilation, out, compiled)
    if compiled:
        y = workspace(np, (x.shape[0], *out, x.shape[1]), x.dtype)
        idx = workspace(np, y.shape, np.int8)
        _kernels().max_pool_tiled(view, *kernel, bool(relu), y, idx)
        return y, geometry, idx
    xpad = _padded(view, pads, -np.inf, start)
    offsets = list(itertools.product(*map(range, kernel)))
    first = xpad[_offset(offsets[0], stride, dilation, out, start)]
    y = workspace(xp, first.shape, x.dtype)
    xp.copyto(y, first)
    for off in offsets[1:]:
        xp.maximum(y, xpad[_offset(off, stride, dilation, out, start)], out=y)
    if relu:  # y keeps each positive window maximum, so backward finds it
        xp.maximum(y, 0, out=y)
    return y, geometry, xpad


def max_pool_backward(geometry, xpad, y, g):
    """The input's gradient (in the input's layout) of max pooling from ``g``, the output's
    gradient in the pooling's memory order; each window's first largest entry gets it.
    On the compiled path ``xpad`` is the forward's int8 record of those entries."""
    shape, start, back, kernel, stride, pads, dilation, out, compiled = geometry
    xp = array_module(g)
    if compiled:
        gx = workspace(np, shape, y.dtype)
        _kernels().max_pool_tiled_backward(np.ascontiguousarray(g, dtype=y.dtype), xpad, *kernel, gx)
        return back(gx)
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
        y, self.geometry, xpad = max_pool_forward(x, kernel, stride, padding, dilation, relu=True)
        self.save(xpad, y)
        return self.geometry[2](y)

    def backward(self, grad):
        xpad, y = self.saved
        xp = array_module(y)
        g = _last(grad) if self.geometry[1] == 1 else grad
        if not self.geometry[8]:  # the compiled forward recorded no winner where y <= 0
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
