"""The site's answers outside its status table, as verdicts in both voices: the firewall's
pages, an HTTP error or an error envelope, a reply that never came or cannot be read, a request
to an endpoint icpbot does not know. Re-exported by :mod:`bot.outcome.verdicts`."""

from __future__ import annotations

from typing import Any, Literal

from bot.config.selector_map import Barrier
from bot.i18n import N_
from bot.outcome.model import Outcome
from bot.outcome.voice import AGAIN, LATER, MAYBE_SENT_NEXT, outcome
from bot.types import Category, Submitted

__all__ = [
    "bad_reply",
    "barrier",
    "document_error",
    "envelope_error",
    "http_error",
    "no_reply",
    "session_expired",
    "unknown_unexpected",
]


def document_error(status: int, body: str) -> Outcome:
    if status == 403:
        return barrier("blocked", "page", http_status=403, page_text=body)
    if status == 429:
        return barrier("rate_limited", "page", http_status=429, page_text=body)
    return outcome(
        Category.site_error,
        "http_error",
        f"The page answered HTTP {status}; nothing was filled or sent.",
        "Try again later.",
        customer=(N_("The filing site could not be opened, so nothing was sent."), LATER),
        submitted="no",
        details={"http_status": status},
    )


#: The customer's voice of a firewall page on the page load (nothing was sent).
_BARRIER_CUSTOMER = {
    "blocked": (
        N_("The filing site's firewall turned this service away, so nothing was sent."),
        N_("Try again in about 30 minutes. If it happens again, contact your hosting provider."),
    ),
    "rate_limited": (
        N_("The filing site asked this service to slow down, so nothing was sent."),
        N_("Try again in about 10 minutes."),
    ),
}
_BARRIER_TEXT = {
    "blocked": (
        "The site's web firewall answered instead of the site: its block page "
        '(当前访问疑似黑客攻击 / 访问被拒绝, "access denied")',
        "Wait at least 30 minutes, then run again from a normal network, one run at a time; "
        "bursts of requests or an unusual network trigger the firewall.",
    ),
    "rate_limited": (
        "The site's web firewall says this address is visiting too often (访问频次过高)",
        "Wait at least 10 minutes before the next run, and leave 10 s or more between runs "
        "against the real site: users report bans of several minutes after bursts.",
    ),
}


def barrier(
    kind: Barrier,
    where: Literal["page", "submission"],
    *,
    http_status: int | None,
    page_text: str = "",
) -> Outcome:
    """The site's CDN or web firewall answered with a page of its own (``front_door`` texts in
    the selector map), on the page load or on the submission."""
    what, when = _BARRIER_TEXT[kind]
    status = f" (HTTP {http_status})" if http_status is not None else ""
    if where == "page":
        sent = "Nothing was filled or sent."
        submitted: Submitted = "no"
        customer = _BARRIER_CUSTOMER[kind]
    else:
        sent = (
            "It answered the submission itself, so the form most likely never reached the site, "
            "but icpbot cannot be sure: check the filing's status before running again."
        )
        submitted = "maybe"
        customer = (
            N_(
                "The filing site's firewall answered instead of the site. Your details most "
                "likely did not reach it, but that is not certain."
            ),
            MAYBE_SENT_NEXT,
        )
    return outcome(
        Category.site_error,
        kind,
        f"{what}{status}. {sent}",
        when,
        customer=customer,
        submitted=submitted,
        details={"http_status": http_status, "where": where, "page_text": page_text[:200]},
    )


def session_expired(*, submitted: Literal["no", "yes", "maybe"]) -> Outcome:
    return outcome(
        Category.site_error,
        "session_expired",
        "The site answered 401 (session expired) and sent the page to its login route.",
        "Run again; the page fetches a new session token when it opens."
        + ("" if submitted == "no" else " The submission was not accepted."),
        customer=(
            N_("The filing site's session ended before anything was sent.")
            if submitted == "no"
            else N_("The filing site's session ended, and it did not accept the details."),
            AGAIN,
        ),
        submitted=submitted,
        details={"http_status": 401},
    )


def unknown_unexpected(paths: list[str]) -> Outcome:
    return outcome(
        Category.unknown,
        "unexpected_request",
        "After the click the page sent a request to an endpoint icpbot does not know "
        f"({', '.join(sorted(set(paths)))}); the submission may have gone out.",
        "Check the filing's status before trying again, then update the selector map's endpoints.",
        customer=(
            N_("Your details may have reached the filing site, but its answer could not be read."),
            MAYBE_SENT_NEXT,
        ),
        submitted="maybe",
    )


def no_reply(error: str | None) -> Outcome:
    return outcome(
        Category.unknown,
        "no_reply",
        "The submission was sent but no reply came back "
        f"({error or 'timed out'}). The site may or may not have processed it.",
        "Do not run it again yet: check the filing's status with the hosting provider or "
        "on the site first. icpbot never resubmits on its own.",
        customer=(
            N_(
                "Your details were sent, but no answer came back: the filing site may or "
                "may not have taken them."
            ),
            MAYBE_SENT_NEXT,
        ),
        submitted="maybe",
        details={"error": error},
    )


def http_error(http_status: int, msg: str | None, details: dict[str, Any]) -> Outcome:
    return outcome(
        Category.site_error,
        "http_error",
        f"The site answered HTTP {http_status} to the submission" + (f": {msg}" if msg else "."),
        "Check the filing's status before trying again; the site may have received the data.",
        customer=(
            N_(
                "The filing site answered with an error after your details were sent; it "
                "may have received them."
            ),
            MAYBE_SENT_NEXT,
        ),
        site_message=msg,
        submitted="maybe",
        details=details,
    )


def bad_reply(details: dict[str, Any]) -> Outcome:
    return outcome(
        Category.site_error,
        "bad_reply",
        "The site's reply to the submission was not the expected JSON.",
        "Check the filing's status before trying again.",
        customer=(
            N_("Your details may have reached the filing site, but its answer could not be read."),
            MAYBE_SENT_NEXT,
        ),
        submitted="maybe",
        details=details,
    )


def envelope_error(
    code: int | None, msg: str, toast: str | None, details: dict[str, Any]
) -> Outcome:
    return outcome(
        Category.site_error,
        "envelope_error",
        f"The site returned an error (code {code}): {msg or toast or '?'}",
        "Wait a while and check the filing's status before trying again.",
        customer=(
            N_("The filing site reported an error after your details were sent."),
            MAYBE_SENT_NEXT,
        ),
        site_message=msg or toast,
        submitted="yes",
        details={**details, "envelope_code": code, "toast": toast},
    )
