"""Outcomes that do not come from the site's status table: refusals, errors, lost replies.

The site's own answers are classified from data (``bot.outcome.classify_reply`` and the status
table in the selector map); these are icpbot's own verdicts, each in two voices side by side: an
English message and the next step for the operator, and ``customer=(what happened, what to do)``
for the person being verified (message ids of the catalogs: no command, flag, file or run id).
The site's answers outside its table (firewall pages, HTTP errors, lost replies) are defined in
:mod:`bot.outcome.answers` and named here too, so that every verdict is ``verdicts.NAME``.
"""

from __future__ import annotations

from bot.errors import (
    BotError,
    GuardRefused,
    Problem,
    ReleaseRefused,
    SelectorError,
    first_line,
)
from bot.i18n import N_
from bot.outcome.answers import (
    bad_reply,
    barrier,
    document_error,
    envelope_error,
    http_error,
    no_reply,
    session_expired,
    unknown_unexpected,
)
from bot.outcome.model import Outcome
from bot.outcome.voice import AGAIN, AGAIN_OR_ASK, LATER, MAYBE_SENT_NEXT, outcome
from bot.privacy import REDACTOR
from bot.types import CUSTOMER_DEFAULTS, CaptchaMode, Category, Submitted

__all__ = [
    "MAYBE_SENT_NEXT",
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
    "stopped_after_click",
    "unknown_unexpected",
]


#: Where a person can pass the check when the run has no window: what a headless run suggests.
_HANDOFF_ADVICE = (
    "run again with `--handoff web`: icpbot prints a link where a person passes the check from "
    "any browser, whether or not this machine has a display (or queue the run on `icpbot "
    "serve`, where an operator or the customer passes it on a web page)"
)
_HOW = "click the characters in the order shown, or drag the slider, as it asks"


def captcha_required(headed: bool, mode: CaptchaMode, waited: float | None = None) -> Outcome:
    """The site's security check appeared and nobody passed it: nothing was sent.

    The operator's next step depends on where a person could have passed it: a headless run
    (a server without a display) is told to hand the check off (``--handoff web``, ``icpbot
    serve``), not only to run headed, which needs a display.
    """
    if waited:
        message = (
            f"The site's security check was not completed within {waited:g} s; nothing was sent."
        )
        if headed:
            next_step = (
                f"Run again and complete the check in the browser window ({_HOW}) in time; "
                f"`--captcha-timeout S` gives more. Or {_HANDOFF_ADVICE}. Nothing was sent."
            )
        else:
            next_step = (
                "Run again and have the person open the check's link sooner (with "
                "`--handoff web` icpbot prints it as soon as the check appears), or give more "
                "time with `--captcha-timeout S`. Nothing was sent."
            )
        customer = (
            N_("The security check was not finished in time, so nothing was sent."),
            N_("Press Verify to try again: a new security check appears."),
        )
    elif mode is CaptchaMode.none:
        message = "The site asked for its security check, but the scenario says captcha: none."
        next_step = (
            "Set `captcha: manual` in the scenario, then "
            f"{_HANDOFF_ADVICE}; on a machine with a display, `--headed` opens a window for "
            "you instead. Nothing was sent."
        )
        customer = (
            N_("The filing site asked for a security check that this service skips."),
            N_("Nothing was sent. Contact your hosting provider."),
        )
    else:
        message = "The site asked for its security check, which a person must pass."
        if headed:
            next_step = (
                f"Run again headed with time for the check (`--captcha-timeout S`) and complete "
                f"it in the browser window ({_HOW}); icpbot waits for you. Nothing was sent."
            )
        else:
            message += " This run was headless, with no window and no hand-off: nobody could."
            next_step = (
                f"{_HANDOFF_ADVICE[0].upper()}{_HANDOFF_ADVICE[1:]}. `--headed` needs a display: "
                f"where there is one, it opens a window where you pass the check ({_HOW}). "
                "Nothing was sent."
            )
        customer = (
            N_("The filing site asked for a security check, and nothing was sent."),
            AGAIN_OR_ASK,
        )
    return outcome(
        Category.captcha_required,
        "captcha_required",
        message,
        next_step,
        customer=customer,
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
        customer=(
            N_("The security check was closed before it was passed, so nothing was sent."),
            N_("Press Verify to try again, and pass the new security check without closing it."),
        ),
        submitted="no",
    )


