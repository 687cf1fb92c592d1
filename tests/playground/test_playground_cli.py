"""``chainrule playground``: a real server process, stopped with Ctrl-C (SIGINT)."""
import re
import signal
import subprocess
import sys

import httpx
import pytest

from chainrule.cli import main

pytest.importorskip("starlette")


def test_serves_prints_its_url_and_stops_cleanly_on_ctrl_c():
    proc = subprocess.Popen([sys.executable, "-m", "chainrule", "playground", "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert url, line
        page = httpx.get(url.group(0), timeout=10)
        assert page.status_code == 200 and "chainrule playground" in page.text
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
    finally:
        proc.kill()
    assert "Traceback" not in proc.stderr.read()


@pytest.mark.parametrize("argv, message", [
    (["--host", "0.0.0.0"], "--host 0.0.0.0 is not a loopback address"),
    (["--port", "70000"], "--port: must be a whole number in [0, 65535]; got 70000"),
    (["--port", "-1"], "--port: must be a whole number in [0, 65535]; got -1"),
])
def test_refuses_bad_arguments(argv, message, capsys):
    assert main(["playground", "--no-browser", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("chainrule: error:") and message in err and len(err.splitlines()) == 1


def test_without_the_extra_it_says_what_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "starlette", None)  # what an install without the extra sees
    assert main(["playground", "--no-browser"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err == "chainrule: error: the playground needs its extra: pip install 'chainrule[playground]' (missing: starlette)\n"
