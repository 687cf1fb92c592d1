"""chainrule against PyTorch: values and gradients of every op, random graphs, the fused losses.

Everything runs in float64. A case builds the same computation in both libraries from the same
arrays, back-propagates the same random upstream gradient, and compares the outputs and every
input's gradient with ``rtol=1e-9, atol=1e-12`` (float64 round-off through a few dozen ops; a
wrong rule is off by far more). Inputs are drawn away from kinks (0 for relu/abs, ties for the
max gate) except where a test is about ties; the documented deviations (docs/torch.md) have
their own tests at the end. Skipped where torch is not installed.
"""
import numpy as np
import pytest

import chainrule as cr
from chainrule.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional
RTOL, ATOL = 1e-9, 1e-12


def run_both(cr_fn, torch_fn, arrays, seed=0, grad=True):
    """Run both functions on copies of ``arrays``; compare the outputs and the gradients."""
    ours = [cr.tensor(a, dtype="float64", requires_grad=grad) for a in arrays]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=grad) for a in arrays]
    out, ref = cr_fn(*ours), torch_fn(*theirs)
    outs, refs = (out, ref) if isinstance(out, tuple) else ((out,), (ref,))
    assert len(outs) == len(refs)
    for o, r in zip(outs, refs):
        assert o.shape == tuple(r.shape), (o.shape, tuple(r.shape))
        np.testing.assert_allclose(o.data, r.detach().numpy(), rtol=RTOL, atol=ATOL)
    if not grad:
        return
    rng = np.random.default_rng(seed)
    loss_ours = loss_theirs = 0.0
    for o, r in zip(outs, refs):
        if not r.requires_grad:
            continue
        g = rng.standard_normal(o.shape)
        loss_ours = (o * cr.tensor(g, dtype="float64")).sum() + loss_ours
        loss_theirs = (r * torch.tensor(g)).sum() + loss_theirs
    if isinstance(loss_ours, float):
        return
    loss_ours.backward()
    loss_theirs.backward()
    for a, b in zip(ours, theirs):
        if b.grad is None:
            assert a.grad is None or not np.any(a.grad)
        else:
            np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=RTOL, atol=ATOL)


def rand(rng, shape, low=-2.0, high=2.0):
    return rng.uniform(low, high, size=shape)


# ---------------------------------------------------------------- elementwise ops
def pos(t):  # a positive input for log, sqrt, … built the same way in both libraries
    return t.abs() + 0.5


UNARY = {
    "neg": (lambda x: -x, lambda x: -x),
    "exp": (lambda x: x.exp(), lambda x: x.exp()),
    "log": (lambda x: pos(x).log(), lambda x: pos(x).log()),
    "sqrt": (lambda x: pos(x).sqrt(), lambda x: pos(x).sqrt()),
    "reciprocal": (lambda x: 1 / pos(x), lambda x: 1 / pos(x)),
    "abs": (lambda x: x.abs(), lambda x: x.abs()),
    "relu": (lambda x: x.relu(), lambda x: x.relu()),
    "sigmoid": (lambda x: x.sigmoid(), lambda x: x.sigmoid()),
    "tanh": (lambda x: x.tanh(), lambda x: x.tanh()),
    "log1p": (lambda x: pos(x).log1p(), lambda x: pos(x).log1p()),
    "expm1": (lambda x: x.expm1(), lambda x: x.expm1()),
    "sign": (lambda x: x.sign() * x, lambda x: x.sign() * x),
    "sin": (lambda x: x.sin(), lambda x: x.sin()),
    "cos": (lambda x: x.cos(), lambda x: x.cos()),
    "erf": (lambda x: x.erf(), lambda x: torch.erf(x)),
    "softplus": (lambda x: x.softplus(), lambda x: TF.softplus(x)),
    "softplus-beta": (lambda x: x.softplus(beta=3.0, threshold=2.0), lambda x: TF.softplus(x, 3.0, 2.0)),
    "pow3": (lambda x: x**3, lambda x: x**3),
    "pow0": (lambda x: x**0, lambda x: x**0),
    "pow-0.5": (lambda x: pos(x) ** -0.5, lambda x: pos(x) ** -0.5),
    "clip": (lambda x: x.clip(-1.0, 0.5), lambda x: x.clamp(-1.0, 0.5)),
    "clamp-min": (lambda x: x.clamp(min=0.2), lambda x: x.clamp(min=0.2)),
    "gelu": (F.gelu, TF.gelu),
    "gelu-tanh": (lambda x: F.gelu(x, "tanh"), lambda x: TF.gelu(x, approximate="tanh")),
    "elu": (lambda x: F.elu(x, 0.7), lambda x: TF.elu(x, 0.7)),
    "silu": (F.silu, TF.silu),
    "logsigmoid": (F.logsigmoid, TF.logsigmoid),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.1), lambda x: TF.leaky_relu(x, 0.1)),
    "softmax": (lambda x: x.softmax(dim=-1), lambda x: x.softmax(dim=-1)),
    "log_softmax": (lambda x: x.log_softmax(dim=0), lambda x: x.log_softmax(dim=0)),
    "cumsum": (lambda x: x.cumsum(dim=0), lambda x: x.cumsum(dim=0)),
    "clone": (lambda x: x.clone() * 2, lambda x: x.clone() * 2),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 1, 4)])
