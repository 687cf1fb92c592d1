"""Timing harness for chainrule's performance yardsticks.

``compare`` runs contestants in turn, A B C A B C ..., and keeps each one's best time: drifting
clocks, other processes and warm caches then hit every contestant alike, and the best of several
runs is the least disturbed one. Threads are pinned (one BLAS thread by default) and recorded, and
``write_results`` stores the machine next to the numbers.

Adding a contestant is adding an entry to the dict, e.g. for chainrule::

    fns = mlp_epoch_fns(batch_size=128)          # {"numpy": ..., "torch": ...}
    fns["chainrule"] = lambda: chainrule_epoch(...)
    best = compare(fns, repeats=5, threads=1)    # {"numpy": 0.23, "torch": ..., "chainrule": ...}

Run the reference suite (prints a table, writes JSON)::

    python benchmarks/harness.py --threads 1 2 --out benchmarks/results.json
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

__all__ = [
    "compare",
    "compare_detailed",
    "thread_limits",
    "blas_info",
    "machine_info",
    "peak_memory",
    "write_results",
    "mlp_epoch_fns",
    "tiny_step_fns",
    "demo_step_fns",
    "reference_suite",
]

MLP_SIZES = [784, 256, 256, 10]
TINY_SIZES = [2, 16, 16, 2]
N_EXAMPLES = 16_384
LR = 0.01
# Seconds to sleep before each timing when several threads run: without it, on two cores, an
# epoch that takes 0.15 s was measured at 8 s right after torch's spinning OpenMP threads.
DEFAULT_PAUSE = 0.25

# Read and recorded, never set: they change which kernels OpenBLAS picks.
BLAS_ENV_VARS = (
    "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
    "MKL_NUM_THREADS", "MKL_DEBUG_CPU_TYPE",
)


# --------------------------------------------------------------------------------------------
# threads, machine
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def thread_limits(threads: int = 1) -> Iterator[None]:
    """Limit BLAS and OpenMP pools (threadpoolctl) and torch's intra-op pool to ``threads``."""
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(limits=threads):
        if torch is not None:
            torch.set_num_threads(threads)
        try:
            yield
        finally:
            if torch is not None:
                torch.set_num_threads(before)


def blas_info() -> list[dict[str, Any]]:
    """threadpoolctl's view of the loaded BLAS / OpenMP libraries, thread counts included."""
    return [
        {key: value for key, value in pool.items() if key != "filepath"}
        | {"file": Path(pool.get("filepath", "")).name}
        for pool in threadpool_info()
    ]


def _torch_threads() -> int | None:
    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else None


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _loadavg() -> list[float] | None:
    # Other processes on the machine are the main source of noise, worst with several threads.
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine_info() -> dict[str, Any]:
    """CPU, Python, NumPy, BLAS and the versions of the other contestants."""
    try:
        usable_cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        usable_cpus = os.cpu_count()
    return {
        "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable_cpus,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "loadavg": _loadavg(),
        "numpy": np.__version__,
        "blas": blas_info(),
        "blas_env": {name: os.environ.get(name) for name in BLAS_ENV_VARS},
        "versions": {name: _version(name) for name in ("chainrule", "torch", "micrograd",
                                                       "threadpoolctl")},
    }


# --------------------------------------------------------------------------------------------
# timing and memory
# --------------------------------------------------------------------------------------------


