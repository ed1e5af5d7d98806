"""The :class:`Outcome` of a run: what it ended in, in the operator's words.

Built by :mod:`bot.outcome.classify` (the site's reply) and :mod:`bot.outcome.verdicts`
(icpbot's own verdicts); written to ``result.json``, printed and shown in the report.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.types import Category, Submitted, batch_category

__all__ = ["Outcome", "most_severe"]


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
    #: English explanation and next step
    message: str
    next_step: str
    #: the site's own error text (envelope ``msg`` or error toast), when there was one
    site_message: str | None = None
    #: whether a submission request may have reached the site in this run
    submitted: Submitted = "no"
    #: extra facts (HTTP status, mismatch notes, candidates tried); never personal values
    details: dict[str, Any] = {}

    @property
    def exit_code(self) -> int:
        return self.category.exit_code


def most_severe(categories: list[Category]) -> Category:
    """The category whose exit code a multi-scenario invocation returns: the first of
    :data:`~bot.types.BATCH_PRECEDENCE` among ``categories`` (budget-spending failures first)."""
    return batch_category(categories)
