"""The playground's web server: Starlette on uvicorn, one WebSocket per open page.

Routes: ``/`` (the page), ``/static/…`` (the page's files, and nothing outside that folder:
Starlette's StaticFiles refuses paths that leave it), ``POST /api/circuit``, ``POST /api/code``,
``GET /api/options`` and the WebSocket ``/ws`` over which a page configures, plays, pauses,
steps and races its network and receives the snapshots. Every request is validated
(:mod:`chainrule.playground.settings`); a refused one gets ``{"error": message}`` (HTTP 400) or
``{"type": "error", "message": …}`` (WebSocket) and changes nothing.
"""
from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import sys
import threading
from pathlib import Path

from chainrule import io
from chainrule.optim.strategies import STRATEGIES
from chainrule.playground import circuits, networks
from chainrule.playground.settings import (
    ACTIVATIONS, BOUNDS, DATASETS, FEATURES, OPTIMIZERS, REGULARIZATIONS, NetworkSettings, SettingsError,
)

STATIC = Path(__file__).resolve().parent / "static"
MAX_PAGES = 8
"""Most pages one server serves at once; a further page is told so and closed."""
MAX_MESSAGE = 64 * 1024
"""Largest request body or WebSocket message accepted, in bytes."""

_INSTALL = "the playground needs its extra: pip install 'chainrule[playground]'"


def _require_web_stack():
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"{_INSTALL} (missing: {exc.name})") from None


def options() -> dict:
    """What the page may choose, with the server's bounds: the page builds its controls from it."""
    return {
        "datasets": DATASETS, "features": FEATURES, "activations": ACTIVATIONS, "optimizers": OPTIMIZERS,
        "regularizations": REGULARIZATIONS, "bounds": BOUNDS, "defaults": NetworkSettings().to_dict(),
        "presets": circuits.PRESETS, "max_expression": circuits.MAX_EXPRESSION,
        "strategies": [{"name": s.name, "description": s.description} for s in STRATEGIES],
        "race_budget": networks.RACE_BUDGET,
    }


class Page:
    """One open page: its settings, its network training (at most one) and its race (at most one)."""

    def __init__(self, websocket, loop):
        self.ws, self.loop = websocket, loop
        self.loop_thread = threading.get_ident()  # a Page is made on its event loop's thread
        self.settings = NetworkSettings()
        self.training = None
        self.race = None
        self.run_id = 0
        self.queue: asyncio.Queue = asyncio.Queue()
        self.pending_update = None

    # ------------------------------------------------------------ from the training threads
    def publisher(self, run_id: int):
        """A thread-safe ``publish(message)`` for one training, its messages tagged with ``run_id``."""
        def publish(message: dict):
            message["run"] = run_id
            if threading.get_ident() == self.loop_thread:
                # Published while handling a request (a new training's state): queue it now, so it
                # reaches the page before the reply to any later request (a refusal, say).
                self._deliver(message)
            else:
                self.loop.call_soon_threadsafe(self._deliver, message)
        return publish

    def _deliver(self, message):
        if message["type"] == "update":  # only the newest snapshot matters: never queue them up
            first = self.pending_update is None
            self.pending_update = message
            if first:
                self.queue.put_nowait(None)
        else:
            self.queue.put_nowait(message)

    async def sender(self):
        while True:
            message = await self.queue.get()
            if message is None:
                message, self.pending_update = self.pending_update, None
            await self.ws.send_text(json.dumps(message))

    # ------------------------------------------------------------ from the page
    def handle(self, message) -> dict | None:
        """Apply one request; a refusal raises SettingsError before anything changes."""
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise SettingsError('a message must be a JSON object with a "type"')
        kind = message["type"]
        if kind == "configure":
            settings = NetworkSettings.from_dict(message.get("settings", {}))
            self._restart(settings)
        elif kind == "reset":
            self._restart(self.settings)
        elif kind in ("play", "pause", "step"):
            if self.training is None:
                self._restart(self.settings)
            getattr(self.training, kind)()
        elif kind == "race":
            if self.race is not None and self.race.running():
                raise SettingsError("a race is already running on this page; one at a time")
            race = networks.Race(self.settings, message.get("strategies"), message.get("budget", 500),
                                 self._next_publisher())
            if self.training is not None:
                self.training.pause()
            self.race = race
            race.start()
        elif kind == "stop_race":
            if self.race is not None:
                self.race.close()
        elif kind == "settings":
            return {"type": "settings", "settings": self.settings.to_dict()}
        else:
            raise SettingsError(f"unknown message type {kind!r}")
        return None

    def _next_publisher(self):
        self.run_id += 1
        return self.publisher(self.run_id)

    def _restart(self, settings):
        training = networks.NetworkTraining(settings, self._next_publisher())  # may refuse: nothing changed yet
        if self.training is not None:
            self.training.close()
        self.settings, self.training = settings, training
        training.start()

    def close(self):
        """End the page's training and race (the page went away)."""
        for job in (self.training, self.race):
            if job is not None:
                job.close()


