"""Scenario files: YAML in, frozen validated :class:`Scenario` out, before any browser starts.

A scenario is one submission of one form for one person::

    name: acme-legal-rep          # optional; defaults to the file name (stem)
    action: verify                # verify | resend (required: a verify costs the filing an attempt)
    site: miit                    # selector map selectors/<site>.yaml (default miit)
    base_url: https://beian.miit.gov.cn/   # default; the CLI's --base-url replaces it
    inputs:
      mobile: ${ICP_MOBILE}       # ${VAR} reads the environment; a missing variable is an error
      code: ${ICP_SMS_CODE}       # verify only: 6 digits, or the whole SMS pasted
      id_last6: ${ICP_ID_LAST6}   # 5 digits then a digit or X (x becomes X)
    captcha: manual               # manual (default) | none
    sms_received_at: 2026-11-28T09:30:00+08:00   # optional: when the SMS arrived

Rules:

- Unknown keys anywhere are errors; so are duplicate keys and YAML syntax errors.
- ``${VAR}`` is replaced from the environment in every string value, whole or embedded; ``$$`` is
  a literal ``$``. An unset or empty variable is an error naming the variable and the key.
- ``mobile``: spaces, dashes, dots and parentheses are dropped, and a leading ``+86``, ``0086`` or
  ``86`` when 11 digits follow; the result must be a mainland mobile number (``^1[3-9]\\d{9}$``).
- ``id_last6``: the last 6 characters of the ID document: 5 digits then a digit or ``X``.
- ``code``: required for ``verify``, forbidden for ``resend``. Either the 6 digits, or the SMS as
  received (sender 12381), from which the code is taken: links are removed first, then the code
  is the only standalone 6-digit number; when there are several, the one right after
  验证码/校验码/code.
- Unquoted values are read as typed: ``code: 012345`` is the code 012345, not the octal number
  YAML 1.1 would make of it.
- ``sms_received_at``: an ISO 8601 date and time; without a time zone it is local time. The guard
  warns as the code's 24 hours run out and refuses after.

Every error names file, line and key and never the value. The personal values (mobile, code, ID
digits) are registered with :data:`bot.privacy.REDACTOR` as soon as they are read, valid or not, so
nothing downstream prints them unmasked.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot import defaults
from bot.config.yamldoc import KeyPath, YamlDoc, format_path, load_yaml
from bot.errors import ConfigError, Problem, ScenarioError, SelectorMapError
from bot.privacy import REDACTOR, Kind
from bot.types import Action, CaptchaMode

__all__ = [
    "Inputs",
    "Scenario",
    "extract_code",
    "load_person",
    "load_scenario",
    "load_scenarios",
    "normalize_id_last6",
    "normalize_mobile",
    "scenario_json_schema",
    "validate_paths",
]


MOBILE_PATTERN = r"^1[3-9][0-9]{9}$"
CODE_PATTERN = r"^[0-9]{6}$"
ID_LAST6_PATTERN = r"^[0-9]{5}[0-9X]$"
SITE_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"

MOBILE_MESSAGE = "is not a valid mainland mobile number (11 digits starting with 1)"
ID_MESSAGE = "is not the last 6 characters of an ID (5 digits, then a digit or X)"


class Inputs(BaseModel):
    """The normalised values typed into the form (personal data: print only masked)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mobile: str = Field(pattern=MOBILE_PATTERN)
    code: str | None = Field(default=None, pattern=CODE_PATTERN)
    id_last6: str = Field(pattern=ID_LAST6_PATTERN)


