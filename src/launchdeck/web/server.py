"""`launchdeck serve`: the wall as a web page, read-only by construction, for the TV and for laptops.

The routes see a `Hub` (text), a `Guard` and a viewer count, never the engine: there is no path
from a request to an action, a sign-off or a refresh. Four GET routes (the page, its script, its
style sheet, the event stream); every other method is 405 before any route is looked at; every
request must name this server in its Host (DNS rebinding), come from no other site (Origin,
Sec-Fetch-Site) and carry the token. Every response says: no framing, no caching, no referrer, a
Content-Security-Policy that allows only our own files (the page has no inline script or style,
and writes people's text with textContent only).

One engine for all viewers: `run_server` starts it once, headless (web/feed.py turns its notices
into one summary), and every open page gets the same server-sent events. SIGTERM, SIGINT and
SIGHUP close every stream with a last `closing` event and end the process within 2 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from launchdeck.web.auth import Guard, Viewers
from launchdeck.web.feed import CLOSING, RETRY, Hub, WallFeed

log = logging.getLogger("launchdeck.web")

HUB = web.AppKey("hub", Hub)
GUARD = web.AppKey("guard", Guard)
VIEWERS = web.AppKey("viewers", Viewers)
READ_METHODS = ("GET", "HEAD")
WRITE_TIMEOUT = 10.0  # s a viewer may take to accept one event before it is dropped (a stalled laptop)
SHUTDOWN_TIMEOUT = 0.5  # s for connections to close once every stream has said `closing`
ENGINE_STOP = 1.2  # s for the engine's probes to close; with the above, a stop takes < 2 s
STATIC = {"/": ("wall.html", "text/html"), "/wall.js": ("wall.js", "text/javascript"),
          "/wall.css": ("wall.css", "text/css")}
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                                "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
                                "frame-ancestors 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the page's URL carries the token
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class AccessLog(AbstractAccessLogger):
    """Method, path and status; never the query string (it carries the token) nor any header."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s %s %.3fs", request.remote, request.method, request.path, response.status, time)


def _refusal(status: int, text: str, **headers: str) -> web.Response:
    return web.Response(status=status, text=text + "\n", headers=headers)


@web.middleware
async def guard_requests(request: web.Request, handler: Callable) -> web.StreamResponse:
    """Host, method, Origin, token: in that order, for every path (a refused request learns nothing
    about which paths exist)."""
    guard = request.app[GUARD]
    if not guard.host_ok(request.headers.get("Host")):
        return _refusal(403, "403: this server does not answer to that Host name")
    if request.method not in READ_METHODS:
        return _refusal(405, "405: the browser view is read-only", Allow="GET, HEAD")
    if not guard.origin_ok(request.headers.get("Origin"), request.headers.get("Sec-Fetch-Site"),
                           request.headers.get("Sec-Fetch-Mode")):
        return _refusal(403, "403: requests from another site are refused")
    query_token = request.query.get("token")
    if not guard.authorised(query_token, request.cookies.get(guard.cookie_name), request.headers.get("Authorization")):
        return _refusal(401, "401: open the URL `launchdeck serve` printed (it carries the token)",
                        **{"WWW-Authenticate": 'Bearer realm="launchdeck"'})
    response = await handler(request)
    if query_token and request.path == "/" and isinstance(response, web.Response):
        # the page's own requests (script, style, event stream) then carry it; the page takes it out of the URL
        response.set_cookie(guard.cookie_name, query_token, httponly=True, samesite="Strict", path="/")
    return response