def test_unary_ops_match_torch(name, shape):
    if name in ("softmax", "log_softmax", "cumsum") and shape == ():
        shape = (1,)
    ours, theirs = UNARY[name]
    run_both(ours, theirs, [rand(np.random.default_rng(len(name)), shape)])


def test_sigmoid_tails_match_torch():
    x = np.array([-745.0, -100.0, -40.0, -20.0, 0.0, 20.0, 40.0])
    run_both(lambda t: t.sigmoid().log(), lambda t: t.sigmoid().log(), [x[1:]])
    run_both(F.logsigmoid, TF.logsigmoid, [x])


BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / pos(b), lambda a, b: a / pos(b)),
    "maximum": (cr.maximum, torch.maximum),
    "minimum": (cr.minimum, torch.minimum),
    "pow": (lambda a, b: pos(a) ** b, lambda a, b: pos(a) ** b),
    "where": (lambda a, b: cr.where(a.data > b.data, a, b * 2), lambda a, b: torch.where(a > b, a, b * 2)),
    "clamp-tensors": (lambda a, b: a.clamp(min=b, max=b + 1.0), lambda a, b: a.clamp(min=b, max=b + 1.0)),
}

BROADCAST_SHAPES = [((), ()), ((3,), ()), ((), (2, 3)), ((2, 3), (3,)), ((4, 1, 3), (2, 1)),
                    ((1, 3), (2, 1)), ((2, 0), (1,)), ((0,), ())]


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
def test_binary_ops_with_broadcasting_match_torch(name, shapes):
    rng = np.random.default_rng(7)
    ours, theirs = BINARY[name]
    run_both(ours, theirs, [rand(rng, shapes[0]), rand(rng, shapes[1])])


