"""The ASGI application: the JSON API, the customer's and the operator's pages, the hand-off
links, ``/docs``; and what wraps every request: security headers (a strict CSP), a body size
limit, an access log with no path parameter or query in it, and error answers without
tracebacks or values.

Every door answers a malformed request the same way, before any handler runs: a path with a NUL
or another control character is 400; a body larger than :data:`MAX_BODY` is 413 (411 without a
length); a JSON body is read by the one reader the hand-off pages use too
(:func:`bot.handoff.server.parse_json`: not UTF-8, not JSON, or nested too deep is 400, never a
RecursionError). A sealed value the service's key cannot open any more is 410 with a clear
state, never 500. Each request has a redaction scope of its own: the values it registers are
masked in everything written while it lasts, then forgotten.
"""

from __future__ import annotations

import contextlib
import html
import json
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import bot.serve.api as api
import bot.serve.auth as auth
import bot.serve.customer as customer
import bot.serve.opsweb as opsweb
import bot.serve.ui as ui
from bot.handoff import HandoffServer
from bot.handoff.web import MAX_BODY as HANDOFF_MAX_BODY
from bot.handoff.web import SECURITY_HEADERS, Refused, parse_json
from bot.i18n import N_
from bot.i18n.web import gettext_for
from bot.privacy import REDACTOR, logger
from bot.serve.context import Context, attach_session
from bot.serve.forward import Fleet, FleetDoor
from bot.serve.seal import Unreadable

__all__ = ["MAX_BODY", "LastResort", "create_app", "not_found"]

#: the largest request body (a people CSV of a few thousand rows fits)
MAX_BODY = 1024 * 1024
#: smaller limits of some doors (their readers check again): a customer's link, a hand-off
#: link, the login form
_DOOR_LIMITS = (("/l/", 8 * 1024), ("/h/", HANDOFF_MAX_BODY), ("/login", 8 * 1024))
_DRAIN = 16 * MAX_BODY  # a larger body is not even read: the connection closes
_HEADERS = {
    **SECURITY_HEADERS,
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
}


_WORDS = frozenset(
    [
        "api",
        "runs",
        "check.png",
        "check",
        "click",
        "drag",
        "evidence",
        "links",
        "revoke",
        "reset",
        "extend",
        "batches",
        "ledger",
        "l",
        "h",
        "ui",
        "login",
        "logout",
        "docs",
        "static",
        "events",
        "healthz",
        "openapi.json",
        "state",
        "image",
        "verify",
        "run",
        "result.json",
        "before-submit.png",
        "final.png",
        "captcha.png",
        "run.log",
        "trace.zip",
        "report",
        "operators",
        "report.html",
        "assets",
        "serve.css",
        "ui.js",
        "customer.js",
        "check.js",
        "check.css",
        "handoff.css",
        "favicon.ico",
        "icon.svg",
        # bot/serve/opsweb.py
        "readyz",
        "metrics",
        "webhooks",
        "deliveries",
        "audit",
        "ops.js",
    ]
)


_BODY_METHODS = frozenset(["POST", "PUT", "PATCH", "DELETE"])


def _is_json(media: bytes) -> bool:
    """A body FastAPI would parse as JSON: declared so, or declared as nothing at all."""
    kind = media.split(b";")[0].strip().lower()
    return kind in (b"", b"application/json") or kind.endswith(b"+json")


