"""The customer's self-service page, ``/l/<token>``: one person's verify, in English with the
Chinese terms beside it. The customer pastes the SMS (or the code), presses Verify, passes the
security check on the same page, and reads the outcome with what to do next.

The link is the capability (192 random bits; only its hash is stored). It names one person (the
operator chose mobile and ID digits; the customer only gives the code), expires, can be revoked
(both: 410), and is rate-limited (a few seconds between attempts, a few attempts in all). After
a success it shows the outcome and takes no other code. The ledger's guard applies as for any
run (failure budget, codes the site already rejected).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from bot.handoff import CheckHandoff, HandoffClosed
from bot.handoff.check import MAX_DRAG_POINTS, read_point
from bot.serve import observe
from bot.serve.context import Context, context, same_origin
from bot.serve.service import Invalid, LinkRefused, LinkRow
from bot.serve.ui import render

__all__ = ["MAX_ATTEMPTS", "MIN_GAP_S", "router"]

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent / "static"
MAX_ATTEMPTS = 5
MIN_GAP_S = 3.0
_SMALL = 8 * 1024


def _refused(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _link(ctx: Context, token: str) -> LinkRow | JSONResponse:
    link = await asyncio.to_thread(ctx.service.link_by_token, token) if len(token) < 80 else None
    if link is None:
        return _refused(404, "no such link")
    if link.revoked:
        return _refused(410, "this link was revoked; ask your provider for a new one")
    if link.expired:
        return _refused(410, "this link has expired; ask your provider for a new one")
    return link


async def _body(request: Request) -> Any:
    if not same_origin(request) or request.headers.get("origin") is None:
        raise ValueError("only this page may post here")
    raw = await request.body()
    if len(raw) > _SMALL:
        raise ValueError("too large")
    return json.loads(raw)


@router.get("/l/{token}")
async def page(token: str, request: Request) -> Response:
    found = await _link(context(request), token)
    if isinstance(found, JSONResponse):
        status = found.status_code
        text = "This link has expired or was revoked." if status == 410 else "Not found."
        return render("gone.html", status=status, text=text)
    return FileResponse(STATIC / "customer.html", media_type="text/html; charset=utf-8")


@router.get("/l/{token}/state")
async def state(token: str, request: Request) -> Response:
    ctx = context(request)
    found = await _link(ctx, token)
    if isinstance(found, JSONResponse):
        return found
    out: dict[str, Any] = {"person": found.mobile_masked, "state": "form", "outcome": None}
    row = await asyncio.to_thread(ctx.store.run, found.run_id) if found.run_id else None
    if row is not None:
        out["state"] = row.state
        if row.state == "done" and row.outcome:
            out["outcome"] = {k: row.outcome.get(k) for k in
                              ("category", "message", "next_step", "banner_zh")}  # fmt: skip
            out["state"] = "done" if row.outcome.get("category") == "success" else "retry"
        check = ctx.relay.waiting(row.id)
        if check is not None:
            shown = (await check.handoff.instruction()).as_json()
            del shown["form"]  # the customer's page draws the same picture either way
            out["check"] = shown | {"time_left": round(check.handoff.time_left())}
    out["attempts_left"] = max(0, MAX_ATTEMPTS - found.attempts)
    return JSONResponse(out)


@router.post("/l/{token}/verify")
async def verify(token: str, request: Request) -> Response:
    ctx = context(request)
    found = await _link(ctx, token)
    if isinstance(found, JSONResponse):
        return found
    try:
        body = await _body(request)
    except ValueError as exc:
        return _refused(400 if "JSON" in type(exc).__name__ else 403, "bad request")
    sms = body.get("sms") if isinstance(body, dict) and set(body) == {"sms"} else None
    if not isinstance(sms, str) or len(sms) > 1000:
        return _refused(422, "paste the SMS or type the 6-digit code")
    row = await asyncio.to_thread(ctx.store.run, found.run_id) if found.run_id else None
    if row is not None and row.state != "done":
        return _refused(409, "a verification is already under way")
    if row is not None and row.outcome and row.outcome.get("category") == "success":
        return _refused(409, "this verification is done; nothing more to send")
    try:
        run_id = await asyncio.to_thread(
            ctx.service.link_attempt, found, sms, min_gap_s=MIN_GAP_S, most=MAX_ATTEMPTS
        )
    except Invalid as exc:
        return _refused(422, f"The SMS code {exc}.")
    except LinkRefused as exc:
        return _refused(429, str(exc).capitalize() + ".")
    ctx.kick()
    await observe.link_used(found.id, run_id)  # the audit log, the webhook link.used
    return JSONResponse({"ok": True}, status_code=202)


async def _handoff(ctx: Context, token: str) -> CheckHandoff | JSONResponse:
    found = await _link(ctx, token)
    if isinstance(found, JSONResponse):
        return found
    check = ctx.relay.waiting(found.run_id) if found.run_id else None
    if check is None:
        return _refused(409, "no security check is waiting")
    return check.handoff


@router.get("/l/{token}/image")
async def image(token: str, request: Request) -> Response:
    handoff = await _handoff(context(request), token)
    if isinstance(handoff, JSONResponse):
        return handoff
    try:
        return Response(await handoff.image(), media_type="image/png")
    except HandoffClosed as exc:
        return _refused(409, str(exc))


@router.post("/l/{token}/{what}")
async def act(token: str, what: str, request: Request) -> Response:
    if what not in ("click", "drag"):
        return _refused(404, "not found")
    handoff = await _handoff(context(request), token)
    if isinstance(handoff, JSONResponse):
        return handoff
    try:
        body = await _body(request)
        if what == "click":
            await handoff.click(*read_point([body.get("x"), body.get("y")]))
        else:
            await handoff.drag([read_point(p) for p in body.get("points", [])][:MAX_DRAG_POINTS])
    except HandoffClosed as exc:
        return _refused(409, str(exc))
    except (ValueError, AttributeError, TypeError):
        return _refused(400, "bad request")
    await observe.relayed("link", handoff.run_name, what, "link")  # the audit log, metrics
    return JSONResponse({"ok": True})
