"""Extraction: the catalogs' template from the sources, and the catalogs brought up to date.

``python -m bot.i18n.extract`` (``make i18n``) reads every text marked for translation:

- Python: ``N_("…")``, ``_("…")``, ``gettext("…")``, ``pgettext(context, "…")`` in ``bot/``;
- the pages: ``{{ _("…") }}`` and ``{% trans %}`` in the Jinja2 templates (``bot/serve/static``,
  ``bot/handoff/static``);
- the selector maps: each status's ``customer`` texts in ``selectors/*.yaml``
  (:func:`extract_selector_map`, a Babel extraction method);

writes the template ``bot/i18n/locale/icpbot.pot`` and merges it into every language's ``.po``
(a changed source text becomes fuzzy there, a new one empty: both fail CI until translated).
``tests/test_i18n.py`` runs the same extraction and fails when the committed files are stale.
Line numbers are not written, so that moving code does not change the catalogs.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

__all__ = [
    "METHODS",
    "OPTIONS",
    "catalog_text",
    "extract_selector_map",
    "main",
    "template",
    "update",
]

#: Which extraction method reads which files (Babel's method map, relative to the checkout).
METHODS: list[tuple[str, str]] = [
    ("bot/mocksite/**", "ignore"),
    ("bot/**.py", "python"),
    ("bot/serve/static/*.html", "jinja2.ext:babel_extract"),
    ("bot/handoff/static/*.html", "jinja2.ext:babel_extract"),
    ("selectors/*.yaml", "bot.i18n.extract:extract_selector_map"),
]
OPTIONS: dict[str, dict[str, str]] = {
    "bot/serve/static/*.html": {"trimmed": "true"},
    "bot/handoff/static/*.html": {"trimmed": "true"},
}
#: the template's date: fixed, so that the file changes only when the texts do
_DATE = datetime(2026, 1, 1, tzinfo=UTC)
_HEADER = """\
# {subject}: icpbot's pages (docs/i18n.md).
# Written by `make i18n`; a translator edits the msgstr lines only.
#"""


def extract_selector_map(
    fileobj: IO[bytes], keywords: Mapping[str, Any], comment_tags: list[str], options: Any
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    """Babel extraction method: the customer's texts of a selector map's statuses."""
    import yaml

    root = yaml.compose(fileobj.read().decode("utf-8"))
    if not isinstance(root, yaml.MappingNode):
        return
    for key, value in root.value:
        if key.value != "statuses" or not isinstance(value, yaml.SequenceNode):
            continue
        for entry in value.value:
            if not isinstance(entry, yaml.MappingNode):
                continue
            fields = {k.value: v for k, v in entry.value}
            status, name = fields.get("status"), fields.get("name")
            about = f"status {getattr(status, 'value', '?')} ({getattr(name, 'value', '?')})"
            customer = fields.get("customer")
            if not isinstance(customer, yaml.MappingNode):
                continue
            for part_key, part in customer.value:
                if isinstance(part, yaml.ScalarNode) and part.value:
                    comment = f"The site's answer {about}, to the customer: {part_key.value}"
                    yield part.start_mark.line + 1, None, part.value, [comment]


def template(root: Path) -> Any:
    """The catalogs' template (a Babel ``Catalog``) extracted from the checkout at ``root``."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir

    catalog = Catalog(
        project="icpbot",
        version=None,
        header_comment=_HEADER.format(subject="The catalogs' template"),
        copyright_holder="icpbot",
        msgid_bugs_address=None,
        creation_date=_DATE,
        revision_date=_DATE,
        fuzzy=False,
    )
    found = extract_from_dir(
        str(root),
        method_map=METHODS,
        options_map=OPTIONS,
        comment_tags=("Translators:",),
        strip_comment_tags=True,
    )
    for filename, lineno, message, comments, context in found:
        where = Path(filename).as_posix()
        catalog.add(message, None, [(where, lineno)], auto_comments=comments, context=context)
    return catalog


def catalog_text(catalog: Any) -> str:
    """A catalog as its file is written (no line numbers, sorted by message id)."""
    from babel.messages.pofile import write_po

    out = io.BytesIO()
    write_po(out, catalog, width=100, sort_output=True, include_lineno=False, ignore_obsolete=True)
    return out.getvalue().decode("utf-8")


def update(root: Path) -> list[Path]:
    """Write the template, and merge it into each language's catalog; the files written."""
    from babel.messages.pofile import read_po

    from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES, folder_of
    from bot.i18n.catalogs import DOMAIN, LOCALE_DIR, po_path

    pot = template(root)
    written = [LOCALE_DIR / f"{DOMAIN}.pot"]
    written[0].write_text(catalog_text(pot), encoding="utf-8")
    for lang in LANGUAGES:
        if lang == DEFAULT_LANGUAGE:
            continue
        path = po_path(lang)
        if path.exists():
            with path.open("rb") as f:
                catalog = read_po(f, locale=folder_of(lang), domain=DOMAIN)
        else:
            from babel.messages.catalog import Catalog

            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=folder_of(lang), domain=DOMAIN, project="icpbot")
        catalog.update(pot, update_header_comment=False)
        catalog.header_comment = _HEADER.format(subject=f"{LANGUAGES[lang]} ({lang})")
        catalog.revision_date = _DATE
        catalog.fuzzy = False
        path.write_text(catalog_text(catalog), encoding="utf-8")
        written.append(path)
    return written


def main() -> None:
    """``python -m bot.i18n.extract [ROOT]``: bring the catalogs up to date with the sources."""
    import sys

    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    for path in update(root):
        sys.stdout.write(f"wrote {path.relative_to(root) if path.is_relative_to(root) else path}\n")


if __name__ == "__main__":
    main()
