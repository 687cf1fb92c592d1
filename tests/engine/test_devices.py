"""Devices: parsing, moving, errors, and every device-relevant path run on the fake GPU.

The fake GPU (tests/fakegpu.py) computes with NumPy, so a result on it must be *bit-identical*
to the CPU's: any difference, and any stray host conversion (which the fake refuses the way
CuPy does), is a device bug found without a GPU.
"""
import importlib.util
import json
import sys
import types

import numpy as np
import pytest

import chainrule as cr
import fakegpu
from fakegpu import same
from chainrule import io, nn, optim
from chainrule.engine import DeviceError
from chainrule.nn import functional as F
from chainrule.train import fit

HAS_CUPY = importlib.util.find_spec("cupy") is not None


# ====================================================================== the Device type
def test_device_strings_parse_to_devices_that_print_back():
    assert str(cr.device("cpu")) == "cpu" and cr.device("cpu") == cr.Device("cpu")
    assert cr.device("cuda") == cr.Device("cuda", 0) == cr.device(" CUDA:0 ")
    assert str(cr.device("cuda:3")) == "cuda:3" and cr.device("cuda:3").index == 3
    assert cr.device(cr.device("cuda:1")) == cr.Device("cuda:1")
    assert len({cr.device("cuda"), cr.device("cuda:0"), cr.device("cpu")}) == 2
    assert repr(cr.device("cuda:2")) == "device('cuda:2')"


@pytest.mark.parametrize("bad, error, words", [
    ("gpu", DeviceError, ["'gpu'", "'cpu'", "'cuda:N'"]),
    ("cuda:x", DeviceError, ["'cuda:x'"]),
    ("cpu:1", DeviceError, ["1", "'cpu'"]),
    ("", DeviceError, ["''"]),
    (3, TypeError, ["3", "'cuda:1'"]),
])
def test_an_unknown_device_is_an_error_naming_the_value(bad, error, words):
    with pytest.raises(error) as info:
        cr.device(bad)
    assert all(w in str(info.value) for w in words), str(info.value)
    assert issubclass(DeviceError, ValueError)


@pytest.mark.skipif(HAS_CUPY, reason="CuPy is installed here")
def test_cuda_without_cupy_says_what_to_install(tmp_path, capsys):
    hint = 'pip install "chainrule[cuda]"'
    for attempt in (lambda: cr.zeros(2, device="cuda"), lambda: cr.tensor([1.0]).cuda(),
                    lambda: nn.Linear(2, 2).cuda(),
                    lambda: fit(nn.Linear(2, 2), np.zeros((2, 2)), [0, 1], epochs=1, device="cuda:1")):
        with pytest.raises(DeviceError, match=hint.replace("[", r"\[").replace("]", r"\]")):
            attempt()
    assert cr.device("auto") == cr.device("cpu")  # auto falls back to the CPU
    from chainrule import cli

    assert cli.main(["train", "--data", "xor", "--device", "cuda", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr()
    assert err.out == "" and err.err.startswith("chainrule: error:") and hint in err.err
    assert len(err.err.strip().splitlines()) == 1 and not (tmp_path / "r").exists()


def test_cuda_without_a_gpu_says_so(monkeypatch):
    # A CuPy whose runtime finds no GPU (what CuPy does on a machine without a driver or GPU):
    # the message composition is what is tested here, the CUDA backend's only GPU-free logic.
    class CUDARuntimeError(RuntimeError):
        pass

    def no_gpu():
        raise CUDARuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    stub = types.ModuleType("cupy")
    stub.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=no_gpu))
    monkeypatch.setitem(sys.modules, "cupy", stub)
    with pytest.raises(DeviceError, match=r"device 'cuda:0' is not available: CuPy sees no cuda device"):
        cr.zeros(2, device="cuda")
    assert cr.device("auto") == cr.device("cpu")
    stub.cuda.runtime.getDeviceCount = lambda: 1
    with pytest.raises(DeviceError, match=r"'cuda:1' is not available: CuPy sees only cuda:0..cuda:0"):
        cr.device("cuda:1").check()
    assert cr.device("auto") == cr.device("cuda:0")


def test_a_fake_device_index_out_of_range_is_named(fake_gpu):
    with pytest.raises(DeviceError, match=r"'fake:2' is not available: the fake GPU sees only fake:0..fake:1"):
        cr.zeros(2, device="fake:2")