def _check_base_url(url: str) -> str | None:
    """None when ``url`` is an http(s) URL with a host, else what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "must be an http:// or https:// URL"
    if not parts.hostname:
        return "must name a host"
    return None


class Scenario(BaseModel):
    """One validated scenario: what to submit, where, and how the security check is handled."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    action: Action
    site: str = Field(default=defaults.SITE, pattern=SITE_PATTERN)
    base_url: str = defaults.BASE_URL
    inputs: Inputs
    captcha: CaptchaMode = CaptchaMode.manual
    sms_received_at: AwareDatetime | None = None
    source: Path | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if (problem := _check_base_url(self.base_url)) is not None:
            raise ValueError(f"base_url {problem}")
        if self.action is Action.verify and self.inputs.code is None:
            raise ValueError("a verify needs inputs.code")
        if self.action is Action.resend and self.inputs.code is not None:
            raise ValueError("a resend takes no code")
        return self

    def with_base_url(self, url: str) -> Scenario:
        """A copy aimed at another site root (the CLI's ``--base-url``); raises ConfigError."""
        if (problem := _check_base_url(url)) is not None:
            raise ConfigError([Problem("--base-url", None, "base_url", problem)])
        return self.model_copy(update={"base_url": url})


# -- normalisation ---------------------------------------------------------------------------------

_MOBILE_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015.()]")


def normalize_mobile(value: str) -> str:
    """``+86 139-1234-5678`` -> ``13912345678``; raises ValueError (without the value) if invalid.

    Full-width characters are folded first (NFKC), then spaces, dashes, dots and parentheses are
    dropped, then a leading ``+86``, ``0086`` or ``86`` when exactly 11 digits follow.
    """
    text = _MOBILE_SEPARATORS.sub("", unicodedata.normalize("NFKC", value))
    for prefix in ("+86", "0086", "86"):
        rest = text[len(prefix) :]
        if text.startswith(prefix) and re.fullmatch(r"[0-9]{11}", rest):
            text = rest
            break
    if not re.fullmatch(MOBILE_PATTERN, text):
        raise ValueError(MOBILE_MESSAGE)
    return text


def normalize_id_last6(value: str) -> str:
    """`` 30721x `` -> ``30721X``; raises ValueError (without the value) if invalid."""
    text = re.sub(r"\s", "", unicodedata.normalize("NFKC", value)).upper()
    if re.fullmatch(ID_LAST6_PATTERN, text):
        return text
    if re.fullmatch(r"[0-9A-Z]{15,18}", text):
        raise ValueError("looks like a whole ID number; give only its last 6 characters")
    raise ValueError(ID_MESSAGE)


# Links carry digits that are not the code. Bare hosts are limited to a few top-level domains so
# that "864209.Please" is not taken for a host name.
_URL = re.compile(
    r"(?:https?://|www\.)[\x21-\x7e]*"
    r"|(?<![A-Za-z0-9-])(?:[A-Za-z0-9-]+\.)+(?:cn|com|net|org|gov|edu|info|top|xyz|io|cc)"
    r"(?![A-Za-z0-9-])(?:[/:?#][\x21-\x7e]*)?",
    re.IGNORECASE,
)
_SIX_DIGITS = re.compile(r"(?<![0-9])[0-9]{6}(?![0-9])")
_KEYED_CODE = re.compile(
    r"(?:验证码|校验码|code)\s*(?:为|是|:|is)?\s*([0-9]{6})(?![0-9])", re.IGNORECASE
)


def extract_code(text: str) -> str:
    """The 6-digit code from the code itself or from a pasted SMS; raises ValueError if unclear.

    ``【工信部ICP备案】您的短信核验验证码为864209，请于24小时内登录https://beian.miit.gov.cn/…``
    gives ``864209``. Messages never contain the text.
    """
    folded = unicodedata.normalize("NFKC", text).strip()
    if re.fullmatch(r"[0-9][0-9 \-]*", folded):  # the code alone, perhaps typed as "864 209"
        digits = re.sub(r"[ \-]", "", folded)
        if len(digits) != 6:
            raise ValueError("is not a 6-digit SMS code")
        return digits
    without_links = _URL.sub(" ", folded)
    runs: list[str] = list(dict.fromkeys(_SIX_DIGITS.findall(without_links)))
    if len(runs) == 1:
        return runs[0]
    if not runs:
        raise ValueError(
            "is neither a 6-digit code nor an SMS holding one (digits inside links do not count)"
        )
    keyed = list(dict.fromkeys(m.group(1) for m in _KEYED_CODE.finditer(without_links)))
    if len(keyed) == 1:
        return keyed[0]
    raise ValueError("the SMS text holds more than one 6-digit number; give the code alone")


