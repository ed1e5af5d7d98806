"""The hand-off page: a run's security check shown to a person anywhere, their clicks and drags
sent back to the real page.

A small Starlette app served by uvicorn on the engine's own asyncio loop (no thread, no second
loop: every Playwright call stays on the loop that owns the page). icpbot owns SIGINT and SIGTERM,
so uvicorn installs no signal handler. Each check gets an unguessable link, ``/h/<token>``: the
token is the capability.

``GET /h/<token>`` is the page (the check's widget, :mod:`bot.handoff.widget`); under it, the
check's routes that every door shares (:func:`bot.handoff.routes.check_routes`: ``state``,
``image``, ``click``, ``drag``), with the one body reader and origin rule of
:mod:`bot.handoff.web`. An unknown token is 404; a check that was unregistered is 410.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import secrets
import socket
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from bot.handoff.check import CheckHandoff
from bot.handoff.routes import Access, check_routes, starlette_routes
from bot.handoff.web import Refused, SecurityHeaders
from bot.handoff.widget import STATIC_DIR, STATIC_FILES, check_widget
from bot.i18n import N_
from bot.i18n.web import Pages, gettext_for
from bot.privacy import logger

__all__ = [
    "HandoffServer",
    "QuietServer",
    "Refused",
    "bind_listening",
    "http_url",
    "is_loopback",
    "static_file",
]

#: the pages (Jinja2 templates in the person's language: English or Simplified Chinese)
PAGES = Pages(STATIC_DIR)
#: a link that serves no check, as its page says it: (title, text)
_NO_CHECK = {
    0: (N_("Page not found"), N_("There is no page at this address.")),
    404: (N_("Link not found"), N_("There is no security check at this address.")),
    410: (N_("The security check is over"),
          N_("This link has expired: the check is over. You can close this page.")),
}  # fmt: skip
_RETIRED_KEPT = 1024  # unregistered tokens still answered 410 rather than 404


def static_file(name: str) -> Response:
    """One of the check's files (``check.js``, ``check.css``, ``handoff.css``); 404 else."""
    if name not in STATIC_FILES:
        return Response("404: not found\n", status_code=404, media_type="text/plain")
    return Response((STATIC_DIR / name).read_bytes(), media_type=STATIC_FILES[name])


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


async def _not_found(request: Request, exc: Exception) -> Response:
    """An unknown address: a page in the person's language for a browser, else plain text."""
    if "text/html" not in request.headers.get("accept", ""):
        return Response("404: not found\n", status_code=404, media_type="text/plain")
    return _no_check(request, 0, 404)


def _no_check(request: Request, which: int, status: int) -> Response:
    """The page of a link that serves no check (``which``: a key of :data:`_NO_CHECK`)."""
    title, text = _NO_CHECK[which]
    _ = gettext_for(request)
    return PAGES.render(request, "ended.html", status=status, title=_(title), text=_(text))


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
            *starlette_routes("/h/{token}", check_routes(self._resolve)),
            Route("/static/{name}", self._static, methods=["GET"]),
        ]
        self.app = Starlette(
            routes=routes,
            middleware=[Middleware(SecurityHeaders)],
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
                "the security-check hand-off listens on {}, not only on this machine: anyone who "
                "reaches it with a link can act on the check; put TLS in front (docs/handoff.md)",
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
        try:
            if server is not None and task is not None:
                # Requests already in flight (a page told the outcome) are answered with the
                # check's real state; new ones find no listener. A link answered 410 while its
                # page's last state request was still on its way hid an outcome just shown.
                server.should_exit = True
                await task
        finally:
            for token in list(self._checks):
                self.unregister(token)

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

    def holds(self, token: str) -> bool:
        """Whether this server serves the check of ``token`` now (else another process of a
        service may: :mod:`bot.serve.forward`)."""
        return token in self._checks

    def _check(self, request: Request) -> CheckHandoff:
        token = str(request.path_params["token"])
        found = self._checks.get(token)
        if found is not None:
            return found
        if token in self._retired:
            raise Refused(410, "this security check has ended")
        raise Refused(404, "not found")

    async def _resolve(self, request: Request) -> Access:
        """The hand-off door: the token in the path is the capability."""
        return Access(self._check(request))

    # -- routes -------------------------------------------------------------------------------

    async def _page(self, request: Request) -> Response:
        try:
            self._check(request)
        except Refused as exc:
            return _no_check(request, exc.status, exc.status)
        check = check_widget(
            gettext_for(request), url=request.url.path.rstrip("/"), meta=True, outcome=True
        )
        return PAGES.render(request, "handoff.html", check=check)

    async def _static(self, request: Request) -> Response:
        return static_file(str(request.path_params["name"]))


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
