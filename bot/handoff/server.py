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
from bot.i18n import N_
from bot.i18n.catalogs import translations
from bot.i18n.web import Pages, gettext_for, language
from bot.privacy import logger

__all__ = [
    "MAX_BODY",
    "SECURITY_HEADERS",
    "HandoffServer",
    "QuietServer",
    "bind_listening",
    "http_url",
    "is_loopback",
]

STATIC_DIR = Path(__file__).parent / "static"
#: the pages (Jinja2 templates in the person's language: English or Simplified Chinese)
PAGES = Pages(STATIC_DIR)
#: a link that serves no check, as its page says it: (title, text)
_NO_CHECK = {
    0: (N_("Page not found"), N_("There is no page at this address.")),
    404: (N_("Link not found"), N_("There is no security check at this address.")),
    410: (N_("The security check is over"),
          N_("This link has expired: the check is over. You can close this page.")),
}  # fmt: skip
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


class _Refused(Exception):
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


async def _not_found(request: Request, exc: Exception) -> Response:
    """An unknown address: a page in the person's language for a browser, else plain text."""
    if "text/html" not in request.headers.get("accept", ""):
        return Response("404: not found\n", status_code=404, media_type="text/plain")
    title, text = _NO_CHECK[0]
    _ = gettext_for(request)
    return PAGES.render(request, "ended.html", status=404, title=_(title), text=_(text))


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
        self.app = Starlette(
            routes=routes,
            middleware=[Middleware(_SecurityHeaders)],
            exception_handlers={404: _not_found},
        )

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
            raise _Refused(410, "this security check has ended")
        raise _Refused(404, "not found")

    # -- routes -------------------------------------------------------------------------------

    async def _page(self, request: Request) -> Response:
        try:
            self._check(request)
        except _Refused as exc:
            title, text = _NO_CHECK[exc.status]
            _ = gettext_for(request)
            return PAGES.render(request, "ended.html", status=exc.status, title=_(title),
                                text=_(text))  # fmt: skip
        return PAGES.render(request, "handoff.html")

    async def _static(self, request: Request) -> Response:
        name = str(request.path_params["name"])
        if name not in _STATIC:
            return Response("404: not found\n", status_code=404, media_type="text/plain")
        return Response((STATIC_DIR / name).read_bytes(), media_type=_STATIC[name])

    async def _state(self, request: Request) -> Response:
        try:
            check = self._check(request)
        except _Refused as exc:
            return _error(exc.status, str(exc))
        instruction = await check.instruction()
        check.last_seen = time.monotonic()
        if check.state == "ended":
            check.outcome_seen.set()
        tr = translations(language(request))
        return JSONResponse(
            {
                "state": check.state,
                "passed": check.has_passed,
                "run": check.run_name,
                "person": check.person,
                "time_left": round(check.time_left(), 1),
                "instruction": instruction.as_json(tr),
                # the outcome's lines: the customer's voice (catalog ids), in the page's language
                "outcome": [tr.gettext(line) for line in check.outcome],
            }
        )

    async def _image(self, request: Request) -> Response:
        try:
            png = await self._check(request).image()
        except _Refused as exc:
            return _error(exc.status, str(exc))
        except HandoffClosed as exc:
            return _error(409, str(exc))
        return Response(png, media_type="image/png")

    async def _click(self, request: Request) -> Response:
        async def click(check: CheckHandoff, body: Any) -> None:
            if not isinstance(body, dict) or set(body) != {"x", "y"}:
                raise _Refused(400, 'expected {"x": number, "y": number}')
            await check.click(*read_point([body["x"], body["y"]]))

        return await self._act(request, click)

    async def _drag(self, request: Request) -> Response:
        async def drag(check: CheckHandoff, body: Any) -> None:
            raw = body.get("points") if isinstance(body, dict) and set(body) == {"points"} else None
            if not isinstance(raw, list):
                raise _Refused(400, 'expected {"points": [[x, y], ...]}')
            await check.drag([read_point(point) for point in raw])  # 2 to MAX_DRAG_POINTS

        return await self._act(request, drag)

    async def _act(
        self, request: Request, action: Callable[[CheckHandoff, Any], Awaitable[None]]
    ) -> Response:
        """A person's action on the check, from the posted JSON; its refusals as 4xx."""
        try:
            check = self._check(request)
            await action(check, await _json_body(request))
        except _Refused as exc:
            return _error(exc.status, str(exc))
        except HandoffClosed as exc:  # its message is a catalog id: said in the page's language
            return _error(409, gettext_for(request)(str(exc)))
        except ValueError as exc:
            return _error(400, str(exc))
        return JSONResponse({"ok": True})


async def _json_body(request: Request) -> Any:
    """The POST's JSON, once it is known to come from the page itself and to be small."""
    if not _same_origin(request):
        raise _Refused(403, "only the hand-off page itself may post here")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise _Refused(415, "expected application/json")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise _Refused(413, f"the body is larger than {MAX_BODY} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise _Refused(413, f"the body is larger than {MAX_BODY} bytes")
    try:
        return json.loads(body)
    except ValueError as exc:  # UnicodeDecodeError included
        raise _Refused(400, "the body is not JSON") from exc


def _same_origin(request: Request) -> bool:
    """The request comes from a page of this server: ``Origin`` names it (browsers send it on
    every POST), and ``Sec-Fetch-Site``, when sent, says same-origin."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site != "same-origin":
        return False
    origin, host = request.headers.get("origin"), request.headers.get("host")
    return origin is not None and host is not None and origin == f"{request.url.scheme}://{host}"


def bind_listening(host: str, port: int, backlog: int = 64) -> socket.socket:
    """A non-blocking socket listening on ``host:port`` (0: a free port), for uvicorn."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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
