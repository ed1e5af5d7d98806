"""The customer's self-service page, ``/l/<token>``: one person's verify, in English with the
Chinese terms beside it. The customer pastes the SMS (or the code), presses Verify, passes the
security check on the same page, and reads the outcome with what to do next.

The link is the capability (192 random bits; only its hash is stored). It names one person (the
operator chose mobile and ID digits; the customer only gives the code), expires, can be revoked
(both: 410), and is rate-limited (a few seconds between attempts, a few attempts in all). A code
is checked before anything is counted (a typo costs no try); the try itself is one conditional
write (:mod:`bot.serve.links`), so posts at once make one run. A link has one run at a time,
and its page shows that run. After a success it shows the outcome and takes no other code;
after an outcome that says the form may have reached the site, it takes no code at all and
says to contact the provider (an operator resets it after checking). The ledger's guard
applies as for any run (failure budget, codes the site already rejected).
"""

from __future__ import annotations

import asyncio
import json
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from bot.handoff.routes import Access, check_routes
from bot.handoff.web import Refused
from bot.handoff.widget import with_check
from bot.serve.context import Context, context, same_origin
from bot.serve.service import Invalid, LinkRefused, LinkRow
from bot.serve.ui import render

__all__ = ["CONTACT", "MAX_ATTEMPTS", "MIN_GAP_S", "router"]

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent / "static"
MAX_ATTEMPTS = 5
MIN_GAP_S = 3.0
#: the page's words while a link is held (its last try may have reached the site)
CONTACT = (
    "Your last try may have reached the site already, and we could not tell whether it "
    "worked. To avoid a second submission (wrong ones count against your filing), this page "
    "takes no code now. Please contact your provider: they will check the filing's status "
    "with you and reopen this page if needed."
)
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
    return Response(_page_html(), media_type="text/html; charset=utf-8")


@cache
def _page_html() -> str:
    return with_check((STATIC / "customer.html").read_text(encoding="utf-8"))


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
            out["state"] = "done" if found.state == "done" else "retry"
        check = ctx.relay.waiting(row.id)
        if check is not None:
            shown = (await check.handoff.instruction()).as_json()
            del shown["form"]  # the customer's page draws the same picture either way
            out["check"] = shown | {"time_left": round(check.handoff.time_left())}
    if found.state == "held" and not found.busy:
        # The last try may have reached the site: no form until an operator decided.
        out |= {"state": "contact", "contact": CONTACT, "outcome": None}
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
    try:
        await asyncio.to_thread(
            ctx.service.link_attempt, found, sms, min_gap_s=MIN_GAP_S, most=MAX_ATTEMPTS
        )
    except Invalid as exc:
        return _refused(422, f"The SMS code {exc}.")
    except LinkRefused as exc:
        return _refused(exc.status, str(exc).capitalize() + ".")
    ctx.kick()
    return JSONResponse({"ok": True}, status_code=202)


async def _check_access(request: Request) -> Access:
    """The customer's door to their run's security check: the link is the capability."""
    ctx = context(request)
    found = await _link(ctx, str(request.path_params["token"]))
    if isinstance(found, JSONResponse):
        raise Refused(found.status_code, json.loads(bytes(found.body))["error"])
    check = ctx.relay.check(found.run_id) if found.run_id else None
    if check is None:
        raise Refused(409, "no security check is waiting")
    return Access(check.handoff)


# The check's routes under the link, the same as the hand-off page's and the API's
# (bot/handoff/routes.py); the customer's page never shows the run's internal name.
for _route in check_routes(_check_access, show_run=False):
    router.add_api_route("/l/{token}/check" + _route.path, _route.endpoint, methods=[_route.method])
