"""The hand-off page: a run's security check shown to a person anywhere, their clicks and drags
sent back to the real page.

A small Starlette app served by uvicorn on the engine's own asyncio loop (no thread, no second
loop: every Playwright call stays on the loop that owns the page). icpbot owns SIGINT and SIGTERM,
so uvicorn installs no signal handler. Each check gets an unguessable link, ``/h/<token>``: the
token is the capability. POSTs must also come from the page itself (``Origin`` matching the host,
and ``Sec-Fetch-Site: same-origin`` when the browser sends it), as JSON of a few KB at most.

Routes under ``/h/<token>``: the page (``GET``), ``state`` (``GET``, JSON: state, time left, the
instruction in English and Chinese, the outcome), ``image`` (``GET``, the box as a PNG), ``click``
(``POST {"x", "y"}``) and ``drag`` (``POST {"points": [[x, y], ...]}``), in the picture's pixels.
An unknown token is 404; a check that was unregistered is 410.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import secrets
import socket
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.handoff.check import CheckHandoff, HandoffClosed, read_point
from bot.privacy import logger

__all__ = [
    "MAX_BODY",
    "MAX_JSON_DEPTH",
    "SECURITY_HEADERS",
    "HandoffServer",
    "QuietServer",
    "Refused",
    "bind_listening",
    "http_url",
    "is_loopback",
    "parse_json",
    "read_body",
    "read_json",
]

STATIC_DIR = Path(__file__).parent / "static"
#: the largest POST body accepted (a drag of MAX_DRAG_POINTS points fits)
MAX_BODY = 16 * 1024
_RETIRED_KEPT = 1024  # unregistered tokens still answered 410 rather than 404
_STATIC = {
    "handoff.js": "text/javascript; charset=utf-8",
    "handoff.css": "text/css; charset=utf-8",
}
#: on every response: nothing from other origins, no inline script, no framing, no caching, and
#: no referrer (the link is the capability: it must not leak to another site)
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


#: how deeply a posted JSON document may nest (a drag's points are 3 levels deep)
MAX_JSON_DEPTH = 32


class Refused(Exception):
    """A request refused with an HTTP status (4xx) and a message that holds no value of it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _SecurityHeaders:
    """Pure ASGI middleware: :data:`SECURITY_HEADERS` on every response, errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


class QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers (icpbot owns SIGINT and SIGTERM), its logging or its
    ``Server`` header, started on a socket of the caller's by :meth:`start`.

    ``capture_signals`` is the public hook uvicorn's ``serve()`` enters to install them
    (uvicorn >= 0.29, which dropped ``install_signal_handlers``).
    """

    def __init__(self, app: ASGIApp, **options: Any) -> None:
        super().__init__(
            uvicorn.Config(
                app,
                log_config=None,
                access_log=False,
                ws="none",
                http="h11",
                server_header=False,
                **options,
            )
        )
        self._up = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._up.set()

    async def start(self, sock: socket.socket, name: str) -> asyncio.Task[None]:
        """Serve on ``sock`` in a task, returned once connections are accepted; what stopped
        the server if it stopped while starting."""
        task = asyncio.create_task(self.serve(sockets=[sock]), name=name)
        up = asyncio.create_task(self._up.wait())
        await asyncio.wait({task, up}, return_when=asyncio.FIRST_COMPLETED)
        if not up.done():
            up.cancel()
            task.result()  # raises what stopped the server
            raise RuntimeError(f"{name} stopped while starting")
        return task


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class HandoffServer:
    """Serves the hand-off pages of any number of checks, on the caller's asyncio loop."""

    def __init__(self) -> None:
        self._checks: dict[str, CheckHandoff] = {}
        self._retired: OrderedDict[str, None] = OrderedDict()
        self._base_url: str | None = None
        self._server: QuietServer | None = None
        self._task: asyncio.Task[None] | None = None
        routes = [
            Route("/h/{token}", self._page, methods=["GET"]),
            Route("/h/{token}/state", self._state, methods=["GET"]),
            Route("/h/{token}/image", self._image, methods=["GET"]),
            Route("/h/{token}/click", self._click, methods=["POST"]),
            Route("/h/{token}/drag", self._drag, methods=["POST"]),
            Route("/static/{name}", self._static, methods=["GET"]),
        ]
        self.app = Starlette(routes=routes, middleware=[Middleware(_SecurityHeaders)])

    # -- life ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the hand-off server is not started")
        return self._base_url

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0: a free port) and serve; the base URL.

        Anything but loopback makes the pages reachable from elsewhere (the links still need
        their token): the caller's choice, logged as a warning.
        """
        if self._task is not None:
            return self.base_url
        if not is_loopback(host):
            logger.warning(
                "the security-check hand-off listens on {}, not only on this machine: anyone "
                "who reaches it with a link can act on the check; put TLS in front (README)",
                host,
            )
        sock = bind_listening(host, port)
        bound = sock.getsockname()[1]
        self._server = QuietServer(self.app, lifespan="off", timeout_graceful_shutdown=2)
        self._task = await self._server.start(sock, "the hand-off server")
        self._base_url = http_url(host, bound)
        logger.debug("security-check hand-off at {}", self._base_url)
        return self._base_url

    async def stop(self) -> None:
        """Stop serving (open connections are closed); every link is dead afterwards."""
        server, task = self._server, self._task
        self._server = self._task = None
        self._base_url = None
        for token in list(self._checks):
            self.unregister(token)
        if server is None or task is None:
            return
        server.should_exit = True
        await task

    def serve_at(self, base_url: str) -> None:
        """Links are made on ``base_url``: for :attr:`app` mounted in another server (``icpbot
        serve``) instead of :meth:`start`."""
        self._base_url = base_url.rstrip("/")

    # -- checks -------------------------------------------------------------------------------

    def register(self, handoff: CheckHandoff) -> str:
        """Serve ``handoff`` at a new unguessable link; the link (its last part is the token)."""
        token = secrets.token_urlsafe(24)  # 192 bits
        self._checks[token] = handoff
        return f"{self.base_url}/h/{token}"

    def unregister(self, token: str) -> None:
        """The link no longer serves its check (410). ``token``: the token or the whole link."""
        token = token.rstrip("/").rsplit("/", 1)[-1]
        if self._checks.pop(token, None) is not None:
            self._retired[token] = None
            while len(self._retired) > _RETIRED_KEPT:
                self._retired.popitem(last=False)

    def _check(self, request: Request) -> CheckHandoff:
        token = str(request.path_params["token"])
        found = self._checks.get(token)
        if found is not None:
            return found
        if token in self._retired:
            raise Refused(410, "this security check has ended")
        raise Refused(404, "not found")

    # -- routes -------------------------------------------------------------------------------

    async def _page(self, request: Request) -> Response:
        try:
            self._check(request)
        except Refused as exc:
            return Response(
                f"{exc.status}: {exc}\n", status_code=exc.status, media_type="text/plain"
            )
        html = (STATIC_DIR / "handoff.html").read_bytes()
        return Response(html, media_type="text/html; charset=utf-8")

    async def _static(self, request: Request) -> Response:
        name = str(request.path_params["name"])
        if name not in _STATIC:
            return Response("404: not found\n", status_code=404, media_type="text/plain")
        return Response((STATIC_DIR / name).read_bytes(), media_type=_STATIC[name])

    async def _state(self, request: Request) -> Response:
        try:
            check = self._check(request)
        except Refused as exc:
            return _error(exc.status, str(exc))
        instruction = await check.instruction()
        check.last_seen = time.monotonic()
        if check.state == "ended":
            check.outcome_seen.set()
        return JSONResponse(
            {
                "state": check.state,
                "passed": check.has_passed,
                "run": check.run_name,
                "person": check.person,
                "time_left": round(check.time_left(), 1),
                "instruction": instruction.as_json(),
                "outcome": list(check.outcome),
            }
        )

    async def _image(self, request: Request) -> Response:
        try:
            png = await self._check(request).image()
        except Refused as exc:
            return _error(exc.status, str(exc))
        except HandoffClosed as exc:
            return _error(409, str(exc))
        return Response(png, media_type="image/png")

    async def _click(self, request: Request) -> Response:
        async def click(check: CheckHandoff, body: Any) -> None:
            if not isinstance(body, dict) or set(body) != {"x", "y"}:
                raise Refused(400, 'expected {"x": number, "y": number}')
            await check.click(*read_point([body["x"], body["y"]]))

        return await self._act(request, click)

    async def _drag(self, request: Request) -> Response:
        async def drag(check: CheckHandoff, body: Any) -> None:
            raw = body.get("points") if isinstance(body, dict) and set(body) == {"points"} else None
            if not isinstance(raw, list):
                raise Refused(400, 'expected {"points": [[x, y], ...]}')
            await check.drag([read_point(point) for point in raw])  # 2 to MAX_DRAG_POINTS

        return await self._act(request, drag)

    async def _act(
        self, request: Request, action: Callable[[CheckHandoff, Any], Awaitable[None]]
    ) -> Response:
        """A person's action on the check, from the posted JSON; its refusals as 4xx."""
        try:
            check = self._check(request)
            await action(check, await _json_body(request))
        except Refused as exc:
            return _error(exc.status, str(exc))
        except HandoffClosed as exc:
            return _error(409, str(exc))
        except ValueError as exc:
            return _error(400, str(exc))
        return JSONResponse({"ok": True})


