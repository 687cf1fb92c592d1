"""scripts/gpu_check.py, the one prepared GPU run: without a GPU it says so and exits cleanly."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gpu_check.py"


def _gpu_here() -> bool:
    try:
        import cupy
    except ImportError:
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


@pytest.mark.skipif(_gpu_here(), reason="a GPU is here: the script would run every check")
def test_without_a_gpu_the_script_says_so_writes_its_json_and_exits_0(tmp_path):
    out = tmp_path / "results"
    done = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("no GPU here: ") and "gpu_check.json" in done.stdout
    report = json.loads((out / "gpu_check.json").read_text())
    assert report["gpu"] is False and report["failures"] == 0 and report["checks"] == []
    assert "CuPy" in report["reason"] and report["machine"]["numpy"]
    assert not done.stderr


def test_every_check_and_the_benchmark_pass_on_the_fake_gpu(fake_gpu, tmp_path):
    # The prepared GPU run, with the tests' fake GPU standing in for CUDA: a session that gets a
    # GPU should spend its minutes on the GPU, not on the script's own bugs.
    import time
    import types

    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import gpu_check
    finally:
        sys.path.remove(str(SCRIPT.parent))
    import chainrule as cr
    from chainrule.nn import functional as F
    import fakegpu

    report = gpu_check.Report(tmp_path / "gpu_check.json", time.perf_counter(), budget=600)
    gpu_check.run_checks(report, cr, F, gpu="fake")
    failed = [c for c in report.data["checks"] if c["status"] != "ok"]
    assert not failed and report.data["failures"] == 0
    names = [c["name"] for c in report.data["checks"]]
    assert len(names) == 33 and sum("capture=True" in n for n in names) == 3
    shim = types.SimpleNamespace(asarray=fakegpu.FAKE.asarray,  # what run_benchmark uses of CuPy
                                 cuda=types.SimpleNamespace(Device=lambda: types.SimpleNamespace(synchronize=lambda: None)),
                                 get_default_memory_pool=lambda: types.SimpleNamespace(free_all_blocks=lambda: None))
    gpu_check.run_benchmark(report, cr, F, shim, repeats=1, gpu="fake", table=[((20, 8, 3), 16, "-", 1.0, 0.3)],
                            epoch=128)
    (row,) = report.data["benchmark"]
    assert row["status"] == "ok", row
    # 8 steps of 16 per epoch, run twice (warm-up, then timed): the second step records the graph.
    assert row["graph"] == {"launches": 15, "recordings": 1}
    assert set(row["us_per_step"]) == {"chainrule_eager", "chainrule_captured"}
    assert json.loads((tmp_path / "gpu_check.json").read_text())["benchmark"][0]["graph"] == row["graph"]