# ====================================================================== tensors
CREATORS = [
    ("tensor", lambda d: cr.tensor([[1, 2], [3, 4]], dtype="float32", device=d)),
    ("zeros", lambda d: cr.zeros(2, 3, device=d)),
    ("ones", lambda d: cr.ones((2, 3), dtype="float64", device=d)),
    ("full", lambda d: cr.full((2,), 7.0, device=d)),
    ("arange", lambda d: cr.arange(5, device=d)),
    ("randn", lambda d: cr.randn(3, 2, rng=4, device=d)),
    ("rand", lambda d: cr.rand(3, rng=4, device=d)),
    ("zeros_like", lambda d: cr.zeros_like(cr.ones(2, 2), device=d)),
    ("ones_like", lambda d: cr.ones_like(cr.ones(2, 2), device=d)),
    ("full_like", lambda d: cr.full_like(cr.ones(2), 3.0, device=d)),
    ("randn_like", lambda d: cr.randn_like(cr.ones(4), rng=1, device=d)),
    ("rand_like", lambda d: cr.rand_like(cr.ones(4), rng=1, device=d)),
]


@pytest.mark.parametrize("name, make", CREATORS, ids=[c[0] for c in CREATORS])
def test_every_creation_function_takes_device(any_device, name, make):
    t = make(any_device)
    assert t.device == cr.device(any_device)
    same(t, make("cpu"))  # seeded draws are the same numbers on every device


def test_like_functions_follow_their_tensors_device(fake_gpu):
    x = cr.ones(3, device="fake:1")
    for fn in (cr.zeros_like, cr.ones_like, cr.randn_like, cr.rand_like):
        assert fn(x).device == cr.device("fake:1")
    assert cr.full_like(x, 2.0).device == cr.device("fake:1")


def test_to_cpu_numpy_and_item_copy_to_the_host(fake_gpu):
    x = cr.tensor([1.0, -2.0, 3.0], requires_grad=True)
    assert x.to("cpu") is x and x.cpu() is x
    y = x.to("fake")
    assert y.device == cr.device("fake:0") and type(y.data) is fakegpu.FakeArray and y._op == "to"
    z = y.to(cr.device("fake:0"))
    assert z is y
    a = y.numpy()
    assert type(a) is np.ndarray and a.tolist() == [1.0, -2.0, 3.0]
    a[0] = 99.0  # a copy: the device data is untouched
    assert y.numpy()[0] == 1.0 and y[1].item() == -2.0 and float(y.sum()) == 2.0
    assert "device='fake:0'" in repr(y)
    with pytest.raises(TypeError, match=r"tensor on fake:0 to a NumPy array implicitly; call \.numpy\(\)"):
        np.asarray(y)
    # The copy is differentiable: the gradient flows back to the CPU tensor.
    (y * y).sum().backward()
    assert x.grad.tolist() == [2.0, -4.0, 6.0] and type(x.grad) is np.ndarray
    # Between two devices that are not the CPU, through the host.
    w = y.detach().to("fake:1")
    assert w.device == cr.device("fake:1") and w.tolist() == [1.0, -2.0, 3.0]
    assert cr.tensor(y).device == y.device and cr.tensor(y, device="cpu").device == cr.device("cpu")


