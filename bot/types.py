"""The closed sets every layer shares: actions, security-check modes, outcome categories.

This module imports nothing of icpbot's, so config, outcome, safety and the CLI can all use it
without import circles. Each :class:`Category` carries its process exit code: the one table of
exit codes (``BotError`` subclasses and the CLI read it from here).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Literal

__all__ = [
    "BATCH_PRECEDENCE",
    "Action",
    "CaptchaMode",
    "Category",
    "EvidenceMode",
    "Submitted",
    "TraceMode",
    "batch_category",
]


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

    Several scenarios in one invocation exit with the code of the first category in
    :data:`BATCH_PRECEDENCE` that any of them ended in (:func:`batch_category`).
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
    #: interrupted (Ctrl-C, SIGTERM) before anything was sent: nothing to check, run it again
    stopped = "stopped"

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
    Category.stopped: 27,  # 26 is check-selectors' "fallbacks used"
}

#: The order in which a batch's exit code is chosen: the first category any run ended in wins.
#: What may have spent the person's failure budget or needs a look at the filing comes first
#: (``unknown``: may have been sent; ``wrong_info``: spent one), so a milder outcome in the same
#: batch never hides it; then the site's other answers, then what icpbot stopped before sending.
BATCH_PRECEDENCE: tuple[Category, ...] = (
    Category.unknown,
    Category.wrong_info,
    Category.failed,
    Category.no_record,
    Category.selector_error,
    Category.site_error,
    Category.captcha_required,
    Category.refused,
    Category.invalid_input,
    Category.stopped,
    Category.success,
)


def batch_category(categories: Iterable[Category]) -> Category:
    """The category whose exit code an invocation of several runs returns (success if none)."""
    present = set(categories)
    return next((c for c in BATCH_PRECEDENCE if c in present), Category.success)


#: Whether a submission request may have reached the site in a run.
Submitted = Literal["no", "yes", "maybe"]

#: When a run keeps its Playwright trace.
TraceMode = Literal["on", "off", "on-failure"]
#: ``masked`` hides personal values in screenshots and traces; ``unmasked`` keeps them.
EvidenceMode = Literal["masked", "unmasked"]
