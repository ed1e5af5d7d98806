"""A selector map as written: the input models (their JSON Schema is the editors' schema).

A candidate is written with its strategy as the key - ``{placeholder: 请输短信验证码}``,
``{placeholder: {regex: 验证码}}``, ``{role: button, name: 提交}``,
``{css: h5, has_text: 短信核验}`` - and each strategy takes only its own modifiers.
:meth:`SelectorMapIn.to_map` turns the file into the frozen
:class:`~bot.config.selector_models.SelectorMap`. What spans several keys (``within`` references,
required elements, duplicate statuses) is checked in :mod:`bot.config.selector_checks`.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Annotated, Any, ClassVar

from playwright.sync_api import Page
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from bot.config.problems import NAME_PATTERN, NonEmpty
from bot.config.selector_models import (
    REQUIRED_ELEMENTS,
    Candidate,
    ElementSpec,
    Endpoints,
    FrontDoor,
    Pacing,
    SelectorMap,
    StatusEntry,
    Strategy,
)

__all__ = ["ARIA_ROLES", "CandidateIn", "ElementIn", "RegexIn", "SelectorMapIn"]

#: The roles Playwright's ``get_by_role`` accepts: its ``role`` Literal, read from its signature.
ARIA_ROLES: frozenset[str] = frozenset(
    typing.get_args(typing.get_type_hints(Page.get_by_role)["role"])
)


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc.msg}") from None
    return pattern


class RegexIn(_In):
    """The mapping form of a placeholder or text: a regular expression."""

    regex: Annotated[NonEmpty, AfterValidator(_compiles)] = Field(
        description="Regular expression, searched (not anchored)."
    )


#: A placeholder or text: the text itself, or ``{regex: <pattern>}``.
_TextOrRegex = Annotated[
    Annotated[NonEmpty, Tag("text")] | Annotated[RegexIn, Tag("regex")],
    Discriminator(lambda v: "regex" if isinstance(v, dict | RegexIn) else "text"),
]
_EXACT = Field(
    default=True,
    description="Whole-string, case-sensitive match (false: substring, any case).",
)
_HAS_TEXT = Field(default=None, description="Keep only elements whose text contains this.")


def _no_exact_with_regex(exact: bool, info: ValidationInfo) -> bool:
    """``exact`` (validated after the strategy's key) is for a text, not for a regex."""
    if any(isinstance(v, RegexIn) for v in info.data.values()):
        raise ValueError("exact does not apply to a regex; remove it")
    return exact


class _CandidateIn(_In):
    strategy: ClassVar[Strategy]

    def candidate(self) -> Candidate:
        """The runtime form: the strategy's own key becomes ``value`` (or ``regex``)."""
        fields = self.model_dump(exclude_none=True)
        own = getattr(self, self.strategy.value)
        fields.pop(self.strategy.value)
        if isinstance(own, RegexIn):
            return Candidate(strategy=self.strategy, regex=own.regex, **fields)
        return Candidate(strategy=self.strategy, value=own, **fields)


def _aria_role(role: str) -> str:
    if role not in ARIA_ROLES:
        raise ValueError("not an ARIA role Playwright knows (e.g. button, heading, textbox)")
    return role


class RoleIn(_CandidateIn):
    """By ARIA role, and its accessible name (Playwright's get_by_role)."""

    strategy = Strategy.role
    role: Annotated[str, AfterValidator(_aria_role), WithJsonSchema({"enum": sorted(ARIA_ROLES)})]
    name: NonEmpty | None = Field(default=None, description="Accessible name.")
    exact: StrictBool = _EXACT
    has_text: NonEmpty | None = _HAS_TEXT

    @field_validator("exact")
    @classmethod
    def _exact_needs_a_name(cls, exact: bool, info: ValidationInfo) -> bool:
        if info.data.get("name") is None:
            raise ValueError("exact applies to a role's name; add name or remove it")
        return exact


class PlaceholderIn(_CandidateIn):
    """By an input's placeholder (the real page's inputs have no id, name or label)."""

    strategy = Strategy.placeholder
    placeholder: _TextOrRegex
    exact: StrictBool = _EXACT

    @field_validator("exact")
    @classmethod
    def _no_exact(cls, exact: bool, info: ValidationInfo) -> bool:
        return _no_exact_with_regex(exact, info)


class TextIn(_CandidateIn):
    """By visible text."""

    strategy = Strategy.text
    text: _TextOrRegex
    exact: StrictBool = _EXACT

    @field_validator("exact")
    @classmethod
    def _no_exact(cls, exact: bool, info: ValidationInfo) -> bool:
        return _no_exact_with_regex(exact, info)


class CssIn(_CandidateIn):
    """By CSS selector."""

    strategy = Strategy.css
    css: NonEmpty
    has_text: NonEmpty | None = _HAS_TEXT


def _strategy_key(value: Any) -> str | None:
    """The one strategy key a written candidate has; None for zero, two or a non-mapping."""
    if isinstance(value, _CandidateIn):
        return value.strategy.value
    found = [k for k in value if k in Strategy.__members__] if isinstance(value, dict) else []
    return found[0] if len(found) == 1 else None


CandidateIn = Annotated[
    Annotated[RoleIn, Tag("role")]
    | Annotated[PlaceholderIn, Tag("placeholder")]
    | Annotated[TextIn, Tag("text")]
    | Annotated[CssIn, Tag("css")],
    Discriminator(_strategy_key),
]
#: Each candidate class by its strategy.
CANDIDATE_MODELS: dict[Strategy, type[_CandidateIn]] = {
    m.strategy: m for m in (RoleIn, PlaceholderIn, TextIn, CssIn)
}


class ElementIn(_In):
    """A named element: where to search and how to find it."""

    within: NonEmpty | None = Field(default=None, description="Search inside this other element.")
    candidates: list[CandidateIn] = Field(
        min_length=1,
        description="Tried in order; the first finding exactly one visible element wins.",
    )


_ElementName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]


class SelectorMapIn(_In):
    """The page described as data: elements and their candidates, API endpoints, statuses."""

    model_config = ConfigDict(title="icpbot selector map")

    site: NonEmpty
    description: str = ""
    route: NonEmpty = Field(description="Hash route of the form page, joined to the base URL.")
    login_route: NonEmpty = Field(
        default="#/login", description="Where the page sends an expired session."
    )
    endpoints: Endpoints
    elements: dict[_ElementName, ElementIn] = Field(
        json_schema_extra={"required": list(REQUIRED_ELEMENTS), "additionalProperties": False},
        description="Every element icpbot touches, by snake_case name.",
    )
    statuses: list[StatusEntry] = Field(min_length=1)
    default_status: StrictInt = Field(
        default=0, description="The status whose text the page shows for an unknown one."
    )
    front_door: FrontDoor = Field(
        default=FrontDoor(), description="Texts of the web firewall's block and rate-limit pages."
    )
    pacing: Pacing = Field(
        default=Pacing(), description="How many submissions at once, and how far apart."
    )

    def to_map(self, source: Path) -> SelectorMap:
        """The frozen map, read from ``source``."""
        elements = {
            name: ElementSpec(
                name=name,
                within=spec.within,
                candidates=tuple(c.candidate() for c in spec.candidates),
            )
            for name, spec in self.elements.items()
        }
        fields = self.model_dump(
            exclude={"elements", "endpoints", "statuses", "front_door", "pacing"}
        )
        return SelectorMap(
            **fields,
            endpoints=self.endpoints,
            elements=elements,
            statuses=tuple(self.statuses),
            front_door=self.front_door,
            pacing=self.pacing,
            source=source,
        )
