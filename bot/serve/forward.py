"""Any process answers for any run: a request about a run that another process of the service
holds is forwarded to that process, and its answer streamed back.

A run's security check lives in the memory of the process that runs it (its page, its
:class:`~bot.handoff.check.CheckHandoff`), and its evidence on that process's disk; a proxy in
front of several processes sends each request to any of them. So :class:`FleetDoor` (ASGI
middleware) looks at each request about a check: the API's ``/api/runs/{id}/check…``, a
customer's ``/l/{token}/state`` and ``/l/{token}/check/…``, a hand-off link's ``/h/{token}…``.
When this process does not hold the check and the run's owner is another live process, the
request goes to the owner's internal address (:mod:`bot.serve.processes`), as it came: the
owner checks the credential itself (a token, a session, a link), so forwarding grants nothing.
Evidence is forwarded by its route, after its own authorization (:meth:`Fleet.evidence`).

The forwarded request carries :data:`HOP_HEADER` (:mod:`bot.serve.hop`): who it is for, the
scheme and client address the first process saw, signed with a key derived from the service's
secret (HMAC-SHA256 over the method, path, Host and the body's hash, at most
:data:`HOP_MAX_AGE_S` old). The receiving
process believes the scheme and the client from it (so that a page's same-origin rule holds
behind TLS), answers the request itself and never forwards it again; a hop header that does
not verify is refused (403). Internal addresses are loopback or private only.

Why forwarding rather than PostgreSQL's ``LISTEN/NOTIFY`` as a bus: the picture of a check is a
PNG of tens of kilobytes (a notification carries at most 8000 bytes), a click must reach the
page in a fraction of a second with its answer (refused, out of the box, over), and evidence
files are megabytes; one HTTP hop on a private network carries all of it as it is, with the
same routes and answers as a direct request, and works the same on SQLite.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from starlette.background import BackgroundTask
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.handoff import HandoffServer, Relay
from bot.privacy import logger
from bot.serve.hop import (
    FORWARDED,
    HOP_HEADER,
    HOP_MAX_AGE_S,
    Hop,
    forwarded,
    header,
    read_hop,
    request_target,
    sign_hop,
)
from bot.serve.links import Links, hand_off_hash
from bot.serve.processes import Processes, ProcessRow
from bot.serve.store import RunRow, ServeStore

__all__ = [
    "FORWARDED",
    "HOP_HEADER",
    "HOP_MAX_AGE_S",
    "Away",
    "Fleet",
    "FleetDoor",
    "Hop",
    "Target",
    "forwarded",
    "read_hop",
    "sign_hop",
]

#: the largest body forwarded (a check's click or drag is at most 16 KB)
MAX_FORWARDED_BODY = 64 * 1024
_DROPPED = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"content-length",
        b"forwarded",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"x-real-ip",
        HOP_HEADER.encode(),
    }
)
_DROPPED_BACK = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"upgrade", b"trailer"}
)
_API_CHECK = re.compile(r"^/api/runs/([^/]{1,40})/check(?:\.png|/state|/image|/click|/drag)?$")
_LINK = re.compile(r"^/l/([^/]{1,80})/(state|check/(?:state|image|click|drag))$")
_HAND_OFF = re.compile(r"^/h/([^/]{1,80})(?:/(?:state|image|click|drag))?$")
_LIVE = ("running", "needs_person")


# -- where a request is answered -------------------------------------------------------------


class _Gone:
    """The request names a check that no live process holds (410)."""


GONE = _Gone()


@dataclass(frozen=True)
class Target:
    """A live process to forward to: its internal address and owner id."""

    url: str
    owner: str


@dataclass(frozen=True)
class Away:
    """A run's files that no process can serve: where they are (a 404 names it)."""

    run_id: str
    machine: str | None
    folder: str
    process: str | None
    state: str

    def answer(self) -> JSONResponse:
        where = f"on machine {self.machine}" if self.machine else "on the machine that ran it"
        detail = (
            f"the files of run {self.run_id} are in {self.folder} {where} (process "
            f"{self.process or 'unknown'}, {self.state}); no running process of the service can "
            "reach them: start icpbot serve there, or keep --out on a disk every process shares"
        )
        return JSONResponse(
            {
                "detail": detail,
                "machine": self.machine,
                "folder": self.folder,
                "process": self.process,
            },
            status_code=404,
        )


