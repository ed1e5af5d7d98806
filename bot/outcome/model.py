"""The :class:`Outcome` of a run: what it ended in, in two voices side by side.

The operator's voice (``message``, ``next_step``: English, with the facts an operator needs) is
what result.json, the console and the report say. The customer's voice (``customer``) is what the
service's pages show the person being verified, translated into their language: what happened
and what they can do, never icpbot's inner words. Each outcome is defined once with both:
:mod:`bot.outcome.verdicts` (icpbot's own verdicts), the selector map's ``statuses`` (the site's
answers, applied by :mod:`bot.outcome.classify`), the guard's refusals (``bot.safety``) and the
service's own (``bot.serve.worker``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from bot.config.selector_models import CustomerVoice
from bot.types import Category, Submitted, batch_category

__all__ = ["CustomerVoice", "Outcome", "customer_voice", "most_severe"]


class Outcome(BaseModel):
    """The result of one scenario run, ready for result.json, the console and the report."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    category: Category
    #: stable machine name of the status, e.g. ``verified_all``, ``wrong_info``, ``http_error``
    status: str
    #: the integer ``validStatus`` the site returned, or None when there was none
    site_status: int | None = None
    #: the banner text exactly as the page showed it (Chinese), or None
    banner_zh: str | None = None
    #: the Chinese text the status table expects for ``site_status`` (the site's own wording)
    expected_banner_zh: str | None = None
    #: the operator's voice: English explanation and next step
    message: str
    next_step: str
    #: the customer's voice (catalog message ids); absent: the category's own words
    customer: CustomerVoice
    #: the site's own error text (envelope ``msg`` or error toast), when there was one
    site_message: str | None = None
    #: whether a submission request may have reached the site in this run
    submitted: Submitted = "no"
    #: extra facts (HTTP status, mismatch notes, candidates tried); never personal values
    details: dict[str, Any] = {}

    @model_validator(mode="before")
    @classmethod
    def _customer_default(cls, data: Any) -> Any:
        # A result.json written before there were two voices, or an outcome built by hand.
        if isinstance(data, dict) and data.get("customer") is None and "category" in data:
            return {**data, "customer": CustomerVoice.default(Category(data["category"]))}
        return data

    @property
    def exit_code(self) -> int:
        return self.category.exit_code


def customer_voice(stored: dict[str, Any]) -> CustomerVoice:
    """The customer's voice of an outcome as stored (result.json's ``outcome``, the service's
    runs): its own, or its category's words when it has none (written before there were two
    voices); an unknown category reads as ``unknown``."""
    try:
        return CustomerVoice.model_validate(stored["customer"])
    except (KeyError, ValueError):
        pass
    try:
        category = Category(str(stored.get("category")))
    except ValueError:
        category = Category.unknown
    return CustomerVoice.default(category)


def most_severe(categories: list[Category]) -> Category:
    """The category whose exit code a multi-scenario invocation returns: the first of
    :data:`~bot.types.BATCH_PRECEDENCE` among ``categories`` (budget-spending failures first)."""
    return batch_category(categories)
