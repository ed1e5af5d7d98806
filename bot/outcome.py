"""Outcomes: what a run ended in, in the operator's words, and how the site's reply maps to one.

The mapping from ``validStatus`` (and banner text) to an outcome is data, loaded from the selector
map's ``statuses`` table (see ``selectors/miit.yaml``); this module only applies it. Classification
trusts the API's ``validStatus`` first and the banner text second; when the two disagree both are
kept in the outcome.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["Category", "Outcome", "Submitted", "most_severe"]


class Category(StrEnum):
    """Closed set of run results. Each has an exit code (see :attr:`exit_code`)."""

    success = "success"
    wrong_info = "wrong_info"
    no_record = "no_record"
    failed = "failed"
    invalid_input = "invalid_input"
    captcha_required = "captcha_required"
    site_error = "site_error"
    unknown = "unknown"
    refused = "refused"
    selector_error = "selector_error"

    @property
    def exit_code(self) -> int:
        return _EXIT_CODES[self]

    @property
    def severity(self) -> int:
        """Rank for picking the exit code of several scenarios: the highest wins."""
        return _SEVERITY.index(self)


_EXIT_CODES: dict[Category, int] = {
    Category.success: 0,
    Category.wrong_info: 10,
    Category.no_record: 11,
    Category.failed: 12,
    Category.invalid_input: 20,
    Category.captcha_required: 21,
    Category.site_error: 22,
    Category.unknown: 23,
    Category.refused: 24,
    Category.selector_error: 25,
}

# Least to most severe. `unknown` is worst: a submission may have gone out and nobody knows its fate.
_SEVERITY: list[Category] = [
    Category.success,
    Category.no_record,
    Category.wrong_info,
    Category.failed,
    Category.refused,
    Category.captcha_required,
    Category.site_error,
    Category.selector_error,
    Category.invalid_input,
    Category.unknown,
]

Submitted = Literal["no", "yes", "maybe"]


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
    """The category whose exit code a multi-scenario invocation returns."""
    if not categories:
        return Category.success
    return max(categories, key=lambda c: c.severity)