async def _security_headers(_request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers["Server"] = "launchdeck"  # not which aiohttp and Python answer


def _static_routes(app: web.Application) -> None:
    files = resources.files("launchdeck.web").joinpath("static")
    for path, (name, kind) in STATIC.items():
        body = files.joinpath(name).read_bytes()  # read once: a page load is three memory copies

        async def serve_file(_request: web.Request, body: bytes = body, kind: str = kind) -> web.Response:
            return web.Response(body=body, content_type=kind, charset="utf-8")

        app.router.add_get(path, serve_file)


async def events(request: web.Request) -> web.StreamResponse:
    """The event stream: the newest summary at once, then every new one; `closing` at shutdown."""
    viewers, hub = request.app[VIEWERS], request.app[HUB]
    if request.method == "HEAD":  # a page whose stream failed asks why: 401 (token), 503 (full) or 200
        return web.Response(status=503 if viewers.count >= viewers.limit else 200)
    if not viewers.try_enter():
        return _refusal(503, f"503: {viewers.limit} viewers already (--max-viewers)", **{"Retry-After": "15"})
    try:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"})
        await response.prepare(request)
        seq = hub.seq
        await asyncio.wait_for(response.write(RETRY + hub.message), WRITE_TIMEOUT)
        while await hub.next_after(seq):
            seq = hub.seq
            await asyncio.wait_for(response.write(hub.message), WRITE_TIMEOUT)
        with contextlib.suppress(ConnectionError, TimeoutError):  # the page went at the same moment, or stalls
            await asyncio.wait_for(response.write(CLOSING), SHUTDOWN_TIMEOUT)
        return response
    except (ConnectionError, TimeoutError):  # a closed tab or a stalled link: this viewer ends, the rest go on
        return response
    finally:
        viewers.leave()


def make_web_app(hub: Hub, guard: Guard, max_viewers: int) -> web.Application:
    """The application: what every request sees. No engine in it."""
    app = web.Application(middlewares=[guard_requests], client_max_size=1024)
    app[HUB] = hub
    app[GUARD] = guard
    app[VIEWERS] = Viewers(max_viewers)
    app.on_response_prepare.append(_security_headers)
    _static_routes(app)
    app.router.add_get("/events", events)
    return app


def runner_options() -> dict[str, Any]:
    """How the app is run (here and in tests): our access log; a closed tab cancels its stream's
    handler at once (its place under the cap is free again); a short shutdown."""
    return {"access_log_class": AccessLog, "access_log": logging.getLogger("launchdeck.web.access"),
            "handler_cancellation": True, "shutdown_timeout": SHUTDOWN_TIMEOUT}


@dataclass(frozen=True)
class Listen:
    host: str
    port: int
    max_viewers: int
    heartbeat: float


async def run_server(engine: Any, config: Any, guard_for: Callable[[int], Guard], listen: Listen,
                     on_ready: Callable[[int], None]) -> None:
    """Start the one engine and the server; return after a stop signal, everything closed.
    `guard_for(port)`: the rules once the real port is known (--port 0 picks a free one)."""
    loop = asyncio.get_running_loop()
    hub = Hub(listen.heartbeat)

    def deliver(text: str) -> None:  # on the engine's thread
        with contextlib.suppress(RuntimeError):  # the server's loop already closed at shutdown: nobody to tell
            loop.call_soon_threadsafe(hub.publish, text)

    feed = WallFeed(engine, config, deliver)
    feed.build_now()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)
    sock = listen_socket(listen.host, listen.port)  # bound first: --port 0 is known before the rules are made
    port = sock.getsockname()[1]
    app = make_web_app(hub, guard_for(port), listen.max_viewers)
    runner = web.AppRunner(app, handle_signals=False, **runner_options())
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        engine.start(wait=False)
        beat = asyncio.create_task(hub.beat())
        on_ready(port)
        await stop.wait()
        hub.close()
        beat.cancel()
        await asyncio.sleep(0.05)  # each stream writes its `closing` event and returns
    finally:
        await asyncio.gather(asyncio.to_thread(engine.stop, ENGINE_STOP), runner.cleanup())
    log.info("stopped; %s viewers at most, %s summaries", app[VIEWERS].peak, feed.builds)


def listen_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (IPv6 when the host is one); OSError says why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(64)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


__all__ = ["Listen", "listen_socket", "make_web_app", "run_server", "runner_options"]
