"""The hop's signature (see :mod:`bot.serve.forward`): a request one process forwards to another
carries :data:`HOP_HEADER`, who it is for and the scheme and client address the first process
saw, signed with a key derived from the service's secret (HMAC-SHA256 over the method, path,
Host and the body's hash, at most :data:`HOP_MAX_AGE_S` old).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

from starlette.types import Scope

__all__ = [
    "FORWARDED",
    "HOP_HEADER",
    "HOP_MAX_AGE_S",
    "Hop",
    "forwarded",
    "header",
    "read_hop",
    "request_target",
    "sign_hop",
]

HOP_HEADER = "x-icpbot-hop"
#: a forwarded request older than this is refused (seconds, by the two machines' clocks)
HOP_MAX_AGE_S = 30.0
#: the key in a forwarded request's ASGI scope: the owner id it was forwarded to
FORWARDED = "icpbot.forwarded_to"


@dataclass(frozen=True)
class Hop:
    """What a forwarded request says of itself: the owner id it is for, and the scheme and
    client address the first process saw."""

    to: str
    scheme: str
    client: str


def _mac(key: bytes, payload: str, method: str, target: str, host: str, body: bytes) -> str:
    signed = "\n".join([payload, method, target, host, hashlib.sha256(body).hexdigest()])
    return hmac.new(key, signed.encode(), hashlib.sha256).hexdigest()


def sign_hop(
    key: bytes, hop: Hop, *, method: str, target: str, host: str, body: bytes, at: float
) -> str:
    """The value of :data:`HOP_HEADER` for a request forwarded to ``hop.to``."""
    doc = {"at": round(at, 3), "to": hop.to, "scheme": hop.scheme, "client": hop.client}
    payload = base64.urlsafe_b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()
    return f"{payload}.{_mac(key, payload, method, target, host, body)}"


def read_hop(
    key: bytes, value: str, *, method: str, target: str, host: str, body: bytes, now: float
) -> Hop | None:
    """The hop a request's :data:`HOP_HEADER` says, if its signature holds for this request
    and it is recent; None otherwise."""
    payload, dot, mac = value.partition(".")
    if not dot or len(value) > 2000:
        return None
    expected = _mac(key, payload, method, target, host, body)
    if not hmac.compare_digest(expected, mac):
        return None
    try:
        doc = json.loads(base64.urlsafe_b64decode(payload.encode()))
        hop = Hop(str(doc["to"]), str(doc["scheme"]), str(doc["client"]))
        at = float(doc["at"])
    except (ValueError, KeyError, TypeError):
        return None
    if abs(now - at) > HOP_MAX_AGE_S or hop.scheme not in ("http", "https"):
        return None
    return hop


def forwarded(scope: Scope) -> bool:
    """Whether this request was forwarded by another process (it is answered here)."""
    return FORWARDED in scope


def request_target(scope: Scope) -> str:
    """The request's path and query as they came (what the hop signs)."""
    path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string") or b""
    return str((path + (b"?" + query if query else b"")).decode("latin-1"))


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of the request's header ``name`` (lower case), if any."""
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None
