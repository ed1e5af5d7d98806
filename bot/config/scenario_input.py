"""A scenario file as written: the input models (their JSON Schema is the editors' schema) and the
steps pydantic cannot take (values as typed, ``${VAR}`` from the environment, verify/resend rules).

Reading a scenario goes: :func:`prepare` (each string value as typed, variables expanded, personal
values registered with the redactor), then :class:`ScenarioIn` (pydantic: keys, choices, normal
forms), then :func:`action_rules` (a verify needs a code, a resend takes none). Each step returns
its problems, so a file's problems are all reported together.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from bot import defaults
from bot.config.problems import NON_EMPTY_PATTERN, problem
from bot.config.values import (
    SITE_PATTERN,
    check_base_url,
    extract_code,
    normalize_id_last6,
    normalize_mobile,
)
from bot.config.yamldoc import KeyPath, YamlDoc
from bot.errors import Problem
from bot.privacy import REDACTOR, Kind
from bot.types import Action, CaptchaMode

__all__ = [
    "STRING_PATHS",
    "InputsIn",
    "ScenarioIn",
    "action_rules",
    "blame_environment",
    "prepare",
    "variables_in",
]

_VAR = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)\}|(\{))")
_VAR_OR = r"\$\{[A-Za-z_][A-Za-z0-9_]*\}"
# Values shorter than this are not registered for masking: masking "1" would garble every log line.
_MIN_SECRET_LEN = 4
_WHEN_EXAMPLE = "2026-11-28T09:30:00+08:00"


def register(kind: Kind, value: str | None) -> None:
    """Mask ``value`` in everything printed from now on (too short a value is left alone)."""
    if value is not None and len(value.strip()) >= _MIN_SECRET_LEN:
        REDACTOR.add(kind, value)
        REDACTOR.add(kind, value.strip())


def _registered(kind: Kind, normalize: Any) -> AfterValidator:
    def validate(value: str) -> str:
        result: str = normalize(value)
        register(kind, result)
        return result

    return AfterValidator(validate)


def _typed(pattern: str, *, null: bool = False) -> WithJsonSchema:
    """To an editor, a personal value is a string or number matching ``pattern``; to pydantic, a
    string (as typed, see :func:`prepare`) that is normalised and registered with the redactor."""
    return WithJsonSchema(
        {"type": ["string", "integer", *(["null"] if null else [])], "pattern": pattern}
    )


_Mobile = Annotated[
    str,
    _registered("mobile", normalize_mobile),
    _typed(r"^(.*" + _VAR_OR + r".*|[+0-9 ().\-]{11,24})$"),
]
_Code = Annotated[
    str | None,
    _registered("code", extract_code),
    _typed(r"(.*" + _VAR_OR + r".*|[0-9]{6})", null=True),
]
_IdLast6 = Annotated[
    str,
    _registered("id_last6", normalize_id_last6),
    _typed(r"^(.*" + _VAR_OR + r".*|\s*[0-9]{5}[0-9Xx]\s*)$"),
]


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class InputsIn(_In):
    """The values typed into the form. ${VAR} reads an environment variable; $$ is a literal $."""

    mobile: _Mobile = Field(
        description="Mainland mobile number of the person verifying: 11 digits starting with 1; "
        "+86/0086, spaces and dashes are removed."
    )
    code: _Code = Field(
        default=None,
        description="verify only: the 6-digit SMS code, or the whole SMS as received from 12381 "
        "(the code is taken from it; digits in the link do not count).",
    )
    id_last6: _IdLast6 = Field(
        description="Last 6 characters of the ID document used in the filing: 5 digits then a "
        "digit or X."
    )


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _base_url(url: str) -> str:
    if (wrong := check_base_url(url)) is not None:
        raise ValueError(wrong)
    return url


def _when(value: Any) -> Any:
    """ISO 8601 text, or one of YAML's own timestamp forms (``2026-11-28 09:30 +8``), to an aware
    datetime: without a zone it is the operator's local time."""
    if not isinstance(value, str):
        return value
    parsed: Any = None
    if re.match(r"\s*[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]", value):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            parsed = None
    if parsed is None:
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            parsed = None
        if isinstance(parsed, date) and not isinstance(parsed, datetime):
            raise ValueError(f"needs a time of day, e.g. {_WHEN_EXAMPLE}")
    if not isinstance(parsed, datetime):
        raise ValueError(f"is not an ISO 8601 date and time, e.g. {_WHEN_EXAMPLE}")
    return parsed if parsed.tzinfo is not None else parsed.astimezone()


