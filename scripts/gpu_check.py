"""Issue 14's GPU checks and GPU benchmark in one run: everything a session with a lent GPU measures.

    PYTHONPATH=src python3 scripts/gpu_check.py --out "$OUT"          # on the GPU machine (≤ 8 min)
    PYTHONPATH=src python3 scripts/gpu_check.py --out /tmp/g --quick  # a smoke run (fewer repeats)

It installs nothing: CuPy and PyTorch are expected on that machine (without CuPy or without a
GPU it says so, writes ``gpu_check.json`` with ``"gpu": false`` and exits 0). What it writes to
``--out/gpu_check.json``:

- ``machine``: GPU name, CUDA runtime, CuPy / PyTorch / NumPy versions, date;
- ``checks``: one entry per check, ``ok`` or the error — every op family, the layers (Linear,
  Conv1d/2d, pooling, BatchNorm, LayerNorm, Dropout), ``fit`` with every optimizer and dropout
  on the GPU against the CPU, a model saved on the GPU and loaded on the CPU, and ``fit`` with
  ``capture=True`` against ``capture=False`` on the GPU;
- ``benchmark``: issue 14's table, µs per step over an epoch of 65,536 examples, float32, one
  process, alternating chainrule eager, chainrule captured and PyTorch CUDA eager (best of the
  repeats), with the ratios to PyTorch and the issue's targets.

"Captured" is ``CapturedSteps``: each batch shape's ops recorded once, then its whole step
(forward, loss, backward, SGD update) recorded as a CUDA graph (CuPy's stream capture) and
launched once a step (``chainrule.train.capture.GraphStep``). The checks and each benchmark row
say how many steps ran as graph launches; a shape whose graph could not be recorded says why
(``reasons``) and replays its ops without one.

The script stops starting new work after ``--budget`` seconds (default 420) and writes what it
has; every result is written as it comes (a killed run still leaves its JSON).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

# issue 14: (sizes, batch) -> (PyTorch eager µs per step measured on an H200, eager target, captured target)
TABLE = [
    ((784, 256, 256, 10), 128, "908-933", 1.0, 0.3),
    ((784, 256, 256, 10), 1024, "1225-1320", 1.0, 0.5),
    ((784, 2048, 2048, 10), 1024, "1049-1058", 1.0, 1.0),
    ((784, 2048, 2048, 10), 8192, "5709", 1.0, 1.0),
]
EPOCH = 65_536


class Report:
    """The results so far, rewritten to ``path`` after every addition."""

    def __init__(self, path: Path, start: float, budget: float):
        self.path, self.start, self.budget = path, start, budget
        self.data = {"gpu": None, "checks": [], "benchmark": [], "failures": 0}

    def write(self):
        self.data["seconds"] = round(time.perf_counter() - self.start, 1)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, default=str))
        os.replace(tmp, self.path)

    def out_of_time(self) -> bool:
        return time.perf_counter() - self.start > self.budget

    def check(self, name, fn):
        if self.out_of_time():
            self.data["checks"].append({"name": name, "status": "skipped (time budget)"})
            print(f"skip  {name}: time budget")
            return
        try:
            fn()
            self.data["checks"].append({"name": name, "status": "ok"})
            print(f"ok    {name}")
        except Exception as exc:  # report and go on: the point is the whole list
            self.data["failures"] += 1
            self.data["checks"].append({"name": name, "status": "FAIL", "error": f"{type(exc).__name__}: {exc}"[:500],
                                        "traceback": traceback.format_exc(limit=4)[-2000:]})
            print(f"FAIL  {name}: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}")
        self.write()


def find_gpu():
    """(cupy, None) when CuPy sees a GPU, else (None, the reason)."""
    try:
        import cupy
    except ImportError:
        return None, "CuPy is not installed (pip install \"chainrule[cuda]\")"
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as exc:  # CuPy raises its own CUDARuntimeError without a driver or device
        return None, f"CuPy sees no GPU: {type(exc).__name__}: {exc}"
    if count == 0:
        return None, "CuPy sees no GPU (0 devices)"
    return cupy, None


def machine(cupy):
    info = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "python": platform.python_version(), "numpy": np.__version__, "cpu": platform.processor() or platform.machine()}
    if cupy is not None:
        props = cupy.cuda.runtime.getDeviceProperties(0)
        name = props["name"]
        info.update(gpu=name.decode() if isinstance(name, bytes) else name, cupy=cupy.__version__,
                    cuda_runtime=cupy.cuda.runtime.runtimeGetVersion(),
                    gpu_memory_gib=round(props["totalGlobalMem"] / 2**30, 1))
        try:  # PyTorch is the benchmark's yardstick, only where there is a GPU
            import torch

            info.update(torch=torch.__version__, torch_cuda=torch.cuda.is_available())
        except ImportError:
            info.update(torch=None)
    return info


# ---------------------------------------------------------------------------------- checks
def run_checks(report: Report, cr, F, gpu="cuda"):
    """Every check, on device ``gpu`` against the CPU (the tests' fake GPU can stand in for CUDA)."""
    to_np = cr.to_host
    rng = np.random.default_rng(0)

    def on(dev, a):
        return cr.tensor(a, dtype=a.dtype, requires_grad=a.dtype.kind == "f", device=dev)

    def close(a, b, rtol=1e-4, atol=1e-5):
        np.testing.assert_allclose(to_np(a), to_np(b), rtol=rtol, atol=atol)

    def op_check(fn, *arrays):
        def run():
            results = []
            for dev in ("cpu", gpu):
                ts = [on(dev, a) for a in arrays]
                out = fn(*ts)
                (out.sum() if out.size > 1 else out).backward()
                assert out.device == cr.device(dev), out.device
                results.append((out.data, [t.grad for t in ts]))
            (a, ga), (b, gb) = results
            close(a, b)
            for x, y in zip(ga, gb):
                if x is not None:
                    close(x, y)
        return run

    A = rng.standard_normal((4, 3)).astype(np.float32)
    B = rng.standard_normal((3,)).astype(np.float32)
    P = rng.uniform(0.5, 2, (4, 3)).astype(np.float32)
    W = rng.standard_normal((5, 3)).astype(np.float32)
    b5 = rng.standard_normal(5).astype(np.float32)
    y = np.array([0, 2, 1, 4])
    ops = {
        "add/mul/sub/div broadcast": (lambda a, b: (a + b) * a - a / (b.abs() + 1), A, B),
        "exp/log/sqrt/reciprocal/pow": (lambda p: p.exp() + p.log() + p.sqrt() + p.reciprocal() + p ** 3, P),
        "relu/sigmoid/tanh/abs/clip": (lambda a: a.relu() + a.sigmoid() + a.tanh() + a.abs() + a.clip(-0.5, 0.5), A),
        "maximum/minimum/where": (lambda a, b: cr.maximum(a, b) + cr.minimum(a, b) + cr.where(a > 0, a, b), A, B),
        "matmul 2-D and 1-D": (lambda a, b: (a @ b).sum() + (a.T @ a).sum(), A, B),
        "sum/mean/max/min axes": (lambda a: a.sum(axis=0).sum() + a.mean(axis=1).sum() + a.max(axis=1).sum() + a.min(), A),
        "reshape/transpose/getitem": (lambda a: a.reshape(3, 4).T[1:, ::2].sum()
                                      + a[np.arange(4), np.array([0, 1, 2, 0])].sum(), A),
        "concatenate/stack": (lambda a: cr.concatenate([a, a * 2], axis=1).sum() + cr.stack([a, a], axis=0).sum(), A),
        "linear / linear_relu": (lambda a, w, b: cr.linear(a, w, b).sum() + F.linear_relu(a, w, b).sum(), A, W, b5),
        "softmax / log_softmax": (lambda a: F.softmax(a).max() + F.log_softmax(a).sum(), A),
        "cross_entropy": (lambda a, w, b: F.cross_entropy(cr.linear(a, w, b), y), A, W, b5),
        "multiclass_hinge": (lambda a, w, b: F.multiclass_hinge(cr.linear(a, w, b), y), A, W, b5),
        "binary losses": (lambda a: F.binary_cross_entropy_with_logits(a[:, 0], np.array([0, 1, 1, 0]))
                          + F.binary_hinge(a[:, 1], np.array([-1, 1, 1, -1])), A),
    }
    for name, (fn, *arrays) in ops.items():
        report.check(f"op: {name}", op_check(fn, *arrays))

    # Layers: the same weights on both devices, forward and every gradient compared.
    nn = cr.nn
    layers = {
        "Linear": (lambda: nn.Linear(6, 4, rng=0), (5, 6)),
        "Conv1d": (lambda: nn.Conv1d(2, 3, 3, padding=1, rng=0), (4, 2, 9)),
        "Conv2d (stride, padding)": (lambda: nn.Conv2d(2, 3, 3, stride=2, padding=1, rng=0), (2, 2, 7, 7)),
        "MaxPool2d / AvgPool2d": (lambda: nn.Sequential(nn.MaxPool2d(2), nn.AvgPool2d(2)), (2, 3, 8, 8)),
        "BatchNorm2d (training)": (lambda: nn.BatchNorm2d(3), (4, 3, 5, 5)),
        "LayerNorm": (lambda: nn.LayerNorm(6), (5, 6)),
        "CNN layer string": (lambda: nn.CNN((1, 8, 8), 3, "c4-m2", rng=0), (3, 1, 8, 8)),
    }

    def layer_check(make, shape):
        def run():
            x = rng.standard_normal(shape).astype(np.float32)
            results = []
            for dev in ("cpu", gpu):
                layer = make().to(dev)
                xt = on(dev, x)
                out = layer(xt)
                out.sum().backward()
                results.append((out.data, xt.grad, [p.grad for p in layer.parameters()]))
            (a, ga, pa), (b, gb, pb) = results
            close(a, b)
            close(ga, gb)
            for u, v in zip(pa, pb):
                close(u, v)
        return run

    for name, (make, shape) in layers.items():
        report.check(f"layer: {name}", layer_check(make, shape))

    def dropout():
        layer = nn.Dropout(0.5).to(gpu)
        out = layer(on(gpu, np.ones((200, 50), np.float32)))
        host = to_np(out.data)
        assert out.device == cr.device(gpu) and set(np.unique(host)) <= {0.0, 2.0}
        assert 0.4 < (host == 0).mean() < 0.6, (host == 0).mean()
    report.check("layer: Dropout draws its mask on the GPU", dropout)

    # Training: every optimizer with dropout, CPU against GPU; save on the GPU, load on the CPU.
    X = rng.standard_normal((64, 10)).astype(np.float32)
    Y = rng.integers(0, 3, 64)

    def fit_check(name):
        def run():
            weights = {}
            for dev in ("cpu", gpu):
                net = cr.nn.MLP(10, [32, 32], 3, dropout=0.1, rng=0)
                options = {"rng": 0} if name.startswith("random") else {}
                cr.fit(net, X, Y, optimizer=name, lr=1e-2, epochs=3, batch_size=16, device=dev,
                       optimizer_options=options)
                assert cr.nn.module_device(net) == cr.device(dev)
                weights[dev] = net.state_dict()
                if dev == gpu:
                    from chainrule import io

                    path = Path(tempfile.mkdtemp()) / "net.npz"
                    io.save_model(path, net)
                    loaded, _ = io.load_model(path)
                    assert cr.nn.module_device(loaded) == cr.device("cpu")
                    np.testing.assert_allclose(cr.train.predict_scores(loaded, X), cr.train.predict_scores(net, X),
                                               rtol=1e-5, atol=1e-5)
            for k in weights["cpu"]:
                np.testing.assert_allclose(weights["cpu"][k], weights[gpu][k], rtol=1e-3, atol=1e-4)
        return run

    for name in sorted(cr.optim.OPTIMIZERS):
        report.check(f"fit: {name} with dropout, CPU = GPU; saved on the GPU, loaded on the CPU", fit_check(name))

    def capture_check(optimizer):
        def run():
            from chainrule.train import TrainConfig, Trainer

            weights = {}
            for capture in (False, True):
                net = cr.nn.MLP(10, [32, 32], 3, rng=0)
                trainer = Trainer(net, X, Y, TrainConfig(optimizer=optimizer, lr=1e-2, epochs=3, batch_size=16),
                                  device=gpu, capture=capture)
                trainer.run()
                weights[capture] = net.state_dict()
            graphs = trainer.captured.graphs
            # 64 rows in batches of 16: 12 steps, the first two record (ops, then the graph)
            assert {s: (g.launches, g.recordings) if g else g for s, g in graphs.items()} == {(16, 10): (11, 1)}, \
                (graphs, trainer.captured.reasons)
            for k in weights[False]:
                np.testing.assert_allclose(weights[False][k], weights[True][k], rtol=1e-5, atol=1e-6)
        return run

    for optimizer in ("sgd", "momentum", "adam"):
        report.check(f"fit(capture=True) = fit(capture=False) on the GPU, {optimizer}", capture_check(optimizer))


# ---------------------------------------------------------------------------------- benchmark
def run_benchmark(report: Report, cr, F, cupy, repeats: int, gpu="cuda", table=TABLE, epoch=EPOCH):
    """Issue 14's table on device ``gpu``: chainrule eager and captured beside PyTorch CUDA eager."""
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None and not torch.cuda.is_available():
        torch = None
    from chainrule.train import CapturedSteps
    from types import SimpleNamespace

    for sizes, batch, torch_h200, eager_target, captured_target in table:
        if report.out_of_time():
            report.data["benchmark"].append({"net": "-".join(map(str, sizes)), "batch": batch,
                                             "status": "skipped (time budget)"})
            continue
        row = {"net": "-".join(map(str, sizes)), "batch": batch, "torch_h200_2026_11_27_us": torch_h200,
               "targets": {"eager": eager_target, "captured": captured_target}}
        try:
            rng = np.random.default_rng(0)
            X = cupy.asarray(rng.standard_normal((epoch, sizes[0]), dtype=np.float32))
            y = rng.integers(0, sizes[-1], epoch)
            y_dev = cupy.asarray(y)
            steps = epoch // batch
            fns = {}

            model = cr.nn.MLP(sizes[0], list(sizes[1:-1]), sizes[-1], rng=0).to(gpu)
            opt = cr.optim.SGD(model.parameters(), lr=0.01)

            def eager():
                for s in range(steps):
                    xb = cr.Tensor(X[s * batch:(s + 1) * batch])
                    loss = F.cross_entropy(model(xb), y_dev[s * batch:(s + 1) * batch])
                    opt.zero_grad()
                    loss.backward(keep_grads=False)
                    opt.step()
                cupy.cuda.Device().synchronize()
            fns["chainrule_eager"] = eager

            cmodel = cr.nn.MLP(sizes[0], list(sizes[1:-1]), sizes[-1], rng=0).to(gpu)
            trainer = SimpleNamespace(model=cmodel, optimizer=cr.optim.SGD(cmodel.parameters(), lr=0.01),
                                      loss=lambda out, target: F.cross_entropy(out, target))
            captured = CapturedSteps()
            xs = [cr.Tensor(X[s * batch:(s + 1) * batch]) for s in range(steps)]
            ys = [y_dev[s * batch:(s + 1) * batch] for s in range(steps)]

            def replay():
                for xb, yb in zip(xs, ys):
                    captured.step(trainer, xb, yb)
                cupy.cuda.Device().synchronize()
            fns["chainrule_captured"] = replay

            if torch is not None:
                layers = []
                for a, b in zip(sizes[:-1], sizes[1:]):
                    layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
                tnet = torch.nn.Sequential(*layers[:-1]).cuda()
                topt = torch.optim.SGD(tnet.parameters(), lr=0.01)
                tX = torch.as_tensor(X, device="cuda")
                ty = torch.as_tensor(y, device="cuda")
                lossf = torch.nn.CrossEntropyLoss()

                def torch_eager():
                    for s in range(steps):
                        loss = lossf(tnet(tX[s * batch:(s + 1) * batch]), ty[s * batch:(s + 1) * batch])
                        topt.zero_grad()
                        loss.backward()
                        topt.step()
                    torch.cuda.synchronize()
                fns["torch_eager"] = torch_eager

            best = {k: float("inf") for k in fns}
            for f in fns.values():  # warm-up: kernels compiled, memory pools filled, the step recorded
                f()
            for _ in range(repeats):  # A B C A B C …, best of each
                for k, f in fns.items():
                    start = time.perf_counter()
                    f()
                    best[k] = min(best[k], time.perf_counter() - start)
            row["us_per_step"] = {k: round(v / steps * 1e6, 1) for k, v in best.items()}
            graph = captured.graphs.get((batch, sizes[0]))
            row["graph"] = ({"launches": graph.launches, "recordings": graph.recordings} if graph else
                            {"none": captured.reasons.get((batch, sizes[0]), "not recorded")})
            if "torch_eager" in best:
                row["ratio_to_torch"] = {k: round(best[k] / best["torch_eager"], 3)
                                         for k in ("chainrule_eager", "chainrule_captured")}
                row["met"] = {"eager": row["ratio_to_torch"]["chainrule_eager"] <= eager_target,
                              "captured": row["ratio_to_torch"]["chainrule_captured"] <= captured_target}
            row["status"] = "ok"
            print(f"bench {row['net']} b{batch}: {row['us_per_step']}  {row.get('ratio_to_torch', '')}")
        except Exception as exc:
            report.data["failures"] += 1
            row.update(status="FAIL", error=f"{type(exc).__name__}: {exc}"[:500],
                       traceback=traceback.format_exc(limit=4)[-2000:])
            print(f"FAIL  bench {row['net']} b{batch}: {type(exc).__name__}: {exc}")
        report.data["benchmark"].append(row)
        report.write()
        cupy.get_default_memory_pool().free_all_blocks()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu_results")))
    parser.add_argument("--budget", type=float, default=420.0, help="seconds after which no new check starts")
    parser.add_argument("--quick", action="store_true", help="one timed repeat per benchmark row")
    parser.add_argument("--skip-checks", action="store_true", help="only the benchmark table")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    report = Report(args.out / "gpu_check.json", time.perf_counter(), args.budget)
    cupy, reason = find_gpu()
    report.data["machine"] = machine(cupy)
    if cupy is None:
        report.data.update(gpu=False, reason=reason)
        report.write()
        print(f"no GPU here: {reason}; nothing to check (wrote {report.path})")
        return 0
    report.data["gpu"] = True
    report.write()
    try:
        import chainrule as cr
        from chainrule.nn import functional as F
    except ImportError as exc:  # run from the repository root with PYTHONPATH=src, or pip install -e .
        report.data.update(failures=1, error=f"cannot import chainrule: {exc}")
        report.write()
        print(f"cannot import chainrule: {exc} (PYTHONPATH=src, or pip install -e . --no-deps)")
        return 1

    if not args.skip_checks:
        run_checks(report, cr, F)
    run_benchmark(report, cr, F, cupy, repeats=1 if args.quick else 3)
    report.write()
    print(f"{report.data['failures']} failure(s); wrote {report.path} in {report.data['seconds']} s")
    return 1 if report.data["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
