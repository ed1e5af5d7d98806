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
    "MAX_JSON_DEPTH",
    "SECURITY_HEADERS",
    "Refused",
    "SecurityHeaders",
    "json_body",
    "parse_json",
    "read_body",
    "read_json",
    "refusal",
    "same_origin",
]

#: the largest JSON body a person's page posts (a drag of MAX_DRAG_POINTS points fits)
MAX_BODY = 16 * 1024
#: how deeply a posted JSON document may nest (a drag's points are 3 levels deep)
MAX_JSON_DEPTH = 32
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
