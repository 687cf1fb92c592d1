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
