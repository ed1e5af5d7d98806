"""The operator's pages: the dashboard (``/``), the ledger (``/ledger``) and the links
(``/links``), their live feed (``/events``, Server-Sent Events) and their files (``/assets/*``).

The pages are Jinja2 templates (``static/*.html``: :class:`bot.i18n.web.Pages`) in the
operator's language, with the session's CSRF token in a ``<meta>`` and the texts their script
shows in a JSON data block (the labels of categories, states, actions and steps from
:func:`labels`: Python, next to what they name). The script (``ui.js``) does everything through
the JSON API (``/api/*``) with that token in ``X-CSRF-Token``: the same service functions as any
API client, no second implementation. Without a session, a page redirects to ``/login`` and
``/events`` answers 401.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from bot.handoff.widget import STATIC_DIR as WIDGET_DIR
from bot.handoff.widget import check_widget
from bot.i18n import N_
from bot.i18n.web import Pages, gettext_for
from bot.serve.api import run_view
from bot.serve.changes import ChangeCursor
from bot.serve.context import Context, context, session_of
from bot.serve.links import LABEL_MAX
from bot.serve.store import RunRow
from bot.types import CATEGORY_LABELS

__all__ = [
    "ACTION_LABELS",
    "LINK_STATUS_LABELS",
    "PHASE_LABELS",
    "STATE_LABELS",
    "labels",
    "render",
    "router",
]

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent / "static"
_ASSETS = {
    "serve.css": "text/css; charset=utf-8",
    "customer.js": "text/javascript; charset=utf-8",
    "ui.js": "text/javascript; charset=utf-8",
    "icon.svg": "image/svg+xml",
    "ops.js": "text/javascript; charset=utf-8",  # the webhooks and audit pages (opsweb.py)
}
_PAGES = {"/": "dashboard.html", "/ledger": "ledger.html", "/links": "links.html"}
#: the feed looks at the database at least this often (runs of other processes)
FEED_POLL_S = 1.0
_KEEPALIVE_S = 15.0


#: the pages; the check's widget partial (``_check.html``) from the hand-off's folder
PAGES = Pages(STATIC, WIDGET_DIR)

#: A run's states, as the operator's pages name them.
STATE_LABELS: dict[str, str] = {
    "queued": N_("queued"),
    "running": N_("running"),
    "needs_person": N_("waits for you: security check"),
    "done": N_("done"),
}
#: A link as the links page lists it (:meth:`bot.serve.links.LinkRow.status`).
LINK_STATUS_LABELS: dict[str, str] = {
    "waiting": N_("waiting for the customer"),
    "in_progress": N_("in progress"),
    "verified": N_("verified"),
    "failed": N_("failed (tries left)"),
    "used_up": N_("used up: no tries left"),
    "expired": N_("expired"),
    "revoked": N_("revoked"),
    "held": N_("held: may have reached the site; check with the customer, then reset"),
}
#: The forms a run submits.
ACTION_LABELS: dict[str, str] = {
    "verify": N_("verify (短信核验)"),
    "resend": N_("resend (重发短信)"),
}
#: How far a running run got (``serve_runs.phase``).
PHASE_LABELS: dict[str, str] = {
    "queued": N_("queued"),
    "starting": N_("starting"),
    "loading": N_("opening the site"),
    "loaded": N_("page open"),
    "filled": N_("form filled"),
    "pacing": N_("waiting for the site's pacing"),
    "clicked": N_("submitted (提交)"),
    "sent": N_("sent, waiting for the reply"),
    "reply": N_("reading the reply"),
    "check": N_("security check shown"),
    "passed": N_("security check passed"),
    "done": N_("done"),
}
#: Whether the submission may have reached the site (an outcome's ``submitted``).
SUBMITTED_LABELS: dict[str, str] = {"no": N_("no"), "maybe": N_("maybe"), "yes": N_("yes")}


def labels(gettext: Callable[[str], str]) -> dict[str, dict[str, str]]:
    """The labels the operator's script shows, in the page's language."""
    return {
        "categories": {str(c): gettext(v.operator) for c, v in CATEGORY_LABELS.items()},
        "states": {k: gettext(v) for k, v in STATE_LABELS.items()},
        "actions": {k: gettext(v) for k, v in ACTION_LABELS.items()},
        "phases": {k: gettext(v) for k, v in PHASE_LABELS.items()},
        "submitted": {k: gettext(v) for k, v in SUBMITTED_LABELS.items()},
        "link_status": {k: gettext(v) for k, v in LINK_STATUS_LABELS.items()},
    }


def render(
    request: Request,
    name: str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> Response:
    """A page of ``static/`` in the request's language, its values escaped."""
    return PAGES.render(request, name, status=status, headers=headers, **values)


@router.get("/assets/{name}")
async def asset(name: str) -> Response:
    if name not in _ASSETS:
        return Response("404: not found\n", status_code=404, media_type="text/plain")
    return Response((STATIC / name).read_bytes(), media_type=_ASSETS[name])


async def _page(request: Request) -> Response:
    session = session_of(request)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    gettext = gettext_for(request)
    return render(
        request,
        _PAGES[request.url.path],
        csrf=session.csrf,
        operator=session.operator,
        labels=labels(gettext),
        page=request.url.path,
        check=check_widget(gettext),  # the dashboard's (its script sets the run's check URL)
        default_base_url=context(request).service.base_url,  # --base-url, what empty means
        label_max=LABEL_MAX,
    )


@router.get("/favicon.ico")
async def favicon() -> Response:
    """The icon a browser asks for on every page (same origin: the CSP's ``img-src 'self'``)."""
    return Response((STATIC / "favicon.ico").read_bytes(), media_type="image/x-icon")


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
