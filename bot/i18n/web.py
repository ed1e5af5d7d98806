"""A page's language, and the pages themselves: Jinja2 templates translated from the catalogs.

**Which language.** A request's language (:func:`language`) is, in order: ``?lang=`` (the switch
on every page: links to ``?lang=en`` and ``?lang=zh-Hans``), the ``icpbot_lang`` cookie (the
switch's choice, remembered), then the browser's ``Accept-Language`` (the first language offered
by weight: any ``zh`` reads Simplified Chinese, anything else English). The cookie holds only the
language's tag, and is set only when the switch was used from a page of the same site or by the
person themselves (``Sec-Fetch-Site`` ``same-origin`` or ``none``): a link on another site may
open a page in a language, but cannot change what the browser remembers.

**The pages** (:class:`Pages`) are Jinja2 templates with the i18n extension: ``{{ _("…") }}`` and
``{% trans %}…{% endtrans %}`` (whitespace trimmed), autoescaped, ``StrictUndefined``; one
environment per folder and language. Every template gets ``lang`` (the page's language tag),
``languages`` (tag -> name) and ``switch`` (the other languages' links). The texts a page's script
shows come from the template too (a JSON data block, ``{{ texts|tojson }}``), never from the script.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import Response

from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES
from bot.i18n.catalogs import translations

__all__ = ["COOKIE", "Pages", "from_accept_language", "gettext_for", "language", "remember"]

#: the cookie that remembers the switch's choice (a language tag, nothing else)
COOKIE = "icpbot_lang"
_YEAR_S = 365 * 24 * 3600
#: ``Sec-Fetch-Site`` values of a navigation that may set the cookie (absent: an older browser)
_OWN = (None, "same-origin", "none")


def from_accept_language(header: str | None) -> str:
    """The language of :data:`~bot.i18n.LANGUAGES` an ``Accept-Language`` header asks for first
    (by weight, then order); English when it names none."""
    offered: list[tuple[float, int, str]] = []
    for n, part in enumerate((header or "").split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if tag and weight > 0:
            offered.append((-weight, n, tag.lower()))
    for _, _, tag in sorted(offered):
        primary = tag.split("-")[0]
        if primary == "zh":
            return "zh-Hans"
        if primary == "en":
            return "en"
    return DEFAULT_LANGUAGE


def _asked(request: Request) -> str | None:
    asked = request.query_params.get("lang")
    return asked if asked in LANGUAGES else None


def language(request: Request) -> str:
    """The request's language: ``?lang=``, the cookie, then ``Accept-Language``."""
    asked = _asked(request)
    if asked is not None:
        return asked
    kept = request.cookies.get(COOKIE)
    if kept in LANGUAGES:
        return str(kept)
    return from_accept_language(request.headers.get("accept-language"))


def remember(request: Request, response: Response) -> None:
    """Keep the switch's choice in the cookie, when the person made it on this site."""
    asked = _asked(request)
    if asked is None or request.headers.get("sec-fetch-site") not in _OWN:
        return
    response.set_cookie(
        COOKIE, asked, max_age=_YEAR_S, httponly=True, samesite="lax",
        secure=request.url.scheme == "https", path="/",
    )  # fmt: skip


def gettext_for(request: Request) -> Callable[[str], str]:
    """``gettext`` in the request's language."""
    return translations(language(request)).gettext


class Pages:
    """The page templates of one folder, rendered in the request's language. ``shared``: more
    folders searched after it, for the partials that pages of several folders include."""

    def __init__(self, folder: Path, *shared: Path) -> None:
        self.folders = [folder, *shared]
        self._environments: dict[str, Environment] = {}

    def environment(self, lang: str) -> Environment:
        """The folder's environment in ``lang`` (made once)."""
        env = self._environments.get(lang)
        if env is None:
            env = self._environments[lang] = self._make(lang)
        return env

    def _make(self, lang: str) -> Environment:
        env = Environment(
            loader=FileSystemLoader(self.folders),
            autoescape=True,
            undefined=StrictUndefined,
            extensions=["jinja2.ext.i18n"],
            auto_reload=False,
        )
        env.policies["ext.i18n.trimmed"] = True
        tr: gettext.NullTranslations = translations(lang)
        env.install_gettext_translations(tr, newstyle=True)  # type: ignore[attr-defined]
        env.globals.update(
            lang=lang,
            languages=LANGUAGES,
            switch=[(tag, name) for tag, name in LANGUAGES.items() if tag != lang],
        )
        return env

    def render(
        self,
        request: Request,
        name: str,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        **values: Any,
    ) -> Response:
        """The page ``name`` in the request's language, its values escaped."""
        lang = language(request)
        text = self.environment(lang).get_template(name).render(**values)
        answer = Response(text, status, headers, media_type="text/html; charset=utf-8")
        answer.headers["Content-Language"] = lang
        answer.headers["Vary"] = "Accept-Language, Cookie"
        remember(request, answer)
        return answer
