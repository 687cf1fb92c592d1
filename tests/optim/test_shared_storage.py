"""Parameters laid out in one array, and gradients written where the optimizer reads them.

``Module.flatten_parameters`` makes every parameter a view of one array
(``backend.packed_views``); an optimizer whose group holds them in that order updates them in one
pass (``backend.packed_base`` finds the array). ``Optimizer.grad_views`` says where the next step
reads each gradient; the ops that declare ``grads_into`` write there when asked. Each way must
give the very numbers of the plain one.
"""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.engine import backend
from chainrule.engine.fused import LinearReLU
from chainrule.engine.ops import Linear
from chainrule.nn import functional as F

rng = np.random.default_rng(0)
X = rng.standard_normal((24, 3)).astype(np.float32)
Y = (X[:, 0] > X[:, 1]).astype(int)


def test_packed_views_keep_each_arrays_order_and_packed_base_finds_their_array():
    a, b, c = np.zeros((2, 3), order="F"), np.zeros(4), np.zeros((3, 2))
    flat = np.arange(16.0)
    views = backend.packed_views(flat, [a, b, c])
    assert [v.shape for v in views] == [(2, 3), (4,), (3, 2)]
    assert views[0].flags.f_contiguous and not views[0].flags.c_contiguous and views[2].flags.c_contiguous
    assert views[0][1, 0] == 1.0 and views[1].tolist() == [6.0, 7.0, 8.0, 9.0] and views[2][0, 1] == 11.0
    base = backend.packed_base(views)
    assert base.base is flat and base.tolist() == flat.tolist()
    assert backend.packed_base(views[1:]).tolist() == list(range(6, 16))  # a run that starts later
    # Not one packed run: another order, a gap, two arrays, a strided view, a copy.
    assert backend.packed_base([views[1], views[0]]) is None
    assert backend.packed_base([views[0], views[2]]) is None
    assert backend.packed_base([views[0], np.zeros(4)]) is None
    assert backend.packed_base([flat[::2]]) is None
    assert backend.packed_base([views[0].T.copy()]) is None


def mlp():
    return nn.MLP(3, [5, 4], 2, rng=1)


def train(model, optimizer, steps=4, **kwargs):
    opt = getattr(optim, optimizer)(model.parameters(), lr=0.05, **kwargs)
    xt = cr.tensor(X)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(xt), Y).backward()
        opt.step()
    return opt


@pytest.mark.parametrize("optimizer, kwargs", [("SGD", {}), ("SGD", {"momentum": 0.9, "weight_decay": 0.01}),
                                               ("Adam", {}), ("AdamW", {"weight_decay": 0.1}),
                                               ("RMSprop", {"centered": True})])
def test_flattened_parameters_train_bit_for_bit_as_separate_ones(optimizer, kwargs):
    plain, flat = mlp(), mlp()
    assert flat.flatten_parameters() is True
    storage = next(flat.parameters()).data.base
    assert all(p.data.base is storage for p in flat.parameters())
    for p, q in zip(plain.parameters(), flat.parameters()):  # the same values, shapes and orders
        np.testing.assert_array_equal(p.data, q.data)
        assert p.data.flags.f_contiguous == q.data.flags.f_contiguous
    opt = train(flat, optimizer, **kwargs)
    train(plain, optimizer, **kwargs)
    for (name, p), q in zip(plain.named_parameters(), flat.parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)
    assert all(p.data.base is storage for p in flat.parameters())  # updated in place, in one array
    assert opt._plans[id(opt.param_groups[0])].data is not None  # through that array, in one pass


def test_flatten_parameters_leaves_what_it_cannot_lay_out():
    net = mlp()
    assert net.flatten_parameters() is True and net.flatten_parameters() is False  # laid out already
    mixed = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    mixed[1].weight.data = mixed[1].weight.data.astype(np.float64)
    before = [p.data for p in mixed.parameters()]
    assert mixed.flatten_parameters() is False
    assert all(p.data is b for p, b in zip(mixed.parameters(), before))
    assert nn.Sequential(nn.ReLU()).flatten_parameters() is False  # nothing to lay out


