"""Tests of chainrule.optim: update rules against hand-written references (and torch when it is
installed), schedules against their closed forms, the lecture's ordering of the three
strategies, validation messages, and state_dict round trips through .npz + JSON."""
from __future__ import annotations

import doctest
import io
import json
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.optim import (
    SGD, Adagrad, Adam, AdamW, CosineAnnealingLR, ExponentialLR, NoSchedule, RandomLocalSearch,
    RandomSearch, RMSprop, StepLR, make_optimizer, make_schedule,
)

try:
    import torch
except ImportError:  # pragma: no cover - depends on the machine
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")

SHAPES = [(3, 4), (4,), ()]  # a matrix, a vector and a scalar parameter
STEPS = 6


# ------------------------------------------------------------------------------------------
# Independent references: each rule written out in plain float64 NumPy, one parameter at a time.
# ------------------------------------------------------------------------------------------

def ref_sgd(p, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    p, buf, out = p.astype(np.float64), None, []
    for g in grads:
        d = g + weight_decay * p
        if momentum:
            buf = d.copy() if buf is None else momentum * buf + (1 - dampening) * d
            d = d + momentum * buf if nesterov else buf
        p = p - lr * d
        out.append(p)
    return out


def ref_rmsprop(p, grads, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0):
    p, out = p.astype(np.float64), []
    v, b = np.zeros_like(p), np.zeros_like(p)
    for g in grads:
        d = g + weight_decay * p
        v = alpha * v + (1 - alpha) * d * d
        if momentum:
            b = momentum * b + d / (np.sqrt(v) + eps)
            p = p - lr * b
        else:
            p = p - lr * d / (np.sqrt(v) + eps)
        out.append(p)
    return out


def ref_adagrad(p, grads, lr=1e-2, eps=1e-10, weight_decay=0.0):
    p, out = p.astype(np.float64), []
    s = np.zeros_like(p)
    for g in grads:
        d = g + weight_decay * p
        s = s + d * d
        p = p - lr * d / (np.sqrt(s) + eps)
        out.append(p)
    return out


def ref_adam(p, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    p, out = p.astype(np.float64), []
    m, v = np.zeros_like(p), np.zeros_like(p)
    b1, b2 = betas
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p - lr * weight_decay * p
            d = g
        else:
            d = g + weight_decay * p
        m = b1 * m + (1 - b1) * d
        v = b2 * v + (1 - b2) * d * d
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(p)
    return out


def ref_adamw(p, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    return ref_adam(p, grads, lr, betas, eps, weight_decay, decoupled=True)


# (name, chainrule class, reference, torch class name, keyword arguments)
CASES = [
    ("sgd", SGD, ref_sgd, "SGD", dict(lr=0.1)),
    ("sgd-wd", SGD, ref_sgd, "SGD", dict(lr=0.1, weight_decay=0.05)),
    ("momentum", SGD, ref_sgd, "SGD", dict(lr=0.1, momentum=0.9)),
    ("momentum-dampening-wd", SGD, ref_sgd, "SGD",
     dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    ("nesterov", SGD, ref_sgd, "SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("nesterov-wd", SGD, ref_sgd, "SGD", dict(lr=0.1, momentum=0.5, nesterov=True, weight_decay=0.1)),
    ("rmsprop", RMSprop, ref_rmsprop, "RMSprop", dict(lr=0.01)),
    ("rmsprop-momentum-wd", RMSprop, ref_rmsprop, "RMSprop",
     dict(lr=0.01, alpha=0.9, momentum=0.9, weight_decay=0.1, eps=1e-6)),
    ("adagrad", Adagrad, ref_adagrad, "Adagrad", dict(lr=0.1)),
    ("adagrad-wd", Adagrad, ref_adagrad, "Adagrad", dict(lr=0.1, weight_decay=0.2, eps=1e-6)),
    ("adam", Adam, ref_adam, "Adam", dict(lr=0.01)),
    ("adam-wd-betas", Adam, ref_adam, "Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    ("adamw", AdamW, ref_adamw, "AdamW", dict(lr=0.01)),
    ("adamw-strong", AdamW, ref_adamw, "AdamW", dict(lr=0.05, betas=(0.5, 0.9), weight_decay=0.5)),
]
CASE_IDS = [case[0] for case in CASES]


def initial_values(seed=0, shapes=SHAPES):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shapes]


def gradient_stream(seed=1, shapes=SHAPES, steps=STEPS):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(shape) for shape in shapes] for _ in range(steps)]


def make_params(values, dtype="float64"):
    return [cr.tensor(v, dtype=dtype, requires_grad=True) for v in values]


def run_chainrule(cls, kwargs, values, grads, dtype="float64"):
    """Set each step's gradient by hand (fresh arrays, as backward makes them) and step."""
    params = make_params(values, dtype)
    opt = cls(params, **kwargs)
    trajectory = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = g.astype(dtype)
        opt.step()
        trajectory.append([p.data.copy() for p in params])
    return params, opt, trajectory


# ------------------------------------------------------------------------------------------
# update rules
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, cls, ref, torch_name, kwargs", CASES, ids=CASE_IDS)
def test_update_rule_matches_the_hand_written_reference(name, cls, ref, torch_name, kwargs):
    values, grads = initial_values(), gradient_stream()
    _, _, trajectory = run_chainrule(cls, kwargs, values, grads)
    for i, value in enumerate(values):
        expected = ref(value, [step[i] for step in grads], **kwargs)
        got = [step[i] for step in trajectory]
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
    # the parameters really moved: the rule is not vacuous
    assert not np.allclose(trajectory[-1][0], values[0])


@needs_torch
@pytest.mark.parametrize("name, cls, ref, torch_name, kwargs", CASES, ids=CASE_IDS)
def test_update_rule_matches_torch(name, cls, ref, torch_name, kwargs):
    values, grads = initial_values(), gradient_stream()
    _, _, trajectory = run_chainrule(cls, kwargs, values, grads)
    tparams = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    topt = getattr(torch.optim, torch_name)(tparams, **kwargs)
    for step, step_grads in enumerate(grads):
        for p, g in zip(tparams, step_grads):
            p.grad = torch.from_numpy(g.copy())
        topt.step()
        for p, mine in zip(tparams, trajectory[step]):
            np.testing.assert_allclose(mine, p.detach().numpy(), rtol=1e-10, atol=1e-13)


def test_momentum_buffer_starts_at_the_first_gradient():
    w = cr.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    opt = SGD([w], lr=0.5, momentum=0.9)
    w.grad = np.array([0.2, -0.4])
    opt.step()
    np.testing.assert_array_equal(opt.state[w]["momentum_buffer"], [0.2, -0.4])
    np.testing.assert_allclose(w.data, [0.9, 2.2])
    w.grad = np.array([1.0, 1.0])
    opt.step()
    np.testing.assert_allclose(opt.state[w]["momentum_buffer"], [1.18, 0.64])
    assert opt.state[w]["step"] == 2


def test_adam_first_step_moves_each_entry_by_the_learning_rate():
    # m̂ = g and v̂ = g² at t = 1, so the first step is lr · g / (|g| + eps) ≈ lr · sign(g)
    w = cr.tensor([1.0, -1.0, 3.0], dtype="float64", requires_grad=True)
    opt = Adam([w], lr=0.1)
    w.grad = np.array([5.0, -0.01, 2.0])
    opt.step()
    np.testing.assert_allclose(w.data, [0.9, -0.9, 2.9], rtol=1e-6)


def test_parameters_without_a_gradient_are_skipped_and_keep_their_state():
    values, grads = initial_values(), gradient_stream()
    params = make_params(values)
    opt = Adam(params, lr=0.01)
    for step, step_grads in enumerate(grads):
        for i, (p, g) in enumerate(zip(params, step_grads)):
            # parameter 1 has no gradient at steps 2 and 3 (it was not used by the loss)
            p.grad = None if (i == 1 and step in (2, 3)) else g
        opt.step()
    kept = [step[1] for k, step in enumerate(grads) if k not in (2, 3)]
    np.testing.assert_allclose(params[1].data, ref_adam(values[1], kept, lr=0.01)[-1], rtol=1e-12)
    np.testing.assert_allclose(params[0].data, ref_adam(values[0], [s[0] for s in grads], lr=0.01)[-1],
                               rtol=1e-12)
    assert [opt.state[p]["step"] for p in params] == [STEPS, STEPS - 2, STEPS]
    # a parameter that never gets a gradient never moves
    frozen = cr.tensor([1.0, 2.0], requires_grad=True)
    opt2 = SGD([frozen], lr=1.0, momentum=0.9)
    opt2.step()
    np.testing.assert_array_equal(frozen.data, np.array([1.0, 2.0], np.float32))


@pytest.mark.parametrize("name, cls, ref, torch_name, kwargs", CASES, ids=CASE_IDS)
def test_flat_and_per_parameter_paths_agree_bit_for_bit(name, cls, ref, torch_name, kwargs):
    values, grads = initial_values(), gradient_stream()
    _, _, flat = run_chainrule(cls, kwargs, values, grads)
    # a parameter without a gradient in the same group forces the one-parameter-at-a-time path
    params = make_params(values)
    idle = cr.tensor([7.0], dtype="float64", requires_grad=True)
    opt = cls(params + [idle], **kwargs)
    for step, step_grads in enumerate(grads):
        for p, g in zip(params, step_grads):
            p.grad = g
        opt.step()
        for mine, other in zip(params, flat[step]):
            np.testing.assert_array_equal(mine.data, other)
    np.testing.assert_array_equal(idle.data, [7.0])


def test_a_group_mixing_dtypes_follows_the_same_rule():
    values, grads = initial_values(), gradient_stream()
    params = [cr.tensor(values[0], dtype="float64", requires_grad=True),
              cr.tensor(values[1], requires_grad=True)]
    opt = SGD(params, lr=0.1, momentum=0.9, nesterov=True)
    for step_grads in grads:
        params[0].grad, params[1].grad = step_grads[0], step_grads[1].astype(np.float32)
        opt.step()
    assert params[0].dtype == np.float64 and params[1].dtype == np.float32
    kw = dict(lr=0.1, momentum=0.9, nesterov=True)
    np.testing.assert_allclose(params[0].data, ref_sgd(values[0], [s[0] for s in grads], **kw)[-1],
                               rtol=1e-12)
    np.testing.assert_allclose(params[1].data, ref_sgd(values[1], [s[1] for s in grads], **kw)[-1],
                               rtol=1e-5)


@pytest.mark.parametrize("name, cls, ref, torch_name, kwargs", CASES, ids=CASE_IDS)
def test_float32_parameters_stay_float32(name, cls, ref, torch_name, kwargs):
    values, grads = initial_values(), gradient_stream()
    params, opt, trajectory = run_chainrule(cls, kwargs, values, grads, dtype="float32")
    for p in params:
        assert p.data.dtype == np.float32
        for buffer in opt.state[p].values():
            if isinstance(buffer, np.ndarray):
                assert buffer.dtype == np.float32
    expected = ref(values[0], [s[0] for s in grads], **kwargs)[-1]
    np.testing.assert_allclose(trajectory[-1][0], expected, rtol=2e-5, atol=2e-6)
    # float64 gradients on float32 parameters do not promote them either
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    opt = cls([w], **kwargs)
    w.grad = np.array([0.5, -0.5], dtype=np.float64)
    opt.step()
    assert w.data.dtype == np.float32


@pytest.mark.parametrize("name, cls, ref, torch_name, kwargs", CASES, ids=CASE_IDS)
def test_gradients_are_never_modified(name, cls, ref, torch_name, kwargs):
    params = make_params(initial_values(), "float32")
    shared = np.full((4,), 0.25, np.float32)
    opt = cls(params, **kwargs)
    for step_grads in gradient_stream():
        grads = [g.astype(np.float32) for g in step_grads]
        grads[1] = shared  # gradients may alias each other, and across steps
        copies = [g.copy() for g in grads]
        for p, g in zip(params, grads):
            p.grad = g
        opt.step()
        for p, g, copy in zip(params, grads, copies):
            assert p.grad is g
            np.testing.assert_array_equal(g, copy)


def test_data_is_updated_in_place():
    params = make_params(initial_values(), "float32")
    arrays = [p.data for p in params]
    for cls, kwargs in [(SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.1)), (AdamW, {})]:
        opt = cls(params, **kwargs)
        for p in params:
            p.grad = np.ones(p.shape, np.float32)
        before = [a.copy() for a in arrays]
        opt.step()
        assert all(p.data is a for p, a in zip(params, arrays))
        assert all(not np.array_equal(a, b) for a, b in zip(arrays, before))


def test_param_groups_use_their_own_hyperparameters():
    a = cr.tensor([1.0], dtype="float64", requires_grad=True)
    b = cr.tensor([1.0], dtype="float64", requires_grad=True)
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 0.01, "momentum": 0.5}], lr=0.1)
    assert opt.param_groups[0]["momentum"] == 0.0 and opt.param_groups[1]["momentum"] == 0.5
    for _ in range(2):
        a.grad, b.grad = np.array([1.0]), np.array([1.0])
        opt.step()
    np.testing.assert_allclose(a.data, [0.8])
    np.testing.assert_allclose(b.data, [1.0 - 0.01 - 0.01 * 1.5])
    c = cr.tensor([1.0], dtype="float64", requires_grad=True)
    opt.add_param_group({"params": c, "lr": 1.0})
    c.grad = np.array([0.5])
    opt.step()
    np.testing.assert_allclose(c.data, [0.5])


