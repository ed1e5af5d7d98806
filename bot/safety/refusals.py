"""The outcomes of a claim the ledger refuses before any browser starts (:mod:`bot.safety.guard`):
another run holds the person, or the code memory knows this code (rejected, sent without a
verdict, or accepted). Each says, to the operator and to the customer, why nothing was sent.
"""

from __future__ import annotations

from typing import Any

from bot.i18n import N_
from bot.outcome import verdicts
from bot.outcome.model import Outcome
from bot.safety.budget import SITE_FAILURE_LIMIT
from bot.safety.store import LedgerEntry, LedgerStore, local_time
from bot.types import Category

__all__ = [
    "already_verified",
    "code_rejected",
    "code_unanswered",
    "in_flight",
    "resubmit_confirmed",
    "seen",
]


def seen(entry: LedgerEntry) -> dict[str, Any]:
    """The earlier attempt, for an outcome's details (its run and start, no personal value)."""
    return {"run_id": entry.run_id, "at": entry.started_at.isoformat()}


def in_flight(ledger: LedgerStore, person: str) -> Outcome:
    """Refused: another run holds the person (named when the ledger shows it)."""
    entry = ledger.in_flight(person)
    if entry is None:
        which = "another icpbot run for this person is starting right now"
        details: dict[str, Any] = {}
    else:
        stage = "submitting" if entry.sent else "not sent yet"
        which = (
            f"another icpbot run for this person ({entry.mobile_masked}) is in flight: run "
            f"{entry.run_id}, {entry.action}, since {local_time(entry.started_at)} ({stage})"
        )
        details = {"in_flight": seen(entry)}
    return verdicts.outcome(
        Category.refused,
        "in_flight",
        f"Refused: {which}. Only one verify or resend per person may run at a time, "
        "so that two submissions can never race for the same failure budget.",
        "Wait for that run to end and read its result (`icpbot ledger list`); run again only "
        "if it is still needed. Nothing was sent.",
        customer=(
            N_("Another verification for this mobile number is under way, so nothing was sent."),
            N_("Wait a few minutes for it to finish, then try again only if it is still needed."),
        ),
        details=details,
    )


def code_rejected(entry: LedgerEntry) -> Outcome:
    """Refused: the site rejected this code for the person before."""
    return verdicts.outcome(
        Category.refused,
        "code_rejected",
        "Refused: the site already rejected this code for this person (wrong information, "
        f"run {entry.run_id} at {local_time(entry.started_at)}). Sending it again would only "
        f"spend another of the about {SITE_FAILURE_LIMIT} failed verifications the site allows.",
        "Get the right code from the customer (the latest SMS from 12381), or request a new "
        "one with a resend scenario. Nothing was sent.",
        customer=(
            N_("The filing site already rejected this code, so it was not sent again."),
            N_(
                "Use the code from the latest SMS from 12381. If there is no newer SMS, contact "
                "your hosting provider: they can have a new code sent."
            ),
        ),
        details={"rejected_before": seen(entry)},
    )


def code_unanswered(entry: LedgerEntry) -> Outcome:
    """Refused: this code was sent before and got no verdict (it may have landed)."""
    return verdicts.outcome(
        Category.refused,
        "code_unanswered",
        "Refused: this code was already sent for this person (run "
        f"{entry.run_id} at {local_time(entry.started_at)}) and got no answer "
        f"({_unanswered_words(entry)}): it may have reached the site. Sending it again could "
        "spend another of the about "
        f"{SITE_FAILURE_LIMIT} failed verifications the site allows, or repeat one it already "
        "accepted.",
        "Check the filing's status first: ask the customer whether the site or the hosting "
        "provider says verified, or look it up with the hosting provider. If it is not verified "
        "and the code is still valid (24 h from the SMS), run again with --confirm-resubmit to "
        "send it once more; or request a new code with a resend scenario. Nothing was sent.",
        customer=(
            N_(
                "This code was sent before and the filing site's answer did not arrive, so it "
                "was not sent again."
            ),
            N_(
                "Contact your hosting provider: they will check whether your verification went "
                "through."
            ),
        ),
        details={"unanswered_before": seen(entry)},
    )


def _unanswered_words(entry: LedgerEntry) -> str:
    if entry.finished_at is None:
        return "its run was cut short after the submission left"
    return f"outcome {entry.outcome}"


def resubmit_confirmed(entry: LedgerEntry) -> str:
    """The warning of a code sent again on the operator's --confirm-resubmit."""
    return (
        f"sending again a code that got no answer before (run {entry.run_id} at "
        f"{local_time(entry.started_at)}): the operator confirmed it (--confirm-resubmit)"
    )


def already_verified(entry: LedgerEntry) -> Outcome:
    """Success, nothing sent: the site accepted this code for the person before."""
    return verdicts.outcome(
        Category.success,
        "already_verified",
        "This person was already verified with this code (run "
        f"{entry.run_id} at {local_time(entry.started_at)}); nothing was submitted again.",
        "Nothing to do: the earlier run's result folder has the proof.",
        customer=(
            N_("This code was already accepted earlier; nothing was sent again."),
            N_("Nothing more to do."),
        ),
        submitted="no",
        details={"verified_before": seen(entry)},
    )