E = TypeVar("E", bound=StrEnum)

# -- loading ---------------------------------------------------------------------------------------

_TOP_KEYS = ("name", "action", "site", "base_url", "inputs", "captcha", "sms_received_at")
_INPUT_KEYS = ("mobile", "code", "id_last6")
_VAR = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)\}|(\{))")
# Values shorter than this are not registered for masking: masking "1" would garble every log line.
_MIN_SECRET_LEN = 4


class _Reader:
    """Reads one scenario document, collecting every problem instead of stopping at the first."""

    def __init__(self, doc: YamlDoc, env: Mapping[str, str]) -> None:
        self.doc = doc
        self.env = env
        self.problems: list[Problem] = []

    def problem(self, path: KeyPath, message: str) -> None:
        self.problems.append(
            Problem(self.doc.file, self.doc.line(path), format_path(path), message)
        )

    def value(self, path: KeyPath) -> Any:
        node: Any = self.doc.data
        for part in path:
            node = node[part]
        return node

    def given(self, path: KeyPath) -> bool:
        """Whether ``path`` is present with a non-null value."""
        return self.doc.has(path) and self.value(path) is not None

    def unknown_keys(self, path: KeyPath, allowed: Sequence[str]) -> None:
        mapping = self.value(path)
        for key in mapping:
            if key not in allowed:
                self.problem((*path, key), f"unknown key; allowed here: {', '.join(allowed)}")

    def string(self, path: KeyPath, *, secret: Kind | None = None) -> str | None:
        """The scalar at ``path`` as typed, ``${VAR}`` expanded; None when absent, null or bad."""
        kind = self.doc.kind(path)
        if kind is None:
            return None
        if kind != "scalar":
            self.problem(path, "must be a single value, not a list or mapping")
            return None
        if self.value(path) is None:
            return None
        raw = self.doc.raw(path)
        assert raw is not None
        expanded = self.expand(raw, path)
        if secret is not None and expanded is not None:
            _register(secret, expanded)
        return expanded

    def expand(self, text: str, path: KeyPath) -> str | None:
        failed = False

        def substitute(match: re.Match[str]) -> str:
            nonlocal failed
            if match.group(1):
                return "$"
            name = match.group(2)
            if name is None:
                failed = True
                self.problem(path, "malformed variable reference: write ${NAME}, or $$ for a $")
                return ""
            value = self.env.get(name)
            if value is None:
                self.problem(path, f"environment variable {name} is not set")
                failed = True
                return ""
            if not value.strip():
                self.problem(path, f"environment variable {name} is empty")
                failed = True
                return ""
            return value

        result = _VAR.sub(substitute, text)
        return None if failed else result


def _register(kind: Kind, value: str | None) -> None:
    if value is not None and len(value.strip()) >= _MIN_SECRET_LEN:
        REDACTOR.add(kind, value)
        REDACTOR.add(kind, value.strip())


def _read_inputs(r: _Reader, action: Action | None) -> Inputs | None:
    path: KeyPath = ("inputs",)
    if not r.doc.has(path) or r.value(path) is None:
        r.problem(path, "missing required key 'inputs' (mobile, id_last6, and code for a verify)")
        return None
    if r.doc.kind(path) != "mapping":
        r.problem(path, "must be a mapping with mobile, id_last6 and, for a verify, code")
        return None
    r.unknown_keys(path, _INPUT_KEYS)
    ok = True

    def required_input(
        key: Literal["mobile", "id_last6"], normalize: Callable[[str], str]
    ) -> str | None:
        path: KeyPath = ("inputs", key)
        raw = r.string(path, secret=key)
        if raw is None:
            if not r.given(path):
                r.problem(path, f"missing required key {key!r}")
            return None
        try:
            value = normalize(raw)
        except ValueError as exc:
            r.problem(path, str(exc))
            return None
        _register(key, value)
        return value

    mobile = required_input("mobile", normalize_mobile)
    id_last6 = required_input("id_last6", normalize_id_last6)

    code_path: KeyPath = ("inputs", "code")
    code_given = r.given(code_path)
    code_raw = r.string(code_path, secret="code")
    code: str | None = None
    if action is Action.resend and code_given:
        r.problem(code_path, "a resend takes no code; remove inputs.code")
        ok = False
    elif code_raw is not None:
        try:
            code = extract_code(code_raw)
            _register("code", code)
        except ValueError as exc:
            r.problem(code_path, str(exc))
    elif action is Action.verify and not code_given:
        r.problem(code_path, "missing required key 'code': a verify needs the SMS code")

    if not ok or mobile is None or id_last6 is None or (action is Action.verify and code is None):
        return None
    return Inputs(mobile=mobile, code=code, id_last6=id_last6)


