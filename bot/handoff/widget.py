"""The security check's widget on a page: one partial (``static/_check.html``) that every door's
page includes (``{% include "_check.html" %}``: a page's template environment searches
:data:`STATIC_DIR` too), driven by one script (``static/check.js``) through its
``data-check-url``.

Every text of the widget that a person reads is in :data:`TEXTS`, in one place: message ids of
the catalogs (:func:`bot.i18n.N_`), translated into the page's language by :func:`check_widget`.
The partial's labels are filled from them, and the few the script shows (hints, errors) reach it
as a JSON data block in the partial (``<script type="application/json" class="ck-texts">``,
which the strict CSP allows: it is data, never run).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.handoff.check import MAX_DRAG_POINTS
from bot.i18n import N_

__all__ = ["STATIC_DIR", "STATIC_FILES", "TEXTS", "check_widget"]

STATIC_DIR = Path(__file__).parent / "static"
#: the files the doors serve under ``/static/`` (media types)
STATIC_FILES = {
    "check.js": "text/javascript; charset=utf-8",
    "check.css": "text/css; charset=utf-8",
    "handoff.css": "text/css; charset=utf-8",
}

TEXTS: dict[str, str] = {
    "loading": N_("Loading the check…"),
    "run": N_("Run"),
    "person": N_("For"),
    "zh_label": N_("The site's own words:"),
    "time_left": N_("Time left:"),
    "alt": N_(
        "Security check: the picture the site shows. Tap or click on it where it asks, or drag "
        "the slider."
    ),
    "zoom_out": N_("Zoom out"),
    "controls": N_(
        "Inside the picture, the site's own controls: 请完成安全校验 means “please complete the "
        "security check”; 换一张 asks the site for a new picture (use it when the characters are "
        "hard to read); × closes the check: nothing is sent, and you have to start again."
    ),
    "help": N_(
        "Your taps, clicks and drags go to the site at the same points of the picture. After a "
        "wrong answer the site shows a new picture: look again and answer on the new one."
    ),
    "passed_title": N_("The check is passed"),
    "passed_text": N_("The site now sends the form. The outcome appears here."),
    "outcome_title": N_("Outcome"),
    "gone": N_("This check is over: the link has expired. You can close this page."),
    "offline": N_(
        "The service cannot be reached: the check is not shown until it answers again (trying "
        "every few seconds)."
    ),
    # shown by the script
    "hint_touch": N_("Tap a character: the picture zooms in. Then tap exactly on it."),
    "hint_zoomed": N_("Zoomed in: tap exactly on the character (slide to look around)."),
    "hint_mouse": N_("Click the characters on the picture, in the order shown."),
    "hint_slider": N_(
        "Drag the handle to the right: the dashed strip shows where the piece lands."
    ),
    "hint_sending": N_("Sent to the site; its answer shows on the picture."),
    "error": N_("That did not reach the site. Try again."),
}
#: the texts the script needs (the rest are in the partial's markup)
_SCRIPT_TEXTS = (
    "hint_touch",
    "hint_zoomed",
    "hint_mouse",
    "hint_slider",
    "hint_sending",
    "error",
)


def check_widget(
    gettext: Callable[[str], str],
    *,
    url: str = "",
    meta: bool = False,
    outcome: bool = False,
) -> dict[str, Any]:
    """What the partial needs, as the template value ``check``: its texts in the page's
    language (``gettext`` of the request), and its options. ``url``: the door's check prefix
    (empty: the page's script sets ``data-check-url`` when a check is there); ``meta``: show the
    run and the person; ``outcome``: show the run's outcome lines once it has ended (the
    hand-off page)."""
    texts = {key: gettext(text) for key, text in TEXTS.items()}
    return {
        "url": url,
        "show": " ".join(name for name, on in (("meta", meta), ("outcome", outcome)) if on),
        "max_points": MAX_DRAG_POINTS,
        "texts": texts,
        "script_texts": {key: texts[key] for key in _SCRIPT_TEXTS},
    }