def test_changing_the_learning_rate_in_a_group_takes_effect():
    w = cr.tensor([1.0], dtype="float64", requires_grad=True)
    opt = Adam([w], lr=0.1)
    w.grad = np.array([1.0])
    opt.step()
    opt.param_groups[0]["lr"] = 0.0
    opt.step()
    np.testing.assert_allclose(w.data, [0.9])


def test_step_calls_the_closure_with_gradients_enabled_and_returns_its_loss():
    w = cr.tensor([3.0], requires_grad=True)
    opt = SGD([w], lr=0.25)
    seen = []

    def closure():
        seen.append(cr.is_grad_enabled())
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with cr.no_grad():
        loss = opt.step(closure)
    assert seen == [True]
    assert loss.item() == 9.0
    assert w.item() == 1.5  # 3 − 0.25 · 6
    assert opt.step() is None


def test_zero_grad():
    params = make_params(initial_values())
    opt = SGD(params, lr=0.1)
    for p in params:
        p.grad = np.full(p.shape, np.nan)
    old = params[0].grad
    opt.zero_grad(set_to_none=False)
    assert params[0].grad is not old and np.isnan(old).all()
    np.testing.assert_array_equal(params[0].grad, np.zeros((3, 4)))
    opt.zero_grad()
    assert all(p.grad is None for p in params)


