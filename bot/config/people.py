"""People lists: one scenario per row of a CSV file (with a header) or of a YAML list.

``icpbot run --people FILE --action verify|resend`` reads the columns ``name`` (optional),
``mobile``, ``code`` (verify only) and ``id_last6``; the other scenario fields (site, base_url,
captcha) come from the flags or from a template scenario without ``inputs`` (``--template``).
Validation is as strict as for scenario files: every bad row is reported with file, line, row and
column, never the value, before any browser starts. Each personal value is registered with the
redactor as soon as it is read, valid or not.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot import defaults
from bot.config.scenario import Inputs, Scenario
from bot.config.scenario_input import register
from bot.config.values import (
    SITE_PATTERN,
    check_base_url,
    extract_code,
    normalize_id_last6,
    normalize_mobile,
)
from bot.config.yamldoc import YamlDoc, load_yaml
from bot.errors import Problem, ScenarioError
from bot.privacy import Kind
from bot.types import Action, CaptchaMode

__all__ = [
    "COLUMNS",
    "Template",
    "is_people_list",
    "load_people",
    "load_template",
    "validate_people",
]

#: The columns of a people list (CSV header or YAML keys), in the order the README shows them.
COLUMNS = ("name", "mobile", "code", "id_last6")
_TEMPLATE_KEYS = ("action", "site", "base_url", "captcha")
_DIGITS = re.compile(r"[0-9]{5}")
_KINDS: tuple[Kind, ...] = ("mobile", "code", "id_last6")


@dataclass(frozen=True)
class Template:
    """The scenario fields shared by every row (from the flags or a template file)."""

    action: Action | None = None
    site: str = defaults.SITE
    base_url: str = defaults.BASE_URL
    captcha: CaptchaMode = CaptchaMode.manual


def load_template(path: Path | str) -> Template:
    """A template scenario: ``action``, ``site``, ``base_url``, ``captcha`` (no ``inputs``, no
    ``name``: those come from the rows). Raises :class:`ScenarioError` with every problem."""
    doc = load_yaml(path, error=ScenarioError)
    file = str(path)
    if not isinstance(doc.data, dict):
        raise ScenarioError(
            [Problem(file, doc.line(()), "", "expected a mapping (action, site, base_url, ...)")],
            path=file,
        )
    problems: list[Problem] = []
    values: dict[str, str] = {}
    for key, value in doc.data.items():
        line = doc.line((key,))
        if key not in _TEMPLATE_KEYS:
            shown = "<key with digits>" if _DIGITS.search(str(key)) else str(key)
            why = (
                "comes from each row of the people list, not from the template"
                if key in ("inputs", "name")
                else f"unknown key; a template has {', '.join(_TEMPLATE_KEYS)}"
            )
            problems.append(Problem(file, line, shown, why))
        elif value is None:
            continue
        elif doc.kind((key,)) != "scalar":
            problems.append(Problem(file, line, key, "must be a single value"))
        else:
            values[key] = doc.raw((key,)) or str(value)
    template, found = _template_from(values, file, doc)
    problems += found
    if problems:
        raise ScenarioError(problems, path=file)
    return template


def _template_from(
    values: Mapping[str, str], file: str, doc: YamlDoc | None = None
) -> tuple[Template, list[Problem]]:
    problems: list[Problem] = []

    def where(key: str) -> int | None:
        return doc.line((key,)) if doc is not None else None

    action: Action | None = None
    if "action" in values:
        try:
            action = Action(values["action"].strip().lower())
        except ValueError:
            problems.append(Problem(file, where("action"), "action", "must be verify or resend"))
    site = values.get("site", defaults.SITE).strip()
    if not re.match(SITE_PATTERN, site):
        problems.append(Problem(file, where("site"), "site", "must be a selector map name"))
    base_url = values.get("base_url", defaults.BASE_URL).strip()
    if (wrong := check_base_url(base_url)) is not None:
        problems.append(Problem(file, where("base_url"), "base_url", wrong))
    captcha = CaptchaMode.manual
    if "captcha" in values:
        try:
            captcha = CaptchaMode(values["captcha"].strip().lower())
        except ValueError:
            problems.append(Problem(file, where("captcha"), "captcha", "must be manual or none"))
    return Template(action, site, base_url, captcha), problems


def load_people(
    path: Path | str,
    *,
    action: Action | None,
    template: Template | None = None,
    text: str | None = None,
) -> list[Scenario]:
    """One scenario per row; raises :class:`ScenarioError` listing the problems of every row.

    ``action`` (the ``--action`` flag) wins over the template's; one of them must say it.
    ``text``: the CSV itself, read from memory (an upload); ``path`` then only names it.
    """
    file = str(path)
    template = template or Template()
    action = action or template.action
    if action is None:
        raise ScenarioError(
            [Problem(file, None, "", "say which action: --action verify|resend (or --template)")],
            path=file,
        )
    if template.action is not None and template.action is not action:
        raise ScenarioError(
            [Problem(file, None, "action", "--action and the template's action differ")],
            path=file,
        )
    rows, problems = _csv_text_rows(text, file) if text is not None else _read_rows(Path(path))
    scenarios: list[Scenario] = []
    names: set[str] = set()
    for row in rows:
        sc, found = _scenario(row, file, action, template)
        problems += found
        if sc is not None:
            if sc.name in names:
                problems.append(
                    Problem(file, row.line, f"row {row.number}, name", "name used by another row")
                )
            names.add(sc.name)
            scenarios.append(sc)
    if not rows and not problems:
        problems.append(Problem(file, None, "", "no rows: expected one person per row"))
    if problems:
        raise ScenarioError(sorted(problems, key=lambda p: p.line or 0), path=file)
    return scenarios


def is_people_list(path: Path | str) -> bool:
    """Whether ``path`` is a people list rather than a scenario or a map: a ``.csv`` file, or a
    YAML file whose top level is a list (a scenario and a map are mappings)."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return True
    if path.suffix.lower() not in (".yaml", ".yml"):
        return False
    try:
        return isinstance(load_yaml(path, error=ScenarioError).data, list)
    except ScenarioError:
        return False  # reported as a scenario file that cannot be read


