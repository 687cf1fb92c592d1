"""Compiled kernels for 2-D convolution and max pooling (the optional ``fast`` extra: numba).

Imported only by :mod:`chainrule.engine.conv`, and only when numba imports and either
``CHAINRULE_JIT=1`` or, unset, the CPU has AVX-512 (:func:`chainrule.engine.conv.wide_vectors`,
:func:`chainrule.engine.conv.jit_enabled`).
Without numba every op runs its NumPy path unchanged. The NumPy + OpenBLAS path was exhausted
on these shapes (benchmarks/PERFORMANCE_LOG.md, entries 20–27); these kernels do what NumPy has
no formulation for (entries 28+):

- :func:`corr` — a direct (im2col-free) correlation of a padded channels-last input, the
  output channels in SIMD lanes and 8 output pixels of a row in registers at once. It is the
  convolution's forward and, on the zero-padded output gradient with the kernel flipped, its
  input gradient (no col2im adds).
- :func:`corr_wgrad` — the weight gradient as a direct reduction over the batch, image by
  image (each image's input and gradient stay in L1).
- :func:`max_pool_tiled` / :func:`max_pool_tiled_backward` — max pooling whose windows tile
  the input (stride = kernel), one pass each way, the winning offset kept as an int8.
- :func:`row_sum` — the bias gradient, rows added in order (NumPy's order for ``sum(axis=0)``).

Arithmetic: ``fastmath`` is off (no reassociation); the products' multiply-adds are explicit
fused multiply-adds (one rounding each, as OpenBLAS's kernels do), summed in a fixed order, so
the results equal the NumPy path's within float32 (float64) rounding of a different summation
order. Pooling and the bias sum compute exactly what the NumPy path does.

The vector type below holds 64 bytes (16 float32 or 8 float64 lanes, one AVX-512 register) as
an LLVM vector, so an accumulator stays in a register across loops; LLVM's auto-vectorizer
did not manage it for these loops (6–12 GFLOP/s against 64 with the explicit vectors: entry 28).
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

VECTOR_BYTES = 64


class _Vec(types.Type):
    def __init__(self, dtype):
        self.dtype, self.lanes = dtype, VECTOR_BYTES // (dtype.bitwidth // 8)
        super().__init__(name=f"vec({dtype} x {self.lanes})")


@register_model(_Vec)
class _VecModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        element = ir.FloatType() if fe_type.dtype == types.float32 else ir.DoubleType()
        super().__init__(dmm, fe_type, ir.VectorType(element, fe_type.lanes))


def _address(context, builder, array_type, array, index):
    return builder.gep(context.make_array(array_type)(context, builder, array).data, [index])


@intrinsic
def lanes(typingctx, like):
    """The number of lanes of a vector of ``like``'s dtype (16 float32, 8 float64)."""
    count = VECTOR_BYTES // (like.dtype.bitwidth // 8)
    return types.intp(like), lambda context, builder, sig, args: context.get_constant(types.intp, count)


@intrinsic
def vzero(typingctx, like):
    """A vector of zeros of ``like``'s dtype."""
    vec = _Vec(like.dtype)
    return vec(like), lambda context, builder, sig, args: ir.Constant(context.get_value_type(vec), None)


@intrinsic
def vload(typingctx, array, index):
    """``array.flat[index:index + lanes]`` of a C-contiguous array, as a vector."""
    vec = _Vec(array.dtype)

    def codegen(context, builder, sig, args):
        pointer = _address(context, builder, sig.args[0], args[0], args[1])
        return builder.load(builder.bitcast(pointer, context.get_value_type(vec).as_pointer()), align=4)
    return vec(array, index), codegen


@intrinsic
def vstore(typingctx, array, index, value):
    """``array.flat[index:index + lanes] = value``."""
    def codegen(context, builder, sig, args):
        pointer = _address(context, builder, sig.args[0], args[0], args[1])
        builder.store(args[2], builder.bitcast(pointer, args[2].type.as_pointer()), align=4)
        return context.get_dummy_value()
    return types.none(array, index, value), codegen


