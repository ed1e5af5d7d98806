"""The security check's widget on a page: one partial (``static/_check.html``) that every door's
page includes, driven by one script (``static/check.js``) through its ``data-check-url``.

Every text of the widget that a person reads is in :data:`TEXTS`, in one place: the partial's
labels are filled from it on the server, and the few the script shows (hints, errors) reach it as
a JSON data block in the partial (``<script type="application/json" class="ck-texts">``, which
the strict CSP allows: it is data, never run). A message catalog can take over :data:`TEXTS`
as a whole (:func:`check_partial` takes the texts to use).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from bot.handoff.check import MAX_DRAG_POINTS

__all__ = ["MARKER", "STATIC_DIR", "STATIC_FILES", "TEXTS", "check_partial", "with_check"]

STATIC_DIR = Path(__file__).parent / "static"
#: the files the doors serve under ``/static/`` (media types)
STATIC_FILES = {
    "check.js": "text/javascript; charset=utf-8",
    "check.css": "text/css; charset=utf-8",
    "handoff.css": "text/css; charset=utf-8",
}
#: where a page's HTML takes the partial
MARKER = "<!-- check -->"

TEXTS: dict[str, str] = {
    "loading": "Loading the check…",
    "run": "Run",
    "person": "For",
    "zh_label": "The site's own words:",
    "time_left": "Time left:",
    "alt": "Security check: the picture the site shows. Tap or click on it where it asks, "
    "or drag the slider.",
    "zoom_out": "Zoom out",
    "controls": "Inside the picture, the site's own controls: 请完成安全校验 means “please "
    "complete the security check”; 换一张 asks the site for a new picture (use it when the "
    "characters are hard to read); × closes the check: nothing is sent, and you have to "
    "start again.",
    "help": "Your taps, clicks and drags go to the site at the same points of the picture. "
    "After a wrong answer the site shows a new picture: look again and answer on the new one.",
    "passed_title": "The check is passed",
    "passed_text": "The site now sends the form. The outcome appears here.",
    "outcome_title": "Outcome",
    "gone": "This check is over: the link has expired. You can close this page.",
    "offline": "The service cannot be reached: the check is not shown until it answers "
    "again (trying every few seconds).",
    # shown by the script
    "hint_touch": "Tap a character: the picture zooms in. Then tap exactly on it.",
    "hint_zoomed": "Zoomed in: tap exactly on the character (slide to look around).",
    "hint_mouse": "Click the characters on the picture, in the order shown.",
    "hint_slider": "Drag the handle to the right: the dashed strip shows where the piece lands.",
    "hint_sending": "Sent to the site; its answer shows on the picture.",
    "error": "That did not reach the site. Try again.",
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


@cache
def _partial() -> str:
    return (STATIC_DIR / "_check.html").read_text(encoding="utf-8")


def _json_in_html(value: object) -> str:
    """JSON that a ``<script type="application/json">`` element holds safely (no ``</script>``,
    no markup)."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def check_partial(
    *,
    url: str = "",
    meta: bool = False,
    outcome: bool = False,
    texts: Mapping[str, str] = TEXTS,
) -> str:
    """The widget's HTML. ``url``: the door's check prefix (empty: the page's script sets
    ``data-check-url`` when a check is there); ``meta``: show the run and the person;
    ``outcome``: show the run's outcome lines once it has ended (the hand-off page)."""
    show = " ".join(name for name, on in (("meta", meta), ("outcome", outcome)) if on)
    values = {
        **{key: html.escape(value) for key, value in texts.items()},
        "url": html.escape(url),
        "show": show,
        "max_points": str(MAX_DRAG_POINTS),
        "texts_json": _json_in_html({key: texts[key] for key in _SCRIPT_TEXTS}),
    }
    out = _partial()
    for key, value in values.items():
        out = out.replace("{{" + key + "}}", value)
    return out


def with_check(
    page: str,
    *,
    url: str = "",
    meta: bool = False,
    outcome: bool = False,
    texts: Mapping[str, str] = TEXTS,
) -> str:
    """``page`` (HTML) with the widget where it has :data:`MARKER` (options as for
    :func:`check_partial`)."""
    if MARKER not in page:
        raise ValueError("the page has no place for the security check")
    return page.replace(MARKER, check_partial(url=url, meta=meta, outcome=outcome, texts=texts))
