"""Outcomes: what a run ended in, in the operator's words, and how the site's reply maps to one.

The mapping from ``validStatus`` (and banner text) to an outcome is data, loaded from the selector
map's ``statuses`` table (see ``selectors/miit.yaml``); this module only applies it. Classification
trusts the API's ``validStatus`` first and the banner text second; when the two disagree both are
kept in the outcome.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:  # runtime imports would be circular: selector_map loads Category from here
    from bot.scenario import Action
    from bot.selector_map import SelectorMap, StatusEntry

__all__ = ["Category", "Outcome", "Submitted", "classify_reply", "most_severe"]


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
        """Rank for picking the exit code of several scenarios: the highest exit code wins."""
        return self.exit_code


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


def classify_reply(
    smap: SelectorMap,
    action: Action,
    valid_status: int | None,
    banner_text: str | None,
    *,
    valid_flag: bool | None = None,
) -> Outcome:
    """The outcome of a reply to a submission (``submitted="yes"``), from the map's status table.

    ``valid_status`` (the API's ``params.validStatus``) decides; ``banner_text`` (what the page
    showed) is used only when there is no status. When both are given and the banner is not the
    status's text, both are kept (``banner_zh``, ``expected_banner_zh``) and ``details`` says which
    status the banner would mean; the category stays the API's. ``valid_flag`` is recorded.
    """
    from bot.selector_map import banner_matches  # a runtime import here is not circular

    banner = banner_text if banner_text and banner_text.strip() else None
    details: dict[str, Any] = {}
    if valid_flag is not None:
        details["valid_flag"] = valid_flag

    if valid_status is not None:
        details["classified_by"] = "status"
        entry = smap.status_entry(action, valid_status)
        if entry is None:
            return _unknown_status(smap, action, valid_status, banner, details)
        message = entry.message
        if action not in entry.actions:
            details["action_mismatch"] = True
            message += f" (The site answered a {action} with a status of the other form.)"
        if banner is not None and not banner_matches(entry.banner, banner):
            says = smap.entry_by_banner(action, banner)
            details["banner_mismatch"] = True
            details["banner_says"] = says.name if says is not None else None
            message += (
                " (The page's banner did not show the expected text for this status; the "
                "API's status was used.)"
            )
        _check_flag(entry, valid_flag, details)
        return Outcome(
            category=entry.category,
            status=entry.name,
            site_status=valid_status,
            banner_zh=banner,
            expected_banner_zh=entry.banner,
            message=message,
            next_step=entry.next_step,
            submitted="yes",
            details=details,
        )

    if banner is not None:
        details["classified_by"] = "banner"
        entry = smap.entry_by_banner(action, banner)
        if entry is None:
            return Outcome(
                category=Category.unknown,
                status="unrecognised_banner",
                banner_zh=banner,
                message="A reply came back without a status, and the page's banner text is not "
                f"one icpbot knows: {banner}",
                next_step="Read the banner in the screenshot (or have it translated) and check "
                "the filing's state with the hosting provider before anything else; do "
                "not resubmit.",
                submitted="yes",
                details=details,
            )
        details["inferred_status"] = entry.status
        _check_flag(entry, valid_flag, details)
        return Outcome(
            category=entry.category,
            status=entry.name,
            banner_zh=banner,
            expected_banner_zh=entry.banner,
            message=entry.message,
            next_step=entry.next_step,
            submitted="yes",
            details=details,
        )

    details["classified_by"] = "none"
    return Outcome(
        category=Category.unknown,
        status="unknown",
        message="A reply came back, but icpbot could read neither a status nor a banner from it; "
        "the submission may or may not have counted.",
        next_step="Check the screenshot and the filing's state with the hosting provider before "
        "trying again; do not resubmit blindly.",
        submitted="yes",
        details=details,
    )


def _check_flag(entry: StatusEntry, valid_flag: bool | None, details: dict[str, Any]) -> None:
    # validFlag only picks the banner's icon; record a disagreement, never act on it.
    if valid_flag is not None and valid_flag != (entry.category is Category.success):
        details["valid_flag_mismatch"] = True


def _unknown_status(
    smap: SelectorMap, action: Action, status: int, banner: str | None, details: dict[str, Any]
) -> Outcome:
    default = smap.default_entry
    if banner is not None:
        says = smap.entry_by_banner(action, banner)
        details["banner_says"] = says.name if says is not None else None
    shown = f"the page showed: {banner}" if banner is not None else "the page showed no banner"
    return Outcome(
        category=Category.failed,
        status="unknown_status",
        site_status=status,
        banner_zh=banner,
        expected_banner_zh=default.banner if default is not None else None,
        message=f"The site answered with status {status}, which icpbot does not know (the page "
        f"shows the generic failure text for such statuses); {shown}.",
        next_step="Check the filing's state with the hosting provider before trying again; do "
        "not resubmit blindly, as the attempt may have counted.",
        submitted="yes",
        details=details,
    )