@intrinsic
def at(typingctx, array, index):
    """``array.flat[index]`` of a C-contiguous array, without the negative-index wraparound."""
    def codegen(context, builder, sig, args):
        return builder.load(_address(context, builder, sig.args[0], args[0], args[1]))
    return array.dtype(array, index), codegen


@intrinsic
def vfma(typingctx, acc, scalar, vector):
    """``acc + scalar·vector`` lane by lane, each a fused multiply-add (one rounding)."""
    def codegen(context, builder, sig, args):
        vty = args[0].type
        lane0 = ir.Constant(ir.IntType(32), 0)
        scalar_value = context.cast(builder, args[1], sig.args[1], acc.dtype)
        one = builder.insert_element(ir.Constant(vty, ir.Undefined), scalar_value, lane0)
        spread = builder.shuffle_vector(one, ir.Constant(vty, ir.Undefined),
                                        ir.Constant(ir.VectorType(ir.IntType(32), vty.count), [0] * vty.count))
        name = f"llvm.fma.v{vty.count}{'f32' if acc.dtype == types.float32 else 'f64'}"
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty] * 3), name)
        return builder.call(fma, [spread, args[2], args[0]])
    return acc(acc, scalar, vector), codegen


# ====================================================================== convolution
@njit(cache=True)
def _pixels8(xf, wf, yf, xb, wb, yb, kh, row, x_row, ch, o_ch, b0):
    """8 output pixels of a row, one vector of output channels: 8 accumulators."""
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = b0
    for a in range(kh):
        x0, w0 = xb + a * x_row, wb + a * row * o_ch
        for t in range(row):
            wv = vload(wf, w0 + t * o_ch)
            a0 = vfma(a0, at(xf, x0 + t), wv)
            a1 = vfma(a1, at(xf, x0 + ch + t), wv)
            a2 = vfma(a2, at(xf, x0 + 2 * ch + t), wv)
            a3 = vfma(a3, at(xf, x0 + 3 * ch + t), wv)
            a4 = vfma(a4, at(xf, x0 + 4 * ch + t), wv)
            a5 = vfma(a5, at(xf, x0 + 5 * ch + t), wv)
            a6 = vfma(a6, at(xf, x0 + 6 * ch + t), wv)
            a7 = vfma(a7, at(xf, x0 + 7 * ch + t), wv)
    for p, acc in enumerate((a0, a1, a2, a3, a4, a5, a6, a7)):
        vstore(yf, yb + p * o_ch, acc)


@njit(cache=True)
def _pixels8x2(xf, wf, yf, xb, wb, yb, kh, row, x_row, ch, o_ch, b0, c0):
    """8 output pixels of a row, two vectors of output channels: 16 accumulators, so each
    input entry loaded feeds two multiply-adds."""
    lane = lanes(wf)
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = b0
    d0 = d1 = d2 = d3 = d4 = d5 = d6 = d7 = c0
    for a in range(kh):
        x0, w0 = xb + a * x_row, wb + a * row * o_ch
        for t in range(row):
            wv, wu = vload(wf, w0 + t * o_ch), vload(wf, w0 + t * o_ch + lane)
            s = at(xf, x0 + t)
            a0, d0 = vfma(a0, s, wv), vfma(d0, s, wu)
            s = at(xf, x0 + ch + t)
            a1, d1 = vfma(a1, s, wv), vfma(d1, s, wu)
            s = at(xf, x0 + 2 * ch + t)
            a2, d2 = vfma(a2, s, wv), vfma(d2, s, wu)
            s = at(xf, x0 + 3 * ch + t)
            a3, d3 = vfma(a3, s, wv), vfma(d3, s, wu)
            s = at(xf, x0 + 4 * ch + t)
            a4, d4 = vfma(a4, s, wv), vfma(d4, s, wu)
            s = at(xf, x0 + 5 * ch + t)
            a5, d5 = vfma(a5, s, wv), vfma(d5, s, wu)
            s = at(xf, x0 + 6 * ch + t)
            a6, d6 = vfma(a6, s, wv), vfma(d6, s, wu)
            s = at(xf, x0 + 7 * ch + t)
            a7, d7 = vfma(a7, s, wv), vfma(d7, s, wu)
    for p, acc in enumerate((a0, a1, a2, a3, a4, a5, a6, a7)):
        vstore(yf, yb + p * o_ch, acc)
    for p, acc in enumerate((d0, d1, d2, d3, d4, d5, d6, d7)):
        vstore(yf, yb + p * o_ch + lane, acc)