def _read_when(r: _Reader) -> datetime | None:
    path: KeyPath = ("sms_received_at",)
    text = r.string(path)
    if text is None:
        return None
    parsed: datetime | None = None
    if re.match(r"\s*[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]", text):
        try:
            parsed = datetime.fromisoformat(text.strip())
        except ValueError:
            parsed = None
    if parsed is None:
        data = r.value(path)
        if isinstance(data, datetime):  # YAML's own timestamp forms, e.g. "2026-11-28 09:30 +8"
            parsed = data
        elif isinstance(data, date):
            r.problem(path, "needs a time of day, e.g. 2026-11-28T09:30:00+08:00")
            return None
    if parsed is None:
        r.problem(path, "is not an ISO 8601 date and time, e.g. 2026-11-28T09:30:00+08:00")
        return None
    # A time without a zone is the operator's local time.
    return parsed if parsed.tzinfo is not None else parsed.astimezone()


def _read_choice(r: _Reader, key: str, enum: type[E], default: E | None) -> E | None:
    text = r.string((key,))
    if text is None:
        if default is None and not r.doc.has((key,)):
            choices = " | ".join(e.value for e in enum)
            r.problem((key,), f"missing required key '{key}' ({choices})")
        elif default is None:
            r.problem((key,), f"must be one of: {' | '.join(e.value for e in enum)}")
        return default
    try:
        return enum(text.strip().lower())
    except ValueError:
        r.problem((key,), f"must be one of: {' | '.join(e.value for e in enum)}")
        return None


def _from_doc(
    doc: YamlDoc, path: Path, env: Mapping[str, str]
) -> tuple[Scenario | None, list[Problem]]:
    r = _Reader(doc, env)
    if doc.data is None:
        r.problem((), "the file is empty; expected a scenario (action, inputs, ...)")
        return None, r.problems
    if doc.kind(()) != "mapping":
        r.problem((), "expected a mapping of keys (action, inputs, ...) at the top level")
        return None, r.problems
    r.unknown_keys((), _TOP_KEYS)

    name = r.string(("name",))
    if name is not None and not name.strip():
        r.problem(("name",), "must not be empty")
    name = (name or "").strip() or path.stem

    action = _read_choice(r, "action", Action, None)
    captcha = _read_choice(r, "captcha", CaptchaMode, CaptchaMode.manual)

    site = r.string(("site",))
    if site is None:
        site = defaults.SITE
    elif not re.fullmatch(SITE_PATTERN, site.strip()):
        r.problem(("site",), "must be a selector map name such as miit (lower case, no slashes)")
    site = site.strip()

    base_url = r.string(("base_url",))
    if base_url is None:
        base_url = defaults.BASE_URL
    elif (problem := _check_base_url(base_url.strip())) is not None:
        r.problem(("base_url",), problem)
    base_url = base_url.strip()

    inputs = _read_inputs(r, action)
    when = _read_when(r)

    if r.problems or action is None or captcha is None or inputs is None:
        return None, sorted(r.problems, key=lambda p: p.line or 0)
    try:
        scenario = Scenario(
            name=name,
            action=action,
            site=site,
            base_url=base_url,
            inputs=inputs,
            captcha=captcha,
            sms_received_at=when,
            source=path,
        )
    except ValidationError as exc:  # a rule the checks above missed; never echo the input value
        for err in exc.errors(include_url=False, include_input=False, include_context=False):
            loc = tuple(p for p in err["loc"] if isinstance(p, str | int))
            r.problem(loc, err["msg"])
        return None, r.problems
    return scenario, []