# ====================================================================== ops
rng = np.random.default_rng(0)
A = rng.standard_normal((4, 3))
B = rng.standard_normal((3,))
P = rng.uniform(0.5, 2, (4, 3))
M = rng.standard_normal((3, 5))
W = rng.standard_normal((5, 3))
b5 = rng.standard_normal(5)
labels = np.array([0, 2, 1, 4])
OPS = [
    ("add", lambda a, b: a + b, [A, B]), ("sub", lambda a, b: a - b, [A, B]),
    ("mul", lambda a, b: a * b, [A, B]), ("div", lambda a, p: a / p, [A, P]),
    ("neg", lambda a: -a, [A]), ("pow", lambda a: a ** 3, [A]), ("reciprocal", lambda p: 1 / p, [P]),
    ("exp", lambda a: a.exp(), [A]), ("log", lambda p: p.log(), [P]), ("sqrt", lambda p: p.sqrt(), [P]),
    ("abs", lambda a: a.abs(), [A]), ("maximum", lambda a, b: a.maximum(b), [A, B]),
    ("minimum", lambda a, b: cr.minimum(a, b), [A, B]), ("relu", lambda a: a.relu(), [A]),
    ("sigmoid", lambda a: a.sigmoid(), [A]), ("tanh", lambda a: a.tanh(), [A]),
    ("clip", lambda a: a.clip(-0.5, 0.5), [A]), ("cast", lambda a: a.astype("float32") * 2, [A]),
    ("scalar ops", lambda a: 2.0 * a - 1 + a / 4.0, [A]),
    ("matmul", lambda a, m: a @ m, [A, M]), ("matmul 1-d", lambda a, b: a @ b, [A, B]),
    ("linear", lambda a, w, b: cr.linear(a, w, b), [A, W, b5]),
    ("sum", lambda a: a.sum(axis=0), [A]), ("mean", lambda a: a.mean(), [A]),
    ("max", lambda a: a.max(axis=1), [A]), ("min", lambda a: a.min(), [A]),
    ("reshape", lambda a: a.reshape(3, 4) * 1.5, [A]), ("transpose", lambda a: a.T * 1.5, [A]),
    ("getitem", lambda a: a[1:, ::2] * 2, [A]), ("getitem by array", lambda a: a[np.array([0, 0, 3])], [A]),
    ("concatenate", lambda a, p: cr.concatenate([a, p], axis=1), [A, P]),
    ("stack", lambda a, p: cr.stack([a, p]), [A, P]),
    ("where", lambda a, p: cr.where(a > 0, a, p), [A, P]),
    ("argmax and comparisons", lambda a: a * (a.argmax(axis=1).reshape(4, 1) == 1).astype("float64"), [A]),
    ("linear_relu", lambda a, w, b: F.linear_relu(a, w, b), [A, W, b5]),
    ("leaky_relu", lambda a: F.leaky_relu(a, 0.1), [A]),
    ("softmax", lambda a: F.softmax(a) * cr.tensor(np.arange(3.0)).to(a.device), [A]),
    ("log_softmax", lambda a: F.log_softmax(a), [A]),
    ("cross_entropy", lambda a, w: F.cross_entropy(a @ w.T, labels), [A, W]),
    ("multiclass_hinge", lambda a, w: F.multiclass_hinge(a @ w.T, labels, reduction="sum"), [A, W]),
    ("binary_cross_entropy", lambda a: F.binary_cross_entropy_with_logits(a, (A > 0).astype(int)), [A]),
    ("binary_hinge", lambda a: F.binary_hinge(a, np.where(A > 0, 1, -1)), [A]),
    ("mse", lambda a: F.mse(a, P), [A]), ("l2", lambda a, w: F.l2([a, w], 0.5), [A, W]),
]


@pytest.mark.parametrize("name, fn, arrays", OPS, ids=[o[0] for o in OPS])
def test_every_op_and_fused_loss_on_the_fake_gpu_equals_the_cpu(fake_gpu, name, fn, arrays):
    fakegpu.same_on_cpu_and_fake(fn, arrays)


def test_tensors_on_two_devices_in_one_op_is_an_error_naming_both(fake_gpu):
    x, y = cr.ones(3, device="fake"), cr.ones(3)
    with pytest.raises(DeviceError, match=r"'add': tensors on two devices, fake:0 \(input 0\) and cpu \(input 1\)"):
        x + y
    with pytest.raises(DeviceError, match=r"'mul': tensors on two devices, cpu \(input 0\) and fake:0"):
        y * x
    with pytest.raises(DeviceError, match=r"fake:0 .* and fake:1"):
        cr.stack([x, cr.ones(3, device="fake:1")])
    with pytest.raises(DeviceError, match=r"'matmul': .*fake:0.*cpu"):
        cr.ones(2, 3, device="fake") @ np.ones(3)  # a host array is a CPU tensor: no silent copy


def test_a_model_on_one_device_fed_data_from_another_is_an_error_naming_both(fake_gpu):
    net = nn.MLP(3, [4], 2, rng=0).to("fake")
    with pytest.raises(DeviceError, match=r"cpu \(input 0\) and fake:0 \(input 1\)"):
        net(cr.ones(5, 3))
    with pytest.raises(ValueError, match=r"X is on fake:0; training and prediction take host data"):
        fit(nn.MLP(3, [4], 2, rng=0), cr.ones(4, 3, device="fake"), [0, 1, 0, 1], epochs=1)
    half = nn.MLP(3, [4], 2, rng=0)
    half[0].to("fake")
    with pytest.raises(ValueError, match=r"MLP's parameters: tensors on two devices, fake:0 \('0.weight'\) and cpu \('2.weight'\)"):
        fit(half, np.ones((4, 3)), [0, 1, 0, 1], epochs=1)


