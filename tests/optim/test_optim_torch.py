"""chainrule's optimizers and schedules against torch.optim, step by step, in float64.

Each case runs 60 steps of the same optimizer on the same parameters (two groups with their own
settings, a matrix, a vector and a 0-d parameter) with the same gradients, a smooth non-quadratic
loss computed in each library, and compares every parameter after every step with
``rtol=1e-7, atol=1e-12`` (float64 round-off, amplified by 60 steps of a non-convex loss:
RMSprop's √v + ε divides by small numbers, and reached 2·10⁻⁸ on an AMD EPYC, whose NumPy and
torch evaluate tanh and sin with other vector code than on an Intel Xeon; every case is within
3·10⁻¹⁵ after its first step, where a wrong rule is off by orders more). Schedules compare the
learning rate and the momentum of every group at every step to ``rel=1e-12`` (the parameters
they drive are not compared: large steps with momentum 0.9 make that run chaotic, so round-off
grows without telling anything). Skipped where torch is not installed.
"""
import numpy as np
import pytest

import chainrule as cr
from chainrule import optim

torch = pytest.importorskip("torch")
RTOL, ATOL, STEPS = 1e-7, 1e-12, 60


def loss_of(params, lib):
    w, b, s = params
    if lib == "torch":
        return torch.tanh(w).sum() ** 2 + (b * b).sum() * 0.1 + torch.sin(b).sum() + torch.cos(s * w.sum())
    return w.tanh().sum() ** 2 + (b * b).sum() * 0.1 + b.sin().sum() + (s * w.sum()).cos()


def initial():
    rng = np.random.default_rng(0)
    return [rng.standard_normal((3, 2)), rng.standard_normal(4), np.array(0.7)]


OPTIMIZERS = {
    "sgd": (optim.SGD, torch.optim.SGD, dict(lr=0.05)),
    "sgd-momentum": (optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    "sgd-nesterov": (optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
    "sgd-maximize": (optim.SGD, torch.optim.SGD, dict(lr=0.01, momentum=0.5, weight_decay=0.1, maximize=True)),
    "rmsprop": (optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, alpha=0.9, weight_decay=0.01)),
    "rmsprop-momentum": (optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, momentum=0.8)),
    "rmsprop-centered": (optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.5)),
    "adagrad": (optim.Adagrad, torch.optim.Adagrad, dict(lr=0.1, weight_decay=0.01)),
    "adam": (optim.Adam, torch.optim.Adam, dict(lr=0.01, betas=(0.8, 0.95), weight_decay=0.01)),
    "adam-amsgrad": (optim.Adam, torch.optim.Adam, dict(lr=0.02, amsgrad=True)),
    "adam-maximize": (optim.Adam, torch.optim.Adam, dict(lr=0.01, maximize=True)),
    "adamw": (optim.AdamW, torch.optim.AdamW, dict(lr=0.01, weight_decay=0.1)),
    "adamw-amsgrad": (optim.AdamW, torch.optim.AdamW, dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
}


def groups(params, lib_lr):
    return [{"params": params[:2]}, {"params": params[2:], "lr": lib_lr}]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_matches_torch_over_many_steps(name):
    ours_cls, theirs_cls, kwargs = OPTIMIZERS[name]
    ours = [cr.tensor(a, dtype="float64", requires_grad=True) for a in initial()]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in initial()]
    opt = ours_cls(groups(ours, kwargs["lr"] / 2), **kwargs)
    ref = theirs_cls(groups(theirs, kwargs["lr"] / 2), **kwargs)
    for step in range(STEPS):
        opt.zero_grad()
        loss_of(ours, "cr").backward()
        opt.step()
        ref.zero_grad()
        loss_of(theirs, "torch").backward()
        ref.step()
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=f"step {step}")


def test_optimizer_state_dict_round_trip_continues_like_torch():
    # Save after 20 steps, load into a fresh optimizer, run 20 more: the same as running on.
    ours = [cr.tensor(a, dtype="float64", requires_grad=True) for a in initial()]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in initial()]
    opt, ref = optim.Adam(ours, lr=0.01, amsgrad=True), torch.optim.Adam(theirs, lr=0.01, amsgrad=True)
    for i in range(40):
        if i == 20:
            state = opt.state_dict()
            opt = optim.Adam(ours, lr=0.5)
            opt.load_state_dict(state)
        for o, params, lib in ((opt, ours, "cr"), (ref, theirs, "torch")):
            o.zero_grad()
            loss_of(params, lib).backward()
            o.step()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=RTOL, atol=ATOL)


