"""The customer's self-service page, ``/l/<token>``: one person's verify, in English or Simplified
Chinese (the catalogs; the site's own Chinese terms beside the English). The customer pastes the
SMS (or the code), presses Verify, passes the security check on the same page, and reads the
outcome in the customer's voice with what to do next, the tries the link has left and the time
left at the check. Every state the page can be in has its words (a used-up, expired or revoked
link says so and what to do; an unreachable service is said by the page's script).

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
import gettext
import json
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

import bot.serve.observe as observe
from bot.handoff.routes import Access, check_routes
from bot.handoff.web import Refused, read_json
from bot.handoff.widget import check_widget
from bot.i18n import N_
from bot.i18n.catalogs import translations
from bot.i18n.web import gettext_for, language
from bot.outcome.model import customer_voice
from bot.serve.context import Context, context, same_origin
from bot.serve.links import TRIES
from bot.serve.service import Invalid, LinkRefused, LinkRow
from bot.serve.store import RunRow
from bot.serve.ui import render
from bot.types import CATEGORY_LABELS, Category

__all__ = ["CONTACT", "HOLD_S", "MAX_ATTEMPTS", "MIN_GAP_S", "router"]

router = APIRouter(include_in_schema=False)
MAX_ATTEMPTS = TRIES
MIN_GAP_S = 3.0
#: the page's words while a link is held (its last try may have reached the site)
CONTACT = N_(
    "Your last try may have reached the site already, and we could not tell whether it "
    "worked. To avoid a second submission (wrong ones count against your filing), this page "
    "takes no code now. Please contact your provider: they will check the filing's status "
    "with you and reopen this page if needed."
)
_SMALL = 8 * 1024
#: the longest a waiting page's state request is held for a change (it asks again at once)
HOLD_S = 10.0
#: while one is held, the database is read again this often (a change made by another process
#: of a fleet wakes nothing here); a change in this process answers at once
LOOK_S = 0.5
_HELD = frozenset({"queued", "running", "needs_person"})
_WORKING = frozenset({"queued", "running"})


#: A link that no longer serves, as its page says it: (status, title, what happened, what to do).
_GONE: dict[str, tuple[int, str, str, str]] = {
    "missing": (
        404,
        N_("Link not found"),
        N_("There is no verification at this address: the link may be incomplete or mistyped."),
        N_("Open the link exactly as your hosting provider sent it, or ask them for a new one."),
    ),
    "revoked": (
        410,
        N_("This link was withdrawn"),
        N_("Your hosting provider withdrew this link: nothing more can be sent with it."),
        N_("Contact your hosting provider if you still need to verify."),
    ),
    "expired": (
        410,
        N_("This link has expired"),
        N_("The time to use this link is over: nothing more can be sent with it."),
        N_("Contact your hosting provider for a new link."),
    ),
}


#: Why the link's store refused a try (:class:`LinkRefused`'s ``kind``), in the customer's words.
_REFUSALS: dict[str, str] = {
    "busy": N_("A verification is already under way: wait for its result."),
    "done": N_("This verification is done: there is nothing more to send."),
    "held": N_(
        "The last try may have reached the filing site: contact your hosting provider "
        "before anything more is sent."
    ),
    "tries": N_("This link has no tries left."),
    "gap": N_("Please wait a few seconds before you try again."),
}


def _refusal(exc: LinkRefused, _: Callable[[str], str]) -> str:
    """A refused try in the page's language; a link that ended says what its page says."""
    if exc.kind in _GONE:
        _status, _title, text, todo = _GONE[exc.kind]
        return f"{_(text)} {_(todo)}"
    if exc.kind in _REFUSALS:
        return _(_REFUSALS[exc.kind])
    return _(N_("This link can no longer be used. Contact your hosting provider."))


