"""The message catalogs: up to date with the sources, complete in every shipped language, and
chosen by the browser's language; every page renders in every language.

A failure here means: run ``make i18n`` (the sources changed), then translate what it marked
(docs/i18n.md).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from starlette.requests import Request

from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES, folder_of
from bot.i18n.catalogs import DOMAIN, LOCALE_DIR, po_path, translations
from bot.i18n.extract import catalog_text, template
from bot.i18n.web import Pages, from_accept_language, language

REPO = Path(__file__).resolve().parent.parent
TRANSLATED = [lang for lang in LANGUAGES if lang != DEFAULT_LANGUAGE]
_PLACEHOLDER = re.compile(r"\{\w*\}|%\(\w+\)[sd]")
_ID = re.compile(r'\bid="([^"]+)"')


def _body(text: str) -> str:
    """A catalog's text without its header (which names Babel's version)."""
    return text.split("\n\n", 1)[1]


def _read(path: Path, lang: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=folder_of(lang) if lang else None, domain=DOMAIN)


def test_the_template_is_up_to_date_with_the_sources() -> None:
    fresh = catalog_text(template(REPO))
    committed = (LOCALE_DIR / f"{DOMAIN}.pot").read_text(encoding="utf-8")
    assert _body(fresh) == _body(committed), "stale catalog template: run `make i18n`"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_text_is_translated(lang: str) -> None:
    pot = _read(LOCALE_DIR / f"{DOMAIN}.pot")
    po = _read(po_path(lang), lang)
    assert not po.fuzzy
    wanted = {(m.context, m.id) for m in pot if m.id}
    have = {(m.context, m.id) for m in po if m.id}
    assert have == wanted, "catalog out of step with the template: run `make i18n`"
    for message in po:
        if not message.id:
            continue
        assert isinstance(message.id, str)
        assert isinstance(message.string, str)
        assert message.string.strip(), f"untranslated: {message.id!r}"
        assert not message.fuzzy, f"fuzzy: {message.id!r}"
        # What the code fills in, and the elements the scripts fill, stay.
        assert sorted(_PLACEHOLDER.findall(message.string)) == sorted(
            _PLACEHOLDER.findall(message.id)
        ), message.id
        assert _ID.findall(message.string) == _ID.findall(message.id), message.id


@pytest.mark.parametrize("lang", TRANSLATED)
def test_catalogs_compile_in_memory(lang: str) -> None:
    tr = translations(lang)
    assert tr.gettext("Verify") != "Verify"
    assert tr.pgettext("characters to click", ", ") != ", "
    assert translations(DEFAULT_LANGUAGE).gettext("Verify") == "Verify"
    assert not list(LOCALE_DIR.rglob("*.mo")), "compiled catalogs are not kept"


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        (None, "en"),
        ("", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans"),
        ("zh", "zh-Hans"),
        ("zh-Hans-CN", "zh-Hans"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("de-DE,zh-CN;q=0.7,en;q=0.5", "zh-Hans"),
        ("en;q=0.2,zh-TW;q=0.9", "zh-Hans"),
        ("fr-FR,de;q=0.5", "en"),
        ("zh;q=0, en", "en"),
        ("zh;q=oops,en", "en"),
    ],
)
def test_the_language_from_accept_language(header: str | None, lang: str) -> None:
    assert from_accept_language(header) == lang


def _request(query: str = "", cookie: str = "", accept: str = "") -> Request:
    headers = [(b"accept-language", accept.encode())]
    if cookie:
        headers.append((b"cookie", f"icpbot_lang={cookie}".encode()))
    scope = {"type": "http", "method": "GET", "path": "/", "query_string": query.encode(),
             "headers": headers, "scheme": "http", "server": ("127.0.0.1", 80)}  # fmt: skip
    return Request(scope)


def test_the_switch_wins_then_the_cookie_then_the_browser() -> None:
    assert language(_request(accept="zh-CN")) == "zh-Hans"
    assert language(_request(cookie="en", accept="zh-CN")) == "en"
    assert language(_request(query="lang=zh-Hans", cookie="en")) == "zh-Hans"
    # Anything but a shipped language's tag is ignored.
    assert language(_request(query="lang=xx", cookie="<b>", accept="en")) == "en"


@pytest.mark.parametrize("lang", list(LANGUAGES))
@pytest.mark.parametrize(
    ("door", "name"),
    [
        *(("serve", n) for n in
          ("login.html", "dashboard.html", "ledger.html", "links.html", "gone.html",
           "customer.html", "webhooks.html", "audit.html")),
        ("handoff", "handoff.html"),
        ("handoff", "ended.html"),
    ],
)  # fmt: skip
def test_every_page_renders_in_every_language(door: str, name: str, lang: str) -> None:
    """Each page from its door's own template environment, the check's widget included where
    a page has it (its texts in the page's language too)."""
    from bot.handoff.server import PAGES as HANDOFF_PAGES
    from bot.handoff.widget import check_widget
    from bot.serve.opsweb import ops_labels
    from bot.serve.ui import PAGES as SERVE_PAGES
    from bot.serve.ui import labels

    pages: Pages = SERVE_PAGES if door == "serve" else HANDOFF_PAGES
    gettext = translations(lang).gettext
    values = {"csrf": "c", "operator": "o", "error": "", "page": "/", "title": "t", "text": "x",
              "todo": "y", "labels": labels(gettext) | ops_labels(gettext),
              "check": check_widget(gettext),
              "default_base_url": "https://beian.miit.gov.cn/", "label_max": 80}  # fmt: skip
    page = pages.environment(lang).get_template(name).render(**values)
    assert f'<html lang="{lang}">' in page
    others = [tag for tag in LANGUAGES if tag != lang]
    for tag in others:
        assert f'href="?lang={tag}"' in page  # the switch to the other language
    if name in ("customer.html", "dashboard.html", "handoff.html"):
        assert 'class="ck"' in page  # the check's widget
        assert gettext("Time left:") in page
    if lang != DEFAULT_LANGUAGE and name not in ("gone.html", "ended.html"):
        assert not re.search(
            r">\s*(Log in|Dashboard|Verify|Security check|Outcome|Time left:|Zoom out|Audit log"
            r"|New webhook|Deliveries|When)\s*<",
            page,
        )