class _Guard:
    """Pure ASGI middleware: the headers on every answer, the malformed requests refused (a
    control character in the path, the body limit, a JSON body that does not parse), the
    session looked up, the access log."""

    def __init__(self, app: ASGIApp, ctx: Context) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        path = str(scope.get("path", ""))
        limit = next((n for door, n in _DOOR_LIMITS if path.startswith(door)), MAX_BODY)
        if path.startswith("/api/runs/") and "/check" in path:  # the check's doors agree
            limit = HANDOFF_MAX_BODY
        too_big = declared is not None and (not declared.isdigit() or int(declared) > limit)
        status = [0]
        started = time.monotonic()
        route = self.route_of(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
                h = MutableHeaders(scope=message)
                for name, value in _HEADERS.items():
                    if name not in h:
                        h[name] = value
            await send(message)

        refused: Refused | None = None
        if any(ord(c) < 0x20 or c == "\x7f" for c in path):
            refused = Refused(400, "the path holds a control character")
        elif too_big or chunked:
            if too_big and declared is not None and declared.isdigit() and int(declared) <= _DRAIN:
                await _discard(receive)  # read, so that the client hears the answer
            refused = Refused(
                413 if too_big else 411,
                f"the body must be at most {limit} bytes, with a Content-Length",
            )
        elif (
            scope.get("method") in _BODY_METHODS
            and declared not in (None, b"0")
            and _is_json(headers.get(b"content-type", b""))
        ):
            raw = await _read_all(receive)
            try:
                parse_json(raw)
            except Refused as exc:
                refused = exc
            receive = _replay(raw, receive)
        if refused is not None:
            answer = JSONResponse({"detail": str(refused)}, status_code=refused.status)
            await answer(scope, receive, send_with_headers)
        else:
            if b"cookie" in headers:
                await attach_session(self.ctx, scope)
            await self.app(scope, receive, send_with_headers)
        logger.info(
            "{} {} {} {:.0f}ms",
            scope.get("method"),
            route,
            status[0],
            (time.monotonic() - started) * 1000,
        )

    @staticmethod
    def route_of(scope: Scope) -> str:
        """The path with every part that is not one of the service's own words masked: a path
        may hold a link's token, a run id or a value. The query is never logged."""
        parts = str(scope.get("path", "")).split("/")
        return "/".join(p if p in _WORDS or not p else "*" for p in parts)[:200]


async def _discard(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return


async def _read_all(receive: Receive) -> bytes:
    """The whole body (its length was checked against :data:`MAX_BODY` already)."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return bytes(body)
        body += message.get("body", b"")
        if not message.get("more_body"):
            return bytes(body)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the body read already, then waits as the server's would."""
    given = False

    async def again() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


class LastResort:
    """Pure ASGI, outermost: a request's redaction scope, and the end of every exception.

    The scope is entered here, for the rest of the request's task, so that whatever is written
    about the request after its handler (an error logged on the way out) is still masked with
    its values. Starlette's own error middleware answers an uncaught exception with the app's
    handler (500, logged through the redactor), then raises it again for the server, whose
    logger would print the traceback outside the redactor: it ends here.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            REDACTOR.enter_scope()
        with contextlib.suppress(Exception):  # answered 500 and logged (redacted) already
            await self.app(scope, receive, send)


def _problems(exc: RequestValidationError) -> list[dict[str, Any]]:
    """pydantic's errors without the input (a value) or its context."""
    return [
        {
            "loc": [str(p) for p in err.get("loc", ())][:4],
            "msg": REDACTOR(str(err.get("msg", "invalid")))[:200],
            "type": str(err.get("type", "value_error")),
        }
        for err in exc.errors()
    ]


def create_app(ctx: Context, handoffs: HandoffServer, fleet: Fleet | None = None) -> FastAPI:
    """The service's app; ``fleet``: this process among the others (requests about a check
    another process holds are forwarded to it; None: an app on its own, as in-process tests
    make it)."""
    app = FastAPI(
        title="icpbot serve",
        summary="Queue ICP SMS verifications; pass the security checks; read the outcomes.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.state.fleet = fleet

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return JSONResponse({"detail": _problems(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and exc.detail == _NO_ROUTE:
            return not_found(request)
        return JSONResponse(
            {"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Unreadable)
    async def _gone(request: Request, exc: Unreadable) -> Response:
        return JSONResponse(
            {
                "detail": "this can no longer be used: it was sealed under a secret the service "
                "no longer has; ask your provider for a new one",
                "state": "unreadable",
            },
            status_code=410,
        )

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> Response:
        # The traceback goes through the redactor (bot.privacy's patch), never to stderr raw.
        logger.opt(exception=exc).error("request failed: {}", type(exc).__name__)
        if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            _ = gettext_for(request)
            return ui.render(request, "gone.html", status=500,
                             title=_(N_("Something went wrong")),
                             text=_(N_("The service could not answer this request.")),
                             todo=_(N_("Try again in a moment.")))  # fmt: skip
        return JSONResponse({"detail": "internal error"}, status_code=500)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(_docs_page(app.openapi()))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(api.router)
    app.include_router(customer.router)
    app.include_router(ui.router)
    app.include_router(auth.router)
    app.include_router(opsweb.router)  # /readyz, /metrics, webhooks, the audit log
    # The hand-off pages (/h/<token>, /static/handoff.*) of every run's check_url, their relayed
    # actions counted (metrics). Every path no route of the service's own knows ends there: its
    # 404 is the service's, too.
    handoffs.app.add_exception_handler(404, _not_found_of_mount)
    app.mount("/", opsweb.CountedHandoffs(handoffs.app))
    if fleet is not None:  # a run another process holds: forwarded there
        app.add_middleware(FleetDoor, fleet=fleet)
    app.add_middleware(_Guard, ctx=ctx)
    return app


#: the detail of Starlette's 404 when no route matched (a route's own 404 names what is missing)
_NO_ROUTE = "Not Found"


def not_found(request: Request) -> Response:
    """A path the service does not know: JSON for the API, an English page for a person (a
    mistyped address, an old bookmark), with the way back."""
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": "not found"}, status_code=404)
    return ui.render(request, "notfound.html", status=404)


async def _not_found_of_mount(request: Request, exc: Exception) -> Response:
    return not_found(request)


def _docs_page(spec: dict[str, Any]) -> str:
    """The OpenAPI description as one self-contained page (nothing from another origin)."""
    rows = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            rows.append(
                f"<tr><td><code>{html.escape(method.upper())}</code></td>"
                f"<td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(str(op.get('summary', '')))}</td></tr>"
            )
    schema = html.escape(json.dumps(spec, indent=2))
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>icpbot serve API"
        "</title><link rel='icon' href='/favicon.ico' sizes='32x32'>"
        "<link rel='stylesheet' href='/assets/serve.css'></head><body><main>"
        "<h1>icpbot serve: the JSON API</h1><p>Every call needs <code>Authorization: Bearer "
        "TOKEN</code> (<code>icpbot serve add-token NAME</code>). The machine-readable "
        "description: <a href='/openapi.json'>/openapi.json</a>.</p>"
        f"<table><tr><th>method</th><th>path</th><th>what</th></tr>{''.join(rows)}</table>"
        f"<details><summary>OpenAPI</summary><pre>{schema}</pre></details></main></body></html>"
    )