# ------------------------------------------------------------------------------------------
# validation
# ------------------------------------------------------------------------------------------

def _w():
    return cr.tensor([1.0, 2.0], requires_grad=True)


@pytest.mark.parametrize("make, error, message", [
    (lambda: SGD([_w()], lr=-0.1), ValueError, "^lr must be a finite number >= 0; got -0.1$"),
    (lambda: SGD([_w()], lr=float("nan")), ValueError, "^lr must be a finite number >= 0; got nan$"),
    (lambda: SGD([_w()], lr=float("inf")), ValueError, "^lr must be a finite number >= 0; got inf$"),
    (lambda: SGD([_w()], lr="0.1"), TypeError, "^lr must be a finite number >= 0; got '0.1'$"),
    (lambda: SGD([_w()], lr=0.1, momentum=-0.5), ValueError, "^momentum must be a finite number >= 0; got -0.5$"),
    (lambda: SGD([_w()], lr=0.1, dampening=1.5), ValueError, r"^dampening must be a finite number in \[0, 1\]; got 1.5$"),
    (lambda: SGD([_w()], lr=0.1, weight_decay=-1), ValueError, "^weight_decay must be a finite number >= 0; got -1$"),
    (lambda: SGD([_w()], lr=0.1, nesterov=True), ValueError,
     r"Nesterov momentum requires a momentum and zero dampening \(got momentum=0\.0"),
    (lambda: SGD([_w()], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     r"zero dampening \(got momentum=0\.9, dampening=0\.1\)"),
    (lambda: SGD([_w()], lr=0.1, nesterov="yes"), TypeError, "^nesterov must be True or False; got 'yes'$"),
    (lambda: SGD([{"params": [_w()], "lr": -1}], lr=0.1), ValueError, "^lr must be a finite number >= 0; got -1$"),
    (lambda: RMSprop([_w()], alpha=-0.1), ValueError, r"^alpha must be a finite number in \[0, 1\]; got -0.1$"),
    (lambda: RMSprop([_w()], eps=-1.0), ValueError, "^eps must be a finite number >= 0; got -1.0$"),
    (lambda: RMSprop([_w()], momentum=-2), ValueError, "^momentum must be a finite number >= 0; got -2$"),
    (lambda: Adagrad([_w()], lr=-0.01), ValueError, "^lr must be a finite number >= 0; got -0.01$"),
    (lambda: Adagrad([_w()], weight_decay=-0.5), ValueError, "^weight_decay must be a finite number >= 0; got -0.5$"),
    (lambda: Adam([_w()], betas=(1.0, 0.999)), ValueError, r"^betas\[0\] must be a finite number in \[0, 1\); got 1.0$"),
    (lambda: Adam([_w()], betas=(0.9, -0.1)), ValueError, r"^betas\[1\] must be a finite number in \[0, 1\); got -0.1$"),
    (lambda: Adam([_w()], betas=0.9), TypeError, r"^betas must be a pair \(beta1, beta2\); got 0.9$"),
    (lambda: Adam([_w()], eps=-1e-8), ValueError, "^eps must be a finite number >= 0; got -1e-08$"),
    (lambda: AdamW([_w()], weight_decay=-0.01), ValueError, "^weight_decay must be a finite number >= 0; got -0.01$"),
    (lambda: RandomSearch([_w()], scale=-1), ValueError, "^scale must be a finite number >= 0; got -1$"),
    (lambda: RandomLocalSearch([_w()], step_size=-0.1), ValueError, "^step_size must be a finite number >= 0; got -0.1$"),
])
def test_hyperparameters_are_validated_with_the_value_in_the_message(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_parameter_lists_are_validated():
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        Adam(p for p in [])
    with pytest.raises(TypeError, match=r"parameter 1 is a ndarray"):
        SGD([_w(), np.zeros(3)], lr=0.1)
    with pytest.raises(TypeError, match=r"parameter 0 is a float: 1\.5"):
        Adam([1.5])
    frozen = cr.tensor([1.0, 2.0], name="frozen")
    with pytest.raises(TypeError, match=r"parameter 0 \(a tensor of shape \(2,\), dtype float32, "
                                         r"name 'frozen'\) does not require a gradient"):
        SGD([frozen], lr=0.1)
    with pytest.raises(TypeError, match="not a single Tensor"):
        SGD(_w(), lr=0.1)
    with pytest.raises(TypeError, match="iterable"):
        SGD(3, lr=0.1)
    w = _w()
    with pytest.raises(ValueError, match="appears more than once"):
        SGD([w, w], lr=0.1)
    opt = SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="parameter 0 of group 1 .* appears more than once"):
        opt.add_param_group({"params": [w]})
    with pytest.raises(ValueError, match="non-leaf tensor"):
        SGD([w * 2], lr=0.1)
    with pytest.raises(TypeError, match="ordered collection"):
        SGD({"params": {w}}, lr=0.1)
    with pytest.raises(TypeError, match="floating tensors"):
        RandomSearch([cr.tensor([1, 2])])


# ------------------------------------------------------------------------------------------
# state_dict round trips through .npz + JSON
# ------------------------------------------------------------------------------------------

def _walk(value, path, arrays):
    """Split a state_dict into JSON and arrays; fail on anything else (no pickle)."""
    if isinstance(value, dict):
        return {str(k): _walk(v, f"{path}.{k}", arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, f"{path}.{i}", arrays) for i, v in enumerate(value)]
    if isinstance(value, np.ndarray):
        arrays[path] = value
        return {"__array__": path}
    assert isinstance(value, (bool, int, float, str)), f"{path} holds a {type(value).__name__}"
    assert not isinstance(value, str) or path == "root.rng_bit_generator", path
    return value


def _unwalk(value, arrays):
    if isinstance(value, dict):
        if set(value) == {"__array__"}:
            return arrays[value["__array__"]]
        return {k: _unwalk(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwalk(v, arrays) for v in value]
    return value


def through_disk(state_dict):
    arrays = {}
    skeleton = json.dumps(_walk(state_dict, "root", arrays))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as npz:
        loaded = {k: npz[k] for k in npz.files}
    return _unwalk(json.loads(skeleton), loaded)


def _two_groups(cls, kwargs, values, dtype):
    params = make_params(values, dtype)
    return params, cls([{"params": params[:2]}, {"params": params[2:], "lr": 0.003}], **kwargs)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, cls, ref, torch_name, kwargs", CASES, ids=CASE_IDS)
def test_state_dict_round_trip_restores_exact_behaviour(name, cls, ref, torch_name, kwargs, dtype):
    values, grads = initial_values(), gradient_stream(steps=7)
    params, opt = _two_groups(cls, kwargs, values, dtype)

    def step(ps, o, k):
        for p, g in zip(ps, grads[k]):
            p.grad = g.astype(dtype)
        o.step()

    for k in range(3):
        step(params, opt, k)
    saved = through_disk(opt.state_dict())
    copies = make_params([p.data.copy() for p in params], dtype)
    other_kwargs = {**kwargs, "lr": 0.5}  # load_state_dict must bring back the group's own lr
    other = cls([{"params": copies[:2]}, {"params": copies[2:]}], **other_kwargs)
    other.load_state_dict(saved)
    assert other.param_groups[1]["lr"] == 0.003
    assert other.param_groups[0]["lr"] == kwargs["lr"]
    for k in range(3, 7):
        step(params, opt, k)
        step(copies, other, k)
        for a, b in zip(params, copies):
            np.testing.assert_array_equal(a.data, b.data)
    for a, b in zip(params, copies):
        assert opt.state[a].keys() == other.state[b].keys()
        for key in opt.state[a]:
            np.testing.assert_array_equal(opt.state[a][key], other.state[b][key])


def test_state_dict_layout():
    params = make_params(initial_values())
    opt = Adam(params, lr=0.01, betas=(0.8, 0.9))
    assert opt.state_dict() == {"state": {}, "param_groups": [
        {"lr": 0.01, "betas": [0.8, 0.9], "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False,
         "maximize": False, "params": [0, 1, 2]}]}
    for p in params:
        p.grad = np.ones(p.shape)
    opt.step()
    sd = opt.state_dict()
    assert sorted(sd["state"]) == [0, 1, 2]
    assert sd["state"][1]["step"] == 1 and isinstance(sd["state"][1]["step"], int)
    np.testing.assert_allclose(sd["state"][1]["exp_avg"], np.full(4, 0.2))  # (1 − β₁)·g
    # arrays are copies: stepping again does not change a saved state_dict
    opt.step()
    np.testing.assert_allclose(sd["state"][1]["exp_avg"], np.full(4, 0.2))  # (1 − β₁)·g
    loaded = Adam(make_params(initial_values()))
    loaded.load_state_dict(through_disk(sd))
    assert loaded.param_groups[0]["betas"] == (0.8, 0.9)


def test_load_state_dict_checks_before_changing_anything():
    params = make_params(initial_values())
    opt = SGD(params, lr=0.1, momentum=0.9)
    for p in params:
        p.grad = np.ones(p.shape)
    opt.step()
    good = opt.state_dict()
    target = SGD(make_params(initial_values()), lr=0.2)
    bad_shape = through_disk(good)
    bad_shape["state"]["0"]["momentum_buffer"] = np.zeros((4, 3))
    bad_lr = through_disk(good)
    bad_lr["param_groups"][0]["lr"] = -1.0
    fewer = through_disk(good)
    fewer["param_groups"][0]["params"] = [0, 1]
    cases = [
        (bad_shape, r"state 'momentum_buffer' of parameter 0 .* has shape \(4, 3\)"),
        (bad_lr, "lr must be a finite number >= 0; got -1.0"),
        (fewer, r"group 0 of the state_dict has 2 parameters; this optimizer's has 3"),
        ({"state": {}, "param_groups": []}, r"has 0 parameter groups; this optimizer has 1"),
        ({"state": {}}, r"'state' and 'param_groups'"),
    ]
    for state_dict, message in cases:
        with pytest.raises(ValueError, match=message):
            target.load_state_dict(state_dict)
        assert target.param_groups[0]["lr"] == 0.2 and not target.state


# ------------------------------------------------------------------------------------------
# schedules
# ------------------------------------------------------------------------------------------

def _lrs(schedule, epochs=10, key="lr"):
    """The learning rates of ``epochs`` epochs, checked against the groups' ``key``."""
    out = []
    for _ in range(epochs):
        out.append(schedule.get_last_lr())
        assert [g[key] for g in schedule.optimizer.param_groups] == out[-1]
        schedule.step()
    return out


def _two_group_sgd():
    a, b = _w(), _w()
    return SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)


@pytest.mark.parametrize("make, closed_form", [
    (lambda opt: StepLR(opt, step_size=3, gamma=0.5), lambda e, base: base * 0.5 ** (e // 3)),
    (lambda opt: ExponentialLR(opt, gamma=0.9), lambda e, base: base * 0.9 ** e),
    (lambda opt: CosineAnnealingLR(opt, T_max=10, eta_min=0.001),
     lambda e, base: 0.001 + (base - 0.001) * (1 + math.cos(math.pi * e / 10)) / 2),
    (lambda opt: CosineAnnealingLR(opt, T_max=4),  # past T_max the cosine goes on
     lambda e, base: base * (1 + math.cos(math.pi * e / 4)) / 2),
    (lambda opt: NoSchedule(opt), lambda e, base: base),
], ids=["step", "exponential", "cosine", "cosine-past-T_max", "none"])
def test_schedules_follow_their_closed_forms(make, closed_form):
    lrs = _lrs(make(_two_group_sgd()))
    expected = [[closed_form(e, 0.1), closed_form(e, 0.5)] for e in range(10)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-14, atol=1e-17)


@needs_torch
@pytest.mark.parametrize("name, kwargs", [
    ("StepLR", dict(step_size=3, gamma=0.5)), ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.001)),
])
def test_schedules_match_torch(name, kwargs):
    mine = getattr(optim, name)(_two_group_sgd(), **kwargs)
    tparams = [torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)]
    topt = torch.optim.SGD([{"params": tparams[:1]}, {"params": tparams[1:], "lr": 0.5}], lr=0.1)
    theirs = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    for _ in range(10):
        np.testing.assert_allclose(mine.get_last_lr(), theirs.get_last_lr(), rtol=1e-12)
        topt.step()
        theirs.step()
        mine.step()