# ---------------------------------------------------------------- matmul and linear
MATMUL_SHAPES = [((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((5, 2, 3), (5, 3, 4)),
                 ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)), ((3,), (5, 3, 4)), ((5, 2, 3), (3,)),
                 ((2, 1, 2, 3), (4, 3, 2)), ((0, 3), (3, 2)), ((2, 0), (0, 3))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul_shapes_match_torch(shapes):
    rng = np.random.default_rng(3)
    run_both(lambda a, b: a @ b, lambda a, b: a @ b, [rand(rng, shapes[0]), rand(rng, shapes[1])])


@pytest.mark.parametrize("lead", [(), (4,), (2, 3), (0,)], ids=str)
@pytest.mark.parametrize("in_features", [3, 0])
@pytest.mark.parametrize("fused", [False, True])
def test_linear_and_linear_relu_match_torch(lead, in_features, fused):
    rng = np.random.default_rng(5)
    x, w, b = rand(rng, lead + (in_features,)), rand(rng, (2, in_features)), rand(rng, (2,))
    ours = cr.linear_relu if fused else cr.linear
    theirs = (lambda x_, w_, b_: TF.linear(x_, w_, b_).relu()) if fused else TF.linear
    run_both(ours, theirs, [x, w, b])
    run_both(lambda x_, w_: ours(x_, w_), lambda x_, w_: theirs(x_, w_, None), [x, w])


# ---------------------------------------------------------------- reductions
REDUCTIONS = {
    "sum": (lambda x, a, k: x.sum(dim=a, keepdim=k), lambda x, a, k: x.sum(dim=a, keepdim=k)),
    "mean": (lambda x, a, k: x.mean(dim=a, keepdim=k), lambda x, a, k: x.mean(dim=a, keepdim=k)),
    "max": (lambda x, a, k: x.max(dim=a, keepdim=k), lambda x, a, k: x.amax(dim=a, keepdim=k)),
    "min": (lambda x, a, k: x.min(dim=a, keepdim=k), lambda x, a, k: x.amin(dim=a, keepdim=k)),
    "prod": (lambda x, a, k: x.prod(dim=a, keepdim=k), None),
    "logsumexp": (lambda x, a, k: x.logsumexp(dim=a, keepdim=k), lambda x, a, k: x.logsumexp(dim=tuple(range(x.ndim)) if a is None else a, keepdim=k)),
    "norm": (lambda x, a, k: x.norm(dim=a, keepdim=k), lambda x, a, k: torch.linalg.vector_norm(x, dim=a, keepdim=k)),
    "norm1": (lambda x, a, k: x.norm(1, dim=a, keepdim=k), lambda x, a, k: torch.linalg.vector_norm(x, 1, dim=a, keepdim=k)),
    "norm3": (lambda x, a, k: x.norm(3, dim=a, keepdim=k), lambda x, a, k: torch.linalg.vector_norm(x, 3, dim=a, keepdim=k)),
    "var": (lambda x, a, k: x.var(dim=a, keepdim=k), lambda x, a, k: x.var(dim=a, keepdim=k)),
    "std0": (lambda x, a, k: x.std(dim=a, keepdim=k, correction=0), lambda x, a, k: x.std(dim=a, keepdim=k, correction=0)),
}


def _prod_torch(x, a, k):  # torch.prod takes one dim: reduce the axes one at a time
    if a is None:
        return x.prod().reshape((1,) * x.ndim if k else ())
    for d in sorted(a if isinstance(a, tuple) else (a,), reverse=True):
        x = x.prod(dim=d, keepdim=True)
    return x if k else x.squeeze(a)


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2), (1,)], ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_match_torch(name, axis, keepdims):
    ours, theirs = REDUCTIONS[name]
    theirs = theirs or _prod_torch
    x = rand(np.random.default_rng(11), (2, 3, 4))
    run_both(lambda t: ours(t, axis, keepdims), lambda t: theirs(t, axis, keepdims), [x])


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("axis", [None, 1, (0, 1)], ids=str)
def test_reductions_share_the_gradient_among_ties_like_torch_amax(name, axis):
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, -1.0], [0.0, 0.0, 0.0]])
    ours, theirs = REDUCTIONS[name]
    run_both(lambda t: ours(t, axis, False), lambda t: theirs(t, axis, False), [x])


def test_prod_with_zeros_matches_torch():
    x = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 1.5], [1.0, 2.0, -1.0]])
    run_both(lambda t: t.prod(dim=1), lambda t: t.prod(dim=1), [x])
    run_both(lambda t: t.prod(), lambda t: t.prod(), [x[2]])


@pytest.mark.parametrize("name", ["sum", "mean", "max", "logsumexp", "norm"])
@pytest.mark.parametrize("axis", [0, -1])
def test_reductions_of_a_0d_tensor_return_the_value_as_torch(name, axis):
    ours, theirs = REDUCTIONS[name]
    run_both(lambda t: ours(t, axis, False), lambda t: theirs(t, axis, False), [np.array(1.5)])


@pytest.mark.parametrize("axis", [0, 1, None])
def test_argmax_and_argmin_match_torch(axis):
    x = np.array([[1.0, 5.0, 5.0], [7.0, -1.0, 7.0]])  # ties: both take the first
    for ours, theirs in (("argmax", "argmax"), ("argmin", "argmin")):
        got = getattr(cr.tensor(x), ours)(dim=axis)
        want = getattr(torch.tensor(x), theirs)(dim=axis)
        np.testing.assert_array_equal(got.data, want.numpy())
        assert got.dtype == np.int64