def error_outcome(exc: BotError, sent: bool) -> Outcome:
    if isinstance(exc, GuardRefused):
        return outcome(
            Category.refused,
            exc.status,
            exc.reason,
            exc.next_step,
            customer=exc.customer or CUSTOMER_DEFAULTS[Category.refused],
            details=exc.details,
        )
    if isinstance(exc, SelectorError):
        return outcome(
            Category.selector_error,
            "selector_error",
            f"The page no longer matches the selector map: element {exc.element!r} not found.",
            "Run `icpbot check-selectors` and update the map in selectors/ (docs: selector maps, "
            '"When the site changes"). '
            + ("Nothing was sent." if not sent else "Check the filing's status first."),
            customer=(
                N_("The filing site has changed, and your details may have reached it."),
                MAYBE_SENT_NEXT,
            )
            if sent
            else CUSTOMER_DEFAULTS[Category.selector_error],
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
        customer=CUSTOMER_DEFAULTS[Category.unknown if sent else category],
        submitted="maybe" if sent else "no",
    )


# -- icpbot's own verdicts, by the phase that reaches them ----------------------------------------
def not_finished() -> Outcome:
    return outcome(
        Category.unknown,
        "not_finished",
        "The run did not finish.",
        "Check the run log.",
        customer=(
            N_("This verification did not finish."),
            N_("Contact your hosting provider before you try again."),
        ),
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
        customer=(
            N_("The details for this verification could not be used, so nothing was sent."),
            N_("Contact your hosting provider."),
        ),
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
        customer=(N_("The filing site could not be opened, so nothing was sent."), LATER),
    )


def no_reaction(timeout_s: float) -> Outcome:
    return outcome(
        Category.site_error,
        "no_reaction",
        "The page did not react to the click on 提交 (submit) within "
        f"{timeout_s:g} s; no submission request left the browser.",
        "Open the page by hand to see what it shows; run again later.",
        customer=(N_("The filing site did not respond, and nothing was sent."), LATER),
        submitted="no",
    )


def page_validation(text: str | None, *, alert: bool) -> Outcome:
    return outcome(
        Category.invalid_input,
        "page_validation",
        "The page refused the values before sending "
        + ("(an alert)." if alert else "(its own check)."),
        "Check the values in the scenario; nothing was sent.",
        customer=(
            N_("The filing site refused the details before anything was sent."),
            N_(
                "Check the code and press Verify again. If the code is right, contact your "
                "hosting provider: the mobile number or ID digits they have may be wrong."
            ),
        ),
        site_message=text,
        submitted="no",
    )


def site_message_before_send(text: str | None) -> Outcome:
    return outcome(
        Category.site_error,
        "site_message",
        f"The site showed an error before anything was sent: {text or '?'}",
        "Try again later; nothing was sent.",
        customer=(N_("The filing site showed an error before anything was sent."), LATER),
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
        customer=(
            N_("The filing site was busy, so nothing was sent.")
            if status == "pacing_timeout"
            else N_("Your details were held back before they were sent, so nothing was sent."),
            LATER if status == "pacing_timeout" else AGAIN_OR_ASK,
        ),
        submitted="no",
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


#: The service stopped during a run: before anything was sent, and after.
_STOPPED = (N_("The service restarted before anything was sent."), AGAIN)
_STOPPED_SENT = (
    N_(
        "The service stopped while your details were being sent: they may have "
        "reached the filing site."
    ),
    MAYBE_SENT_NEXT,
)
#: icpbot itself failed: before anything was sent, and after.
_FAULT = (N_("The service had a problem, and nothing was sent."), AGAIN_OR_ASK)
_FAULT_SENT = (
    N_(
        "The service had a problem while your details were being sent: they may "
        "have reached the filing site."
    ),
    MAYBE_SENT_NEXT,
)


def stopped_after_click() -> tuple[str, str]:
    """The customer's voice of a run cut short after its click (the service's own verdict)."""
    return _STOPPED_SENT


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
        customer=_STOPPED_SENT if sent else _STOPPED,
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
        customer=_FAULT_SENT if sent else _FAULT,
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
        customer=_FAULT_SENT if sent else _FAULT,
        submitted="maybe" if sent else "no",
    )