def test_schedule_state_dict_round_trip():
    opt = _two_group_sgd()
    schedule = CosineAnnealingLR(opt, T_max=10)
    for _ in range(4):
        schedule.step()
    saved = json.loads(json.dumps(schedule.state_dict()))
    expected = _lrs(schedule, 5)
    fresh_opt = _two_group_sgd()
    fresh = CosineAnnealingLR(fresh_opt, T_max=3)
    fresh.load_state_dict(saved)
    assert fresh.T_max == 10
    assert [g["lr"] for g in fresh_opt.param_groups] == expected[0]
    assert _lrs(fresh, 5) == expected
    with pytest.raises(ValueError, match=r"missing keys \['T_max', 'eta_min'\]"):
        fresh.load_state_dict({"base_lrs": [0.1, 0.5], "last_epoch": 0, "_last_lr": [0.1, 0.5]})
    with pytest.raises(ValueError, match="^T_max must be a whole number >= 1; got 0$"):
        fresh.load_state_dict({**saved, "T_max": 0})
    assert fresh.T_max == 10


@pytest.mark.parametrize("make, message", [
    (lambda opt: StepLR(opt, step_size=0), "^step_size must be a whole number >= 1; got 0$"),
    (lambda opt: StepLR(opt, step_size=2, gamma=-1), "^gamma must be a finite number > 0; got -1$"),
    (lambda opt: ExponentialLR(opt, gamma=0.0), "^gamma must be a finite number > 0; got 0.0$"),
    (lambda opt: CosineAnnealingLR(opt, T_max=0), "^T_max must be a whole number >= 1; got 0$"),
    (lambda opt: CosineAnnealingLR(opt, T_max=5, eta_min=-1.0), "^eta_min must be a finite number >= 0; got -1.0$"),
    (lambda opt: make_schedule("cosine", opt, epochs=0), "^epochs must be a whole number >= 1; got 0$"),
    (lambda opt: make_schedule("warmup", opt, epochs=5),
     "^schedule must be one of none, step, exponential, cosine; got 'warmup'$"),
])
def test_schedules_are_validated(make, message):
    opt = _two_group_sgd()
    with pytest.raises(ValueError, match=message):
        make(opt)
    assert opt.param_groups[0]["lr"] == 0.1
    with pytest.raises(TypeError, match="^step_size must be a whole number >= 1; got 2.5$"):
        StepLR(opt, step_size=2.5)  # a float for a count: the wrong type
    with pytest.raises(TypeError, match="needs an Optimizer"):
        StepLR("sgd", step_size=1)


