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

Every error names file, line and key and never the value; all the problems of a file are
reported together. The file is read by the input models of :mod:`bot.config.scenario_input`
(their JSON Schema is :func:`scenario_json_schema`) into the frozen :class:`Scenario`. The
personal values (mobile, code, ID digits) are registered with :data:`bot.privacy.REDACTOR` as soon
as they are read, valid or not, so nothing downstream prints them unmasked.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)

from bot import defaults
from bot.config.problems import json_schema, problem, to_problems
from bot.config.scenario_input import (
    STRING_PATHS,
    ScenarioIn,
    action_rules,
    blame_environment,
    prepare,
    variables_in,
)
from bot.config.values import (
    CODE_PATTERN,
    ID_LAST6_PATTERN,
    MOBILE_PATTERN,
    SITE_PATTERN,
    check_base_url,
    extract_code,
    normalize_id_last6,
    normalize_mobile,
)
from bot.config.yamldoc import KeyPath, YamlDoc, load_yaml
from bot.errors import ConfigError, Problem, ScenarioError, SelectorMapError
from bot.privacy import Code, IdLast6, Mobile, Secret
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
    "once_each",
    "scenario_json_schema",
    "validate_paths",
]


def _masked(value: Secret) -> str:
    return value.masked()


# JSON (model_dump_json) shows the mask, as pydantic's SecretStr does.
_AS_MASK = PlainSerializer(_masked, when_used="json")


