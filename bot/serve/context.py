"""What every request handler reaches: the service, the store, the relay, the sessions; and the
two ways in: an API token (``Authorization: Bearer``) or an operator's session cookie.

Sessions live in the database (:mod:`bot.serve.sessions`): the cookie holds the session's random
id and its CSRF token, signed (itsdangerous, with the secret's signing key) so that a forged
cookie costs no database look-up. The cookie is HttpOnly, SameSite=Strict, and Secure when the
request came over TLS (a trusted proxy's ``X-Forwarded-Proto``). The session is looked up once
per request, before the handlers run (:func:`attach_session`). A state-changing request with a
session must carry the CSRF token (a form field ``csrf`` or the header ``X-CSRF-Token``) and
come from this origin.

Password hashing (argon2id: 64 MiB and tens of milliseconds per try) runs on a small executor of
its own (:class:`Hashing`), so that a flood of logins can neither take the threads the runs and
the database calls use nor the memory of more than a few hashes at once.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import HTTPException, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.types import Scope

from bot.config.people import load_people
from bot.errors import Problem, ScenarioError
from bot.handoff import Relay
from bot.privacy import reveal
from bot.serve.links import LinkRow
from bot.serve.service import Service
from bot.serve.sessions import SESSION_MAX_AGE_S
from bot.serve.store import ServeStore, new_id
from bot.serve.throttle import LoginThrottle

T = TypeVar("T")

__all__ = [
    "SESSION_COOKIE",
    "SESSION_MAX_AGE_S",
    "Busy",
    "Context",
    "Hashing",
    "Session",
    "attach_session",
    "context",
    "csrf_ok",
    "require_api",
    "same_origin",
    "session_of",
]

SESSION_COOKIE = "icpbot_session"
_SAFE = ("GET", "HEAD", "OPTIONS")
_STATE_KEY = "icpbot_session"


@dataclass(frozen=True)
class Session:
    operator: str
    csrf: str
    id: str  # the session's id (the database keeps its hash)


class Busy(Exception):
    """More password checks are waiting than the hashing executor takes."""


class Hashing:
    """Password hashing on an executor of its own: ``threads`` at once, at most ``waiting``
    more queued (beyond that: :class:`Busy`, answered 429 with ``Retry-After``)."""

    def __init__(self, threads: int = 2, waiting: int = 8) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="icpbot-hash")
        self._slots = threads + waiting
        self._busy = 0

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        if self._busy >= self._slots:
            raise Busy("too many logins at once")
        self._busy += 1  # on the loop's thread only: no lock needed
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, functools.partial(work, *args))
        finally:
            self._busy -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class Context:
    service: Service
    relay: Relay
    kick: Callable[[], None] = lambda: None  # wakes the workers after a run is queued
    public_base: str | None = None  # the origin links are made on (else the request's)
    version: list[float] = field(default_factory=lambda: [0.0])  # bumped on every change
    #: a customer opened their link: its site's page may be opened ahead (bot.serve.warm)
    warm: Callable[[LinkRow], None] = lambda link: None

    def __post_init__(self) -> None:
        self.signer = URLSafeTimedSerializer(self.service.sealer.signing_key, salt="icpbot-session")
        self.changed = asyncio.Event()  # set (then replaced) on every change
        self.stopping = asyncio.Event()  # the service stops: live streams end
        self.logins = LoginThrottle(self.store, self.service.sealer.keys.hash)
        self.hashing = Hashing()

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

    def cookie_for(self, session_id: str) -> str:
        """The session cookie's value: the session's id and a new CSRF token, signed."""
        return self.signer.dumps({"sid": session_id, "csrf": secrets.token_urlsafe(24)})

    async def session_from_cookie(self, cookie: str | None) -> Session | None:
        """The live session a cookie names; None for none, a forged one, or one that ended
        (logout, a password reset, a removed operator, 12 h)."""
        if not cookie or len(cookie) > 1000:
            return None
        try:
            data = self.signer.loads(cookie, max_age=SESSION_MAX_AGE_S)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        session_id, csrf = data.get("sid"), data.get("csrf")
        if not isinstance(session_id, str) or not isinstance(csrf, str) or len(session_id) > 100:
            return None
        operator = await asyncio.to_thread(self.service.sessions.operator, session_id)
        return None if operator is None else Session(operator, csrf, session_id)

    # -- blocking helpers (worker threads) -------------------------------------------------------

    def queue_people(
        self, data: bytes, action: str, base_url: str | None, site: str | None, caller: str
    ) -> list[str]:
        """A batch from a people CSV: its id, then each run's id. Every row is checked before
        any run is queued."""
        from bot.types import Action

        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            problem = Problem("people", None, "", "file is not UTF-8 text")
            raise ScenarioError([problem], path="people") from None
        # Parsed in memory: an upload never touches a disk.
        scenarios = load_people("people", action=Action(action), text=text)
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


async def attach_session(ctx: Context, scope: Scope) -> None:
    """Look up the request's session (if its cookie names one) for :func:`session_of`."""
    cookie = Request(scope).cookies.get(SESSION_COOKIE)
    found = await ctx.session_from_cookie(cookie) if cookie else None
    scope.setdefault("state", {})[_STATE_KEY] = found


def session_of(request: Request) -> Session | None:
    """The request's live session (looked up by :func:`attach_session`), or None."""
    found = request.scope.get("state", {}).get(_STATE_KEY)
    return found if isinstance(found, Session) else None


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
