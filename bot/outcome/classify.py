"""Classification of the site's reply (pure): ``validStatus`` and banner text to an Outcome.

The mapping from ``validStatus`` (and banner text) to an outcome is data, loaded from the selector
map's ``statuses`` table (see ``selectors/miit.yaml``); this module only applies it. Classification
trusts the API's ``validStatus`` first and the banner text second; when the two disagree both are
kept in the outcome.
"""

from __future__ import annotations

from typing import Any, Literal

from bot.config.selector_map import SelectorMap, StatusEntry, banner_matches
from bot.i18n import N_
from bot.outcome import verdicts
from bot.outcome.model import CustomerVoice, Outcome
from bot.types import Action, Category

__all__ = ["PageRead", "classify_reply", "classify_response", "envelope_code", "page_read_for"]

#: The customer's voice of an answer icpbot could not read: it may have counted.
_UNREAD = CustomerVoice(
    message=N_("The filing site answered, but its answer could not be read."),
    next_step=verdicts.MAYBE_SENT_NEXT,
)

#: What the page must be read for before a reply can be classified.
PageRead = Literal["nothing", "toast", "banner"]


def envelope_code(body: dict[str, Any] | None) -> int | None:
    """The envelope's ``code`` as an integer (None when absent or not a number)."""
    code = (body or {}).get("code")
    try:
        return int(code) if code is not None else None
    except (TypeError, ValueError):
        return None


def _msg(body: dict[str, Any] | None) -> str | None:
    return str((body or {}).get("msg") or "") or None


def page_read_for(http_status: int, body: dict[str, Any] | None) -> PageRead:
    """Which of the page's answers (error toast, result banner) the reply's class needs."""
    if http_status in (401, 429) or (http_status == 403 and body is None):
        return "nothing"
    if http_status >= 400:
        # Only the reply's own msg is the site's word; without one the toast is kept as a detail.
        return "toast" if _msg(body) is None else "nothing"
    if body is None:
        return "nothing"
    return "banner" if envelope_code(body) == 200 else "toast"


def classify_response(
    smap: SelectorMap,
    action: Action,
    *,
    http_status: int,
    body: dict[str, Any] | None,
    elapsed_s: float,
    text: str = "",
    banner: str | None = None,
    toast: str | None = None,
) -> Outcome:
    """The outcome of the site's reply to the one submission (pure: no page, no browser).

    ``text`` is the reply's body as text (a firewall page is HTML); ``banner`` and ``toast`` are
    what the page showed, read as :func:`page_read_for` says.
    """
    details: dict[str, Any] = {"http_status": http_status, "reply_seconds": round(elapsed_s, 3)}
    if http_status == 401:
        return verdicts.session_expired(submitted="yes")
    if body is None or http_status == 429:
        # Not the site's JSON: the CDN or web firewall may have answered in its place.
        kind = smap.front_door.barrier(text, http_status)
        if kind is None and http_status == 403:
            kind = "blocked"
        if kind is not None:
            return verdicts.barrier(kind, "submission", http_status=http_status, page_text=text)
    if http_status >= 400:
        # A toast may be the page's reaction to a retry the gate blocked: a detail, not the word.
        msg = _msg(body)
        return verdicts.http_error(
            http_status, msg, {**details, "toast": toast} if toast and not msg else details
        )
    if body is None:
        return verdicts.bad_reply(details)
    code = envelope_code(body)
    if code != 200:
        return verdicts.envelope_error(code, _msg(body) or "", toast, details)
    params = body.get("params")
    params = params if isinstance(params, dict) else {}
    status_raw = params.get("validStatus")
    try:
        status = int(status_raw) if status_raw is not None else None
    except (TypeError, ValueError):
        status = None
    outcome = classify_reply(smap, action, status, banner, valid_flag=params.get("validFlag"))
    merged = {**details, **outcome.details}
    if banner is None:
        merged["banner_missing"] = True
    return outcome.model_copy(update={"details": merged})


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

    banner = banner_text if banner_text and banner_text.strip() else None
    details: dict[str, Any] = {}
    if valid_flag is not None:
        details["valid_flag"] = valid_flag

    if valid_status is not None:
        return _by_status(smap, action, valid_status, banner, valid_flag, details)

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
                customer=_UNREAD,
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
            customer=entry.customer_voice,
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
        customer=_UNREAD,
        submitted="yes",
        details=details,
    )


def _by_status(
    smap: SelectorMap,
    action: Action,
    valid_status: int,
    banner: str | None,
    valid_flag: bool | None,
    details: dict[str, Any],
) -> Outcome:
    """The API's ``validStatus`` decides; a banner that says otherwise is kept beside it."""
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
        customer=entry.customer_voice,
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
        customer=CustomerVoice(
            message=N_(
                "The filing site answered with a result this service does not know; the try may "
                "have counted."
            ),
            next_step=N_("Contact your hosting provider before you try again."),
        ),
        submitted="yes",
        details=details,
    )
