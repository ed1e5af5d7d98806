"""The closed sets every layer shares: actions, security-check modes, outcome categories.

This module imports nothing of icpbot's but the catalogs' marker (``bot.i18n.N_``), so config,
outcome, safety and the CLI can all use it without import circles. Each :class:`Category`
carries its process exit code: the one table of exit codes (``BotError`` subclasses and the CLI
read it from here), and its label in two voices (:data:`CATEGORY_LABELS`): the operator's, who
runs icpbot, and the customer's, the person being verified who reads the service's pages.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Literal, NamedTuple

from bot.i18n import N_

__all__ = [
    "BATCH_PRECEDENCE",
    "CATEGORY_LABELS",
    "CUSTOMER_DEFAULTS",
    "Action",
    "CaptchaMode",
    "Category",
    "EvidenceMode",
    "Submitted",
    "TraceMode",
    "Voices",
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


class Voices(NamedTuple):
    """One thing said twice: to the operator and to the customer. Both are message ids of the
    catalogs (English), translated where a page shows them."""

    operator: str
    customer: str


#: Each category's short label, in both voices: the operator's pages and the customer's. (The
#: outcomes' own texts for the operator stay English, as result.json and the console say them.)
CATEGORY_LABELS: dict[Category, Voices] = {
    Category.success: Voices(N_("success"), N_("Done")),
    Category.wrong_info: Voices(N_("wrong information"), N_("Not accepted")),
    Category.no_record: Voices(N_("no such filing"), N_("Nothing to verify")),
    Category.failed: Voices(N_("failed"), N_("Not completed")),
    Category.invalid_input: Voices(N_("invalid input"), N_("Not sent")),
    Category.captcha_required: Voices(
        N_("security check not passed"), N_("Security check not done")
    ),
    Category.site_error: Voices(N_("site error"), N_("The filing site had a problem")),
    Category.unknown: Voices(N_("unknown: check the status"), N_("Result not known")),
    Category.refused: Voices(N_("refused by icpbot"), N_("Not sent")),
    Category.selector_error: Voices(N_("the page changed"), N_("Service problem")),
    Category.stopped: Voices(N_("stopped"), N_("Stopped")),
}

#: What the customer reads for an outcome of each category when nothing more precise is said
#: (a status of a selector map without ``customer`` texts; an outcome stored before there were
#: two voices): (what happened, what they can do). icpbot's own verdicts each say more.
CUSTOMER_DEFAULTS: dict[Category, tuple[str, str]] = {
    Category.success: (
        N_("The filing site accepted the verification."),
        N_("Nothing more to do."),
    ),
    Category.wrong_info: (
        N_(
            "The filing site did not accept the details. Each failed try counts: after about "
            "five, the whole filing is returned."
        ),
        N_(
            "Check that you used the code from the latest SMS from 12381. If it is right, "
            "contact your hosting provider before you try again."
        ),
    ),
    Category.no_record: (
        N_("The filing site has nothing waiting to be verified for this mobile number."),
        N_("Contact your hosting provider: they can check the state of the filing."),
    ),
    Category.failed: (
        N_("The verification did not go through."),
        N_("Contact your hosting provider before you try again."),
    ),
    Category.invalid_input: (
        N_("The details could not be used, so nothing was sent."),
        N_(
            "Check the code and press Verify again. If it happens again, contact your hosting "
            "provider."
        ),
    ),
    Category.captcha_required: (
        N_("The security check was not finished, so nothing was sent."),
        N_("Press Verify to try again."),
    ),
    Category.site_error: (
        N_("The filing site had a problem, and nothing was sent."),
        N_("Try again later. If it keeps happening, contact your hosting provider."),
    ),
    Category.unknown: (
        N_("Your details may have reached the filing site, but no clear answer came back."),
        N_(
            "Do not send the code again: contact your hosting provider, who can check whether "
            "the verification went through."
        ),
    ),
    Category.refused: (
        N_("Nothing was sent: sending now could put the filing at risk."),
        N_("Contact your hosting provider."),
    ),
    Category.selector_error: (
        N_(
            "The filing site has changed, and this service cannot use it right now. Nothing "
            "was sent."
        ),
        N_("Contact your hosting provider."),
    ),
    Category.stopped: (
        N_("The service stopped before anything was sent."),
        N_("Press Verify to try again."),
    ),
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