def test_make_schedule_defaults():
    lrs = lambda name: [lr[0] for lr in _lrs(make_schedule(name, _two_group_sgd(), epochs=10))]
    assert lrs("none") == [0.1] * 10
    np.testing.assert_allclose(lrs("step"), [0.1] * 4 + [0.01] * 4 + [0.001] * 2, rtol=1e-12)
    np.testing.assert_allclose(lrs("exponential")[-1], 0.001, rtol=1e-12)  # 1% at the last epoch
    cosine = lrs("cosine")
    assert cosine[0] == 0.1 and cosine[5] == pytest.approx(0.05) and cosine[-1] < 0.003
    schedule = make_schedule("step", _two_group_sgd(), epochs=10, gamma=0.5)
    assert (schedule.step_size, schedule.gamma) == (4, 0.5)


def test_schedules_anneal_the_step_of_the_derivative_free_optimizers():
    local = RandomLocalSearch([_w()], step_size=0.2, rng=0)
    schedule = make_schedule("step", local, epochs=10)
    assert [lr[0] for lr in _lrs(schedule, key="step_size")] == pytest.approx(
        [0.2] * 4 + [0.02] * 4 + [0.002] * 2)
    search = RandomSearch([_w()], scale=2.0, rng=0)
    schedule = ExponentialLR(search, gamma=0.5)
    assert [lr[0] for lr in _lrs(schedule, 3, key="scale")] == [2.0, 1.0, 0.5]
    assert search.param_groups[0]["initial_scale"] == 2.0
    assert make_schedule("none", search, epochs=3).get_last_lr() == [0.25]