class Fleet:
    """This process among the others: where a run's check or files are answered, and the
    forwarding itself (an HTTP client to the others' internal addresses)."""

    def __init__(
        self,
        store: ServeStore,
        processes: Processes,
        relay: Relay,
        handoffs: HandoffServer,
        key: bytes,
    ) -> None:
        self.store = store
        self.processes = processes
        self.relay = relay
        self.handoffs = handoffs
        self.key = key
        self.links = Links(store)
        # No proxy from the environment: the others are on loopback or a private network.
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(60.0, connect=2.0, pool=5.0),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            trust_env=False,
            follow_redirects=False,
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def heartbeat(self, every_s: float) -> None:
        """Stamp this process's row every ``every_s`` seconds, until cancelled."""
        while True:
            try:
                await asyncio.to_thread(self.processes.beat)
            except Exception as exc:  # the database away for a moment: stamped next time
                logger.warning("stamping this process's row failed: {}", type(exc).__name__)
            await asyncio.sleep(every_s)

    # -- checks ---------------------------------------------------------------------------------

    def owner_of(self, row: RunRow | None) -> Target | None:
        """The live process that owns ``row``, when it is not this one. Blocking."""
        if row is None or not row.owner or row.owner == self.store.owner:
            return None
        found = self.processes.get(row.owner)
        if found is None or not found.reachable or found.internal_url is None:
            return None
        return Target(found.internal_url, found.owner)

    async def route(self, scope: Scope) -> Target | _Gone | None:
        """Where a request about a check is answered: None here, an internal address, or
        :data:`GONE`."""
        path = scope["path"]
        if match := _API_CHECK.match(path):
            run_id = match.group(1)
            if self.relay.check(run_id) is not None:
                return None
            return await asyncio.to_thread(lambda: self.owner_of(self.store.run(run_id)))
        if match := _LINK.match(path):
            return await asyncio.to_thread(self._link_route, match.group(1), match.group(2))
        if match := _HAND_OFF.match(path):
            token = match.group(1)
            if self.handoffs.holds(token):
                return None
            row = await asyncio.to_thread(self.store.run_of_check, hand_off_hash(token))
            if row is None:
                return None  # no such link: 404 here
            target = await asyncio.to_thread(self.owner_of, row)
            return GONE if target is None else target
        return None

    def _link_route(self, token: str, what: str) -> Target | None:
        link = self.links.by_token(token)
        if link is None or link.run_id is None or self.relay.check(link.run_id) is not None:
            return None
        row = self.store.run(link.run_id)
        if row is None or (what == "state" and row.state not in _LIVE):
            return None  # a finished run's state is the database's: answered here
        return self.owner_of(row)

    # -- evidence -------------------------------------------------------------------------------

    def evidence(self, row: RunRow, *, hop: bool) -> Path | list[Target] | Away:
        """Where run ``row``'s files are served from: a folder on this process's disk, the
        internal addresses of live processes that have them (tried in order), or
        :class:`Away`. Blocking."""
        folder = Path(str(row.run_dir))
        owner = self.processes.get(row.owner) if row.owner else None
        if owner is not None and folder.is_relative_to(owner.out_dir):
            mine = self.processes.out_id
            # One evidence folder (a shared disk, or this machine): the files are here.
            if mine and owner.out_id == mine:
                local = self.processes.out_dir / folder.relative_to(owner.out_dir)
                if local.is_dir():
                    return local
            elif not hop:
                others = [owner] if owner.reachable and owner.owner != self.store.owner else []
                others += [p for p in self.processes.sharing(owner.out_id) if p.reachable]
                targets = [Target(str(p.internal_url), p.owner) for p in others]
                if targets:
                    return targets
        if folder.is_dir():
            return folder
        return self.away(row, owner)

    def away(self, row: RunRow, owner: ProcessRow | None = None) -> Away:
        """Where run ``row``'s files are, for a 404 that says so. Blocking."""
        if owner is None and row.owner:
            owner = self.processes.get(row.owner)
        if owner is None:
            state = "no longer known"
        elif owner.stopped_at is not None:
            state = "stopped"
        elif owner.fresh:
            state = "running, not answering"
        else:
            state = "not heard from"
        return Away(
            row.id,
            owner.machine if owner else None,
            str(row.run_dir),
            owner.owner if owner else row.owner,
            state,
        )

    # -- forwarding -----------------------------------------------------------------------------

    async def forward(self, target: Target, scope: Scope, body: bytes = b"") -> Response | None:
        """The request forwarded to ``target``, its answer streamed back; None when that
        process cannot be reached (nothing was sent to it)."""
        method = str(scope["method"])
        path = request_target(scope)
        host = header(scope, b"host") or ""
        client = scope.get("client")
        hop = Hop(target.owner, str(scope.get("scheme", "http")), str(client[0]) if client else "")
        headers = [(k, v) for k, v in scope.get("headers") or [] if k.lower() not in _DROPPED]
        signed = sign_hop(
            self.key, hop, method=method, target=path, host=host, body=body, at=time.time()
        )
        headers.append((HOP_HEADER.encode(), signed.encode()))
        request = self.client.build_request(
            method, target.url + path, headers=headers, content=body
        )
        try:
            answer = await self.client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            logger.warning("process {} cannot be reached: {}", target.owner, type(exc).__name__)
            return None
        except httpx.HTTPError as exc:
            logger.warning("process {} did not answer: {}", target.owner, type(exc).__name__)
            return JSONResponse(
                {"detail": "the process that holds this did not answer; try again"},
                status_code=502,
            )
        response = StreamingResponse(
            answer.aiter_raw(), status_code=answer.status_code, background=BackgroundTask(
                answer.aclose)
        )  # fmt: skip
        response.raw_headers = [
            (k, v) for k, v in answer.headers.raw if k.lower() not in _DROPPED_BACK
        ]
        return response


