"""The operator's pages: the dashboard (``/``), the ledger (``/ledger``) and the links
(``/links``), their live feed (``/events``, Server-Sent Events) and their files (``/assets/*``).

The pages are static HTML with the session's CSRF token in a ``<meta>``; their script
(``ui.js``) does everything through the JSON API (``/api/*``) with that token in
``X-CSRF-Token``: the same service functions as any API client, no second implementation.
Without a session, a page redirects to ``/login`` and ``/events`` answers 401.
"""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import AsyncIterator
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from bot.handoff.widget import MARKER, with_check
from bot.serve.api import run_view
from bot.serve.changes import ChangeCursor
from bot.serve.context import Context, context, session_of
from bot.serve.store import RunRow

__all__ = ["render", "router"]

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent / "static"
_ASSETS = {
    "serve.css": "text/css; charset=utf-8",
    "customer.js": "text/javascript; charset=utf-8",
    "ui.js": "text/javascript; charset=utf-8",
}
_PAGES = {"/": "dashboard.html", "/ledger": "ledger.html", "/links": "links.html"}
#: the feed looks at the database at least this often (runs of other processes)
FEED_POLL_S = 1.0
_KEEPALIVE_S = 15.0


@cache
def _template(name: str) -> str:
    text = (STATIC / name).read_text(encoding="utf-8")
    return with_check(text) if MARKER in text else text  # the dashboard's check widget


def render(
    name: str, *, status: int = 200, headers: dict[str, str] | None = None, **values: str
) -> Response:
    """A page of ``static/`` with each ``{{key}}`` replaced by its value, HTML-escaped."""
    text = _template(name)
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", html.escape(value))
    return Response(text, status, headers, media_type="text/html; charset=utf-8")


@router.get("/assets/{name}")
async def asset(name: str) -> Response:
    if name not in _ASSETS:
        return Response("404: not found\n", status_code=404, media_type="text/plain")
    return Response((STATIC / name).read_bytes(), media_type=_ASSETS[name])


async def _page(request: Request) -> Response:
    session = session_of(request)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    return render(_PAGES[request.url.path], csrf=session.csrf, operator=session.operator)


for _path in _PAGES:
    router.add_api_route(_path, _page, methods=["GET"])


def _event(kind: str, data: Any) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _feed(ctx: Context) -> AsyncIterator[str]:
    """Every run once, then each run again whenever it changes, in this process or in any other
    sharing the database (:class:`~bot.serve.changes.ChangeCursor`), until the service stops."""
    changed = ctx.changed
    cursor = ChangeCursor(ctx.store)

    def first() -> list[RunRow]:
        cursor.start()  # before the rows: a change between the two is sent twice, not lost
        return ctx.store.runs()

    rows = await asyncio.to_thread(first)
    yield _event("runs", [run_view(ctx, r) for r in reversed(rows)])
    quiet = 0.0
    while not ctx.stopping.is_set():
        waited = asyncio.ensure_future(changed.wait())
        stop = asyncio.ensure_future(ctx.stopping.wait())
        done, _ = await asyncio.wait({waited, stop}, timeout=FEED_POLL_S,
                                     return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        waited.cancel()
        stop.cancel()
        if ctx.stopping.is_set():
            return
        changed = ctx.changed
        rows = await asyncio.to_thread(cursor.read)
        if rows:
            quiet = 0.0
            yield _event("runs", [run_view(ctx, r) for r in rows])
        elif not done:
            quiet += FEED_POLL_S
            if quiet >= _KEEPALIVE_S:
                quiet = 0.0
                yield ": still here\n\n"  # a comment: keeps proxies from closing the stream


@router.get("/events")
async def events(request: Request) -> Response:
    if session_of(request) is None:
        raise HTTPException(401, "log in first")
    return StreamingResponse(
        _feed(context(request)),
        media_type="text/event-stream",
        headers={"X-Accel-Buffering": "no"},  # nginx: pass each event on at once
    )