# ------------------------------------------------------------------------------------------
# registry
# ------------------------------------------------------------------------------------------

def test_make_optimizer_by_name():
    expected = {"sgd": SGD, "momentum": SGD, "nesterov": SGD, "rmsprop": RMSprop,
                "adagrad": Adagrad, "adam": Adam, "adamw": AdamW,
                "random-search": RandomSearch, "random-local-search": RandomLocalSearch}
    assert list(optim.OPTIMIZERS) == list(expected)
    for name, cls in expected.items():
        kwargs = {"lr": 0.1} if cls is SGD else {}
        assert type(make_optimizer(name, [_w()], **kwargs)) is cls
    group = make_optimizer("momentum", [_w()], lr=0.1).param_groups[0]
    assert (group["momentum"], group["nesterov"]) == (0.9, False)
    group = make_optimizer("Nesterov", [_w()], lr=0.1).param_groups[0]
    assert (group["momentum"], group["nesterov"]) == (0.9, True)
    assert make_optimizer("momentum", [_w()], lr=0.1, momentum=0.5).param_groups[0]["momentum"] == 0.5
    assert type(make_optimizer("random_local_search", [_w()], rng=0)) is RandomLocalSearch
    # one configuration fits every name: for the searches lr is the size of the random moves
    assert make_optimizer("random-search", [_w()], lr=0.3).param_groups[0]["scale"] == 0.3
    assert make_optimizer("random-local-search", [_w()], lr=0.3).param_groups[0]["step_size"] == 0.3
    assert make_optimizer("random-local-search", [_w()], lr=0.3,
                          step_size=0.2).param_groups[0]["step_size"] == 0.2
    with pytest.raises(TypeError, match="lr"):
        RandomSearch([_w()], lr=0.3)
    with pytest.raises(ValueError, match="^optimizer must be one of sgd, momentum, nesterov, rmsprop, adagrad, "
                                         "adam, adamw, random-search, random-local-search; got 'lbfgs'$"):
        make_optimizer("lbfgs", [_w()])
    assert optim.SCHEDULES["cosine"] is CosineAnnealingLR


# ------------------------------------------------------------------------------------------
# derivative-free search: the lecture's strategies #1 and #2
# ------------------------------------------------------------------------------------------

def least_squares(seed=1234):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((100, 10))
    y = X @ rng.standard_normal(10) + 0.1 * rng.standard_normal(100)
    return cr.tensor(X, dtype="float64"), cr.tensor(y, dtype="float64")


def test_lecture_ordering_random_search_then_local_search_then_gradient_descent():
    X, y = least_squares()
    budget = 300  # loss evaluations each
    final = {}
    for name, kwargs in [("random-search", dict(rng=0)), ("random-local-search", dict(rng=0)),
                         ("sgd", dict(lr=0.1))]:
        w = cr.zeros(10, dtype="float64", requires_grad=True)
        opt = make_optimizer(name, [w], **kwargs)
        evaluations = 0

        def closure():
            nonlocal evaluations
            evaluations += 1
            opt.zero_grad()
            loss = ((X @ w - y) ** 2).mean()
            if opt.uses_grad:
                loss.backward()
            return loss

        while evaluations < budget:
            opt.step(closure)
        assert evaluations == budget
        with cr.no_grad():
            final[name] = ((X @ w - y) ** 2).mean().item()
    start = (y.numpy() ** 2).mean()
    assert start > final["random-search"] > 2 * final["random-local-search"]
    assert final["random-local-search"] > 10 * final["sgd"]
    assert final["sgd"] < 0.02  # the noise floor (noise variance 0.01)


def _quadratic(params, target=0.5):
    return lambda: sum(((p - target) ** 2).sum() for p in params)


@pytest.mark.parametrize("cls", [RandomSearch, RandomLocalSearch])
def test_search_never_reads_gradients(cls):
    params = make_params(initial_values())
    nan_grads = [np.full(p.shape, np.nan, np.float32) for p in params]
    for p, g in zip(params, nan_grads):
        p.grad = g
    opt = cls(params, rng=0)
    for _ in range(20):
        opt.step(_quadratic(params))
    assert all(np.isfinite(p.data).all() for p in params)
    assert all(p.grad is g and np.isnan(g).all() for p, g in zip(params, nan_grads))
    assert np.isfinite(opt.best_loss)
    assert opt.requires_closure and not opt.uses_grad
    # tensors that do not require a gradient are fine too
    plain = cr.tensor([1.0, 2.0])
    cls([plain], rng=0).step(_quadratic([plain]))