def validate_people(
    path: Path | str, *, action: Action | None = None, template: Template | None = None
) -> list[Problem]:
    """Every problem of a people list, row by row (empty when it is valid), for ``icpbot
    validate``. Without ``action`` (nor one in ``template``), a list with a ``code`` for some
    person is checked as a verify, one without any as a resend."""
    template = template or Template()
    if action is None and template.action is None:
        rows, problems = _read_rows(Path(path))
        if problems:
            return sorted(problems, key=lambda p: p.line or 0)
        action = Action.verify if any(r.values.get("code") for r in rows) else Action.resend
    try:
        load_people(path, action=action, template=template)
    except ScenarioError as exc:
        return list(exc.problems)
    return []


@dataclass(frozen=True)
class _Row:
    number: int  # 1-based, the header not counted
    line: int | None
    values: dict[str, str] = field(repr=False)  # personal values, as read


def _read_rows(path: Path) -> tuple[list[_Row], list[Problem]]:
    if path.suffix.lower() in (".yaml", ".yml"):
        return _yaml_rows(path)
    return _csv_rows(path)


def _column_name(key: Any) -> str:
    text = str(key)
    return "<column with digits>" if _DIGITS.search(text) else text


def _csv_rows(path: Path) -> tuple[list[_Row], list[Problem]]:
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return [], [Problem(file, None, "", "file not found")]
    except UnicodeDecodeError:
        return [], [Problem(file, None, "", "file is not UTF-8 text")]
    except OSError as exc:
        return [], [Problem(file, None, "", f"cannot read file: {exc.strerror}")]
    return _csv_text_rows(text, file)


