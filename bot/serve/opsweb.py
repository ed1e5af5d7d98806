"""The operations side over HTTP: ``/readyz`` (no authorization: a load balancer probes it),
``/metrics`` (the API's bearer token), the webhooks' API (``/api/webhooks``), the audit log's
(``/api/audit``), and the operators' pages ``/webhooks`` and ``/audit`` (a session, as the
other pages; their script, ``ops.js``, calls the API with the session's CSRF token).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import bot.serve.audit as audit
import bot.serve.observe as observe
from bot.i18n import N_
from bot.i18n.web import gettext_for
from bot.serve.context import context, require_api, session_of
from bot.serve.health import Readiness
from bot.serve.metrics import CONTENT_TYPE
from bot.serve.observe import Ops
from bot.serve.ui import render
from bot.serve.webhooks import EVENTS, HookRefused

__all__ = ["DELIVERY_STATES", "PAGES", "CountedHandoffs", "ops_labels", "router"]

router = APIRouter()
Caller = Annotated[str, Depends(require_api)]
#: the operators' pages of this module (path -> template in ``static/``)
PAGES = {"/webhooks": "webhooks.html", "/audit": "audit.html"}
#: a webhook delivery's states, as the webhooks page names them
DELIVERY_STATES: dict[str, str] = {
    "pending": N_("pending"),
    "delivered": N_("delivered"),
    "failed": N_("failed"),
    "cancelled": N_("cancelled"),
}


# -- health and metrics -----------------------------------------------------------------------


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> Response:
    """200 when this process can take work; 503 with what is wrong otherwise."""
    readiness: Readiness | None = getattr(request.app.state, "readiness", None)
    if readiness is None:
        return JSONResponse({"status": "not ready", "checks": {"service": "starting"}}, 503)
    verdict = await readiness.verdict()
    return JSONResponse(verdict.as_json(), status_code=200 if verdict.ready else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus' text format; ``Authorization: Bearer TOKEN`` (an API token)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    owner = None
    if scheme.lower() == "bearer" and token and len(token) <= 200:
        owner = await asyncio.to_thread(context(request).service.token_owner, token)
    if owner is None:
        raise HTTPException(401, "a valid API token is required", {"WWW-Authenticate": "Bearer"})
    body = await asyncio.to_thread(observe.METRICS.render)
    return Response(body, media_type=CONTENT_TYPE)


class CountedHandoffs:
    """The hand-off pages (``/h/<token>``, bot.handoff) with their relayed clicks and drags
    counted in the metrics (a 200 answer to ``POST /h/<token>/click`` or ``…/drag``)."""

    _ACTION = re.compile(r"^/h/[^/]+/(click|drag)$")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self._ACTION.match(str(scope.get("path", ""))) if scope["type"] == "http" else None
        if found is None or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                observe.METRICS.relayed_action(found.group(1), "handoff")
            await send(message)

        await self.app(scope, receive, counted)


# -- webhooks ---------------------------------------------------------------------------------


class HookIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    url: str = Field(max_length=2000)
    events: list[str] = Field(min_length=1, max_length=len(EVENTS))


def _ops() -> Ops:
    ops = observe.current()
    if ops is None:
        raise HTTPException(503, "the service is starting")
    return ops


@router.post("/api/webhooks", status_code=201, tags=["api"], summary="Register a webhook")
async def add_hook(body: HookIn, caller: Caller) -> Any:
    """Answers the hook's id and its ``whsec_…`` signing secret (shown once)."""
    ops = _ops()
    try:
        hook_id, secret = await asyncio.to_thread(ops.outbox.add, body.url, body.events, caller)
    except HookRefused as exc:
        return JSONResponse(
            {"detail": [{"loc": ["body", exc.field], "msg": str(exc), "type": "value_error"}]},
            status_code=422,
        )
    host = urlsplit(body.url).hostname
    await observe.did(caller, "webhook.added", hook_id, host=host, events=",".join(body.events))
    return {"id": hook_id, "secret": secret}


@router.get("/api/webhooks", tags=["api"], summary="The webhooks (never their secrets)")
async def list_hooks(caller: Caller) -> list[dict[str, Any]]:
    return [h.public() for h in await asyncio.to_thread(_ops().outbox.hooks)]


@router.delete("/api/webhooks/{hook_id}", status_code=204, tags=["api"],
               summary="Remove a webhook (its pending deliveries are cancelled)")  # fmt: skip
async def remove_hook(hook_id: str, caller: Caller) -> Response:
    if not await asyncio.to_thread(_ops().outbox.remove, hook_id[:40]):
        raise HTTPException(404, "no such webhook")
    await observe.did(caller, "webhook.removed", hook_id[:40])
    return Response(status_code=204)


@router.get("/api/webhooks/deliveries", tags=["api"], summary="The latest deliveries")
async def deliveries(
    caller: Caller, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[dict[str, Any]]:
    return await asyncio.to_thread(_ops().outbox.deliveries, limit)


# -- the audit log ----------------------------------------------------------------------------


@router.get("/api/audit", tags=["api"], summary="The audit log: who did what, newest first")
async def audit_log(
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> list[dict[str, Any]]:
    return await asyncio.to_thread(audit.entries, _ops().store, limit=limit, before=before)


# -- the pages --------------------------------------------------------------------------------


def ops_labels(gettext: Callable[[str], str]) -> dict[str, dict[str, str]]:
    """The labels ops.js shows (audit actions, delivery states), in the page's language."""
    return {
        "audit_actions": {k: gettext(v) for k, v in audit.ACTIONS.items()},
        "delivery_states": {k: gettext(v) for k, v in DELIVERY_STATES.items()},
    }


async def _page(request: Request) -> Response:
    session = session_of(request)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    return render(
        request,
        PAGES[request.url.path],
        csrf=session.csrf,
        operator=session.operator,
        labels=ops_labels(gettext_for(request)),
        page=request.url.path,
    )


for _path in PAGES:
    router.add_api_route(_path, _page, methods=["GET"], include_in_schema=False)