@pytest.mark.parametrize("cls", [RandomSearch, RandomLocalSearch])
def test_search_needs_a_closure_and_evaluates_it_without_gradients(cls):
    w = _w()
    opt = cls([w], rng=0)
    with pytest.raises(ValueError, match=rf"{cls.__name__}\.step\(\) needs a closure"):
        opt.step()
    with pytest.raises(ValueError, match="needs a closure"):
        opt.step(1.0)
    modes, losses = [], []

    def closure():
        modes.append(cr.is_grad_enabled())
        loss = ((w - 1.0) ** 2).sum()
        losses.append(loss)
        return loss

    returned = opt.step(closure)
    assert modes and not any(modes)
    assert not losses[-1].requires_grad and returned is losses[-1]
    assert opt.loss_evaluations == len(modes) == (1 if cls is RandomSearch else 2)


def test_random_search_keeps_the_best_draw():
    rng = np.random.default_rng(7)
    w = cr.tensor(np.zeros(3), dtype="float64")
    opt = RandomSearch([w], scale=2.0, rng=7)
    closure = _quadratic([w], target=1.0)
    losses, best_w = [], None
    for _ in range(30):
        draw = 2.0 * rng.standard_normal(3)  # the same draws as the optimizer's generator
        loss = opt.step(closure).item()
        assert loss == pytest.approx(((draw - 1.0) ** 2).sum())
        if not losses or loss < min(losses):
            best_w = draw
        losses.append(loss)
        np.testing.assert_array_equal(w.data, best_w)
        assert opt.best_loss == min(losses)
    assert opt.loss_evaluations == 30
    assert closure().item() == opt.best_loss


def test_random_local_search_only_accepts_improvements():
    w = cr.tensor(np.zeros(5), dtype="float64")
    opt = RandomLocalSearch([w], step_size=0.1, rng=3)
    closure = _quadratic([w], target=1.0)
    best = []
    for _ in range(100):
        before = w.data.copy()
        loss = opt.step(closure).item()
        if loss < (best[-1] if best else 5.0):
            assert not np.array_equal(w.data, before)
        else:
            np.testing.assert_array_equal(w.data, before)  # restored exactly
        best.append(opt.best_loss)
        assert closure().item() == opt.best_loss
    assert best == sorted(best, reverse=True) and best[-1] < 2.0
    assert opt.loss_evaluations == 101
    # a loss that never drops leaves the parameters untouched, bit for bit
    start = w.data.copy()
    stuck = RandomLocalSearch([w], rng=0)
    for _ in range(5):
        stuck.step(lambda: 1.0)
    np.testing.assert_array_equal(w.data, start)
    nan = RandomSearch([w], rng=0)
    nan.step(lambda: float("nan"))
    np.testing.assert_array_equal(w.data, start)
    assert nan.best_loss is None


@pytest.mark.parametrize("cls", [RandomSearch, RandomLocalSearch])
def test_search_is_seeded_and_keeps_dtypes(cls):
    def trajectory(seed):
        params = make_params(initial_values(), "float32")
        opt = cls(params, rng=seed)
        for _ in range(15):
            opt.step(_quadratic(params))
        assert all(p.dtype == np.float32 for p in params)
        return [p.data.copy() for p in params], opt.best_loss

    (a, best_a), (b, best_b), (c, _) = trajectory(5), trajectory(5), trajectory(6)
    assert best_a == best_b
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, z) for x, z in zip(a, c))


@pytest.mark.parametrize("cls", [RandomSearch, RandomLocalSearch])
def test_search_state_dict_round_trip(cls):
    params = make_params(initial_values())
    opt = cls([{"params": params[:1]}, {"params": params[1:]}], rng=11)
    closure = _quadratic(params)
    for _ in range(5):
        opt.step(closure)
    saved = through_disk(opt.state_dict())
    copies = make_params([p.data.copy() for p in params])
    other = cls([{"params": copies[:1]}, {"params": copies[1:]}], rng=999)
    other.load_state_dict(saved)
    assert (other.best_loss, other.loss_evaluations) == (opt.best_loss, opt.loss_evaluations)
    for _ in range(10):
        opt.step(closure)
        other.step(_quadratic(copies))
        for a, b in zip(params, copies):
            np.testing.assert_array_equal(a.data, b.data)
    assert other.best_loss == opt.best_loss
    with pytest.raises(ValueError, match="random generator is MT19937"):
        other.load_state_dict({**saved, "rng_bit_generator": "MT19937"})


def test_local_search_trains_a_small_network():
    rng = np.random.default_rng(0)
    X = cr.tensor(rng.standard_normal((64, 2)))
    y = cr.tensor((X.numpy()[:, :1] * X.numpy()[:, 1:] > 0).astype(np.float32))
    w1 = cr.tensor(rng.standard_normal((2, 8)) * 0.7, requires_grad=True)
    b1 = cr.zeros(8, requires_grad=True)
    w2 = cr.tensor(rng.standard_normal((8, 1)) * 0.35, requires_grad=True)

    def closure():
        return ((cr.relu(X @ w1 + b1) @ w2 - y) ** 2).mean()

    opt = RandomLocalSearch([w1, b1, w2], step_size=0.05, rng=0)
    first = closure().item()
    for _ in range(300):
        opt.step(closure)
    assert opt.best_loss < 0.7 * first
    assert all(p.dtype == np.float32 for p in (w1, b1, w2))


# ------------------------------------------------------------------------------------------
# documentation
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("module", ["optimizer", "sgd", "adaptive", "search", "lr_scheduler",
                                    "registry", "__init__"])
def test_docstring_examples_run(module):
    import importlib

    mod = importlib.import_module("chainrule.optim" + ("" if module == "__init__" else f".{module}"))
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("cls", [SGD, RMSprop, Adagrad, Adam, AdamW, RandomSearch, RandomLocalSearch])
def test_each_optimizer_documents_its_update_rule(cls):
    doc = cls.__doc__
    assert "←" in doc and ">>>" in doc