def test_a_stray_host_conversion_in_a_device_path_fails_on_the_fake(fake_gpu):
    class LeakyDouble(cr.Function):  # the bug the fake exists to catch: np.asarray on device data
        name = "leaky_double"

        def forward(self, x):
            return np.asarray(x) * 2

        def backward(self, grad):
            return grad * 2

    assert LeakyDouble.apply(cr.tensor([1.0, 2.0])).tolist() == [2.0, 4.0]  # fine on the CPU
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        LeakyDouble.apply(cr.tensor([1.0, 2.0], device="fake"))
    data = cr.ones(2, device="fake").data
    for leak in (lambda: np.array(data), lambda: data + np.ones(2), lambda: np.ones(2) * data,
                 lambda: data.__setitem__(0, np.ones(())), lambda: float(cr.ones(2, device="fake").data)):
        with pytest.raises(TypeError):
            leak()
    # What CuPy allows works: NumPy functions on device arrays stay on the device.
    assert type(np.exp(data)) is fakegpu.FakeArray and type(data.sum()) is fakegpu.FakeArray


def test_the_fake_gpu_records_graphs_as_cuda_does(fake_gpu):
    # What chainrule.train.capture relies on, and what the fake must show on the CPU: recorded
    # work does not run, what it makes is garbage until a launch, a launch replays it on the same
    # arrays with the recording's Python numbers, and a host read while recording is refused.
    recorder = cr.engine.devices.graphs("fake")
    assert cr.engine.devices.graphs("cpu") is None  # NumPy runs each call at once
    a, out, scale, made = cr.ones(3, device="fake").data, cr.zeros(3, device="fake").data, [2.0], []

    def work():
        a[...] += 1.0
        b = a * scale[0]
        out[...] = b
        made.append(b)

    graph = recorder.record(work)
    assert a.get().tolist() == [1.0, 1.0, 1.0] and out.get().tolist() == [0.0, 0.0, 0.0]
    assert np.isnan(made[0].get()).all()
    scale[0] = 10.0  # frozen in the recording: not seen
    recorder.launch(graph)
    assert a.get().tolist() == [2.0] * 3 and out.get().tolist() == [4.0] * 3 and made[0].get().tolist() == [4.0] * 3
    a[...] = 5.0  # the graph reads the array's current values (and adds 1 again)
    recorder.launch(graph)
    assert out.get().tolist() == [12.0] * 3
    for sync, what in ((lambda: float(a[0]), "float"), (lambda: a.get(), "get"), (lambda: a.sum().item(), "item"),
                       (lambda: cr.to_device(np.ones(3), "fake"), "host data")):
        with pytest.raises(fakegpu.CaptureError, match=f"not permitted when stream is capturing .*{what}"):
            recorder.record(sync)
    assert a.get().tolist() == [6.0] * 3  # the last launch added 1; the refused recordings changed nothing


# ====================================================================== layers and modules
def test_layers_forward_and_backward_on_the_device_equal_the_cpu(any_device):
    outs = []
    for dev in ("cpu", any_device):
        net = nn.Sequential(nn.Linear(3, 8, rng=0), nn.Tanh(), nn.Dropout(0.3, rng=1), nn.Linear(8, 8, rng=2),
                            nn.LeakyReLU(0.1), nn.Sigmoid(), nn.Identity(), nn.Linear(8, 2, rng=3)).to(dev)
        mlp = nn.MLP(3, [8, 8], 2, dropout=0.2, rng=5).to(dev)
        x = cr.tensor(A, device=dev)
        loss = F.cross_entropy(net(x), labels % 2) + F.mse(mlp(x), np.ones((4, 2), np.float32))
        loss.backward()
        assert all(p.grad is not None and p.device == cr.device(dev) for p in net.parameters())
        outs.append([loss] + [p.grad for p in net.parameters()] + [p.grad for p in mlp.parameters()])
    for a, b in zip(*outs):
        same(a, b)


def test_module_to_moves_parameters_gradients_and_tensor_attributes(fake_gpu):
    net = nn.MLP(2, [3], 2, rng=0)
    net.scale = cr.ones(2)  # a buffer-like tensor attribute
    net(cr.ones(1, 2)).sum().backward()
    params = list(net.parameters())
    assert net.to("fake:1") is net and list(net.parameters()) == params  # the same Parameter objects
    assert all(p.device == cr.device("fake:1") and cr.device_of(p.grad) == cr.device("fake:1") for p in params)
    assert net.scale.device == cr.device("fake:1") and nn.module_device(net) == cr.device("fake:1")
    state = net.state_dict()
    assert all(type(v) is np.ndarray for v in state.values())  # host copies
    other = nn.MLP(2, [3], 2, rng=9).to("fake:1")
    other.load_state_dict(state)  # host arrays are copied onto the parameters' device
    assert all(p.device == cr.device("fake:1") for p in other.parameters())
    for k, v in other.state_dict().items():
        same(v, state[k])
    assert net.cpu() is net and nn.module_device(net) == cr.device("cpu") and type(net.scale.data) is np.ndarray


