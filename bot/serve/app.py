"""The ASGI application: the JSON API, the customer's and the operator's pages, the hand-off
links, ``/docs``; and what wraps every request: security headers (a strict CSP), a body size
limit, an access log with no path parameter or query in it, and error answers without
tracebacks or values.
"""

from __future__ import annotations

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
import bot.serve.ui as ui
from bot.handoff import HandoffServer
from bot.handoff.web import SECURITY_HEADERS
from bot.privacy import REDACTOR, logger
from bot.serve.context import Context
from bot.serve.forward import Fleet, FleetDoor

__all__ = ["MAX_BODY", "create_app"]

#: the largest request body (a people CSV of a few thousand rows fits)
MAX_BODY = 1024 * 1024
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
    ]
)


class _Guard:
    """Pure ASGI middleware: the headers on every answer, the body limit, the access log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        too_big = declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY)
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

        if too_big or chunked:
            if too_big and declared is not None and declared.isdigit() and int(declared) <= _DRAIN:
                await _discard(receive)  # read, so that the client hears the answer
            answer = JSONResponse(
                {"detail": f"the body must be at most {MAX_BODY} bytes, with a Content-Length"},
                status_code=413 if too_big else 411,
            )
            await answer(scope, receive, send_with_headers)
        else:
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


def create_app(ctx: Context, handoffs: HandoffServer, fleet: Fleet) -> FastAPI:
    """The service's app; ``fleet``: this process among the others (requests about a check
    another process holds are forwarded to it)."""
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
        return JSONResponse(
            {"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> Response:
        logger.error("request failed: {}", type(exc).__name__)
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
    # The hand-off pages (/h/<token>, /static/handoff.*) of every run's check_url.
    app.mount("/", handoffs.app)
    app.add_middleware(FleetDoor, fleet=fleet)
    app.add_middleware(_Guard)
    return app


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
        "</title><link rel='stylesheet' href='/assets/serve.css'></head><body><main>"
        "<h1>icpbot serve: the JSON API</h1><p>Every call needs <code>Authorization: Bearer "
        "TOKEN</code> (<code>icpbot serve add-token NAME</code>). The machine-readable "
        "description: <a href='/openapi.json'>/openapi.json</a>.</p>"
        f"<table><tr><th>method</th><th>path</th><th>what</th></tr>{''.join(rows)}</table>"
        f"<details><summary>OpenAPI</summary><pre>{schema}</pre></details></main></body></html>"
    )