# ---------------------------------------------------------------- movement and indexing
MOVEMENT = {
    "reshape": (lambda x: x.reshape(4, -1), lambda x: x.reshape(4, -1)),
    "view": (lambda x: x.view(3, 8), lambda x: x.view(3, 8)),
    "flatten": (lambda x: x.flatten(1), lambda x: x.flatten(1)),
    "flatten-range": (lambda x: x.flatten(0, 1), lambda x: x.flatten(0, 1)),
    "permute": (lambda x: x.permute(2, 0, 1), lambda x: x.permute(2, 0, 1)),
    "swapaxes": (lambda x: x.swapaxes(0, 2), lambda x: x.swapaxes(0, 2)),
    "squeeze": (lambda x: x[:, :1].squeeze(), lambda x: x[:, :1].squeeze()),
    "squeeze-dim": (lambda x: x[:, :1].squeeze(dim=1), lambda x: x[:, :1].squeeze(dim=1)),
    "unsqueeze": (lambda x: x.unsqueeze(dim=-1), lambda x: x.unsqueeze(dim=-1)),
    "expand": (lambda x: x[:, :1].expand(5, 2, 3, 4), lambda x: x[:, :1].expand(5, 2, 3, 4)),
    "expand-keep": (lambda x: x[:1].expand(3, -1, -1), lambda x: x[:1].expand(3, -1, -1)),
    "repeat": (lambda x: x.repeat(2, 1, 1, 2), lambda x: x.repeat(2, 1, 1, 2)),
    "flip": (lambda x: x.flip(dims=(0, 2)), lambda x: x.flip(dims=(0, 2))),
    "t": (lambda x: x[0].t(), lambda x: x[0].t()),
    "basic-index": (lambda x: x[1:, ::2, -1], lambda x: x[1:, ::2, -1]),
    "int-index-repeats": (lambda x: x[np.array([0, 1, 1, 0])], lambda x: x[torch.tensor([0, 1, 1, 0])]),
    "int-index-pairs": (lambda x: x[np.array([0, 1, 1]), :, np.array([3, 3, 0])],
                        lambda x: x[torch.tensor([0, 1, 1]), :, torch.tensor([3, 3, 0])]),
    "bool-mask": (lambda x: x[x.data > 0.3], lambda x: x[x > 0.3]),
    "gather": (lambda x: x.gather(2, np.array([[[0, 0], [3, 1], [2, 2]], [[1, 1], [0, 3], [3, 3]]])),
               lambda x: x.gather(2, torch.tensor([[[0, 0], [3, 1], [2, 2]], [[1, 1], [0, 3], [3, 3]]]))),
    "masked_fill": (lambda x: x.masked_fill(x.data < 0, 0.5), lambda x: x.masked_fill(x < 0, 0.5)),
    "split": (lambda x: x.split(2, dim=2), lambda x: x.split(2, dim=2)),
    "split-sizes": (lambda x: x.split([1, 3], dim=2), lambda x: x.split([1, 3], dim=2)),
    "chunk": (lambda x: x.chunk(2, dim=1), lambda x: x.chunk(2, dim=1)),
    "cat": (lambda x: cr.cat([x, x * 2], axis=1), lambda x: torch.cat([x, x * 2], dim=1)),
    "stack": (lambda x: cr.stack([x, x.exp()], axis=-1), lambda x: torch.stack([x, x.exp()], dim=-1)),
}


@pytest.mark.parametrize("name", sorted(MOVEMENT))
def test_movement_and_indexing_match_torch(name):
    ours, theirs = MOVEMENT[name]
    run_both(ours, theirs, [rand(np.random.default_rng(2), (2, 3, 4))])


# ---------------------------------------------------------------- losses
def labels(rng, n, k):
    return rng.integers(0, k, size=n)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("options", [{}, {"weight": True}, {"ignore_index": 1}, {"label_smoothing": 0.2},
                                     {"weight": True, "ignore_index": 0, "label_smoothing": 0.1}], ids=str)