def test_a_parameter_given_a_new_array_is_updated_there_not_in_the_old_storage():
    net = mlp()
    net.flatten_parameters()
    opt = train(net, "SGD", steps=1)
    w, *others = net.parameters()
    storage = w.data.base
    new = np.asfortranarray(w.data + 1)  # same shape, dtype and order: allowed
    w.data = new
    opt.zero_grad()
    F.cross_entropy(net(cr.tensor(X)), Y).backward()
    expected = new - np.float32(0.05) * w.grad
    expected_others = [p.data - np.float32(0.05) * p.grad for p in others]
    opt.step()
    assert w.data is new
    np.testing.assert_array_equal(new, expected)
    for p, e in zip(others, expected_others):  # the others, still in the old storage, stepped there
        assert p.data.base is storage
        np.testing.assert_array_equal(p.data, e)


def test_grad_views_say_where_the_step_reads_and_a_gradient_written_there_is_not_copied():
    a, b = mlp(), mlp()
    opt_a, opt_b = train(a, "Adam", steps=1), train(b, "Adam", steps=1)
    views = opt_b.grad_views()
    params = list(b.parameters())
    assert set(views) == {id(p) for p in params}
    assert opt_b.grad_views() is views  # the same dict while the storage stays
    for opt, net, into in ((opt_a, a, False), (opt_b, b, True)):
        opt.zero_grad()
        F.cross_entropy(net(cr.tensor(X)), Y).backward()
        if into:
            for p in net.parameters():
                views[id(p)][...] = p.grad
                p.grad = views[id(p)]
        opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    assert all(p.grad is views[id(p)] for p in params)


@pytest.mark.parametrize("kwargs", [{"maximize": True}, {"weight_decay": 0.1}])
def test_no_grad_views_for_a_rule_that_changes_the_gradient_in_place(kwargs):
    opt = train(mlp(), "SGD", steps=1, **kwargs)
    assert opt.grad_views() == {}
    assert optim.SGD(mlp().parameters(), lr=0.1).grad_views() == {}  # no storage before a step
    assert train(mlp(), "AdamW", steps=1, weight_decay=0.1).grad_views() != {}  # decoupled: reads p, not g


@pytest.mark.parametrize("op", [Linear, LinearReLU])
@pytest.mark.parametrize("order", ["F", "C"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_backward_into_given_arrays_equals_its_plain_backward(op, order, dtype):
    x = rng.standard_normal((7, 3)).astype(dtype)
    w = np.asarray(rng.standard_normal((4, 3)), dtype, order=order)
    b = rng.standard_normal(4).astype(dtype)
    g = rng.standard_normal((7, 4)).astype(dtype)
    assert op.grads_into
    plain, into = op(), op()
    plain.needs = into.needs = (True, True, True)
    plain.forward(x, w, b)
    into.forward(x, w, b)
    expected = plain.backward(g)
    ow, ob = np.empty_like(w), np.empty_like(b)  # the weight's own order
    got = into.backward(g, out=(None, ow, ob))
    assert got[1] is ow and got[2] is ob
    for e, r in zip(expected, got):
        np.testing.assert_array_equal(e, r)
    # An out array in the other order, or of another dtype, still gets the same numbers (a copy).
    other = np.empty(w.shape, dtype, order="C" if order == "F" else "F")
    wide = np.empty(b.shape, np.float64 if dtype == np.float32 else np.float32)
    into.forward(x, w, b)
    got = into.backward(g, out=(None, other, wide))
    assert got[1] is other and got[2] is wide
    np.testing.assert_array_equal(other, expected[1])
    np.testing.assert_array_equal(wide, expected[2].astype(wide.dtype))