_CAPTCHA_HELP = (
    "manual: a person solves the site's security check in the browser window. none: the site is "
    "expected to show none (a mock); if it does, the run stops."
)


class ScenarioIn(_In):
    """One submission of the MIIT SMS-verification form (verify) or of its resend form (resend)
    for one person."""

    model_config = ConfigDict(
        title="icpbot scenario",
        json_schema_extra={
            "allOf": [
                {
                    "if": {"properties": {"action": {"const": "resend"}}},
                    "then": {"properties": {"inputs": {"not": {"required": ["code"]}}}},
                },
                {
                    "if": {"properties": {"action": {"const": "verify"}}},
                    "then": {"properties": {"inputs": {"required": ["code"]}}},
                },
            ]
        },
    )

    name: str | None = Field(
        default=None,
        pattern=NON_EMPTY_PATTERN,
        description="Name of the scenario in reports and evidence folders; defaults to the file "
        "name without extension.",
    )
    action: Annotated[Action, BeforeValidator(_lower)] = Field(
        description="verify: submit the SMS code (costs one of about 5 attempts if wrong). "
        "resend: ask the site to send the SMS again (at most 2 times)."
    )
    site: str = Field(
        default=defaults.SITE,
        pattern=SITE_PATTERN,
        description="Selector map to use: selectors/<site>.yaml.",
    )
    base_url: Annotated[str, AfterValidator(_base_url)] = Field(
        default=defaults.BASE_URL,
        description="Root URL of the site; the CLI's --base-url replaces it.",
        json_schema_extra={"pattern": r"^(https?://\S+|.*" + _VAR_OR + ".*)$"},
    )
    inputs: InputsIn
    captcha: Annotated[CaptchaMode, BeforeValidator(_lower)] = Field(
        default=CaptchaMode.manual, description=_CAPTCHA_HELP
    )
    sms_received_at: Annotated[
        datetime | None,
        BeforeValidator(_when),
        WithJsonSchema({"type": "string", "examples": [_WHEN_EXAMPLE]}),
    ] = Field(
        default=None,
        description="When the SMS arrived (ISO 8601; without a zone: local time). icpbot warns as "
        "24 hours approach and refuses after.",
    )


# -- what pydantic cannot do -----------------------------------------------------------------------

#: The string values, by the mapping that holds them (None: the top level); each is read as typed
#: with ${VAR} expanded.
_STRINGS: dict[str | None, tuple[str, ...]] = {
    None: ("name", "action", "site", "base_url", "captcha", "sms_received_at"),
    "inputs": ("mobile", "code", "id_last6"),
}
_SECRETS: dict[str, Kind] = {"mobile": "mobile", "code": "code", "id_last6": "id_last6"}
#: The key paths of every string value (where ``${VAR}`` may stand).
STRING_PATHS: frozenset[KeyPath] = frozenset(
    (key,) if parent is None else (parent, key) for parent, keys in _STRINGS.items() for key in keys
)


