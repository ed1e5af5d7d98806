"""The customer's voice, shared by icpbot's verdicts: the builder of an outcome in both voices
and the customer's words several verdicts say alike (message ids of the catalogs)."""

from __future__ import annotations

from typing import Any

from bot.i18n import N_
from bot.outcome.model import CustomerVoice, Outcome
from bot.types import Category

__all__ = ["AGAIN", "AGAIN_OR_ASK", "LATER", "MAYBE_SENT_NEXT", "outcome"]

#: What a customer can do when their details may have reached the site: nothing themselves.
MAYBE_SENT_NEXT = N_(
    "Do not send the code again: contact your hosting provider, who can check whether the "
    "verification went through."
)
LATER = N_("Try again later. If it keeps happening, contact your hosting provider.")
AGAIN = N_("Press Verify to try again.")
AGAIN_OR_ASK = N_("Press Verify to try again. If it happens again, contact your hosting provider.")


def outcome(
    category: Category,
    status: str,
    message: str,
    next_step: str,
    *,
    customer: tuple[str, str],
    **kw: Any,
) -> Outcome:
    """An outcome in both voices: the operator's ``message`` and ``next_step``, and the
    customer's ``(what happened, what to do)``."""
    return Outcome(
        category=category,
        status=status,
        message=message,
        next_step=next_step,
        customer=CustomerVoice(message=customer[0], next_step=customer[1]),
        **kw,
    )