@njit(cache=True)
def _pixels4(xf, wf, yf, xb, wb, yb, kh, row, x_row, ch, o_ch, b0):
    """4 output pixels (rows narrower than 8)."""
    a0 = a1 = a2 = a3 = b0
    for a in range(kh):
        x0, w0 = xb + a * x_row, wb + a * row * o_ch
        for t in range(row):
            wv = vload(wf, w0 + t * o_ch)
            a0 = vfma(a0, at(xf, x0 + t), wv)
            a1 = vfma(a1, at(xf, x0 + ch + t), wv)
            a2 = vfma(a2, at(xf, x0 + 2 * ch + t), wv)
            a3 = vfma(a3, at(xf, x0 + 3 * ch + t), wv)
    for p, acc in enumerate((a0, a1, a2, a3)):
        vstore(yf, yb + p * o_ch, acc)


@njit(cache=True)
def _pixels1(xf, wf, yf, xb, wb, yb, kh, row, x_row, ch, o_ch, b0):
    """1 output pixel (rows narrower than 4)."""
    a0 = b0
    for a in range(kh):
        x0, w0 = xb + a * x_row, wb + a * row * o_ch
        for t in range(row):
            a0 = vfma(a0, at(xf, x0 + t), vload(wf, w0 + t * o_ch))
    vstore(yf, yb, a0)


@njit(cache=True)
def corr(xp, w, bias, y):
    """``y[n, i, j, o] = bias[o] + Σ_{a, t} xp[n, i + a, j·C + t] · w[a, t, o]``.

    The 2-D correlation at stride 1 of a padded channels-last input ``xp`` (N, Hp, Wp, C) by
    ``w`` (KH, KW, C, O), where t runs over a kernel row's KW·C entries (contiguous in xp);
    ``y`` is (N, Ho, Wo, O) with Ho = Hp − KH + 1. ``bias`` is (O,) or empty (none). All
    C-contiguous, O a multiple of the lanes. Each output entry is one chain of fused
    multiply-adds in the order (a, b, c).

    A row is computed 8 pixels at a time (4 or 1 in rows narrower than 8 or 4), two vectors of
    output channels at once where O allows; the last block of a row is shifted left to end at
    the row's end, recomputing a few pixels (the same operations: the same bits) instead of
    running narrow blocks that wait on their multiply-adds' latency (entry 28).
    """
    n_img, hp, wp, ch = xp.shape
    kh, kw, _, o_ch = w.shape
    ho, wo = y.shape[1], y.shape[2]
    lane, row = lanes(y), kw * ch
    xf, wf, yf = xp.reshape(-1), w.reshape(-1), y.reshape(-1)
    width = 8 if wo >= 8 else 4 if wo >= 4 else 1
    pairs = width == 8 and o_ch % (2 * lane) == 0
    for n in range(n_img):
        for i in range(ho):
            for o0 in range(0, o_ch, 2 * lane if pairs else lane):
                b0 = vload(bias, o0) if bias.shape[0] else vzero(y)
                c0 = vload(bias, o0 + lane) if pairs and bias.shape[0] else vzero(y)
                j = 0
                while j < wo:
                    j = min(j, wo - width)
                    xb, yb = ((n * hp + i) * wp + j) * ch, ((n * ho + i) * wo + j) * o_ch + o0
                    if pairs:
                        _pixels8x2(xf, wf, yf, xb, o0, yb, kh, row, wp * ch, ch, o_ch, b0, c0)
                    elif width == 8:
                        _pixels8(xf, wf, yf, xb, o0, yb, kh, row, wp * ch, ch, o_ch, b0)
                    elif width == 4:
                        _pixels4(xf, wf, yf, xb, o0, yb, kh, row, wp * ch, ch, o_ch, b0)
                    else:
                        _pixels1(xf, wf, yf, xb, o0, yb, kh, row, wp * ch, ch, o_ch, b0)
                    j += width


