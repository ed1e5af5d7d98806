"""The message catalogs at run time: one ``gettext`` translations object per language.

Catalogs are kept as text only (``locale/<folder>/LC_MESSAGES/icpbot.po``, with the template
``locale/icpbot.pot``): no compiled ``.mo`` file is committed or built. The first page asked for in
a language reads its ``.po`` with Babel and compiles it in memory into a
:class:`gettext.GNUTranslations` (once per process: about 0.3 s with Babel's import, measured on a
loaded 2-core machine). A fuzzy or empty translation is left out, so its English source is shown
rather than a wrong text; CI refuses both (``tests/test_i18n.py``). English is the source: its
translations are the message ids.
"""

from __future__ import annotations

import gettext
from functools import cache
from io import BytesIO
from pathlib import Path

from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES, folder_of

__all__ = ["DOMAIN", "LOCALE_DIR", "po_path", "translations"]

LOCALE_DIR = Path(__file__).parent / "locale"
#: the catalogs' name (``icpbot.po``, ``icpbot.pot``)
DOMAIN = "icpbot"


def po_path(language: str) -> Path:
    """Where the catalog of ``language`` (a tag of :data:`~bot.i18n.LANGUAGES`) is kept."""
    return LOCALE_DIR / folder_of(language) / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The translations of ``language`` (the source language, or an unknown one: the message
    ids themselves)."""
    if language == DEFAULT_LANGUAGE or language not in LANGUAGES:
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo  # only when a translated page is first asked for
    from babel.messages.pofile import read_po

    with po_path(language).open("rb") as po:
        catalog = read_po(po, locale=folder_of(language), domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)