def prepare(
    doc: YamlDoc, env: Mapping[str, str]
) -> tuple[dict[str, Any], list[Problem], set[KeyPath]]:
    """``doc``'s top-level mapping ready for :class:`ScenarioIn`, its problems so far, and the key
    paths those problems are about (pydantic's errors there would say the same again).

    Each string value becomes its text as typed (``code: 012345`` is not the octal 5349) with
    ``${VAR}`` expanded; a null value counts as absent; a personal value is registered with the
    redactor as soon as it is read, valid or not.
    """
    data: dict[str, Any] = {k: v for k, v in doc.data.items() if v is not None}
    problems: list[Problem] = []
    skip: set[KeyPath] = set()
    for parent, keys in _STRINGS.items():
        mapping = data
        if parent is not None:
            if not isinstance(data.get(parent), dict):
                continue
            mapping = {k: v for k, v in data[parent].items() if v is not None}
            data[parent] = mapping
        for key in keys:
            path: KeyPath = (key,) if parent is None else (parent, key)
            if key not in mapping:
                continue
            if doc.kind(path) != "scalar":
                problems.append(problem(doc, path, "must be a single value, not a list or mapping"))
                skip.add(path)
                continue
            text = _expand(doc, path, env, problems)
            if parent is not None and key in _SECRETS:
                register(_SECRETS[key], text)
            if text is None:
                skip.add(path)
            mapping[key] = text or ""
    return data, problems, skip


def _expand(
    doc: YamlDoc, path: KeyPath, env: Mapping[str, str], problems: list[Problem]
) -> str | None:
    """The raw text at ``path`` with ``${VAR}`` replaced; None (and a problem) when one fails."""
    failed = False

    def substitute(match: re.Match[str]) -> str:
        nonlocal failed
        if match.group(1):
            return "$"
        name = match.group(2)
        if name is None:
            message = "malformed variable reference: write ${NAME}, or $$ for a $"
        elif (value := env.get(name)) is None:
            message = f"environment variable {name} is not set"
        elif not value.strip():
            message = f"environment variable {name} is empty"
        else:
            return value
        failed = True
        problems.append(problem(doc, path, message))
        return ""

    result = _VAR.sub(substitute, doc.raw(path) or "")
    return None if failed else result


def blame_environment(doc: YamlDoc, problems: list[Problem]) -> list[Problem]:
    """``problems`` with each one about a value that came (wholly or partly) from ``${VAR}``
    naming that variable: the file's line holds only the reference, the bad value is in the
    environment. Problems about the reference itself (a variable not set) stay as they are."""
    out: list[Problem] = []
    for p in problems:
        names = _variables(doc, p.key) if p.key and p.variable is None else []
        if names and "environment variable" not in p.message:
            p = Problem(p.file, p.line, p.key, p.message, variable=", ".join(names))
        out.append(p)
    return out


def _variables(doc: YamlDoc, key: str) -> list[str]:
    """The ``${VAR}`` names the string value at dotted ``key`` reads (none for other keys)."""
    path: KeyPath = tuple(key.split("."))
    return variables_in(doc, path) if path in STRING_PATHS else []


def variables_in(doc: YamlDoc, path: KeyPath) -> list[str]:
    """The ``${VAR}`` names the scalar at ``path`` reads, in order, once each."""
    if doc.kind(path) != "scalar":
        return []
    raw = doc.raw(path) or ""
    return list(dict.fromkeys(m.group(2) for m in _VAR.finditer(raw) if m.group(2)))


def action_rules(doc: YamlDoc, data: dict[str, Any]) -> tuple[list[Problem], set[KeyPath]]:
    """A verify needs ``inputs.code``, a resend takes none: problems, and the paths they cover."""
    action = data.get("action")
    inputs = data.get("inputs")
    if not isinstance(action, str) or not isinstance(inputs, dict):
        return [], set()
    path: KeyPath = ("inputs", "code")
    action = action.strip().lower()
    if action == Action.resend and "code" in inputs:
        return [problem(doc, path, "a resend takes no code; remove inputs.code")], {path}
    if action == Action.verify and "code" not in inputs:
        message = "missing required key 'code': a verify needs the SMS code"
        return [problem(doc, path, message)], {path}
    return [], set()