@njit(cache=True)
def corr_wgrad(xp, g, gw):
    """``gw[a, t, o] = Σ_{n, i, j} xp[n, i + a, j·C + t] · g[n, i, j, o]``: the weight gradient
    (KH, KW, C, O) of :func:`corr` from the output gradient ``g`` (N, Ho, Wo, O), O a multiple
    of the lanes. Image by image, so an image's input and gradient stay in cache; 4 entries of
    t by 2 vectors of o in registers at once (4 by 1 where O is one vector); each entry is one
    chain over (n, i, j) in order."""
    n_img, hp, wp, ch = xp.shape
    kh, kw, _, o_ch = gw.shape
    ho, wo = g.shape[1], g.shape[2]
    lane, row = lanes(gw), kw * ch
    xf, gf, wf = xp.reshape(-1), g.reshape(-1), gw.reshape(-1)
    wf[:] = 0
    pairs = o_ch % (2 * lane) == 0
    for n in range(n_img):
        for a in range(kh):
            t = 0
            while t < row:
                q = 4 if row - t >= 4 else 1
                o0 = 0
                while o0 < o_ch:
                    wb = (a * row + t) * o_ch + o0
                    if q == 4 and pairs:
                        a0, a1, a2, a3 = vload(wf, wb), vload(wf, wb + o_ch), vload(wf, wb + 2 * o_ch), vload(wf, wb + 3 * o_ch)
                        b0, b1 = vload(wf, wb + lane), vload(wf, wb + o_ch + lane)
                        b2, b3 = vload(wf, wb + 2 * o_ch + lane), vload(wf, wb + 3 * o_ch + lane)
                        for i in range(ho):
                            xb = ((n * hp + i + a) * wp) * ch + t
                            gb = (n * ho + i) * wo * o_ch + o0
                            for j in range(wo):
                                gv, gu = vload(gf, gb + j * o_ch), vload(gf, gb + j * o_ch + lane)
                                x0 = xb + j * ch
                                s0, s1, s2, s3 = at(xf, x0), at(xf, x0 + 1), at(xf, x0 + 2), at(xf, x0 + 3)
                                a0, b0 = vfma(a0, s0, gv), vfma(b0, s0, gu)
                                a1, b1 = vfma(a1, s1, gv), vfma(b1, s1, gu)
                                a2, b2 = vfma(a2, s2, gv), vfma(b2, s2, gu)
                                a3, b3 = vfma(a3, s3, gv), vfma(b3, s3, gu)
                        vstore(wf, wb + lane, b0)
                        vstore(wf, wb + o_ch + lane, b1)
                        vstore(wf, wb + 2 * o_ch + lane, b2)
                        vstore(wf, wb + 3 * o_ch + lane, b3)
                        step = 2 * lane
                    else:
                        a0, a1, a2, a3 = vload(wf, wb), vzero(gw), vzero(gw), vzero(gw)
                        if q == 4:
                            a1, a2, a3 = vload(wf, wb + o_ch), vload(wf, wb + 2 * o_ch), vload(wf, wb + 3 * o_ch)
                        for i in range(ho):
                            xb = ((n * hp + i + a) * wp) * ch + t
                            gb = (n * ho + i) * wo * o_ch + o0
                            if q == 4:
                                for j in range(wo):
                                    gv = vload(gf, gb + j * o_ch)
                                    x0 = xb + j * ch
                                    a0 = vfma(a0, at(xf, x0), gv)
                                    a1 = vfma(a1, at(xf, x0 + 1), gv)
                                    a2 = vfma(a2, at(xf, x0 + 2), gv)
                                    a3 = vfma(a3, at(xf, x0 + 3), gv)
                            else:
                                for j in range(wo):
                                    a0 = vfma(a0, at(xf, xb + j * ch), vload(gf, gb + j * o_ch))
                        step = lane
                    vstore(wf, wb, a0)
                    if q == 4:
                        vstore(wf, wb + o_ch, a1)
                        vstore(wf, wb + 2 * o_ch, a2)
                        vstore(wf, wb + 3 * o_ch, a3)
                    o0 += step
                t += q