async def _json_body(request: Request) -> Any:
    """The POST's JSON, once it is known to come from the page itself and to be small."""
    if not _same_origin(request):
        raise Refused(403, "only the hand-off page itself may post here")
    return await read_json(request)


async def read_body(request: Request, *, limit: int = MAX_BODY) -> bytes:
    """The request's body, at most ``limit`` bytes (413 otherwise, told by the declared length
    before anything is read, or while streaming)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise Refused(413, f"the body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Refused(413, f"the body is larger than {limit} bytes")
    return bytes(body)


async def read_json(request: Request, *, limit: int = MAX_BODY) -> Any:
    """The one reader of posted JSON for every door of icpbot's servers (the hand-off pages, the
    service's API and customer pages): ``application/json`` (else 415), at most ``limit`` bytes
    (413), then :func:`parse_json` (400)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise Refused(415, "expected application/json")
    return parse_json(await read_body(request, limit=limit))


def parse_json(raw: bytes) -> Any:
    """``raw`` as JSON: UTF-8 (not guessed), nested at most :data:`MAX_JSON_DEPTH` deep;
    :class:`Refused` (400) otherwise, never a RecursionError."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "the body is not UTF-8") from None
    try:
        found = json.loads(text)
    except (ValueError, RecursionError):
        raise Refused(400, "the body is not JSON") from None
    if _depth(found) > MAX_JSON_DEPTH:
        raise Refused(400, f"the JSON is nested more than {MAX_JSON_DEPTH} deep")
    return found


def _depth(document: Any) -> int:
    """How deeply ``document`` nests (a scalar: 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth + 1)
            if deepest > MAX_JSON_DEPTH:
                return deepest
            stack.extend((child, depth + 1) for child in item)
    return deepest


def _same_origin(request: Request) -> bool:
    """The request comes from a page of this server: ``Origin`` names it (browsers send it on
    every POST), and ``Sec-Fetch-Site``, when sent, says same-origin."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site != "same-origin":
        return False
    origin, host = request.headers.get("origin"), request.headers.get("host")
    return origin is not None and host is not None and origin == f"{request.url.scheme}://{host}"


def bind_listening(host: str, port: int, backlog: int = 64) -> socket.socket:
    """A non-blocking socket listening on ``host:port`` (0: a free port), for uvicorn.

    With ``TCP_NODELAY``: without it, a keep-alive connection's second request waits about
    40 ms for the client's delayed ACK (Nagle's algorithm holds the answer's last small
    segment). The socket is made with ``IPPROTO_TCP`` as its protocol, so that asyncio also
    sets the option on every connection it accepts (it only does for sockets that say TCP), and
    the option is set on the listening socket too (Linux copies it to accepted ones).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def http_url(host: str, port: int) -> str:
    """``http://HOST:PORT`` (an IPv6 host in brackets)."""
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (a loopback address, or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
