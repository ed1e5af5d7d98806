"""Outcomes that do not come from the site's status table: refusals, errors, lost replies.

The site's own answers are classified from data (``bot.outcome.classify_reply`` and the status
table in the selector map); these are icpbot's own verdicts, each with an English message and the
next step for the operator.
"""

from __future__ import annotations

from typing import Any, Literal

from bot.config.selector_map import Barrier
from bot.errors import (
    BotError,
    GuardRefused,
    Problem,
    ReleaseRefused,
    SelectorError,
    first_line,
)
from bot.outcome.model import Outcome
from bot.privacy import REDACTOR
from bot.types import CaptchaMode, Category, Submitted

__all__ = [
    "STAGE_WORDS",
    "SUBMITTED_WORDS",
    "bad_reply",
    "barrier",
    "browser_gone",
    "captcha_required",
    "check_closed",
    "document_error",
    "envelope_error",
    "error_outcome",
    "http_error",
    "internal_error",
    "interrupted",
    "invalid_input",
    "no_reaction",
    "no_reply",
    "not_finished",
    "not_released",
    "outcome",
    "page_not_loading",
    "page_validation",
    "session_expired",
    "site_message_before_send",
    "stage_words",
    "unknown_unexpected",
]


def outcome(category: Category, status: str, message: str, next_step: str, **kw: Any) -> Outcome:
    return Outcome(category=category, status=status, message=message, next_step=next_step, **kw)


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
        submitted="no",
        details={"http_status": status},
    )


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
    else:
        sent = (
            "It answered the submission itself, so the form most likely never reached the site, "
            "but icpbot cannot be sure: check the filing's status before running again."
        )
        submitted = "maybe"
    return outcome(
        Category.site_error,
        kind,
        f"{what}{status}. {sent}",
        when,
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
        "Run again headed (--headed) and complete the site's security check in the browser "
        "window (click the characters in the order shown, or drag the slider, as it asks); "
        "icpbot waits for you. Nothing was sent.",
        submitted="no",
        details={"headed": headed},
    )