def test_cross_entropy_with_every_option_matches_torch(reduction, options):
    rng = np.random.default_rng(13)
    s, y = rand(rng, (6, 4), -3, 3), labels(rng, 6, 4)
    w = rng.uniform(0.5, 2.0, 4)
    kw = dict(options, reduction=reduction)
    if kw.pop("weight", False):
        kw_ours, kw_theirs = dict(kw, weight=w), dict(kw, weight=torch.tensor(w))
    else:
        kw_ours = kw_theirs = kw
    run_both(lambda t: F.cross_entropy(t, y, **kw_ours), lambda t: TF.cross_entropy(t, torch.tensor(y), **kw_theirs), [s])
    run_both(lambda t: F.nll_loss(t.log_softmax(1), y, **{k: v for k, v in kw_ours.items() if k != "label_smoothing"}),
             lambda t: TF.nll_loss(t.log_softmax(1), torch.tensor(y), **{k: v for k, v in kw_theirs.items() if k != "label_smoothing"}), [s])


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_with_probability_targets_matches_torch(smoothing, weighted):
    rng = np.random.default_rng(17)
    s, q = rand(rng, (5, 3)), rng.dirichlet(np.ones(3), size=5)
    w = rng.uniform(0.5, 2.0, 3) if weighted else None
    run_both(lambda t: F.cross_entropy(t, q, weight=w, label_smoothing=smoothing),
             lambda t: TF.cross_entropy(t, torch.tensor(q), weight=None if w is None else torch.tensor(w),
                                        label_smoothing=smoothing), [s])


def test_cross_entropy_of_an_empty_batch_is_nan_like_torch():
    out = F.cross_entropy(cr.zeros(0, 3, dtype="float64"), np.zeros(0, dtype=np.int64))
    assert np.isnan(out.item())
    assert np.isnan(TF.cross_entropy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long)).item())
    assert F.cross_entropy(cr.zeros(0, 3), np.zeros(0, dtype=np.int64), reduction="sum").item() == 0.0


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("pos_weight", [None, "scalar", "per-class"])
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_with_logits_soft_targets_and_pos_weight_match_torch(reduction, pos_weight, weighted):
    rng = np.random.default_rng(19)
    x, t = rand(rng, (4, 3), -4, 4), rng.uniform(0, 1, (4, 3))
    pw = {None: None, "scalar": np.array([2.5]), "per-class": rng.uniform(0.5, 3, 3)}[pos_weight]
    w = rng.uniform(0.5, 2, (4, 1)) if weighted else None
    run_both(lambda a: F.binary_cross_entropy_with_logits(a, t, w, reduction, pos_weight=pw),
             lambda a: TF.binary_cross_entropy_with_logits(
                 a, torch.tensor(t), None if w is None else torch.tensor(w), reduction=reduction,
                 pos_weight=None if pw is None else torch.tensor(pw)), [x])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_and_probability_losses_match_torch(reduction):
    rng = np.random.default_rng(23)
    pred, target = rand(rng, (5, 2), -3, 3), rand(rng, (5, 2), -3, 3)
    probs, t01 = rng.uniform(0.05, 0.95, (5, 2)), rng.uniform(0, 1, (5, 2))
    cases = [
        (lambda p: F.mse_loss(p, target, reduction), lambda p: TF.mse_loss(p, torch.tensor(target), reduction=reduction), pred),
        (lambda p: F.l1_loss(p, target, reduction), lambda p: TF.l1_loss(p, torch.tensor(target), reduction=reduction), pred),
        (lambda p: F.huber_loss(p, target, reduction, delta=1.5),
         lambda p: TF.huber_loss(p, torch.tensor(target), reduction=reduction, delta=1.5), pred),
        (lambda p: F.smooth_l1_loss(p, target, reduction, beta=0.7),
         lambda p: TF.smooth_l1_loss(p, torch.tensor(target), reduction=reduction, beta=0.7), pred),
        (lambda p: F.binary_cross_entropy(p, t01, reduction=reduction),
         lambda p: TF.binary_cross_entropy(p, torch.tensor(t01), reduction=reduction), probs),
    ]
    for ours, theirs, x in cases:
        run_both(ours, theirs, [x])