def test_an_optimizer_survives_pickling_and_keeps_its_buffers():
    import pickle

    w = cr.tensor([1.0, -2.0], requires_grad=True)
    opt = cr.optim.SGD([w], lr=0.1, momentum=0.9)
    for _ in range(2):
        w.grad = np.array([1.0, 1.0], dtype=np.float32)
        opt.step()
    clone = pickle.loads(pickle.dumps(opt))
    (w2,) = clone.param_groups[0]["params"]
    w.grad = w2.grad = np.array([1.0, 1.0], dtype=np.float32)
    opt.step()
    clone.step()
    np.testing.assert_array_equal(w.data, w2.data)


# ---------------------------------------------------------------- #12: amsgrad, centered, maximize, schedules
def _run(opt_cls, steps=5, **kw):
    w = cr.tensor([1.0, -2.0, 0.5], dtype="float64", requires_grad=True)
    opt = opt_cls([w], **kw)
    seen = []
    for _ in range(steps):
        opt.zero_grad()
        ((w * w * w).sum() + (w * 3.0).sin().sum()).backward()
        seen.append(w.grad.copy())
        opt.step()
    return w.data, seen


def test_adam_amsgrad_divides_by_the_largest_second_moment_so_far():
    got, grads = _run(cr.optim.Adam, lr=0.1, betas=(0.9, 0.99), amsgrad=True)
    p = np.array([1.0, -2.0, 0.5])
    m = v = vmax = np.zeros(3)
    for t, g in enumerate(grads, 1):
        m, v = 0.9 * m + 0.1 * g, 0.99 * v + 0.01 * g * g
        vmax = np.maximum(vmax, v)
        p = p - 0.1 / (1 - 0.9 ** t) * m / (np.sqrt(vmax) / np.sqrt(1 - 0.99 ** t) + 1e-8)
    np.testing.assert_allclose(got, p, rtol=1e-12)


def test_rmsprop_centered_divides_by_the_running_variance():
    got, grads = _run(cr.optim.RMSprop, lr=0.01, alpha=0.9, centered=True)
    p, v, gbar = np.array([1.0, -2.0, 0.5]), np.zeros(3), np.zeros(3)
    for g in grads:
        v, gbar = 0.9 * v + 0.1 * g * g, 0.9 * gbar + 0.1 * g
        p = p - 0.01 * g / (np.sqrt(v - gbar * gbar) + 1e-8)
    np.testing.assert_allclose(got, p, rtol=1e-12)


@pytest.mark.parametrize("cls, kw", [(cr.optim.SGD, dict(lr=0.05, momentum=0.9, weight_decay=0.1)),
                                     (cr.optim.Adam, dict(lr=0.05)), (cr.optim.Adagrad, dict(lr=0.05))])
def test_maximize_ascends_the_objective(cls, kw):
    # maximize on f is minimize on −f with the same weight decay: p ← p − η(−∇f + λp) for SGD.
    up, _ = _run(cls, maximize=True, **kw)
    w = cr.tensor([1.0, -2.0, 0.5], dtype="float64", requires_grad=True)
    opt = cls([w], **kw)
    for _ in range(5):
        opt.zero_grad()
        (-((w * w * w).sum() + (w * 3.0).sin().sum())).backward()
        opt.step()
    np.testing.assert_allclose(up, w.data, rtol=1e-12)


def _lr_series(make, steps=8, lr=1.0):
    opt = SGD([cr.tensor([1.0], requires_grad=True)], lr=lr, momentum=0.9)
    schedule = make(opt)
    out = []
    for _ in range(steps):
        out.append(schedule.get_last_lr()[0])
        schedule.step()
    return np.array(out)


def test_new_schedules_follow_their_formulas():
    from chainrule import optim

    e = np.arange(8)
    np.testing.assert_allclose(_lr_series(lambda o: optim.MultiStepLR(o, [2, 5], 0.5)), 0.5 ** ((e >= 2).astype(int) + (e >= 5)))
    np.testing.assert_allclose(_lr_series(lambda o: optim.LambdaLR(o, lambda k: 0.9 ** k)), 0.9 ** e)
    np.testing.assert_allclose(_lr_series(lambda o: optim.LinearLR(o, 0.25, 1.0, 4)), 0.25 + 0.75 * np.minimum(e, 4) / 4)
    cyc = (1 + np.cos(np.pi * np.array([0, 1, 2, 0, 1, 2, 3, 4]) / np.array([3, 3, 3, 6, 6, 6, 6, 6]))) / 2
    np.testing.assert_allclose(_lr_series(lambda o: optim.CosineAnnealingWarmRestarts(o, 3, T_mult=2)), cyc)
    seq = _lr_series(lambda o: optim.SequentialLR(o, [optim.LinearLR(o, 0.5, total_iters=2), optim.StepLR(o, 2, 0.1)], [3]))
    np.testing.assert_allclose(seq, [0.5, 0.75, 1.0, 1.0, 1.0, 0.1, 0.1, 0.01])
    one = _lr_series(lambda o: optim.OneCycleLR(o, max_lr=1.0, total_steps=11, pct_start=0.3, anneal_strategy="linear"), 11)
    np.testing.assert_allclose(one[[0, 1, 2]], [0.04, 0.04 + 0.96 / 2.3, 0.04 + 0.96 * 2 / 2.3])  # peak at 0.3·11 − 1
    assert one[-1] == pytest.approx(1 / 25 / 1e4) and np.all(np.diff(one[3:]) < 0)


def test_reduce_lr_on_plateau_waits_patience_then_cools_down():
    from chainrule import optim

    opt = SGD([cr.tensor([1.0], requires_grad=True)], lr=1.0)
    schedule = optim.ReduceLROnPlateau(opt, factor=0.5, patience=1, cooldown=1, min_lr=0.2)
    lrs = []
    for metric in [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5]:
        schedule.step(metric)
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]
    for _ in range(10):
        schedule.step(1.0)
    assert opt.param_groups[0]["lr"] == 0.2  # never below min_lr
    with pytest.raises(ValueError, match="^mode must be one of min, max; got 'up'$"):
        optim.ReduceLROnPlateau(opt, mode="up")
