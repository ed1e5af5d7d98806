"""The closed sets every layer shares: actions, security-check modes, outcome categories.

This module imports nothing of icpbot's, so config, outcome, safety and the CLI can all use it
without import circles. Each :class:`Category` carries its process exit code: the one table of
exit codes (``BotError`` subclasses and the CLI read it from here).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

__all__ = ["Action", "CaptchaMode", "Category", "EvidenceMode", "Submitted", "TraceMode"]


class Action(StrEnum):
    """Which form of the SMS block a scenario submits."""

    verify = "verify"
    resend = "resend"


class CaptchaMode(StrEnum):
    """How the site's security check is handled: a person solves it, or the site shows none."""

    manual = "manual"
    none = "none"


class Category(StrEnum):
    """Closed set of run results, each with its exit code (:attr:`exit_code`).

    Several scenarios in one invocation exit with the highest code among them.
    """

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

#: Whether a submission request may have reached the site in a run.
Submitted = Literal["no", "yes", "maybe"]

#: When a run keeps its Playwright trace.
TraceMode = Literal["on", "off", "on-failure"]
#: ``masked`` hides personal values in screenshots and traces; ``unmasked`` keeps them.
EvidenceMode = Literal["masked", "unmasked"]