def _refused(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _find(ctx: Context, token: str) -> LinkRow | str:
    """The link, or why it no longer serves (a key of :data:`_GONE`)."""
    link = await asyncio.to_thread(ctx.service.link_by_token, token) if len(token) < 80 else None
    if link is None:
        return "missing"
    if link.revoked:
        return "revoked"
    if link.expired:
        return "expired"
    return link


async def _link(ctx: Context, token: str, request: Request) -> LinkRow | JSONResponse:
    found = await _find(ctx, token)
    if isinstance(found, LinkRow):
        return found
    status, _title, text, todo = _GONE[found]
    _ = gettext_for(request)
    return _refused(status, f"{_(text)} {_(todo)}")


async def _body(request: Request) -> Any:
    """The posted JSON (the service's one reader: 413, 415, 400), from this page only (403)."""
    if not same_origin(request) or request.headers.get("origin") is None:
        raise Refused(403, "only this page may post here")
    return await read_json(request, limit=_SMALL)


@router.get("/l/{token}")
async def page(token: str, request: Request) -> Response:
    found = await _find(context(request), token)
    _ = gettext_for(request)
    if not isinstance(found, LinkRow):
        status, title, text, todo = _GONE[found]
        return render(request, "gone.html", status=status, title=_(title), text=_(text),
                      todo=_(todo))  # fmt: skip
    context(request).warm(found)  # the site's page opened now: Verify only types the code
    return render(request, "customer.html", check=check_widget(_))


@router.get("/l/{token}/state")
async def state(token: str, request: Request, wait: str | None = None) -> Response:
    """The page's state. ``wait``: the state the page shows while it waits for its check (a
    run queued, running, or at its check with no picture yet); the answer is then held until
    the page would show something else (at most :data:`HOLD_S`; queued and running are the
    same to it), so that the page learns of the check the moment this process opens it, with
    one request at a time rather than a poll every 100 ms."""
    ctx = context(request)
    found = await _link(ctx, token, request)
    if isinstance(found, JSONResponse):
        return found
    tr = translations(language(request))
    row = await asyncio.to_thread(ctx.store.run, found.run_id) if found.run_id else None
    until = time.monotonic() + HOLD_S
    while True:
        changed = ctx.changed  # taken before looking: no change falls between look and wait
        out = await _state(ctx, found, row, tr)
        left = until - time.monotonic()
        if wait not in _HELD or not _same(out["state"], wait) or "check" in out or left <= 0:
            return JSONResponse(out)
        waits = {asyncio.ensure_future(e.wait()) for e in (changed, ctx.stopping)}
        await asyncio.wait(waits, timeout=min(left, LOOK_S), return_when=asyncio.FIRST_COMPLETED)
        for pending in waits:
            pending.cancel()
        if ctx.stopping.is_set():
            return JSONResponse(out)
        if row is not None and ctx.relay.waiting(row.id) is not None:
            continue  # its check opened here: shown now, with the rows read a moment ago
        # Another process may have changed the run (or the link): read again.
        again = await _find(ctx, token)
        if not isinstance(again, LinkRow):
            return JSONResponse(out)  # the page's next request says what happened
        found = again
        row = await asyncio.to_thread(ctx.store.run, found.run_id) if found.run_id else None


def _same(state: str, shown: str) -> bool:
    """Whether the page that shows ``shown`` would show ``state`` the same way: queued and
    running are one "working…" to the customer (a run taken from the queue is no news)."""
    return state == shown or {state, shown} <= _WORKING


async def _state(
    ctx: Context, found: LinkRow, row: RunRow | None, tr: gettext.NullTranslations
) -> dict[str, Any]:
    """What the customer's page shows: the link ``found`` and its run ``row`` as read, and
    its check as this process holds it now (a check that opened is shown before its run's
    row says so)."""
    _ = tr.gettext
    out: dict[str, Any] = {"person": found.mobile_masked, "state": "form", "outcome": None}
    if row is not None:
        out["state"] = row.state
        if row.state == "done" and row.outcome:
            voice = customer_voice(row.outcome)  # the customer's voice, never the operator's
            category = str(row.outcome.get("category"))
            label = CATEGORY_LABELS[Category(category)] if category in set(Category) else None
            out["outcome"] = {
                "category": category,
                "label": _(label.customer) if label else "",
                "message": _(voice.message),
                "next_step": _(voice.next_step),
                "banner_zh": row.outcome.get("banner_zh"),
            }
            out["state"] = "done" if found.state == "done" else "retry"
        check = ctx.relay.waiting(row.id)
        if check is not None and row.state != "done":
            out["state"] = "needs_person"  # (its row says so once the write lands)
            shown = (await check.handoff.instruction()).as_json(tr)
            del shown["form"]  # the customer's page draws the same picture either way
            out["check"] = shown | {"time_left": round(check.handoff.time_left())}
    if row is None or row.state == "done":
        ctx.warm(found)  # the page left open (or loaded from a cache): warm on its first poll
    if found.state == "held" and not found.busy:
        # The last try may have reached the site: no form until an operator decided.
        out |= {"state": "contact", "contact": _(CONTACT), "outcome": None}
    out["attempts_left"] = max(0, MAX_ATTEMPTS - found.attempts)
    return out


@router.post("/l/{token}/verify")
async def verify(token: str, request: Request) -> Response:
    ctx = context(request)
    found = await _link(ctx, token, request)
    if isinstance(found, JSONResponse):
        return found
    _ = gettext_for(request)
    try:
        body = await _body(request)
    except Refused as exc:
        return _refused(exc.status, _(N_("The page could not send this. Reload it and try again.")))
    sms = body.get("sms") if isinstance(body, dict) and set(body) == {"sms"} else None
    if not isinstance(sms, str) or len(sms) > 1000:
        return _refused(422, _(N_("Paste the SMS, or type the 6-digit code.")))
    try:
        run_id = await asyncio.to_thread(
            ctx.service.link_attempt, found, sms, min_gap_s=MIN_GAP_S, most=MAX_ATTEMPTS
        )
    except Invalid:
        # The code's own problem in the service's words is English; the customer's is here.
        return _refused(
            422,
            _(N_("That is not an SMS code: paste the whole SMS from 12381, or type its 6 digits.")),
        )
    except LinkRefused as exc:
        answer = _refused(exc.status, _refusal(exc, _))
        if exc.kind == "unreadable":  # sealed under a secret this service no longer has
            answer = JSONResponse({"error": _refusal(exc, _), "state": "unreadable"}, exc.status)
        return answer
    ctx.kick()
    await observe.link_used(found.id, run_id)  # the audit log, the webhook link.used
    return JSONResponse({"ok": True}, status_code=202)


async def _check_access(request: Request) -> Access:
    """The customer's door to their run's security check: the link is the capability."""
    ctx = context(request)
    found = await _link(ctx, str(request.path_params["token"]), request)
    if isinstance(found, JSONResponse):
        raise Refused(found.status_code, json.loads(bytes(found.body))["error"])
    check = ctx.relay.check(found.run_id) if found.run_id else None
    if check is None:
        raise Refused(409, gettext_for(request)(N_("No security check is waiting.")))
    run_id = str(found.run_id)
    return Access(check.handoff, relayed=lambda kind: observe.relayed("link", run_id, kind, "link"))


# The check's routes under the link, the same as the hand-off page's and the API's
# (bot/handoff/routes.py); the customer's page never shows the run's internal name.
for _route in check_routes(_check_access, show_run=False):
    router.add_api_route("/l/{token}/check" + _route.path, _route.endpoint, methods=[_route.method])
