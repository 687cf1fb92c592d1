"""The playground's server without a browser: binding rules and the page limit, on a real server."""
import asyncio
import json

import pytest

pytest.importorskip("starlette")
websockets = pytest.importorskip("websockets")

from chainrule.playground import SettingsError, start  # noqa: E402
from chainrule.playground.server import is_loopback  # noqa: E402


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True),
                                            ("localhost", True), ("0.0.0.0", False), ("192.168.1.5", False),
                                            ("example.com", False)])
def test_only_loopback_addresses_count_as_local(host, loopback):
    assert is_loopback(host) is loopback


def test_a_reachable_address_needs_allow_remote():
    with pytest.raises(SettingsError, match="0.0.0.0 is not a loopback address.*--allow-remote"):
        start("0.0.0.0")


def test_a_server_refuses_pages_beyond_its_limit_and_serves_the_others():
    async def talk(url):
        async with websockets.connect(url) as first:
            await first.send(json.dumps({"type": "settings"}))
            while (reply := json.loads(await asyncio.wait_for(first.recv(), 10)))["type"] != "settings":
                pass
            async with websockets.connect(url) as second:
                refusal = json.loads(await asyncio.wait_for(second.recv(), 10))
                assert refusal == {"type": "error", "message": "this server already serves 1 pages; close one and reload"}
                with pytest.raises(websockets.ConnectionClosed):
                    await asyncio.wait_for(second.recv(), 10)
            await first.send(json.dumps({"type": "settings"}))
            while (reply := json.loads(await asyncio.wait_for(first.recv(), 10)))["type"] != "settings":
                pass
            assert reply["settings"]["dataset"] == "circle"

    with start(max_pages=1) as server:
        asyncio.run(talk(server.url.replace("http://", "ws://") + "ws"))