def schedules(lib):
    S = optim if lib == "cr" else torch.optim.lr_scheduler
    return {
        "step": lambda o: S.StepLR(o, step_size=7, gamma=0.5),
        "multistep": lambda o: S.MultiStepLR(o, milestones=[5, 12, 30], gamma=0.3),
        "exponential": lambda o: S.ExponentialLR(o, gamma=0.95),
        "lambda": lambda o: S.LambdaLR(o, lambda e: 1.0 / (1 + 0.1 * e)),
        "linear": lambda o: S.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=10),
        "cosine": lambda o: S.CosineAnnealingLR(o, T_max=15, eta_min=0.001),
        "warm-restarts": lambda o: S.CosineAnnealingWarmRestarts(o, T_0=5, eta_min=0.001),
        "warm-restarts-mult": lambda o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2),
        "onecycle": lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=STEPS + 1),
        "onecycle-linear-3phase": lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=STEPS + 1,
                                                         anneal_strategy="linear", three_phase=True),
        "sequential": lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=4),
                                                   S.ExponentialLR(o, gamma=0.9)], milestones=[6]),
    }


def make_opt(lib, params):
    cls = optim.SGD if lib == "cr" else torch.optim.SGD
    return cls([{"params": params[:2]}, {"params": params[2:], "lr": 0.2}], lr=0.1, momentum=0.9)


@pytest.mark.parametrize("name", sorted(schedules("cr")))
def test_schedule_matches_torch_at_every_step(name):
    ours = [cr.tensor(a, dtype="float64", requires_grad=True) for a in initial()]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in initial()]
    opt, ref = make_opt("cr", ours), make_opt("torch", theirs)
    sch_ours, sch_theirs = schedules("cr")[name](opt), schedules("torch")[name](ref)
    for step in range(STEPS):
        np.testing.assert_allclose(sch_ours.get_last_lr(), sch_theirs.get_last_lr(), rtol=1e-12, err_msg=f"step {step}")
        for g, h in zip(opt.param_groups, ref.param_groups):
            assert g["lr"] == pytest.approx(h["lr"], rel=1e-12)
            assert g["momentum"] == pytest.approx(h["momentum"], rel=1e-12)
        for o, params, lib in ((opt, ours, "cr"), (ref, theirs, "torch")):
            o.zero_grad()
            loss_of(params, lib).backward()
            o.step()
        sch_ours.step()
        sch_theirs.step()


def test_schedule_state_dict_resumes_at_the_same_rates():
    for name, make in schedules("cr").items():
        if name == "lambda":
            continue
        params = [cr.tensor(a, dtype="float64", requires_grad=True) for a in initial()]
        opt = make_opt("cr", params)
        sch = make(opt)
        for _ in range(9):
            sch.step()
        state, expected = sch.state_dict(), []
        for _ in range(5):
            sch.step()
            expected.append(sch.get_last_lr())
        fresh_opt = make_opt("cr", params)
        fresh = make(fresh_opt)
        fresh.load_state_dict(state)
        got = []
        for _ in range(5):
            fresh.step()
            got.append(fresh.get_last_lr())
        np.testing.assert_allclose(got, expected, rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("mode, threshold_mode", [("min", "rel"), ("max", "abs"), ("min", "abs")])
def test_reduce_lr_on_plateau_matches_torch(mode, threshold_mode):
    opt = make_opt("cr", [cr.tensor(a, dtype="float64", requires_grad=True) for a in initial()])
    ref = make_opt("torch", [torch.tensor(a, requires_grad=True) for a in initial()])
    kw = dict(mode=mode, factor=0.5, patience=2, threshold=0.01, threshold_mode=threshold_mode, cooldown=1,
              min_lr=[0.01, 0.02])
    ours, theirs = optim.ReduceLROnPlateau(opt, **kw), torch.optim.lr_scheduler.ReduceLROnPlateau(ref, **kw)
    metrics = np.random.default_rng(1).permutation(np.r_[np.linspace(1, 0, 20), np.full(40, 0.5)])
    for i, m in enumerate(metrics):
        ours.step(m)
        theirs.step(m)
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12), i
    state = ours.state_dict()
    again = optim.ReduceLROnPlateau(make_opt("cr", [cr.tensor(a, requires_grad=True) for a in initial()]), **kw)
    again.load_state_dict(state)
    assert again.num_bad_epochs == ours.num_bad_epochs and again.best == ours.best