def create_app(max_pages: int = MAX_PAGES):
    """The Starlette application of the playground (see the module docstring for its routes)."""
    _require_web_stack()
    from starlette.applications import Starlette
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Mount, Route, WebSocketRoute
    from starlette.staticfiles import StaticFiles
    from starlette.websockets import WebSocketDisconnect

    pages: set = set()

    async def read_json(request):
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_MESSAGE:
                raise SettingsError(f"request body larger than {MAX_MESSAGE} bytes")
        try:
            return io.parse_json(body or b"null", "request body", what="a playground request")
        except io.FormatError as exc:
            raise SettingsError(str(exc)) from None

    async def index(request):
        return FileResponse(STATIC / "index.html")

    async def api_options(request):
        return JSONResponse(options())

    async def api_circuit(request):
        try:
            req = await read_json(request)
            if not isinstance(req, dict):
                raise SettingsError('send {"expression": ..., "values": {...}}')
            return JSONResponse(circuits.circuit(req.get("expression"), req.get("values", {})))
        except SettingsError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    async def api_code(request):
        try:
            req = await read_json(request)
            if not isinstance(req, dict):
                raise SettingsError('send {"settings": {...}, "epochs": N}')
            s = NetworkSettings.from_dict(req.get("settings", {}))
            return JSONResponse({"code": networks.code(s, req.get("epochs", 100))})
        except SettingsError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    async def ws_endpoint(websocket):
        await websocket.accept()
        if len(pages) >= max_pages:
            await websocket.send_text(json.dumps({"type": "error", "message":
                                                  f"this server already serves {max_pages} pages; close one and reload"}))
            await websocket.close(code=1013)
            return
        page = Page(websocket, asyncio.get_running_loop())
        pages.add(page)
        sender = asyncio.create_task(page.sender())
        try:
            while True:
                text = await websocket.receive_text()
                message = None
                try:
                    if len(text) > MAX_MESSAGE:
                        raise SettingsError(f"message larger than {MAX_MESSAGE} bytes")
                    try:
                        message = io.parse_json(text, "message", what="a playground message")
                    except io.FormatError as exc:
                        raise SettingsError(str(exc)) from None
                    reply = page.handle(message)
                except SettingsError as exc:
                    reply = {"type": "error", "message": str(exc),
                             "request": message.get("type") if isinstance(message, dict) else None}
                except Exception as exc:  # a bug must not take the page's socket (and its training) down
                    reply = {"type": "error", "message": f"the server failed on this request: {type(exc).__name__}: {exc}",
                             "request": message.get("type") if isinstance(message, dict) else None}
                if reply is not None:
                    page.queue.put_nowait(reply)
        except WebSocketDisconnect:
            pass
        finally:
            sender.cancel()
            pages.discard(page)
            await asyncio.get_running_loop().run_in_executor(None, page.close)  # the trainings end with the page

    app = Starlette(routes=[
        Route("/", index),
        Route("/api/options", api_options),
        Route("/api/circuit", api_circuit, methods=["POST"]),
        Route("/api/code", api_code, methods=["POST"]),
        WebSocketRoute("/ws", ws_endpoint),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ])
    app.state.pages = pages
    return app


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ::1) or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Server:
    """A running playground: ``url``, and ``stop()`` (also a context manager). Started by :func:`start`."""

    def __init__(self, server, thread, url):
        self._server, self._thread, self.url = server, thread, url

    def stop(self, timeout: float = 10.0):
        """Stop serving (the pages' trainings end with their sockets) and wait for the server's thread."""
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _bind(host: str, port: int, allow_remote: bool) -> socket.socket:
    if not is_loopback(host) and not allow_remote:
        raise SettingsError(f"--host {host} is not a loopback address: anyone who can reach it could use the "
                            "playground; pass --allow-remote to bind there anyway")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    return sock


def _make_server(sock, **kwargs):
    import uvicorn

    config = uvicorn.Config(create_app(**kwargs), log_level="warning", ws_max_size=MAX_MESSAGE, lifespan="off")
    return uvicorn.Server(config)


def _url(sock) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def start(host: str = "127.0.0.1", port: int = 0, *, allow_remote: bool = False, **kwargs) -> Server:
    """Start the playground in a background thread (port 0: a free port) and return it running.

    >>> with start() as server:          # doctest: +SKIP
    ...     print(server.url)
    http://127.0.0.1:40123/
    """
    _require_web_stack()
    sock = _bind(host, port, allow_remote)
    server = _make_server(sock, **kwargs)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name="chainrule-playground-server")
    thread.start()
    while not server.started and thread.is_alive():
        threading.Event().wait(0.01)
    if not thread.is_alive():
        raise RuntimeError("the playground server did not start")
    return Server(server, thread, _url(sock))


def serve(host: str = "127.0.0.1", port: int = 0, *, open_browser: bool = True, allow_remote: bool = False,
          file=None) -> None:
    """Serve the playground until Ctrl-C: print its URL and open it in the browser unless told not to.

    A host that is not a loopback address is refused unless ``allow_remote``, and then a
    warning is printed: the page can start trainings on this machine.
    """
    _require_web_stack()
    file = file or sys.stdout
    sock = _bind(host, port, allow_remote)
    if not is_loopback(host):
        print(f"chainrule: warning: the playground listens on {host}, not only on this machine; anyone who "
              "can reach it can run trainings here", file=sys.stderr)
    server = _make_server(sock)
    url = _url(sock)
    print(f"chainrule playground at {url} (Ctrl-C stops it)", file=file, flush=True)
    if open_browser:
        import webbrowser

        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn has shut down cleanly and re-raises the Ctrl-C it caught
        pass
    print("chainrule playground stopped", file=file, flush=True)