def check_closed() -> Outcome:
    """The site's security check closed without being passed (a person pressed its ×, or it
    timed out by itself): the page sent nothing, and the run ends at once rather than waiting
    out the check's time with the person's lock held."""
    return outcome(
        Category.captcha_required,
        "check_closed",
        "The site's security check was closed before it was passed (its × or its own time "
        "limit); nothing was sent.",
        "Start again and pass the check without closing it. Nothing was sent, so no attempt "
        "of the failure budget was used.",
        submitted="no",
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
    if isinstance(exc, GuardRefused):
        return outcome(Category.refused, exc.status, exc.reason, exc.next_step, details=exc.details)
    if isinstance(exc, SelectorError):
        return outcome(
            Category.selector_error,
            "selector_error",
            f"The page no longer matches the selector map: element {exc.element!r} not found.",
            "Run `icpbot check-selectors` and update the map in selectors/ (docs: selector maps, "
            '"When the site changes"). '
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


# -- icpbot's own verdicts, by the phase that reaches them ----------------------------------------
def not_finished() -> Outcome:
    return outcome(
        Category.unknown, "not_finished", "The run did not finish.", "Check the run log."
    )


def invalid_input(problems: list[Problem]) -> Outcome:
    variables = [p.variable for p in problems if p.variable]
    if variables and len(variables) == len(problems):
        names = list(dict.fromkeys(variables))
        plural = "s" if len(names) > 1 else ""
        fix = f"Set the environment variable{plural} {', '.join(names)} to a valid value{plural}"
    elif variables:
        fix = "Set the environment variables named and fix the file at the lines and keys named"
    else:
        fix = "Fix the file at the line and key named"
    return outcome(
        Category.invalid_input,
        "invalid_input",
        "The scenario was refused before any browser started: "
        + "; ".join(str(p) for p in problems),
        f"{fix}, then run again. Nothing was sent.",
        details={
            "problems": [
                {
                    "file": p.file,
                    "line": p.line,
                    "key": p.key,
                    "message": p.message,
                    **({"variable": p.variable} if p.variable else {}),
                }
                for p in problems
            ]
        },
    )


def page_not_loading(exc: BaseException) -> Outcome:
    return outcome(
        Category.site_error,
        "page_not_loading",
        f"The page did not load: {first_line(exc)}",
        "Check the address and the network, then run again. Nothing was sent.",
    )


def no_reaction(timeout_s: float) -> Outcome:
    return outcome(
        Category.site_error,
        "no_reaction",
        "The page did not react to the click on 提交 (submit) within "
        f"{timeout_s:g} s; no submission request left the browser.",
        "Open the page by hand to see what it shows; run again later.",
        submitted="no",
    )


def page_validation(text: str | None, *, alert: bool) -> Outcome:
    return outcome(
        Category.invalid_input,
        "page_validation",
        "The page refused the values before sending "
        + ("(an alert)." if alert else "(its own check)."),
        "Check the values in the scenario; nothing was sent.",
        site_message=text,
        submitted="no",
    )


def site_message_before_send(text: str | None) -> Outcome:
    return outcome(
        Category.site_error,
        "site_message",
        f"The site showed an error before anything was sent: {text or '?'}",
        "Try again later; nothing was sent.",
        site_message=text,
        submitted="no",
    )


def not_released(reason: BaseException | None) -> Outcome:
    """The page's one request reached the gate and was held back there, before it left the
    browser: the site's pacing did not let it go in time (``pacing_timeout``), or the run's
    release work refused it (``not_released``: the caller's check, the ledger's mark)."""
    if isinstance(reason, ReleaseRefused):
        status, why, step = reason.status, reason.reason, reason.next_step
    else:
        status = "not_released"
        why = "The submission could not be released" + (
            f" ({type(reason).__name__}: {first_line(reason)})." if reason is not None else "."
        )
        step = "Run it again."
    return outcome(
        Category.stopped,
        status,
        f"{why.rstrip('.')}. The submission was held back before it left the browser. "
        f"{SUBMITTED_WORDS['no']}",
        f"{step} It did not count against the failure budget.",
        submitted="no",
    )


def no_reply(error: str | None) -> Outcome:
    return outcome(
        Category.unknown,
        "no_reply",
        "The submission was sent but no reply came back "
        f"({error or 'timed out'}). The site may or may not have processed it.",
        "Do not run it again yet: check the filing's status with the hosting provider or "
        "on the site first. icpbot never resubmits on its own.",
        submitted="maybe",
        details={"error": error},
    )


def http_error(http_status: int, msg: str | None, details: dict[str, Any]) -> Outcome:
    return outcome(
        Category.site_error,
        "http_error",
        f"The site answered HTTP {http_status} to the submission" + (f": {msg}" if msg else "."),
        "Check the filing's status before trying again; the site may have received the data.",
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
        site_message=msg or toast,
        submitted="yes",
        details={**details, "envelope_code": code, "toast": toast},
    )


#: What a run was doing in each of its stages (``RunResult.progress``), as the operator reads it;
#: "while …" in messages, the progress display's words. Internal stage names never reach the
#: console.
STAGE_WORDS: dict[str, str] = {
    "started": "starting",
    "guard_passed": "starting the browser",
    "browser_started": "loading the page",
    "page_loaded": "filling the form",
    "form_filled": "about to submit",
    "pacing": "waiting for the site's pacing",
    "submit_clicked": "waiting for the submission to leave the browser",
    "captcha_shown": "waiting for a person to pass the security check",
    "captcha_passed": "sending after the security check",
    "request_sent": "waiting for the site's reply",
    "reply_received": "reading the site's answer",
    "no_reply": "recording the outcome",
    "refused": "recording the outcome",
    "refused_input": "checking the input",
}


def stage_words(stage: str) -> str:
    """``stage`` in English ("loading the page"), for any stage name."""
    return STAGE_WORDS.get(stage, stage.replace("_", " "))


#: The one wording of ``submitted``, everywhere it is said in a sentence.
SUBMITTED_WORDS: dict[str, str] = {
    "no": "Nothing was sent.",
    "maybe": "The submission may have been sent.",
    "yes": "The submission was sent.",
}


def interrupted(stage: str, sent: bool, *, by: str = "the operator (Ctrl-C)") -> Outcome:
    """Ctrl-C or SIGTERM. Before anything left the browser it is ``stopped`` (nothing to check,
    run it again), also at the security check; once the request left it is ``unknown`` (the
    submission may have been sent)."""
    submitted: Submitted = "maybe" if sent else "no"
    return outcome(
        Category.unknown if sent else Category.stopped,
        "interrupted",
        f"Interrupted by {by} while {stage_words(stage)}. {SUBMITTED_WORDS[submitted]}",
        "Check the filing's status before running again." if sent else "Run it again.",
        submitted=submitted,
        details={"stage": stage},
    )


def browser_gone(exc: BaseException, sent: bool) -> Outcome:
    """The browser or Playwright's driver ended during the run (killed, crashed)."""
    reason = first_line(exc) or type(exc).__name__
    return outcome(
        Category.unknown if sent else Category.site_error,
        "browser_gone",
        f"The browser went away during the run ({reason}): Chromium or Playwright's driver "
        "ended. " + ("The submission may have reached the site." if sent else "Nothing was sent."),
        "Check the filing's status before running again."
        if sent
        else "Run it again; if it happens again, check the machine (memory, a killed process).",
        submitted="maybe" if sent else "no",
    )


def internal_error(exc: BaseException, sent: bool) -> Outcome:
    return outcome(
        Category.unknown if sent else Category.site_error,
        "internal_error",
        f"icpbot hit an unexpected error: {type(exc).__name__}: {first_line(exc)}",
        "Check the filing's status before running again; report this with the run folder."
        if sent
        else "Nothing was sent. Report this with the run folder.",
        submitted="maybe" if sent else "no",
    )
