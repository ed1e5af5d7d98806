"""The languages of the pages people read: English (the source) and Simplified Chinese.

Every sentence a person reads on icpbot's web pages lives in a message catalog (gettext ``.po``
files under ``bot/i18n/locale/``, extracted and checked with Babel; ``docs/i18n.md``). Source
texts are English and are the catalogs' message ids. Code that defines a text far from where it
is shown marks it with :func:`N_` (it returns the text unchanged); the text is translated where a
page shows it, in that person's language (:mod:`bot.i18n.catalogs`, :mod:`bot.i18n.web`).

This module imports nothing, so that every layer (``bot.types`` too) can mark its texts.
"""

from __future__ import annotations

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "N_", "folder_of"]

#: The languages the pages are offered in: BCP 47 tag -> the language's name in itself (the
#: switch shows each in its own language).
LANGUAGES: dict[str, str] = {"en": "English", "zh-Hans": "简体中文"}
#: The source language: its catalog is the message ids themselves.
DEFAULT_LANGUAGE = "en"


def N_(text: str) -> str:
    """Marks ``text`` for the message catalogs; translated where it is shown."""
    return text


def folder_of(language: str) -> str:
    """The catalog's folder name (Babel's locale identifier) for a tag of :data:`LANGUAGES`:
    ``zh-Hans`` -> ``zh_Hans``."""
    return language.replace("-", "_")