def test_module_to_moves_buffers_and_batchnorm_trains_on_the_device_as_on_the_cpu(any_device):
    # Buffers (BatchNorm's running statistics) are arrays, not tensors: Module.to moves them too.
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    outs = []
    for dev in ("cpu", any_device):
        net = nn.Sequential(nn.Linear(3, 5, rng=0), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2, rng=1)).to(dev)
        assert all(cr.device_of(b) == cr.device(dev) for _, b in net.named_buffers())
        loss = F.cross_entropy(net(cr.tensor(x, device=dev)), labels % 2)
        loss.backward()
        net.eval()
        scores = net(cr.tensor(x, device=dev))  # uses the running statistics, on the device
        state = net.state_dict()
        assert all(type(v) is np.ndarray for v in state.values())  # host copies, buffers included
        fresh = nn.Sequential(nn.Linear(3, 5, rng=5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2, rng=6)).to(dev)
        fresh.load_state_dict(state)  # host arrays go onto the buffers' device
        assert all(cr.device_of(b) == cr.device(dev) for _, b in fresh.named_buffers())
        outs.append([loss, scores] + [p.grad for p in net.parameters()] + list(state.values())
                    + [b for _, b in fresh.named_buffers()])
    assert not np.array_equal(outs[0][-3], np.zeros(5))  # the running mean moved off its start
    for a, b in zip(*outs):
        same(a, b)
    assert type(net.cpu()[1].running_mean) is np.ndarray


# ====================================================================== optimizers
def test_backward_with_a_gradient_from_another_device_is_an_error_naming_both(fake_gpu):
    y = cr.ones(3, requires_grad=True, device="fake") * 2
    with pytest.raises(DeviceError, match=r"backward\(\) \(output and gradient\): tensors on two devices, "
                                          r"fake:0 \(input 0\) and cpu \(input 1\)"):
        y.backward(np.ones(3))
    y.backward(cr.ones(3, device="fake"))


def test_an_optimizer_follows_its_parameters_to_another_device(fake_gpu):
    X = rng.standard_normal((8, 3)).astype(np.float32)
    y = np.arange(8) % 2

    def steps(net, opt, n, dev):
        for _ in range(n):
            opt.zero_grad()
            F.cross_entropy(net(cr.tensor(X, device=dev)), y).backward()
            opt.step()

    ref = nn.MLP(3, [4], 2, rng=0)
    ref_opt = optim.Adam(ref.parameters(), lr=0.1)
    steps(ref, ref_opt, 4, "cpu")
    net = nn.MLP(3, [4], 2, rng=0)
    opt = optim.Adam(net.parameters(), lr=0.1)
    steps(net, opt, 2, "cpu")
    net.to("fake")  # after the optimizer has state: the state follows at the next step
    steps(net, opt, 2, "fake")
    assert all(cr.device_of(v) == cr.device("fake:0") for st in opt.state.values() for v in st.values()
               if hasattr(v, "shape"))
    for p, q in zip(ref.parameters(), net.parameters()):
        same(p, q)