def compare_detailed(
    fns: Mapping[str, Callable[[], Any]],
    *,
    repeats: int = 5,
    warmup: int = 1,
    number: int | Mapping[str, int] = 1,
    threads: int = 1,
    pause: float | None = None,
) -> dict[str, Any]:
    """Like ``compare``, and also every timing, the thread settings and the BLAS in use."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats} and {warmup}")
    if pause is None:
        pause = DEFAULT_PAUSE if threads > 1 else 0.0
    numbers = {name: number.get(name, 1) if isinstance(number, Mapping) else number
               for name in fns}
    times: dict[str, list[float]] = {name: [] for name in fns}
    load_before = _loadavg()
    with thread_limits(threads):
        pools = blas_info()
        torch_threads = _torch_threads()
        for round_ in range(warmup + repeats):
            for name, fn in fns.items():
                # Garbage left by one contestant must not be collected on another's clock, and
                # its idle worker threads, which spin for a while before they sleep, must not
                # compete with the next one for cores.
                gc.collect()
                if pause:
                    time.sleep(pause)
                n = numbers[name]
                start = time.perf_counter()
                for _ in range(n):
                    fn()
                elapsed = (time.perf_counter() - start) / n
                if round_ >= warmup:
                    times[name].append(elapsed)
    return {
        "best": {name: min(t) for name, t in times.items()},
        "times": times,
        "number": numbers,
        "repeats": repeats,
        "warmup": warmup,
        "threads": threads,
        "pause": pause,
        "torch_threads": torch_threads,
        "threadpools": pools,
        "loadavg_before": load_before,
        "loadavg_after": _loadavg(),
    }


def compare(
    fns: Mapping[str, Callable[[], Any]],
    *,
    repeats: int = 5,
    warmup: int = 1,
    number: int | Mapping[str, int] = 1,
    threads: int = 1,
    pause: float | None = None,
) -> dict[str, float]:
    """Best seconds per call of each function, timed in turn: A B C A B C ...

    ``warmup`` rounds run first and are not kept; then ``repeats`` rounds, each timing ``number``
    calls of every function (a dict gives each its own ``number``, 1 where absent) and
    dividing by it. BLAS,
    OpenMP and torch are held to ``threads`` threads while it runs. ``pause`` seconds of sleep
    before each timing let the previous contestant's spinning worker threads go idle (OpenBLAS
    and OpenMP spin for up to a fraction of a second after their last task, and would steal
    cores from whoever runs next); by default 0.25 s with ``threads > 1``, none with one thread.
    """
    return compare_detailed(fns, repeats=repeats, warmup=warmup, number=number,
                            threads=threads, pause=pause)["best"]


def peak_memory(fn: Callable[[], Any]) -> int:
    """Peak bytes allocated while ``fn()`` runs, as tracemalloc sees them.

    NumPy reports its array buffers to tracemalloc and Python objects are traced too, so this
    counts what NumPy-based code (chainrule included) allocates. torch's allocator is invisible
    to it: do not compare torch with this number.
    """
    gc.collect()
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return peak - base


def write_results(path: str | os.PathLike, results: Mapping[str, Any]) -> Path:
    """Write ``{"machine": machine_info(), "results": results}`` as JSON, atomically."""
    path = Path(path)
    text = json.dumps({"machine": machine_info(), "results": results}, indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


# --------------------------------------------------------------------------------------------
# the reference workloads
# --------------------------------------------------------------------------------------------


def _import_reference(name: str):
    """benchmarks/<name>.py as a module, whatever the current directory."""
    if name in sys.modules:
        return sys.modules[name]
    here = Path(__file__).resolve().parent
    spec = importlib.util.spec_from_file_location(name, here / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def have(module: str) -> bool:
    """Whether ``module`` imports (torch and micrograd are optional contestants)."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def mnist_like(n: int = N_EXAMPLES, features: int = 784, classes: int = 10,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random float32 inputs in [0, 1) and int64 labels: the cost of a step ignores the values."""
    rng = np.random.default_rng(seed)
    return (rng.random((n, features), dtype=np.float32),
            rng.integers(0, classes, n, dtype=np.int64))


def mlp_epoch_fns(batch_size: int, sizes: list[int] = MLP_SIZES, n: int = N_EXAMPLES,
                  lr: float = LR, seed: int = 0) -> dict[str, Callable[[], Any]]:
    """One epoch of SGD over ``n`` examples per call, for each reference that is installed."""
    ref = _import_reference("reference_numpy")
    X, y = mnist_like(n, sizes[0], sizes[-1], seed)
    params = ref.make_mlp(sizes, seed)
    fns: dict[str, Callable[[], Any]] = {
        "numpy": lambda: ref.train_epoch(params, X, y, batch_size, lr)
    }
    if have("torch"):
        import torch

        rt = _import_reference("reference_torch")
        model = rt.from_numpy_params(ref.make_mlp(sizes, seed))
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        fns["torch"] = lambda: rt.train_epoch(model, opt, Xt, yt, batch_size)
    return fns


