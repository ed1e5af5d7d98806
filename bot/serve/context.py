"""What every request handler reaches: the service, the store, the relay, the sessions; and the
two ways in: an API token (``Authorization: Bearer``) or an operator's session cookie.

Sessions are signed cookies (itsdangerous) holding the operator's name and a CSRF token; they
are HttpOnly, SameSite=Strict, and Secure when the request came over TLS (a reverse proxy's
``X-Forwarded-Proto``, trusted from loopback). A state-changing request with a session must
carry the CSRF token (a form field ``csrf`` or the header ``X-CSRF-Token``) and come from this
origin.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from bot.config.people import load_people
from bot.handoff import Relay
from bot.privacy import reveal
from bot.serve.service import Service
from bot.serve.store import ServeStore, new_id
from bot.serve.throttle import LoginThrottle

__all__ = [
    "SESSION_COOKIE",
    "SESSION_MAX_AGE_S",
    "Context",
    "Session",
    "context",
    "csrf_ok",
    "require_api",
    "same_origin",
    "session_of",
]

SESSION_COOKIE = "icpbot_session"
SESSION_MAX_AGE_S = 12 * 3600
_SAFE = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Session:
    operator: str
    csrf: str


@dataclass
class Context:
    service: Service
    relay: Relay
    kick: Callable[[], None] = lambda: None  # wakes the workers after a run is queued
    public_base: str | None = None  # the origin links are made on (else the request's)
    version: list[float] = field(default_factory=lambda: [0.0])  # bumped on every change

    def __post_init__(self) -> None:
        self.sessions = URLSafeTimedSerializer(
            self.service.sealer.signing_key, salt="icpbot-session"
        )
        self.changed = asyncio.Event()  # set (then replaced) on every change
        self.stopping = asyncio.Event()  # the service stops: live streams end
        self.logins = LoginThrottle()

    @property
    def store(self) -> ServeStore:
        return self.service.store

    def bump(self) -> None:
        """A run changed: live views look again (each waits on the event it took before it
        last looked, so no change falls between a look and the wait)."""
        self.version[0] = time.time()
        self.changed.set()
        self.changed = asyncio.Event()

    def public_url(self, request: Request) -> str:
        if self.public_base:
            return self.public_base.rstrip("/")
        return str(request.base_url).rstrip("/")

    # -- sessions -------------------------------------------------------------------------------

    def new_session(self, operator: str) -> str:
        return self.sessions.dumps({"op": operator, "csrf": secrets.token_urlsafe(24)})

    def read_session(self, cookie: str | None) -> Session | None:
        if not cookie or len(cookie) > 1000:
            return None
        try:
            data = self.sessions.loads(cookie, max_age=SESSION_MAX_AGE_S)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("op"), str):
            return None
        return Session(str(data["op"]), str(data.get("csrf", "")))

    # -- blocking helpers (worker threads) -------------------------------------------------------

    def queue_people(
        self, data: bytes, action: str, base_url: str | None, site: str | None, caller: str
    ) -> list[str]:
        """A batch from a people CSV: its id, then each run's id. Every row is checked before
        any run is queued."""
        from bot.types import Action

        path = people_file(data)
        try:
            scenarios = load_people(path, action=Action(action))
        finally:
            path.unlink(missing_ok=True)
        self.service.site_and_url(site, base_url)
        batch = new_id()
        ids = [batch]
        for sc in scenarios:
            ids.append(
                self.service.queue_run(
                    action=action,
                    mobile=reveal(sc.inputs.mobile),
                    id_last6=reveal(sc.inputs.id_last6),
                    code=reveal(sc.inputs.code) if sc.inputs.code else None,
                    created_by=caller,
                    site=site,
                    base_url=base_url,
                    batch_id=batch,
                )
            )
        return ids

    def ledger_rows(self) -> list[dict[str, Any]]:
        rows = self.store.execute(
            "SELECT id, action, mobile_masked, started_at, finished_at, outcome, site_status,"
            " sent FROM attempts ORDER BY id DESC LIMIT 200"
        ).fetchall()
        keys = ("id", "action", "person", "started_at", "finished_at", "outcome", "site_status")
        out = []
        for row in rows:
            item = {
                k: (v if v is None or isinstance(v, int) else str(v))
                for k, v in zip(keys, row, strict=False)
            }
            item["sent"] = bool(row[7])
            out.append(item)
        return out


def people_file(data: bytes) -> Path:
    """The uploaded list as a private temporary file (the loader reads files); delete it."""
    fd, name = tempfile.mkstemp(prefix="icpbot-people-", suffix=".csv")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return Path(name)


def context(request: Request) -> Context:
    found: Context = request.app.state.ctx
    return found


def same_origin(request: Request) -> bool:
    """Whether the request comes from this origin (or from no page at all). A form's POST
    under ``Referrer-Policy: no-referrer`` carries ``Origin: null``: then the browser's own
    ``Sec-Fetch-Site: same-origin`` must say it."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin == "null":
        return fetch_site == "same-origin"
    return origin is None or origin == str(request.base_url).rstrip("/")


def session_of(request: Request) -> Session | None:
    return context(request).read_session(request.cookies.get(SESSION_COOKIE))


def csrf_ok(request: Request, session: Session, given: str | None) -> bool:
    return (
        given is not None
        and hmac.compare_digest(given.encode(), session.csrf.encode())
        and same_origin(request)
    )


async def require_api(request: Request) -> str:
    """Who calls: ``token:NAME`` or ``operator:NAME``; 401 otherwise (403: a session's
    state-changing request without its CSRF token)."""
    ctx = context(request)
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and token and len(token) <= 200:
            owner = await asyncio.to_thread(ctx.service.token_owner, token)
            if owner is not None:
                return f"token:{owner}"
        raise HTTPException(401, "a valid API token is required", {"WWW-Authenticate": "Bearer"})
    session = session_of(request)
    if session is None:
        raise HTTPException(401, "a valid API token is required", {"WWW-Authenticate": "Bearer"})
    if request.method not in _SAFE and not csrf_ok(
        request, session, request.headers.get("x-csrf-token")
    ):
        raise HTTPException(403, "missing or wrong CSRF token")
    return f"operator:{session.operator}"