def test_layer_norm_and_one_hot_match_torch():
    rng = np.random.default_rng(29)
    x, w, b = rand(rng, (3, 2, 4)), rand(rng, (2, 4)), rand(rng, (2, 4))
    run_both(lambda x_, w_, b_: F.layer_norm(x_, (2, 4), w_, b_), lambda x_, w_, b_: TF.layer_norm(x_, (2, 4), w_, b_), [x, w, b])
    run_both(lambda x_: F.layer_norm(x_, 4), lambda x_: TF.layer_norm(x_, (4,)), [x])
    y = np.array([[0, 3], [2, 2]])
    np.testing.assert_array_equal(F.one_hot(y, 5).data, TF.one_hot(torch.tensor(y), 5).numpy())
    np.testing.assert_array_equal(F.one_hot(y).data, TF.one_hot(torch.tensor(y)).numpy())


# ---------------------------------------------------------------- random graphs
GRAPH_UNARY = [k for k in UNARY if k not in ("softmax", "log_softmax", "cumsum")]


def random_graph(seed):
    """A random program over three inputs of broadcastable shapes: elementwise ops, binary ops,
    a movement op and a reduction, the same in both libraries."""
    rng = np.random.default_rng(seed)
    shapes = [(2, 3), (3,), (2, 1)]
    steps = []
    for _ in range(8):
        kind = rng.choice(["unary", "binary"])
        if kind == "unary":
            steps.append(("unary", GRAPH_UNARY[rng.integers(len(GRAPH_UNARY))], int(rng.integers(3))))
        else:
            names = sorted(BINARY)
            i, j = rng.choice(3, size=2, replace=False)  # two distinct inputs: no max-gate ties
            steps.append(("binary", names[rng.integers(len(names))], int(i), int(j)))
    reduction = sorted(k for k in REDUCTIONS if k != "prod")[rng.integers(len(REDUCTIONS) - 1)]
    axis = [None, 0, 1, (0, 1)][rng.integers(4)]

    def program(lib, inputs):
        pool = list(inputs)
        for step in steps:
            if step[0] == "unary":
                fn = UNARY[step[1]][lib]
                pool[step[2]] = fn(pool[step[2]])
            else:
                fn = BINARY[step[1]][lib]
                pool[step[2]] = fn(pool[step[2]], pool[step[3]]).tanh()  # tanh keeps values in range
        total = pool[0] + pool[1] + pool[2]
        return REDUCTIONS[reduction][lib](total.tanh(), axis, False)

    return [rand(rng, s) for s in shapes], (lambda *xs: program(0, xs)), (lambda *xs: program(1, xs))


@pytest.mark.parametrize("seed", range(60))
def test_random_graphs_match_torch(seed):
    arrays, ours, theirs = random_graph(seed)
    run_both(ours, theirs, arrays, seed=seed)


# ---------------------------------------------------------------- documented deviations
def test_deviation_max_gate_at_a_tie_gives_both_inputs_the_gradient():
    # docs/torch.md: the lecture's gate rule 1(x ≥ y); PyTorch halves the gradient at a tie.
    x, y = cr.tensor(2.0, requires_grad=True), cr.tensor(2.0, requires_grad=True)
    cr.maximum(x, y).backward()
    a, b = torch.tensor(2.0, requires_grad=True), torch.tensor(2.0, requires_grad=True)
    torch.maximum(a, b).backward()
    assert (x.grad, y.grad) == (1.0, 1.0) and (a.grad.item(), b.grad.item()) == (0.5, 0.5)


def test_deviation_transpose_permutes_like_numpy():
    # docs/torch.md: transpose(*axes) is NumPy's; swapaxes is PyTorch's transpose(a, b).
    x = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(cr.tensor(x).transpose(2, 0, 1).data, np.transpose(x, (2, 0, 1)))
    np.testing.assert_array_equal(cr.tensor(x).swapaxes(0, 2).data, torch.tensor(x).transpose(0, 2).numpy())
