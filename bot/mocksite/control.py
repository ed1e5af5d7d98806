"""The test-only control API under ``/__mock__/`` on the API listener (test mode only).

Tests and the page's test-mode script use it to read the submission log and state, load filings,
set faults, move the clock, switch variant or security check, and let a person "pass" the check
(``captcha/pass``, ``{"every": true}`` for every open check at once; ``captcha/pending``: the
page's script clicks), or read where a person would
click or drag (``captcha/answer``: relative to the check box, for a test acting as the person).
The real site has nothing like it; outside test mode every route answers 404.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.mocksite.faults import make_fault
from bot.mocksite.server import INVALID
from bot.mocksite.site import Site, check_empty_route, check_variant
from bot.mocksite.state import AdjustableClock, filing_from_dict

__all__ = ["control_reply"]


def control_reply(site: Site, method: str, route: str, body: Any) -> dict[str, Any] | None:
    """The reply to a control request; None for an unknown route; ValueError for a bad body."""
    if method == "GET":
        return _get(site, route)
    if body is INVALID:
        raise ValueError("body is not JSON")
    return _post(site, route, body)


def _get(site: Site, route: str) -> dict[str, Any] | None:
    if route == "submissions":
        return {"submissions": site.submissions()}
    if route == "state":
        with site.lock:
            settings = {
                "variant": site.variant,
                "captcha": site.captcha_form is not None,
                "captcha_form": site.captcha_form,
                "captcha_first": site.captcha_first,
                "empty_route": site.empty_route,
            }
        return {
            "now": site.clock.now().isoformat(),
            **settings,
            "filings": [f.to_json() for f in site.state.snapshot()],
            "faults": site.faults.active(),
        }
    if route == "captcha/pending":
        return site.captcha.pending()
    if route.startswith("captcha/pending/"):  # the page names its own challenge
        return site.captcha.pending(route.removeprefix("captcha/pending/"))
    if route == "captcha/solution":
        pending = site.captcha.pending()
        return {"uuid": pending["uuid"], "points": pending["points"]}
    if route == "captcha/answer":
        return site.captcha.answer()
    return None


def _post(site: Site, route: str, body: Any) -> dict[str, Any] | None:
    if route == "reset":
        site.reset()
    elif route == "filings":
        if not isinstance(body, list):
            raise ValueError("expected a JSON list of filings")
        site.state.load([filing_from_dict(f, f"filings[{i}]") for i, f in enumerate(body)])
    elif route == "faults":
        _set_fault(site, body)
    elif route == "clock":
        return _advance_clock(site, body)
    elif route == "variant":
        name = body.get("variant") if isinstance(body, dict) else None
        with site.lock:
            site.variant = check_variant(str(name))
    elif route == "captcha":
        _set_captcha(site, body)
    elif route == "empty_route":
        name = body.get("route") if isinstance(body, dict) else None
        with site.lock:
            site.empty_route = check_empty_route(str(name))
    elif route == "captcha/pass":
        site.captcha.request_pass(every=isinstance(body, dict) and body.get("every") is True)
    else:
        return None
    return {"ok": True}


def _set_captcha(site: Site, body: Any) -> None:
    """``{"enabled": bool}`` (click or none), or ``{"form": "click"|"slider"|null, "first": …}``."""
    usage = 'expected {"enabled": true|false} or {"form": "click"|"slider"|null, "first": bool}'
    if not isinstance(body, dict) or set(body) - {"enabled", "form", "first"}:
        raise ValueError(usage)
    first = body.get("first", False)
    if "form" in body:
        mode = body["form"]
    else:
        mode = body.get("enabled")
        if not isinstance(mode, bool):
            raise ValueError(usage)
    if not isinstance(first, bool):
        raise ValueError(usage)
    site.set_captcha(mode, first)


def _advance_clock(site: Site, body: Any) -> dict[str, Any]:
    hours = body.get("advance_hours") if isinstance(body, dict) else None
    if isinstance(hours, bool) or not isinstance(hours, int | float):
        raise ValueError('expected {"advance_hours": number}')
    if not isinstance(site.clock, AdjustableClock):
        raise ValueError("this clock cannot be advanced")
    site.clock.advance(timedelta(hours=hours))
    return {"ok": True, "now": site.clock.now().isoformat()}


def _set_fault(site: Site, body: Any) -> None:
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    if body.get("clear"):
        site.faults.clear(body.get("endpoint"))
        return
    unknown = set(body) - {"endpoint", "kind", "arg", "times"}
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(sorted(unknown))}")
    site.set_fault(
        make_fault(
            str(body.get("endpoint")), str(body.get("kind")), body.get("arg"), body.get("times")
        )
    )