class Inputs(BaseModel):
    """The normalised values typed into the form: :class:`~bot.privacy.Secret` strings, so that
    printing them (or the scenario, or a run's result) shows only masks; ``.reveal()`` gives the
    characters to the form and the ledger."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mobile: Annotated[Mobile, Field(pattern=MOBILE_PATTERN), AfterValidator(Mobile), _AS_MASK]
    code: Annotated[Code, Field(pattern=CODE_PATTERN), AfterValidator(Code), _AS_MASK] | None = None
    id_last6: Annotated[IdLast6, Field(pattern=ID_LAST6_PATTERN), AfterValidator(IdLast6), _AS_MASK]


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
        if (wrong := check_base_url(self.base_url)) is not None:
            raise ValueError(f"base_url {wrong}")
        if self.action is Action.verify and self.inputs.code is None:
            raise ValueError("a verify needs inputs.code")
        if self.action is Action.resend and self.inputs.code is not None:
            raise ValueError("a resend takes no code")
        return self

    def with_base_url(self, url: str) -> Scenario:
        """A copy aimed at another site root (the CLI's ``--base-url``); raises ConfigError."""
        if (wrong := check_base_url(url)) is not None:
            raise ConfigError([Problem("--base-url", None, "base_url", wrong)])
        return self.model_copy(update={"base_url": url})


# -- loading ---------------------------------------------------------------------------------------

#: icpbot's own wording where pydantic's default would say less: (key path, error type) -> message
_SAY: dict[tuple[KeyPath, str], str] = {
    (("action",), "missing"): "missing required key 'action' (verify | resend)",
    (("inputs",), "missing"): "missing required key 'inputs' (mobile, id_last6, and code for a "
    "verify)",
    (("inputs",), "model_type"): "must be a mapping with mobile, id_last6 and, for a verify, code",
    (("name",), "string_pattern_mismatch"): "must not be empty",
    (("site",), "string_pattern_mismatch"): "must be a selector map name such as miit (lower "
    "case, no slashes)",
}


class _AnyVariable(Mapping[str, str]):
    """An environment in which every variable is set (to a stand-in value): for checking a
    template's structure without the values (``icpbot validate --structure-only``)."""

    def __getitem__(self, name: str) -> str:
        return "unset"

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _structure_problems(doc: YamlDoc) -> tuple[str | None, list[Problem]]:
    """The problems of a scenario file with every ``${VAR}`` value left unchecked: keys, types,
    YAML, the action's rules, and the literal values. Also the site, when it is literal."""
    if doc.data is None or doc.kind(()) != "mapping":
        _, problems = _from_doc(doc, Path(doc.file), {})
        return None, problems
    data, problems, skip = prepare(doc, _AnyVariable())
    templated = {p for p in STRING_PATHS if variables_in(doc, p)}
    found, covered = action_rules(doc, data)
    problems += found
    try:
        ScenarioIn.model_validate(data)
    except ValidationError as exc:  # the stand-ins' errors are left out (skip)
        say = lambda p, err, _owner: _SAY.get((p, err["type"]))  # noqa: E731
        problems += to_problems(exc, doc, ScenarioIn, say=say, skip=skip | covered | templated)
    site = data.get("site", defaults.SITE)
    if ("site",) in templated or not isinstance(site, str):
        site = None
    return site, sorted(problems, key=lambda p: p.line or 0)


def _from_doc(
    doc: YamlDoc, path: Path, env: Mapping[str, str]
) -> tuple[Scenario | None, list[Problem]]:
    if doc.data is None:
        return None, [
            problem(doc, (), "the file is empty; expected a scenario (action, inputs, ...)")
        ]
    if doc.kind(()) != "mapping":
        message = "expected a mapping of keys (action, inputs, ...) at the top level"
        return None, [problem(doc, (), message)]
    data, problems, skip = prepare(doc, env)
    found, covered = action_rules(doc, data)
    problems += found
    raw: ScenarioIn | None = None
    try:
        raw = ScenarioIn.model_validate(data)
    except ValidationError as exc:
        say = lambda p, err, _owner: _SAY.get((p, err["type"]))  # noqa: E731
        problems += to_problems(exc, doc, ScenarioIn, say=say, skip=skip | covered)
    if problems or raw is None:
        return None, blame_environment(doc, sorted(problems, key=lambda p: p.line or 0))
    try:
        return _scenario(raw, path), []
    except ValidationError as exc:  # a rule the input models missed; never echo the input value
        return None, blame_environment(doc, to_problems(exc, doc, Scenario))


def _scenario(raw: ScenarioIn, path: Path) -> Scenario:
    return Scenario(
        name=raw.name or path.stem,
        action=raw.action,
        site=raw.site,
        base_url=raw.base_url,
        inputs=Inputs(mobile=raw.inputs.mobile, code=raw.inputs.code, id_last6=raw.inputs.id_last6),
        captcha=raw.captcha,
        sms_received_at=raw.sms_received_at,
        source=path,
    )


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


def once_each(paths: Iterable[Path | str]) -> tuple[list[Path | str], list[Problem]]:
    """The paths with repeats left out, and a problem for each repeat: each scenario is a
    submission and runs once, so a file named twice is an error, never a second run."""
    unique: list[Path | str] = []
    problems: list[Problem] = []
    seen: set[Path] = set()
    for path in paths:
        resolved = Path(path).resolve()
        if resolved in seen:
            message = "named twice; each scenario runs once (it is a submission)"
            problems.append(Problem(str(path), None, "", message))
            continue
        seen.add(resolved)
        unique.append(path)
    return unique, problems


def load_person(path: Path | str, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Only ``inputs.mobile`` and ``inputs.id_last6`` of a scenario file, normalised: who the
    ledger commands (``icpbot ledger list/reset``) are about.

    Nothing else is checked, so a ``code: ${VAR}`` whose variable is unset (the SMS came and
    went) does not stop them. Raises :class:`ScenarioError` naming file, line and key.
    """
    try:
        doc = load_yaml(path, error=ScenarioError)
    except ConfigError as exc:
        raise ScenarioError(exc.problems, path=path) from None
    if doc.kind(()) != "mapping":
        raise ScenarioError([problem(doc, (), "expected a scenario with inputs")], path=path)
    data, found, _ = prepare(doc, os.environ if env is None else env)
    wanted = {"inputs", "inputs.mobile", "inputs.id_last6"}
    problems = [p for p in found if p.key in wanted]
    inputs = data.get("inputs")
    if not isinstance(inputs, dict):
        problems.append(problem(doc, ("inputs",), "missing inputs with mobile and id_last6"))
        raise ScenarioError(problems, path=path)
    values: list[str] = []
    for key, normalize in (("mobile", normalize_mobile), ("id_last6", normalize_id_last6)):
        raw = inputs.get(key)
        if any(p.key == f"inputs.{key}" for p in problems):
            continue
        if not raw:
            problems.append(problem(doc, ("inputs", key), f"missing required key {key!r}"))
            continue
        try:
            values.append(normalize(raw))
        except ValueError as exc:
            problems.append(problem(doc, ("inputs", key), str(exc)))
    if problems or len(values) != 2:
        raise ScenarioError(blame_environment(doc, problems), path=path)
    return values[0], values[1]


def load_scenarios(
    paths: Iterable[Path | str],
    env: Mapping[str, str] | None = None,
) -> list[Scenario]:
    """Load every file; raises one :class:`ScenarioError` with the problems of all of them.

    The same file given twice is an error: each scenario is a submission and runs once.
    """
    scenarios: list[Scenario] = []
    unique, problems = once_each(paths)
    for path in unique:
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
    *,
    structure_only: bool = False,
) -> list[Problem]:
    """Problems of every file (empty when all are valid), for ``icpbot validate FILE...``.

    A file whose top level has ``elements:`` is a selector map; any other is a scenario, whose
    selector map (``selectors/<site>.yaml``) must also exist and load. ``structure_only`` leaves
    ``${VAR}`` values unchecked (the variables need not be set): the file's own text is checked.
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
        site: str | None
        if structure_only:
            site, found = _structure_problems(doc)
        else:
            scenario, found = _from_doc(doc, Path(path), os.environ if env is None else env)
            site = scenario.site if scenario is not None else None
        problems.extend(found)
        if site is None or found:
            continue
        try:
            map_path = find_selector_map(site, selectors_dir)
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


def scenario_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the scenario file format, for editors' completion and hints.

    Generated from :class:`~bot.config.scenario_input.ScenarioIn`, the file as written: input
    values may be ``${VAR}`` references, so their patterns accept those too; unquoted numbers are
    allowed for the personal values (icpbot reads them as typed).
    """
    return json_schema(
        ScenarioIn, **{"$id": "https://github.com/icpbot/icpbot/scenario.schema.json"}
    )