def _csv_text_rows(text: str, file: str) -> tuple[list[_Row], list[Problem]]:
    reader = csv.reader(text.splitlines(keepends=True), skipinitialspace=True)
    problems: list[Problem] = []
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return [], [Problem(file, None, "", "empty file; expected a header: " + ", ".join(COLUMNS))]
    bad = [h for h in header if h not in COLUMNS]
    for h in bad:
        problems.append(
            Problem(file, 1, _column_name(h), f"unknown column; expected {', '.join(COLUMNS)}")
        )
    for need in ("mobile", "id_last6"):
        if need not in header:
            problems.append(Problem(file, 1, need, "missing column"))
    if len(set(header)) != len(header):
        problems.append(Problem(file, 1, "", "a column is named twice"))
    if problems:
        # Values of a file with an unusable header are still registered: never echo them.
        for cells in reader:
            for cell in cells:
                register("mobile", cell)
        return [], problems
    rows: list[_Row] = []
    number = 0
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue  # a blank line
            number += 1
            if len(cells) != len(header):
                for cell in cells:
                    register("mobile", cell)
                problems.append(
                    Problem(
                        file,
                        line,
                        f"row {number}",
                        f"has {len(cells)} cells; the header has {len(header)}",
                    )
                )
                continue
            rows.append(_Row(number, line, dict(zip(header, cells, strict=True))))
    except csv.Error as exc:
        problems.append(Problem(file, reader.line_num, "", f"CSV error: {exc}"))
    return rows, problems


def _yaml_rows(path: Path) -> tuple[list[_Row], list[Problem]]:
    file = str(path)
    try:
        doc = load_yaml(path, error=ScenarioError)
    except ScenarioError as exc:
        return [], list(exc.problems)
    if not isinstance(doc.data, list):
        return [], [Problem(file, doc.line(()), "", "expected a list of people (- mobile: ...)")]
    rows: list[_Row] = []
    problems: list[Problem] = []
    for i, item in enumerate(doc.data):
        number, line = i + 1, doc.line((i,))
        if not isinstance(item, dict):
            problems.append(Problem(file, line, f"row {number}", "expected a mapping"))
            continue
        values: dict[str, str] = {}
        for key, value in item.items():
            kline = doc.line((i, key))
            if key not in COLUMNS:
                register("mobile", doc.raw((i, key)))
                problems.append(
                    Problem(
                        file,
                        kline,
                        f"row {number}, {_column_name(key)}",
                        f"unknown key; expected {', '.join(COLUMNS)}",
                    )
                )
            elif value is None:
                continue
            elif doc.kind((i, key)) != "scalar":
                problems.append(Problem(file, kline, f"row {number}, {key}", "must be one value"))
            else:
                values[key] = doc.raw((i, key)) or str(value)  # as typed: 012345 stays
        rows.append(_Row(number, line, values))
    return rows, problems


def _scenario(
    row: _Row, file: str, action: Action, template: Template
) -> tuple[Scenario | None, list[Problem]]:
    problems: list[Problem] = []
    v = {k: val.strip() for k, val in row.values.items()}
    for kind in _KINDS:
        register(kind, v.get(kind))

    def bad(column: str, message: str) -> None:
        problems.append(Problem(file, row.line, f"row {row.number}, {column}", message))

    normalized: dict[str, str | None] = {}
    for column, normalize in (("mobile", normalize_mobile), ("id_last6", normalize_id_last6)):
        if not v.get(column):
            bad(column, "missing")
            continue
        try:
            normalized[column] = normalize(v[column])
        except ValueError as exc:
            bad(column, str(exc))
    code = v.get("code") or None
    if action is Action.verify:
        if code is None:
            bad("code", "missing; a verify needs the SMS code")
        else:
            try:
                normalized["code"] = extract_code(code)
            except ValueError as exc:
                bad("code", str(exc))
    elif code is not None:
        bad("code", "a resend takes no code; leave the cell empty")
    name = v.get("name") or f"{Path(file).stem}-{row.number}"
    if _DIGITS.search(name):
        bad("name", "a name must not hold 5 or more digits in a row (it is printed unmasked)")
    if problems:
        return None, problems
    for kind in _KINDS:
        register(kind, normalized.get(kind))
    return (
        Scenario(
            name=name,
            action=action,
            site=template.site,
            base_url=template.base_url,
            inputs=Inputs(
                mobile=str(normalized["mobile"]),
                code=normalized.get("code"),
                id_last6=str(normalized["id_last6"]),
            ),
            captcha=template.captcha,
            source=Path(file),
        ),
        [],
    )
