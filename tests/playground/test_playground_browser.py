"""The playground end to end: a real server on a free port, Debian's Chromium driven by Playwright.

The server is started here (``chainrule.playground.start``) and stopped at the end; nothing runs
by hand. Chromium is the system one (Playwright's own download does not work offline).
"""
import asyncio
import json
import threading
import time
import urllib.parse
from pathlib import Path

import httpx
import pytest

pytest.importorskip("starlette")
playwright_api = pytest.importorskip("playwright.sync_api")
websockets = pytest.importorskip("websockets")

from chainrule.playground import start  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (.ci/run installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def server():
    s = start()
    yield s
    s.stop()
    assert not s._thread.is_alive()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    pg = context.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert errors == []


def _trainings():
    return [t for t in threading.enumerate() if t.name == "chainrule-playground-training" and t.is_alive()]


def _wait(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


# ---------------------------------------------------------------- circuits
def test_the_xyz_preset_shows_minus_12_and_the_gradients(page, server):
    page.goto(server.url)
    page.wait_for_selector("#gradients li")
    assert page.inner_text("#output") == "f = -12.00"
    grads = {li.get_attribute("data-var"): float(li.get_attribute("data-grad"))
             for li in page.query_selector_all("#gradients li")}
    assert grads == {"x": -4.0, "y": -4.0, "z": 3.0}
    assert "∂f/∂x = -4.00" in page.inner_text("#gradients")
    wire_grads = sorted(t.text_content() for t in page.query_selector_all("#circuit-svg text.grad"))
    assert wire_grads == sorted(["-4.00", "-4.00", "3.00", "-4.00", "1.00"])  # x, y, z, q = x + y, f


def test_stepping_backward_visits_the_gates_in_reverse_topological_order(page, server):
    page.goto(server.url)
    page.wait_for_selector("#gradients li")
    page.select_option("#preset", "sigmoid")
    page.wait_for_function("document.querySelector('#output').textContent === 'f = 0.73'")
    labels, nodes = [], []
    for _ in range(8):
        page.click("#step")
        info = page.query_selector("#step-info")
        labels.append(info.get_attribute("data-label"))
        nodes.append(info.get_attribute("data-node"))
        current = page.query_selector_all("#circuit-svg g.gate.current")
        assert [g.get_attribute("data-id") for g in current] == [nodes[-1]]
    # the lecture's sigmoid circuit, backwards: 1/x, +1, exp, ·(−1), then the two adds and the two products
    assert labels == ["1/x", "+", "exp", "*-1", "+", "+", "*", "*"]
    wires = [(w.get_attribute("data-src"), w.get_attribute("data-dst")) for w in page.query_selector_all("#circuit-svg polyline")]
    for i, n in enumerate(nodes):  # each gate comes after every gate that consumes it
        assert all(dst in nodes[:i] or dst == "out" for src, dst in wires if src == n)
    last = page.inner_text("#step-info")  # the gate w0·x0: local gradients x0 and w0, upstream 0.20
    assert "∂f/∂w0 = local ∂gate/∂input -1.00 × upstream 0.20 = -0.20" in last
    assert "∂f/∂x0 = local ∂gate/∂input 2.00 × upstream 0.20 = 0.39" in last
    page.click("#step")
    assert page.query_selector("#step-info").get_attribute("data-node") == "done"


# ---------------------------------------------------------------- networks
def _open_network(page, server, **settings):
    query = urllib.parse.urlencode({"view": "networks", **settings})
    page.goto(f"{server.url}#{query}")
    page.wait_for_function("window.playground.lastUpdate !== undefined && window.playground.lastUpdate.epoch === 0")


def test_a_spiral_network_trains_live_its_test_loss_falls_and_the_surface_is_drawn(page, server, record_property):
    _open_network(page, server, dataset="spiral", hidden="8,8", optimizer="adam", lr="0.03", batch_size="10")
    first = float(page.inner_text("#test-loss"))
    blank = page.query_selector("#surface").screenshot()
    page.click("#play")
    page.wait_for_function("window.playground.lastUpdate.epoch > 5")
    t0 = page.evaluate("[performance.now(), window.playground.stats.updates]")
    time.sleep(2.0)
    t1 = page.evaluate("[performance.now(), window.playground.stats.updates]")
    rate = (t1[1] - t0[1]) / ((t1[0] - t0[0]) / 1000)
    record_property("updates_per_second_2_8_8_1", round(rate, 1))
    print(f"\nplayground: {rate:.1f} updates/s for a 2-8-8-1 network, measured in Chromium")
    assert rate >= 10  # the floor; the server sends at most 30 a second
    page.wait_for_function(f"Number(document.querySelector('#test-loss').textContent) < {0.7 * first}", timeout=20000)
    page.click("#play")  # pause
    assert float(page.inner_text("#test-loss")) < 0.7 * first

    from PIL import Image
    import io
    img = Image.open(io.BytesIO(page.query_selector("#surface").screenshot())).convert("RGB")
    colors = img.getcolors(maxcolors=1 << 20)
    blue = sum(c for c, (r, g, b) in colors if b > r + 60)
    orange = sum(c for c, (r, g, b) in colors if r > b + 60)
    total = img.size[0] * img.size[1]
    assert blue > 0.15 * total and orange > 0.15 * total  # both classes' regions are painted
    assert blank != page.query_selector("#surface").screenshot()


def test_a_url_with_settings_restores_them(page, server):
    _open_network(page, server, dataset="xor", hidden="3,5", features="x1,x2,x1x2", activation="relu",
                  optimizer="momentum", lr="0.1", noise="20", batch_size="7", seed="42")
    assert page.input_value("#dataset") == "xor"
    assert page.input_value("#hidden") == "3,5"
    assert page.input_value("#activation") == "relu"
    assert page.input_value("#optimizer") == "momentum"
    assert float(page.input_value("#lr")) == 0.1 and page.input_value("#seed") == "42"
    checked = [c.get_attribute("value") for c in page.query_selector_all("input[name=feature]:checked")]
    assert checked == ["x1", "x2", "x1x2"]
    # the server trains what the URL says: three inputs, layers of 3 and 5
    assert page.evaluate("window.playground.lastUpdate.weights.map(w => [w.w.length, w.w[0].length])") == [[3, 3], [5, 3], [1, 5]]
    # a change goes back into the URL
    page.fill("#hidden", "6")
    page.dispatch_event("#hidden", "change")
    page.wait_for_function("location.hash.includes('hidden=6&')")
    # the server's new state (which rewrites the controls) is back before the next edit
    page.wait_for_function("window.playground.lastUpdate.weights.map(w => w.w.length).join() === '6,1'")
    run = page.evaluate("window.playground.lastUpdate.run")
    # a refused one is shown, and the controls and the URL return to what the server kept
    page.fill("#lr", "50")
    page.dispatch_event("#lr", "change")
    page.wait_for_function("document.querySelector('#error').textContent.startsWith('lr must be a finite number in [1e-05, 10]')")
    page.wait_for_function("document.querySelector('#lr').value === '0.1' && location.hash.includes('lr=0.1&')")
    # moving to #lr fired the browser's own "change" on #hidden (same settings): nothing restarted
    assert page.evaluate("window.playground.lastUpdate.run") == run


def test_one_server_serves_two_pages_and_stops_a_training_when_its_page_goes_away(browser, server):
    contexts = [browser.new_context() for _ in range(2)]
    pages = [c.new_page() for c in contexts]
    for p, data in zip(pages, ("circle", "moons")):
        p.goto(f"{server.url}#view=networks&dataset={data}")
        p.wait_for_function("window.playground.lastUpdate !== undefined")
        p.click("#play")
    for p in pages:
        p.wait_for_function("window.playground.lastUpdate.epoch > 20")
    assert [p.input_value("#dataset") for p in pages] == ["circle", "moons"]
    assert _wait(lambda: len(_trainings()) >= 2)
    before = len(_trainings())
    contexts[0].close()
    assert _wait(lambda: len(_trainings()) == before - 1)
    e = pages[1].evaluate("window.playground.lastUpdate.epoch")
    pages[1].wait_for_function(f"window.playground.lastUpdate.epoch > {e}")  # the other page still trains
    contexts[1].close()
    assert _wait(lambda: len(_trainings()) == before - 2)


def test_race_and_show_the_code_in_the_page(page, server):
    _open_network(page, server, dataset="gaussian", hidden="4")
    page.fill("#budget", "100")
    page.click("#race")
    page.wait_for_function("window.playground.raceDone === true", timeout=30000)
    rows = page.query_selector_all("#race-table tbody tr")
    assert [r.get_attribute("data-strategy") for r in rows] == ["random-search", "random-local-search", "mini-batch-gd", "adam"]
    assert all(r.query_selector_all("td")[1].text_content() == "100" for r in rows)
    page.click("#show-code")
    page.wait_for_selector("#code:not([hidden])")
    assert "make_data('gaussian'" in page.inner_text("#code") and "cr.fit(net" in page.inner_text("#code")


# ---------------------------------------------------------------- straight to the server
def test_bad_requests_over_http_are_refused_and_change_nothing(server):
    r = httpx.post(server.url + "api/circuit", json={"expression": "__import__('os').system('x')", "values": {}})
    assert r.status_code == 400 and r.json()["error"].startswith("expression:")
    r = httpx.post(server.url + "api/circuit", content=b"x" * 70000)
    assert r.status_code == 400 and "larger than 65536 bytes" in r.json()["error"]
    r = httpx.post(server.url + "api/circuit", content=b"[" * 60000)
    assert r.status_code == 400 and r.json()["error"] == "request body: nested too deeply to be a playground request"
    r = httpx.post(server.url + "api/code", content=b"{")
    assert r.status_code == 400 and r.json()["error"].startswith("request body: not valid UTF-8 JSON (Expecting")
    r = httpx.post(server.url + "api/code", json={"settings": {"hidden": [100]}})
    assert r.status_code == 400 and r.json()["error"] == "neurons per layer must be a whole number in [1, 8]; got 100"
    for path in ("static/../server.py", "static/%2e%2e/server.py", "static/..%2fserver.py", "../pyproject.toml"):
        assert httpx.get(server.url + path).status_code == 404, path
    assert httpx.get(server.url + "static/app.js").status_code == 200


def test_bad_settings_over_the_websocket_are_refused_and_change_nothing(server):
    async def talk():
        url = server.url.replace("http://", "ws://") + "ws"
        async with websockets.connect(url) as ws:
            async def ask(message, want):
                await ws.send(json.dumps(message))
                while True:
                    reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if reply["type"] == want:
                        return reply

            good = {"dataset": "xor", "hidden": [3]}
            state = await ask({"type": "configure", "settings": good}, "state")
            assert state["settings"]["hidden"] == [3]
            for bad, message in [
                ({"hidden": [8] * 50}, "the number of hidden layers must be a whole number in [0, 6]; got 50"),
                ({"lr": 1e9}, "lr must be a finite number in [1e-05, 10]; got 1000000000.0"),
                ({"dataset": "../../etc/passwd"}, "dataset must be one of"),
            ]:
                err = await ask({"type": "configure", "settings": bad}, "error")
                assert err["message"].startswith(message) and err["request"] == "configure"
                now = await ask({"type": "settings"}, "settings")
                assert now["settings"] == state["settings"]
            err = await ask({"type": "race", "strategies": ["sgd"], "budget": -1}, "error")
            assert err["message"] == "budget must be a whole number in [10, 5000]; got -1"
            err = await ask({"type": "exec", "code": "1"}, "error")
            assert err["message"] == "unknown message type 'exec'"
            await ws.send("not json")
            assert json.loads(await ws.recv())["message"].startswith("message: not valid UTF-8 JSON (Expecting value")
            await ws.send("[" * 50_000)  # Python's parser gives up long before the size limit
            assert json.loads(await ws.recv())["message"] == "message: nested too deeply to be a playground message"
            await ws.send('{"type": "settings", "x": NaN}')
            assert json.loads(await ws.recv())["message"] == "message: not valid UTF-8 JSON (NaN is not a JSON value)"

    # Playwright's sync API holds this thread's event loop: the client gets a thread of its own.
    failure = []
    thread = threading.Thread(target=lambda: _capture(failure, lambda: asyncio.run(talk())))
    thread.start()
    thread.join(60)
    if failure:
        raise failure[0]
    assert not thread.is_alive()


def _capture(failure, fn):
    try:
        fn()
    except BaseException as exc:  # re-raised in the test's thread
        failure.append(exc)


def test_the_screenshot_script_shoots_both_views(browser, server, tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_playground_screenshots",
                                                  Path(__file__).resolve().parents[2] / "scripts" / "make_playground_screenshots.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    from PIL import Image

    paths = script.shoot(browser, server.url, tmp_path)
    assert [p.name for p in paths] == ["playground-circuits.png", "playground-networks.png"]
    for path in paths:
        img = Image.open(path).convert("RGB")
        assert img.size[0] == 1600 and len(img.getcolors(maxcolors=1 << 20)) > 200  # a drawn page, not a blank one