@pytest.mark.parametrize("name", sorted(optim.OPTIMIZERS))
def test_every_optimizer_on_the_device_equals_the_cpu_and_keeps_its_state_there(fake_gpu, name):
    # A hand-written loop on the fake's second device (not the current one): every op, the
    # backward pass and the update run where the parameters are.
    X = rng.standard_normal((16, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)

    def run(dev, steps, state=None):
        net = nn.MLP(3, [5], 2, rng=0).to(dev)
        seeded = {"rng": 0} if optim.OPTIMIZERS[name] in (optim.RandomSearch, optim.RandomLocalSearch) else {}
        opt = optim.make_optimizer(name, net.parameters(), lr=0.05, **seeded)
        if state is not None:
            net.load_state_dict(state[0])
            opt.load_state_dict(state[1])
        xb = cr.tensor(X, device=dev)
        closure = lambda: F.cross_entropy(net(xb), y)  # noqa: E731
        for _ in range(steps):
            if opt.requires_closure:
                opt.step(closure)
            else:
                opt.zero_grad()
                closure().backward()
                opt.step()
        return net, opt

    cpu_net, cpu_opt = run("cpu", 4)
    net, opt = run(fake_gpu, 4)
    for p, q in zip(cpu_net.parameters(), net.parameters()):
        assert q.device == cr.device(fake_gpu)
        same(p, q)
    buffers = [v for st in opt.state.values() for v in st.values() if hasattr(v, "shape")]
    assert all(cr.device_of(v) == cr.device(fake_gpu) for v in buffers)
    saved = opt.state_dict()
    assert all(type(v) is np.ndarray for st in saved["state"].values() for v in st.values() if hasattr(v, "shape"))
    # Resuming on the device from a state saved there continues exactly as the CPU does.
    cpu_net2, _ = run("cpu", 6)
    net2, opt2 = run(fake_gpu, 2, state=(net.state_dict(), saved))
    assert all(cr.device_of(v) == cr.device(fake_gpu) for st in opt2.state.values() for v in st.values()
               if hasattr(v, "shape"))
    for p, q in zip(cpu_net2.parameters(), net2.parameters()):
        same(p, q)


# ====================================================================== the training loop, files
@pytest.mark.parametrize("loss, targets", [
    ("cross-entropy", "classes"), ("svm", "classes"), ("logistic", "binary"), ("binary-hinge", "binary"),
    ("mse", "values"),
])
def test_fit_on_the_device_equals_fit_on_the_cpu(fake_gpu, loss, targets):
    X = rng.standard_normal((40, 2)).astype(np.float32)
    y = {"classes": (X[:, 0] > 0) + (X[:, 1] > 0), "binary": (X[:, 0] > X[:, 1]).astype(int),
         "values": X @ np.array([1.0, -2.0])}[targets]
    out = {"classes": 3, "binary": 1, "values": 1}[targets]
    runs = []
    for dev in ("cpu", "fake"):
        net = nn.MLP(2, [6], out, dropout=0.1, rng=0)
        history = fit(net, X[:30], y[:30], loss=loss, optimizer="adam", lr=0.01, epochs=3, batch_size=8, reg=1e-3,
                      validation=(X[30:], y[30:]), device=dev)
        assert nn.module_device(net) == cr.device(dev)
        runs.append((history.records, net.state_dict(), cr.train.predict_scores(net, X)))
    (ra, sa, pa), (rb, sb, pb) = runs
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in ra] == \
        [{k: v for k, v in r.items() if k != "seconds"} for r in rb]
    for k in sa:
        same(sa[k], sb[k])
    assert type(pb) is np.ndarray
    same(pa, pb)


