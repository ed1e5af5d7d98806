"""The selector map's frozen models: what the locator, the classifier and the runner read.

A loaded map (:func:`bot.config.selector_map.load_selector_map`) is a :class:`SelectorMap`; the file
as written is read by the input models of :mod:`bot.config.selector_input`. :class:`StatusEntry`,
:class:`Endpoints`, :class:`FrontDoor` and :class:`Pacing` are written in the file exactly as they
are held, so they are their own input models and carry their own checks.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, StringConstraints

from bot.config.problems import NAME_PATTERN, NonEmpty
from bot.types import CUSTOMER_DEFAULTS, Action, Category

__all__ = [
    "OPTIONAL_ELEMENTS",
    "REQUIRED_ELEMENTS",
    "Barrier",
    "Candidate",
    "CustomerVoice",
    "ElementSpec",
    "EndpointKind",
    "Endpoints",
    "FrontDoor",
    "Pacing",
    "SelectorMap",
    "StatusEntry",
    "Strategy",
    "banner_matches",
    "normalize_banner",
]

REQUIRED_ELEMENTS: tuple[str, ...] = (
    "verify_tab",
    "resend_tab",
    "verify_card",
    "resend_card",
    "verify_code",
    "verify_mobile",
    "verify_id_last6",
    "verify_submit",
    "resend_mobile",
    "resend_id_last6",
    "resend_submit",
    "result_banner",
    "result_text",
    "error_toast",
    "error_toast_text",
    "captcha_box",
)
OPTIONAL_ELEMENTS: tuple[str, ...] = ("captcha_overlay", "validation_error")


class Strategy(StrEnum):
    """How a candidate finds its element (Playwright's get_by_role/placeholder/text, locator)."""

    role = "role"
    placeholder = "placeholder"
    text = "text"
    css = "css"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Candidate(BaseModel):
    """One way to find an element. ``value`` holds the role, text or css; ``regex`` a pattern."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: Strategy
    #: role name, placeholder or text (exact or substring, see ``exact``), or css selector
    value: str | None = None
    #: placeholder/text only, instead of ``value``: a regular expression (searched, not anchored)
    regex: str | None = None
    #: role only: the accessible name
    name: str | None = None
    #: placeholder/text/role name: whole-string, case-sensitive match (else substring, any case)
    exact: bool = True
    #: role/css only: keep elements whose text contains this
    has_text: str | None = None

    def describe(self) -> str:
        """Human-readable form for logs and errors, e.g. ``placeholder="请输短信验证码"``."""
        if self.regex is not None:
            out = f"{self.strategy}=/{self.regex}/"
        else:
            out = f"{self.strategy}={_quote(self.value or '')}"
        if self.name is not None:
            out += f"[name={_quote(self.name)}]"
        if not self.exact and (self.strategy is not Strategy.role or self.name is not None):
            out += " exact=false"
        if self.has_text is not None:
            out += f" has_text={_quote(self.has_text)}"
        return out


class ElementSpec(BaseModel):
    """A named element: where to search (``within``) and the candidates, in order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    within: str | None = None
    candidates: tuple[Candidate, ...]


def _each_once(actions: tuple[Action, ...]) -> tuple[Action, ...]:
    if len(set(actions)) != len(actions):
        raise ValueError("lists an action twice")
    return actions


class CustomerVoice(BaseModel):
    """An outcome in the customer's words: the person being verified, who reads the service's
    pages (``/l/``, ``/h/``) in English or Chinese. Both texts are the message catalogs' ids
    (English), translated where they are shown. They say what happened and what the person can
    do themselves, or that they should contact their hosting provider: never a command, a flag,
    a file, a run id or icpbot's inner words (``tests/test_voices.py`` checks)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    message: NonEmpty = Field(description="What happened, as the customer reads it (English).")
    next_step: NonEmpty = Field(
        description="What the customer can do, or whom to contact (English)."
    )

    @classmethod
    def default(cls, category: Category) -> CustomerVoice:
        """The category's own words (``bot.types.CUSTOMER_DEFAULTS``)."""
        message, next_step = CUSTOMER_DEFAULTS[category]
        return cls(message=message, next_step=next_step)


class StatusEntry(BaseModel):
    """One row of the statuses table: a ``validStatus`` as the page words it and as icpbot does,
    to the operator (``message``, ``next_step``) and to the customer (``customer``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: Annotated[int, Strict()] = Field(description="params.validStatus of the API's answer.")
    actions: Annotated[tuple[Action, ...], AfterValidator(_each_once)] = Field(
        min_length=1,
        json_schema_extra={"uniqueItems": True},
        description="The forms whose answer this is (verify, resend).",
    )
    category: Category = Field(description="The outcome icpbot reports (and its exit code).")
    #: stable machine name, e.g. ``verified_all``
    name: Annotated[str, StringConstraints(pattern=NAME_PATTERN)] = Field(
        description="Stable machine name, e.g. verified_all."
    )
    #: the page's banner text, exactly (Chinese, mixed punctuation)
    banner: NonEmpty = Field(description="The page's banner text, exactly.")
    #: English: what happened, and what the operator should do now
    message: NonEmpty = Field(description="English: what happened.")
    next_step: NonEmpty = Field(description="English: what the operator should do now.")
    #: the customer's voice; a map without it gets its category's (``bot.types``)
    customer: CustomerVoice | None = Field(
        default=None,
        description="The customer's voice: what happened and what they can do (English; "
        "translated through the message catalogs). Default: the category's own words.",
    )

    @property
    def customer_voice(self) -> CustomerVoice:
        """``customer``, or the category's own words when the map gives none."""
        return self.customer or CustomerVoice.default(self.category)


EndpointKind = Literal["auth", "verify", "resend"]
#: What a web-firewall page says, when it says something (see ``FrontDoor``).
Barrier = Literal["blocked", "rate_limited"]


class FrontDoor(BaseModel):
    """Texts of the pages the site's CDN and web firewall answer with instead of the site:
    a block page and a rate limit, on the page load or on an API call (substring matches)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    blocked: tuple[NonEmpty, ...] = Field(default=(), description="Texts of a block page.")
    rate_limited: tuple[NonEmpty, ...] = Field(
        default=(), description="Texts of a rate-limit page (HTTP 429 is one too)."
    )

    def barrier(self, text: str, http_status: int | None = None) -> Barrier | None:
        """Which firewall page ``text`` (with ``http_status``, when known) is, if any."""
        if http_status == 429 or any(s in text for s in self.rate_limited):
            return "rate_limited"
        if any(s in text for s in self.blocked):
            return "blocked"
        return None


def _suffix(value: str) -> str:
    if not value.startswith("/") or "://" in value:
        raise ValueError("must be a path suffix starting with / (never a host)")
    return value


#: The end of a URL path; the schema's pattern is for editors, the validator says what is wrong.
_Suffix = Annotated[
    NonEmpty,
    AfterValidator(_suffix),
    Field(json_schema_extra={"pattern": "^/", "description": "URL path suffix (never a host)."}),
]


class Endpoints(BaseModel):
    """API path suffixes; a request matches when its URL path ends with one (any host)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    auth: _Suffix
    verify: _Suffix
    resend: _Suffix

    def kind_of(self, url: str) -> EndpointKind | None:
        """Which endpoint ``url`` calls, judged by the end of its path only."""
        path = urlsplit(url).path
        kinds: tuple[EndpointKind, ...] = ("verify", "resend", "auth")
        for kind in kinds:
            if path.endswith(getattr(self, kind)):
                return kind
        return None

    def for_action(self, action: Action) -> str:
        return self.verify if action is Action.verify else self.resend


class Pacing(BaseModel):
    """How hard the site may be pressed: the most submissions it allows at once and the fewest
    seconds between two submissions. Absent: no limit and no wait."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_parallel: Annotated[int, Strict()] | None = Field(
        default=None, ge=1, description="Most submissions at once (absent: no limit)."
    )
    min_interval_s: float = Field(
        default=0.0,
        ge=0,
        allow_inf_nan=False,
        description="Fewest seconds between the starts of two submissions.",
    )


def normalize_banner(text: str) -> str:
    """Banner text for comparison: all whitespace removed (the texts have none of their own)."""
    return re.sub(r"\s+", "", text)


def banner_matches(expected: str, shown: str) -> bool:
    """Whether the page's text ``shown`` is ``expected``: equal, or containing it (a prefix such
    as 尊敬的ICP用户： may come along), after whitespace normalisation."""
    want, got = normalize_banner(expected), normalize_banner(shown)
    return bool(want) and (want == got or want in got)


class SelectorMap(BaseModel):
    """A loaded, validated selector map (``source``: the file it was read from)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    site: str
    description: str = ""
    route: str
    login_route: str = "#/login"
    endpoints: Endpoints
    elements: dict[str, ElementSpec]
    statuses: tuple[StatusEntry, ...]
    default_status: int = 0
    front_door: FrontDoor = FrontDoor()
    pacing: Pacing = Pacing()
    source: Path

    def element(self, name: str) -> ElementSpec:
        """The element called ``name``; KeyError naming the map when there is none."""
        try:
            return self.elements[name]
        except KeyError:
            raise KeyError(f"selector map {self.source} has no element {name!r}") from None

    def scope_chain(self, name: str) -> tuple[ElementSpec, ...]:
        """The element and its ``within`` containers, outermost first (cycles are load errors)."""
        chain = [self.element(name)]
        while chain[-1].within is not None:
            chain.append(self.element(chain[-1].within))
        return tuple(reversed(chain))

    def status_entry(self, action: Action, status: int) -> StatusEntry | None:
        """The entry for ``status``: one listing ``action`` first, else one for any action."""
        matches = [e for e in self.statuses if e.status == status]
        for entry in matches:
            if action in entry.actions:
                return entry
        return matches[0] if matches else None

    def entry_by_banner(self, action: Action, text: str) -> StatusEntry | None:
        """The entry whose banner the page's ``text`` shows: exact (whitespace-normalised) first,
        then containment (longest banner wins); entries listing ``action`` are preferred."""
        got = normalize_banner(text)
        if not got:
            return None

        def best(found: list[StatusEntry]) -> StatusEntry | None:
            if not found:
                return None
            own = [e for e in found if action in e.actions]
            return max(own or found, key=lambda e: len(e.banner))

        exact = best([e for e in self.statuses if normalize_banner(e.banner) == got])
        if exact is not None:
            return exact
        return best([e for e in self.statuses if banner_matches(e.banner, text)])

    @property
    def default_entry(self) -> StatusEntry | None:
        """The entry whose text the page shows for an unknown status."""
        return next((e for e in self.statuses if e.status == self.default_status), None)
