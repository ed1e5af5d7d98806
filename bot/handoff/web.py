"""What every door to a security check shares over HTTP: the security headers, the one
same-origin rule, the one JSON body reader, and refusals that carry their status.

The hand-off links (``/h/<token>``), the customer's links (``/l/<token>/check``) and the API
(``/api/runs/<id>/check``) all read a person's click or drag with :func:`json_body`, so a body
that one door refuses is refused by every door, with the same status.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "MAX_BODY",
    "SECURITY_HEADERS",
    "Refused",
    "SecurityHeaders",
    "json_body",
    "refusal",
    "same_origin",
]

#: the largest JSON body a person's page posts (a drag of MAX_DRAG_POINTS points fits)
MAX_BODY = 16 * 1024
#: on every response: nothing from other origins, no inline script, no framing, no caching, and
#: no referrer (a link is a capability: it must not leak to another site)
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


class Refused(Exception):
    """A request refused with ``status``; ``field``: the body's field at fault (a 422), never
    its value."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


def refusal(exc: Refused) -> JSONResponse:
    """The one error body of every door: ``{"detail": message}``, or for a 422 the field at
    fault as the API's validation errors name it (``loc``, ``msg``, ``type``)."""
    if exc.status == 422:
        detail: Any = [
            {"loc": ["body", exc.field or "body"], "msg": str(exc), "type": "value_error"}
        ]
    else:
        detail = str(exc)
    return JSONResponse({"detail": detail}, status_code=exc.status)


class SecurityHeaders:
    """Pure ASGI middleware: ``headers`` (default :data:`SECURITY_HEADERS`) on every response,
    errors included; a header the app set itself is kept."""

    def __init__(self, app: ASGIApp, headers: dict[str, str] | None = None) -> None:
        self.app = app
        self.headers = SECURITY_HEADERS if headers is None else headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def same_origin(request: Request) -> bool:
    """The request comes from a page of this server: ``Origin`` names it (browsers send it on
    every POST), and ``Sec-Fetch-Site``, when sent, says same-origin. A request without
    ``Origin`` did not come from a page of ours."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site != "same-origin":
        return False
    origin, host = request.headers.get("origin"), request.headers.get("host")
    return origin is not None and host is not None and origin == f"{request.url.scheme}://{host}"


async def json_body(request: Request, *, from_page: bool = True) -> Any:
    """The POST's JSON, once it is known to come from the page itself and to be small.

    ``from_page``: the request's credential is ambient (a link in the URL, a session cookie), so
    it must come from a page of this origin (:func:`same_origin`). False only for a credential a
    browser never adds by itself (``Authorization: Bearer``). Refused: 403 (another origin),
    415 (not ``application/json``), 413 (more than :data:`MAX_BODY` bytes), 400 (not JSON).
    """
    if from_page and not same_origin(request):
        raise Refused(403, "only this site's own page may post here")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise Refused(415, "expected application/json")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise Refused(413, f"the body is larger than {MAX_BODY} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise Refused(413, f"the body is larger than {MAX_BODY} bytes")
    try:
        return json.loads(body)
    except ValueError as exc:  # UnicodeDecodeError included
        raise Refused(400, "the body is not JSON") from exc