def tiny_step_fns(batch_size: int = 32, sizes: list[int] = TINY_SIZES, lr: float = LR,
                  seed: int = 0) -> dict[str, Callable[[], Any]]:
    """One SGD step per call of the tiny classifier on a fixed batch."""
    ref = _import_reference("reference_numpy")
    X, y = mnist_like(batch_size, sizes[0], sizes[-1], seed)
    params = ref.make_mlp(sizes, seed)
    fns: dict[str, Callable[[], Any]] = {"numpy": lambda: ref.train_step(params, X, y, lr)}
    if have("torch"):
        import torch

        rt = _import_reference("reference_torch")
        model = rt.from_numpy_params(ref.make_mlp(sizes, seed))
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        fns["torch"] = lambda: rt.train_step(model, opt, Xt, yt)
    return fns


def _cycling(step: Callable[[int], Any], period: int = 100) -> Callable[[], Any]:
    """A no-argument function that calls ``step(k)`` with k = 0, 1, ..., period - 1, 0, ..."""
    counter = iter(range(sys.maxsize))
    return lambda: step(next(counter) % period)


def demo_step_fns(seed: int = 0) -> dict[str, Callable[[], Any]]:
    """One full-batch step per call of micrograd's demo (2-16-16-1, 100 moons, hinge + L2)."""
    ref = _import_reference("reference_numpy")
    X, y = ref.moons(100, 0.1, seed)
    params = ref.make_demo_mlp(seed=seed)
    fns: dict[str, Callable[[], Any]] = {
        "numpy": _cycling(lambda k: ref.demo_step(params, X, y, 1.0 - 0.9 * k / 100))
    }
    if have("torch"):
        import torch

        rt = _import_reference("reference_torch")
        model = rt.make_demo_mlp(ref.make_demo_mlp(seed=seed))
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        fns["torch"] = _cycling(lambda k: rt.demo_step(model, Xt, yt, 1.0 - 0.9 * k / 100))
    if have("micrograd"):
        rm = _import_reference("reference_micrograd")
        mg = rm.make_model()
        fns["micrograd"] = _cycling(lambda k: rm.demo_step(mg, X, y, k))
    return fns


def _only(fns: dict[str, Callable[[], Any]], contestants: set[str] | None) -> dict:
    return fns if contestants is None else {k: v for k, v in fns.items() if k in contestants}


