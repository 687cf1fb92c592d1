import os

# Hypothesis: deterministic in CI so a red run can be reproduced; no deadline (shared 2-core box).
from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=30, print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=30)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    # The suite's matrices are small: on a shared 2-core machine two BLAS threads only contend
    # (a digits MLP trained in 4 s instead of 0.5 s). The environment variables stay untouched.
    with threadpool_limits(limits=1):
        yield


@pytest.fixture
def fake_gpu():
    """The fake GPU (tests/fakegpu.py) registered as device type "fake" for one test; yields
    "fake:1", a device that is not the current one: code that makes an array without entering
    its tensors' device fails there, as on a second CUDA GPU."""
    import fakegpu

    fakegpu.install()
    try:
        yield "fake:1"
    finally:
        fakegpu.uninstall()


@pytest.fixture(params=["cpu", "fake"])
def any_device(request):
    """Each device-relevant test runs twice: on the CPU and on the fake GPU."""
    if request.param == "cpu":
        yield "cpu"
    else:
        yield request.getfixturevalue("fake_gpu")