def _load(path: Path | str, env: Mapping[str, str] | None) -> tuple[Scenario | None, list[Problem]]:
    try:
        doc = load_yaml(path, error=ScenarioError)
    except ConfigError as exc:
        return None, exc.problems
    return _from_doc(doc, Path(path), os.environ if env is None else env)


def load_scenario(path: Path | str, env: Mapping[str, str] | None = None) -> Scenario:
    """Load and validate one scenario file; raises :class:`ScenarioError` listing every problem.

    ``env`` replaces ``os.environ`` for ``${VAR}`` expansion (tests pass a dict).
    """
    scenario, problems = _load(path, env)
    if problems or scenario is None:
        raise ScenarioError(problems, path=path)
    return scenario


def load_person(path: Path | str, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Only ``inputs.mobile`` and ``inputs.id_last6`` of a scenario file, normalised: who the
    ledger commands (``icpbot ledger list/reset``) are about.

    Nothing else is read, so a ``code: ${VAR}`` whose variable is unset (the SMS came and went)
    does not stop them. Raises :class:`ScenarioError` naming file, line and key.
    """
    try:
        doc = load_yaml(path, error=ScenarioError)
    except ConfigError as exc:
        raise ScenarioError(exc.problems, path=path) from None
    r = _Reader(doc, os.environ if env is None else env)

    def one(key: Literal["mobile", "id_last6"], normalize: Callable[[str], str]) -> str | None:
        raw = r.string(("inputs", key), secret=key)
        if raw is None:
            if not r.given(("inputs", key)):
                r.problem(("inputs", key), f"missing required key {key!r}")
            return None
        try:
            value = normalize(raw)
        except ValueError as exc:
            r.problem(("inputs", key), str(exc))
            return None
        _register(key, value)
        return value

    mobile = id_last6 = None
    if doc.kind(("inputs",)) != "mapping":
        r.problem(("inputs",), "missing inputs with mobile and id_last6")
    else:
        mobile, id_last6 = one("mobile", normalize_mobile), one("id_last6", normalize_id_last6)
    if r.problems or mobile is None or id_last6 is None:
        raise ScenarioError(r.problems, path=path)
    return mobile, id_last6


def load_scenarios(
    paths: Iterable[Path | str],
    env: Mapping[str, str] | None = None,
) -> list[Scenario]:
    """Load every file; raises one :class:`ScenarioError` with the problems of all of them.

    The same file given twice is an error: each scenario is a submission and runs once.
    """
    scenarios: list[Scenario] = []
    problems: list[Problem] = []
    seen: set[Path] = set()
    for path in paths:
        resolved = Path(path).resolve()
        if resolved in seen:
            problems.append(
                Problem(
                    str(path),
                    None,
                    "",
                    "file given twice; each scenario runs once (it is a submission)",
                )
            )
            continue
        seen.add(resolved)
        scenario, found = _load(path, env)
        problems.extend(found)
        if scenario is not None:
            scenarios.append(scenario)
    if problems:
        raise ScenarioError(problems)
    return scenarios


def validate_paths(
    paths: Iterable[Path | str],
    env: Mapping[str, str] | None = None,
    selectors_dir: Path | None = None,
) -> list[Problem]:
    """Problems of every file (empty when all are valid), for ``icpbot validate FILE...``.

    A file whose top level has ``elements:`` is a selector map; any other is a scenario, whose
    selector map (``selectors/<site>.yaml``) must also exist and load.
    """
    from bot.config.selector_map import find_selector_map, load_selector_map  # imports this module

    problems: list[Problem] = []
    maps_checked: dict[Path, list[Problem]] = {}
    for path in paths:
        try:
            doc = load_yaml(path, error=ScenarioError)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        if isinstance(doc.data, dict) and "elements" in doc.data:
            try:
                load_selector_map(path)
            except SelectorMapError as exc:
                problems.extend(exc.problems)
            continue
        scenario, found = _from_doc(doc, Path(path), os.environ if env is None else env)
        problems.extend(found)
        if scenario is None:
            continue
        try:
            map_path = find_selector_map(scenario.site, selectors_dir)
        except SelectorMapError as exc:
            problems.append(
                Problem(
                    doc.file,
                    doc.line(("site",)),
                    "site",
                    "; ".join(p.message for p in exc.problems),
                )
            )
            continue
        if map_path not in maps_checked:
            try:
                load_selector_map(map_path)
                maps_checked[map_path] = []
            except SelectorMapError as exc:
                maps_checked[map_path] = exc.problems
                problems.extend(exc.problems)
    return problems


# -- JSON Schema -----------------------------------------------------------------------------------

_VAR_OR = r"\$\{[A-Za-z_][A-Za-z0-9_]*\}"


def scenario_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the scenario file format, for editors' completion and hints.

    Input values may be ``${VAR}`` references, so their patterns accept those too; unquoted
    numbers are allowed for mobile and code (icpbot reads them as typed).
    """

    def text(
        description: str, pattern: str | None = None, *, numbers: bool = False
    ) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": ["string", "integer"] if numbers else "string",
            "description": description,
        }
        if pattern:
            schema["pattern"] = pattern
        return schema

    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/icpbot/icpbot/scenario.schema.json",
        "title": "icpbot scenario",
        "description": "One submission of the MIIT SMS-verification form (verify) or of its "
        "resend form (resend) for one person.",
        "type": "object",
        "additionalProperties": False,
        "required": ["action", "inputs"],
        "properties": {
            "name": text(
                "Name of the scenario in reports and evidence folders; defaults to the "
                "file name without extension.",
                r"\S",
            ),
            "action": {
                "enum": [a.value for a in Action],
                "description": "verify: submit the SMS code (costs one of about 5 attempts "
                "if wrong). resend: ask the site to send the SMS again "
                "(at most 2 times).",
            },
            "site": text("Selector map to use: selectors/<site>.yaml.", SITE_PATTERN)
            | {"default": defaults.SITE},
            "base_url": text(
                "Root URL of the site; the CLI's --base-url replaces it.",
                r"^(https?://\S+|.*" + _VAR_OR + ".*)$",
            )
            | {"default": defaults.BASE_URL},
            "inputs": {
                "type": "object",
                "description": "The values typed into the form. ${VAR} reads an environment "
                "variable; $$ is a literal $.",
                "additionalProperties": False,
                "required": ["mobile", "id_last6"],
                "properties": {
                    "mobile": text(
                        "Mainland mobile number of the person verifying: 11 digits "
                        "starting with 1; +86/0086, spaces and dashes are removed.",
                        r"^(.*" + _VAR_OR + r".*|[+0-9 ().\-]{11,24})$",
                        numbers=True,
                    ),
                    "code": text(
                        "verify only: the 6-digit SMS code, or the whole SMS as "
                        "received from 12381 (the code is taken from it; digits in the "
                        "link do not count).",
                        r"(.*" + _VAR_OR + r".*|[0-9]{6})",
                        numbers=True,
                    ),
                    "id_last6": text(
                        "Last 6 characters of the ID document used in the filing: "
                        "5 digits then a digit or X.",
                        r"^(.*" + _VAR_OR + r".*|\s*[0-9]{5}[0-9Xx]\s*)$",
                        numbers=True,
                    ),
                },
            },
            "captcha": {
                "enum": [c.value for c in CaptchaMode],
                "default": CaptchaMode.manual.value,
                "description": "manual: a person solves the site's security check in the "
                "browser window. none: the site is expected to show none "
                "(a mock); if it does, the run stops.",
            },
            "sms_received_at": {
                "type": "string",
                "description": "When the SMS arrived (ISO 8601; without a zone: local time). "
                "icpbot warns as 24 hours approach and refuses after.",
                "examples": ["2026-11-28T09:30:00+08:00"],
            },
        },
        "allOf": [
            {
                "if": {"properties": {"action": {"const": "resend"}}},
                "then": {"properties": {"inputs": {"not": {"required": ["code"]}}}},
            },
            {
                "if": {"properties": {"action": {"const": "verify"}}},
                "then": {"properties": {"inputs": {"required": ["code"]}}},
            },
        ],
    }