def reference_suite(threads: int = 1, repeats: int = 5, quick: bool = False,
                    contestants: set[str] | None = None) -> dict[str, Any]:
    """Time every reference workload with ``threads`` threads; seconds, best of ``repeats``.

    ``contestants`` keeps only those names ("numpy", "torch", "micrograd"); all by default.
    """
    n = 2048 if quick else N_EXAMPLES
    results: dict[str, Any] = {}
    for batch_size in (16, 128, 1024):
        fns = _only(mlp_epoch_fns(batch_size, n=n), contestants)
        detail = compare_detailed(fns, repeats=repeats, threads=threads)
        detail["unit"] = f"seconds per epoch of {n} examples"
        detail["steps_per_epoch"] = -(-n // batch_size)
        results[f"mlp_epoch_b{batch_size}"] = detail
    fns = _only(tiny_step_fns(32), contestants)
    detail = compare_detailed(fns, repeats=repeats, number=200, threads=threads)
    detail["unit"] = "seconds per step"
    results["tiny_step_b32"] = detail
    fns = _only(demo_step_fns(), contestants)
    per_call = {name: 1 if name == "micrograd" else 100 for name in fns}
    detail = compare_detailed(fns, repeats=repeats, number=per_call, threads=threads)
    detail["unit"] = "seconds per step"
    results["micrograd_demo_step"] = detail
    memory = {}
    with thread_limits(threads):
        for batch_size in (16, 128, 1024):
            fn = mlp_epoch_fns(batch_size, n=n)["numpy"]
            memory[f"mlp_epoch_b{batch_size}"] = peak_memory(fn)
    results["peak_memory_bytes_numpy"] = memory
    return results


def _print_table(results: Mapping[str, Any], threads: int) -> None:
    print(f"\n== {threads} thread(s) ==")
    for name, detail in results.items():
        if name.startswith("peak_memory"):
            for key, value in detail.items():
                print(f"{name:28s} {key:18s} {value / 2**20:9.2f} MiB")
            continue
        scale, unit = (1e3, "ms") if "epoch" in detail["unit"] else (1e6, "us")
        for contestant, best in detail["best"].items():
            spread = max(detail["times"][contestant]) / best
            print(f"{name:28s} {contestant:18s} {best * scale:9.2f} {unit}"
                  f"   (worst/best {spread:.2f})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time chainrule's reference workloads.")
    parser.add_argument("--threads", type=int, nargs="+", default=[1], choices=[1, 2],
                        help="BLAS/OpenMP/torch thread counts to run with (default: 1)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2,048 examples per epoch")
    parser.add_argument("--only", help="comma-separated contestants to keep, e.g. numpy,torch")
    parser.add_argument("--out", type=Path, help="write the results here as JSON")
    args = parser.parse_args(argv)
    contestants = set(args.only.split(",")) if args.only else None
    results = {}
    for threads in args.threads:
        results[f"threads_{threads}"] = reference_suite(threads, args.repeats, args.quick,
                                                        contestants)
        _print_table(results[f"threads_{threads}"], threads)
    if args.out:
        write_results(args.out, results)
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


# --------------------------------------------------------------------------------------------
# the convolutional workloads (issue 13): one spec builds the chainrule and the torch network
# --------------------------------------------------------------------------------------------

# name: (input shape per example, batch, layers). A layer is ("conv", in, out, k, stride, pad),
# ("conv1d", ...), ("relu",), ("maxpool", k), ("flatten",) or ("linear", in, out).
CNN_WORKLOADS = {
    "cnn_digits": ((1, 8, 8), 64, [("conv", 1, 16, 3, 1, 1), ("relu",), ("maxpool", 2),
                                   ("conv", 16, 32, 3, 1, 1), ("relu",), ("flatten",), ("linear", 32 * 4 * 4, 10)]),
    "cnn_lenet": ((1, 28, 28), 64, [("conv", 1, 16, 5, 1, 2), ("relu",), ("maxpool", 2),
                                    ("conv", 16, 32, 5, 1, 2), ("relu",), ("maxpool", 2), ("flatten",),
                                    ("linear", 32 * 7 * 7, 10)]),
    "cnn_cifar": ((3, 32, 32), 64, [("conv", 3, 32, 3, 1, 1), ("relu",), ("maxpool", 2),
                                    ("conv", 32, 64, 3, 1, 1), ("relu",), ("maxpool", 2), ("flatten",),
                                    ("linear", 64 * 8 * 8, 10)]),
    "cnn_signal": ((1, 40), 100, [("conv1d", 1, 25, 5, 2, 1), ("relu",), ("conv1d", 25, 25, 3, 2, 1), ("relu",),
                                  ("conv1d", 25, 25, 3, 2, 1), ("relu",), ("flatten",), ("linear", 25 * 5, 10)]),
}


def cnn_flops(name: str) -> int:
    """Floating-point operations of one training step (2 per multiply-add): the forward
    products, the weight gradients and the input gradients of every layer but the first."""
    shape, batch, layers = CNN_WORKLOADS[name]
    spatial, total, first = list(shape[1:]), 0, True
    for layer in layers:
        if layer[0] in ("conv", "conv1d"):
            _, c_in, c_out, k, s, p = layer
            spatial = [(n + 2 * p - k) // s + 1 for n in spatial]
            macs = batch * c_out * int(np.prod(spatial)) * c_in * k ** len(spatial)
            total += 2 * macs * (2 if first else 3)
            first = False
        elif layer[0] == "maxpool":
            spatial = [n // layer[1] for n in spatial]
        elif layer[0] == "linear":
            total += 2 * batch * layer[1] * layer[2] * 3
    return total


def cnn_step_fns(name: str, seed: int = 0, lr: float = LR) -> dict[str, Callable[[], Any]]:
    """One SGD step per call of a CNN workload for the installed references (torch only)."""
    fns: dict[str, Callable[[], Any]] = {}
    if have("torch"):
        import torch

        rt = _import_reference("reference_torch")
        shape, batch, layers = CNN_WORKLOADS[name]
        X, y = mnist_like(batch, int(np.prod(shape)), 10, seed)
        model = rt.make_cnn(layers, seed)
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        Xt, yt = torch.from_numpy(X.reshape(batch, *shape)), torch.from_numpy(y)
        fns["torch"] = lambda: rt.train_step(model, opt, Xt, yt)
    return fns
