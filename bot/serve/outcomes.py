"""The outcomes a run of the service gets from the service itself, when the engine's own
outcome is not there or not the last word: the run could not start, the service stopped or
died around it. Same keys as the engine's (:func:`outcome_of`), and each says plainly whether
anything was sent."""

from __future__ import annotations

from typing import Any

from bot.errors import ConfigError, first_line
from bot.i18n import N_
from bot.outcome import verdicts
from bot.outcome.voice import AGAIN, LATER
from bot.run.options import RunResult
from bot.serve.seal import Unreadable  # a run's sealed values could not be opened, or are gone

__all__ = [
    "Unreadable",
    "cannot_start_outcome",
    "interrupted_outcome",
    "outcome_of",
    "restarted_outcome",
]


def outcome_of(result: RunResult) -> dict[str, Any]:
    """A run's outcome as the service stores it: both voices (``customer``: catalog ids)."""
    o = result.outcome
    return {
        "category": str(o.category),
        "status": o.status,
        "site_status": o.site_status,
        "message": o.message,
        "next_step": o.next_step,
        "customer": o.customer.model_dump(),
        "submitted": o.submitted,
        "banner_zh": o.banner_zh or o.expected_banner_zh,
        "run_id": result.run_id,
    }


#: The customer's words when a run could not start: nothing was sent, the provider can help.
_NOT_STARTED = (N_("The verification could not start, so nothing was sent."), LATER)


def _outcome(
    category: str,
    status: str,
    message: str,
    next_step: str,
    submitted: str,
    customer: tuple[str, str] = _NOT_STARTED,
) -> dict[str, Any]:
    """An outcome in both voices: the operator's (English) and the customer's (catalog ids)."""
    return {
        "category": category,
        "status": status,
        "site_status": None,
        "message": message,
        "next_step": next_step,
        "customer": {"message": customer[0], "next_step": customer[1]},
        "submitted": submitted,
        "banner_zh": None,
        "run_id": None,
    }


def interrupted_outcome() -> dict[str, Any]:
    """A run whose process died or stopped after its request was let go (or may have been):
    never submitted again."""
    return _outcome(
        "unknown",
        "interrupted",
        "The service stopped (a crash or kill) after this run's submission was let go to the "
        "site: it may have reached the site. icpbot will not submit it again.",
        "Check the filing's status before trying again (ask the customer whether the site said "
        "verified, or look it up with the hosting provider); a new run needs the operator's "
        "decision.",
        "maybe",
        verdicts.stopped_after_click(),
    )


def restarted_outcome() -> dict[str, Any]:
    """A link's run that the service's stop or death cut short before anything was sent."""
    return _outcome(
        "stopped",
        "restarted",
        "The service restarted while this verification was under way; nothing was sent to "
        "the site.",
        "Press Verify again (this try was not counted).",
        "no",
        (
            N_("The service restarted while your verification was under way, so nothing was sent."),
            AGAIN,
        ),
    )


def cannot_start_outcome(exc: BaseException, *, link: bool) -> dict[str, Any]:
    """A run that could not start (nothing was sent): why, and what fixes it."""
    again = (
        "press Verify again later, or contact your provider"
        if link
        else ("then queue the run again")
    )
    if isinstance(exc, ConfigError):
        return _outcome(
            "selector_error",
            "bad_selector_map",
            f"The run could not start: its selector map could not be loaded "
            f"({first_line(exc)}). Nothing was sent.",
            f"Fix the selector map (icpbot check-selectors), {again}.",
            "no",
        )
    if isinstance(exc, OSError):
        return _outcome(
            "failed",
            "no_run_folder",
            "The run could not start: its evidence folder could not be made under the "
            f"service's --out folder ({exc.strerror or type(exc).__name__}). Nothing was sent.",
            f"Fix the --out folder (its path, permissions, free space), {again}.",
            "no",
        )
    if isinstance(exc, Unreadable):
        return _outcome(
            "failed",
            "unreadable",
            "The run could not start: its values could not be read (the service's secret "
            "changed since it was queued). Nothing was sent.",
            "Press Verify again." if link else "Queue the run again with its values.",
            "no",
            (
                N_("This request's details could not be read, so nothing was sent."),
                N_("Contact your hosting provider."),
            ),
        )
    return _outcome(
        "failed",
        "cannot_start",
        f"The run could not start (an error in icpbot: {type(exc).__name__}). Nothing was sent.",
        f"Look at the service's log, {again}.",
        "no",
    )