async def _buffered(receive: Receive, most: int) -> tuple[bytes, Receive] | None:
    """The request's whole body (None when larger than ``most``), and a ``receive`` that gives
    it again to the app."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > most:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    body = b"".join(chunks)
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


class FleetDoor:
    """Pure ASGI middleware: a forwarded request verified and answered here; a request about
    a check another live process holds forwarded to it (:class:`Fleet`)."""

    def __init__(self, app: ASGIApp, fleet: Fleet) -> None:
        self.app = app
        self.fleet = fleet

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        value = header(scope, HOP_HEADER.encode())
        if value is not None:
            await self._arrived(value, scope, receive, send)
            return
        where = await self.fleet.route(scope)
        if where is None:
            await self.app(scope, receive, send)
            return
        if isinstance(where, _Gone):
            await JSONResponse({"detail": "this security check has ended"}, 410)(
                scope, receive, send
            )
            return
        read = await _buffered(receive, MAX_FORWARDED_BODY)
        if read is None:
            await _too_large(scope, receive, send)
            return
        body, receive = read
        answer = await self.fleet.forward(where, scope, body)
        if answer is None:  # the owner cannot be reached: answered here (it has no check)
            await self.app(scope, receive, send)
            return
        await answer(scope, receive, send)

    async def _arrived(self, value: str, scope: Scope, receive: Receive, send: Send) -> None:
        read = await _buffered(receive, MAX_FORWARDED_BODY)
        if read is None:
            await _too_large(scope, receive, send)
            return
        body, receive = read
        hop = read_hop(
            self.fleet.key,
            value,
            method=str(scope["method"]),
            target=request_target(scope),
            host=header(scope, b"host") or "",
            body=body,
            now=time.time(),
        )
        if hop is None:
            logger.warning("a forwarded request whose signature does not hold was refused")
            await JSONResponse(
                {"detail": "a forwarded request must be signed with this service's key"}, 403
            )(scope, receive, send)
            return
        headers = [
            (k, v) for k, v in scope.get("headers") or [] if k.lower() != HOP_HEADER.encode()
        ]
        inner = dict(scope, scheme=hop.scheme, headers=headers, client=(hop.client, 0))
        inner[FORWARDED] = hop.to
        await self.app(inner, receive, send)


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse({"detail": f"the body must be at most {MAX_FORWARDED_BODY} bytes"}, 413)(
        scope, receive, send
    )