def test_training_on_a_second_gpu_computes_there(fake_gpu):
    # CuPy makes new arrays on its current GPU (the fake too): the loop makes it the model's.
    X = rng.standard_normal((40, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    a, b = nn.MLP(2, [4], 2, rng=0), nn.MLP(2, [4], 2, rng=0)
    fit(a, X, y, epochs=2, reg=0.1, validation=(X, y))
    fit(b, X, y, epochs=2, reg=0.1, validation=(X, y), device="fake:1")
    assert nn.module_device(b) == cr.device("fake:1")
    for k, v in a.state_dict().items():
        same(v, b.state_dict()[k])
    same(cr.train.predict_scores(a, X), cr.train.predict_scores(b, X))
    from chainrule.estimators import MLPRegressor

    est = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0, device="fake:1")
    with pytest.warns(Warning):
        est.fit(X, X[:, 0])
    assert est.predict(X).shape == (40,)


def test_a_checkpoint_written_on_the_device_resumes_on_the_cpu(fake_gpu, tmp_path):
    X = rng.standard_normal((32, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    options = dict(optimizer="adam", lr=0.01, batch_size=8, seed=3)
    whole = nn.MLP(2, [6], 2, rng=0)
    fit(whole, X, y, epochs=4, **options)
    from chainrule.train import TrainConfig, Trainer

    trainer = Trainer(nn.MLP(2, [6], 2, rng=0), X, y, TrainConfig(epochs=4, **options), device="fake")
    trainer.train_epoch(), trainer.train_epoch()  # two of the four epochs, on the device
    assert nn.module_device(trainer.model) == cr.device("fake:0")
    trainer.save_checkpoint(tmp_path / "ck.npz")
    arrays, _ = io.load_archive(tmp_path / "ck.npz", kind="checkpoint")
    assert all(type(a) is np.ndarray for a in arrays.values())
    resumed = nn.MLP(2, [6], 2, rng=7)  # other weights: the checkpoint replaces them
    fit(resumed, X, y, epochs=4, resume=tmp_path / "ck.npz", **options)
    assert nn.module_device(resumed) == cr.device("cpu")
    for k, v in whole.state_dict().items():
        same(v, resumed.state_dict()[k])


def test_a_model_saved_on_the_device_loads_on_the_cpu_unless_asked(fake_gpu, tmp_path):
    net = nn.MLP(3, [4], 2, rng=0).to("fake")
    io.save_model(tmp_path / "m.npz", net)
    loaded, _ = io.load_model(tmp_path / "m.npz")
    assert nn.module_device(loaded) == cr.device("cpu")
    there, _ = io.load_model(tmp_path / "m.npz", device="fake:1")
    assert nn.module_device(there) == cr.device("fake:1")
    x = cr.tensor(A)
    same(loaded(x), net(x.to("fake")))
    same(there(x.to("fake:1")), loaded(x))


# ====================================================================== estimators and the CLI
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimators_train_and_predict_on_the_device(fake_gpu):
    from chainrule.estimators import MLPClassifier, MLPRegressor

    X = rng.standard_normal((60, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    settings = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0, batch_size=16)
    cpu = MLPClassifier(**settings).fit(X, y)
    dev = MLPClassifier(**settings, device="fake").fit(X, y)
    assert nn.module_device(dev._model) == cr.device("fake:0")
    np.testing.assert_array_equal(cpu.predict_proba(X), dev.predict_proba(X))
    assert dev.loss_curve_ == cpu.loss_curve_
    reg_cpu = MLPRegressor(**settings, early_stopping=True).fit(X, X[:, 0])
    reg_dev = MLPRegressor(**settings, early_stopping=True, device="fake").fit(X, X[:, 0])
    np.testing.assert_array_equal(reg_cpu.predict(X), reg_dev.predict(X))
    part = MLPClassifier(**settings, device="fake").partial_fit(X[:30], y[:30], classes=[0, 1, 2])
    part.partial_fit(X[30:], y[30:])
    assert part.predict(X).shape == (60,) and nn.module_device(part._model) == cr.device("fake:0")
    with pytest.raises(DeviceError, match="unknown device 'tpu'"):
        MLPClassifier(**settings, device="tpu").fit(X, y)


def test_cli_train_runs_on_the_device_and_resumes_on_the_cpu(fake_gpu, tmp_path, capsys):
    from chainrule import cli

    args = ["train", "--data", "spiral", "--n-samples", "150", "--hidden", "8", "--epochs", "3", "--json"]
    assert cli.main(args + ["--out", str(tmp_path / "cpu")]) == 0
    cpu = json.loads(capsys.readouterr().out)
    assert cli.main(args + ["--out", str(tmp_path / "dev"), "--device", "fake"]) == 0
    dev = json.loads(capsys.readouterr().out)
    assert dev["test"] == cpu["test"]
    a, _ = io.load_model(tmp_path / "cpu" / "model.npz")
    b, _ = io.load_model(tmp_path / "dev" / "model.npz")
    for k, v in a.state_dict().items():
        same(v, b.state_dict()[k])
    assert cli.main(["train", "--resume", str(tmp_path / "dev"), "--device", "cpu", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["test"] == cpu["test"]


def test_layers_built_with_device_are_the_seeded_cpu_layer_moved_there(fake_gpu):
    # PyTorch's device= on a layer's constructor: the parameters (and BatchNorm's buffers) are
    # on that device, equal to the same seeded layer built on the CPU (drawn on the host, then
    # moved), and an unknown device is refused by name before anything is built.
    built = [(nn.Linear(3, 4, rng=0), lambda d: nn.Linear(3, 4, rng=0, device=d)),
             (nn.Conv2d(2, 3, 3, padding=1, rng=1), lambda d: nn.Conv2d(2, 3, 3, padding=1, rng=1, device=d)),
             (nn.Conv1d(2, 3, 3, rng=2), lambda d: nn.Conv1d(2, 3, 3, rng=2, device=d)),
             (nn.BatchNorm2d(3), lambda d: nn.BatchNorm2d(3, device=d))]
    for cpu_layer, make in built:
        layer = make("fake:1")
        assert nn.module_device(layer) == cr.device("fake:1")
        assert all(cr.device_of(b) == cr.device("fake:1") for _, b in layer.named_buffers())
        for (name, p), (_, q) in zip(layer.named_parameters(), cpu_layer.named_parameters()):
            assert type(p.data) is fakegpu.FakeArray, name
            same(p.data, q.data)
        with pytest.raises(ValueError, match="'tpu'"):
            make("tpu")


# ====================================================================== a GPU that is not the current one
# CuPy makes new arrays, and runs kernels, on its current GPU; the fake does the same and refuses
# work on another device's arrays. Ops, layers, losses and the update enter their tensors'
# device (as PyTorch's device guard does), so tensors on "cuda:1" work outside `fit` too.
W3 = np.array([0.5, 2.0, 1.0])
Y4 = np.array([0, 2, 1, 2])
OFF_CURRENT = [
    ("numbers of every kind", lambda a: a + 1.0 + a * np.float32(2) - a * np.int64(3) + np.bool_(True) + 2,
     [rng.standard_normal((4, 3))]),
    ("weighted, smoothed and ignoring losses",
     lambda s: F.cross_entropy(s, Y4, weight=W3, label_smoothing=0.1) + F.nll_loss(F.log_softmax(s), Y4, weight=W3)
     + F.cross_entropy(s, np.array([0, -100, 1, 2])) + F.multiclass_hinge(s, Y4)
     + F.binary_cross_entropy_with_logits(s, np.eye(4, 3), weight=W3)
     + F.mse(s, np.ones((4, 3))) + F.huber_loss(s, np.zeros((4, 3))) + F.smooth_l1_loss(s, np.zeros((4, 3)), beta=0.5),
     [rng.standard_normal((4, 3))]),
    ("layers and loss modules", lambda x: nn.CrossEntropyLoss()(
        nn.Sequential(nn.Linear(3, 5, rng=0), nn.LayerNorm(5), nn.LeakyReLU(0.1), nn.Linear(5, 3, rng=1)).to(x.device)(x), Y4),
     [rng.standard_normal((4, 3))]),
    ("clip by tensors and masked fill", lambda a, lo: a.clip(lo, 0.5).masked_fill(a > 0.4, 0.0).sum() + a.clamp(-0.2),
     [rng.standard_normal((4, 3)), np.full(3, -0.3)]),
]


@pytest.mark.parametrize("name, fn, arrays", OFF_CURRENT, ids=[o[0] for o in OFF_CURRENT])
def test_work_on_a_gpu_that_is_not_the_current_one_runs_there(fake_gpu, name, fn, arrays):
    fakegpu.same_on_cpu_and_fake(fn, arrays)  # on "fake:1" while "fake:0" is current


def test_one_hot_and_dropout_make_their_arrays_on_the_inputs_device(fake_gpu):
    labels = cr.tensor([0, 2, 1], device="fake:1")
    assert F.one_hot(labels, 3).device == cr.device("fake:1") and F.one_hot(labels, 3).tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    x = cr.ones(2, 4, device="fake:1")
    same(F.dropout(x, 0.5, rng=3), F.dropout(cr.ones(2, 4), 0.5, rng=3))
    assert F.dropout(x, 0.5, rng=3).device == cr.device("fake:1")


def test_bounds_conditions_indices_and_tensor_targets_on_another_device_are_errors_naming_both(fake_gpu):
    t = cr.ones(3, device="fake")
    with pytest.raises(DeviceError, match=r"'where': tensors on two devices, fake:0 \(input 0\) and cpu \(condition\)"):
        cr.where(np.array([True, False, True]), t, t)
    with pytest.raises(DeviceError, match=r"clip: tensors on two devices, fake:0 \(x\) and cpu \(min\)"):
        t.clip(cr.zeros(3), None)
    with pytest.raises(DeviceError, match=r"clip: tensors on two devices, cpu \(x\) and fake:0 \(max\)"):
        cr.ones(3).clip(None, t)
    with pytest.raises(DeviceError, match=r"'getitem': tensors on two devices, cpu \(input 0\) and fake:0 \(index\)"):
        cr.ones(3)[cr.tensor([0], dtype="int64", device="fake")]
    scores = cr.ones(2, 3, device="fake")
    # A tensor target is a tensor: never copied between devices, by any loss (host labels do follow).
    for loss, target in [(nn.CrossEntropyLoss(), cr.tensor([0, 2])), (nn.MSELoss(), cr.zeros(2, 3)),
                         (nn.L1Loss(), cr.zeros(2, 3)), (F.multiclass_hinge, cr.tensor([0, 2])),
                         (F.binary_cross_entropy_with_logits, cr.zeros(2, 3))]:
        with pytest.raises(DeviceError, match=r"tensors on two devices, fake:0 \((scores|prediction)\) and cpu \(target\)"):
            loss(scores, target)
    with pytest.raises(DeviceError, match=r"cross_entropy: tensors on two devices, fake:0 \(scores\) and cpu \(weight\)"):
        F.cross_entropy(scores, np.array([0, 1]), weight=cr.ones(3))
    assert F.cross_entropy(scores, np.array([0, 1])).device == cr.device("fake:0")  # host labels follow
