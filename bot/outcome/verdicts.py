"""Outcomes that do not come from the site's status table: refusals, errors, lost replies.

The site's own answers are classified from data (``bot.outcome.classify_reply`` and the status
table in the selector map); these are icpbot's own verdicts, each with an English message and the
next step for the operator.
"""

from __future__ import annotations

from typing import Any, Literal

from bot.errors import BotError, SelectorError
from bot.outcome.model import Outcome
from bot.privacy import REDACTOR
from bot.types import CaptchaMode, Category

__all__ = [
    "captcha_required",
    "document_error",
    "error_outcome",
    "firewall",
    "outcome",
    "session_expired",
    "unknown_unexpected",
]


def outcome(category: Category, status: str, message: str, next_step: str, **kw: Any) -> Outcome:
    return Outcome(category=category, status=status, message=message, next_step=next_step, **kw)


def document_error(status: int, body: str) -> Outcome:
    if status == 403:
        return firewall(submitted="no", details={"http_status": 403, "page_text": body[:200]})
    return outcome(
        Category.site_error,
        "http_error",
        f"The page answered HTTP {status}; nothing was filled or sent.",
        "Try again later.",
        submitted="no",
        details={"http_status": status},
    )


def firewall(*, submitted: Literal["no", "yes", "maybe"], details: dict[str, Any]) -> Outcome:
    return outcome(
        Category.site_error,
        "firewall_blocked",
        "The site's web application firewall blocked the request (HTTP 403).",
        "Wait, then run again from a normal network; too many requests or an unusual "
        "network can trigger the firewall."
        + ("" if submitted == "no" else " Check the filing's status first."),
        submitted=submitted,
        details=details,
    )


def session_expired(*, submitted: Literal["no", "yes", "maybe"]) -> Outcome:
    return outcome(
        Category.site_error,
        "session_expired",
        "The site answered 401 (session expired) and sent the page to its login route.",
        "Run again; the page fetches a new session token when it opens."
        + ("" if submitted == "no" else " The submission was not accepted."),
        submitted=submitted,
        details={"http_status": 401},
    )


def captcha_required(headed: bool, mode: CaptchaMode, waited: float | None = None) -> Outcome:
    if waited:
        message = (
            f"The site's security check was not completed within {waited:g} s; nothing was sent."
        )
    elif mode is CaptchaMode.none:
        message = "The site asked for its security check, but the scenario says captcha: none."
    else:
        message = "The site asked for its security check, which a person must pass."
    return outcome(
        Category.captcha_required,
        "captcha_required",
        message,
        "Run again headed (--headed) and click the characters in the picture in the "
        "order shown; icpbot waits for you. Nothing was sent.",
        submitted="no",
        details={"headed": headed},
    )


def unknown_unexpected(paths: list[str]) -> Outcome:
    return outcome(
        Category.unknown,
        "unexpected_request",
        "After the click the page sent a request to an endpoint icpbot does not know "
        f"({', '.join(sorted(set(paths)))}); the submission may have gone out.",
        "Check the filing's status before trying again, then update the selector map's endpoints.",
        submitted="maybe",
    )


def error_outcome(exc: BotError, sent: bool) -> Outcome:
    if isinstance(exc, SelectorError):
        return outcome(
            Category.selector_error,
            "selector_error",
            f"The page no longer matches the selector map: element {exc.element!r} not found.",
            "Run `icpbot check-selectors` and update the map in selectors/ (see the README). "
            + ("Nothing was sent." if not sent else "Check the filing's status first."),
            submitted="maybe" if sent else "no",
            details={
                "element": exc.element,
                "tried": [{"candidate": c, "result": r} for c, r in exc.tried],
            },
        )
    category = exc.category
    return outcome(
        category,
        category.value,
        REDACTOR(str(exc)),
        "Fix the problem named above and run again.",
        submitted="maybe" if sent else "no",
    )