@njit(cache=True)
def row_sum(g, out):
    """``out[o] = Σ_r g[r, o]``, row after row: the order (and so the result) of NumPy's
    ``g.sum(axis=0)`` on a C-contiguous array, 5× faster on (50,176 × 16)."""
    out[:] = 0
    for r in range(g.shape[0]):
        for o in range(g.shape[1]):
            out[o] += g[r, o]


# ====================================================================== max pooling
@njit(cache=True)
def max_pool_tiled(x, kh, kw, relu, y, idx):
    """Max pooling of channels-last ``x`` (N, H, W, C) by kh×kw windows at stride (kh, kw),
    no padding, into ``y`` (N, Ho, Wo, C), and ``relu(y)`` if ``relu``.

    ``idx`` (int8, like y) gets each window's first largest offset a·kw + b, the NumPy path's
    rule (offsets in row-major order, a later one wins only if strictly larger), or −1 where
    no entry gets the gradient: a window holding NaN (the maximum is NaN, as NumPy's
    ``maximum`` propagates it) or, with ``relu``, a maximum ≤ 0.
    """
    n_img, ho, wo, ch = y.shape
    zero = y.dtype.type(0)
    for n in range(n_img):
        for i in range(ho):
            for j in range(wo):
                yr, ir = y[n, i, j], idx[n, i, j]
                xr = x[n, i * kh, j * kw]
                for c in range(ch):
                    yr[c] = xr[c]
                    ir[c] = 0
                for a in range(kh):
                    for b in range(kw):
                        if a + b == 0:
                            continue
                        xr, k = x[n, i * kh + a, j * kw + b], np.int8(a * kw + b)
                        for c in range(ch):
                            v, m = xr[c], yr[c]
                            take = (v > m) | ((v != v) & (m == m))
                            yr[c] = v if take else m
                            ir[c] = k if take else ir[c]
                for c in range(ch):
                    m = yr[c]
                    none = (m != m) | (relu & (m <= zero))
                    ir[c] = np.int8(-1) if none else ir[c]
                    yr[c] = zero if relu and m <= zero else m


@njit(cache=True)
def max_pool_tiled_backward(g, idx, kh, kw, gx):
    """The input gradient (N, H, W, C) of :func:`max_pool_tiled`: each window's recorded
    entry gets the window's gradient, every other entry (rows and columns beyond the last
    window included) 0."""
    n_img, ho, wo, ch = g.shape
    h, w = gx.shape[1], gx.shape[2]
    zero = gx.dtype.type(0)
    for n in range(n_img):
        for i in range(ho):
            for a in range(kh):
                for j in range(wo):
                    gr, ir = g[n, i, j], idx[n, i, j]
                    for b in range(kw):
                        k, out = np.int8(a * kw + b), gx[n, i * kh + a, j * kw + b]
                        for c in range(ch):
                            out[c] = gr[c] if ir[c] == k else zero
                for col in range(wo * kw, w):
                    gx[n, i * kh + a, col] = zero
        for r in range(ho * kh, h):
            gx[n, r] = zero
