"""Selector maps: the page described as data (``selectors/<site>.yaml``), loaded into frozen models.

A map names every element icpbot touches and, for each, an ordered list of candidates; the locator
code (``bot.page.locate``) tries them in order and takes the first that finds exactly one visible
element, so a redesign of the page is a data change. The map also holds the API endpoints (path
suffixes, never hosts) and the ``statuses`` table that turns a ``validStatus`` into an outcome.

Format::

    site: miit
    description: ...
    route: "#/Integrated/index"       # joined to the scenario's base_url
    login_route: "#/login"            # where the page sends an expired session
    endpoints: {auth: /…/auth, verify: /…/validateByCondition, resend: /…/resendSMSByCondition}
    elements:
      verify_code:
        within: verify_card           # optional: searched inside that element
        candidates:                   # ordered; exactly one strategy key each
          - placeholder: 请输短信验证码
          - placeholder: {regex: 短信验证码|验证码}
          - role: button              # role takes `name`, `exact`, `has_text`
            name: 提交
          - css: button.Submission    # css takes `has_text`; text/placeholder take `exact`
    statuses:
      - {status: 3, actions: [verify], category: success, name: verified_all,
         banner: "…", message: "…", next_step: "…"}
    default_status: 0                 # the page shows this status's text for unknown ones

Loading checks everything it can without a browser (unknown keys, missing required elements,
unknown or cyclic ``within``, candidates with zero or two strategies, bad regexes, modifiers a
strategy does not take, unknown categories, duplicate status+action) and reports all problems with
their lines in one :class:`~bot.errors.SelectorMapError`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from bot.config.yamldoc import KeyPath, YamlDoc, format_path, load_yaml
from bot.errors import Problem, SelectorMapError
from bot.types import Action, Category

__all__ = [
    "OPTIONAL_ELEMENTS",
    "REQUIRED_ELEMENTS",
    "SELECTORS_DIR_ENV",
    "Barrier",
    "Candidate",
    "ElementSpec",
    "EndpointKind",
    "Endpoints",
    "FrontDoor",
    "SelectorMap",
    "StatusEntry",
    "Strategy",
    "banner_matches",
    "find_selector_map",
    "load_selector_map",
    "normalize_banner",
    "selector_map_json_schema",
]

SELECTORS_DIR_ENV = "ICPBOT_SELECTORS_DIR"

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


# Modifiers each strategy takes, besides its own key.
_MODIFIERS: dict[Strategy, frozenset[str]] = {
    Strategy.role: frozenset({"name", "exact", "has_text"}),
    Strategy.placeholder: frozenset({"exact"}),
    Strategy.text: frozenset({"exact"}),
    Strategy.css: frozenset({"has_text"}),
}
_ALL_MODIFIERS = frozenset().union(*_MODIFIERS.values())

# The roles Playwright's get_by_role accepts (its `role` Literal).
_ARIA_ROLES = frozenset(
    (
        "alert",
        "alertdialog",
        "application",
        "article",
        "banner",
        "blockquote",
        "button",
        "caption",
        "cell",
        "checkbox",
        "code",
        "columnheader",
        "combobox",
        "complementary",
        "contentinfo",
        "definition",
        "deletion",
        "dialog",
        "directory",
        "document",
        "emphasis",
        "feed",
        "figure",
        "form",
        "generic",
        "grid",
        "gridcell",
        "group",
        "heading",
        "img",
        "insertion",
        "link",
        "list",
        "listbox",
        "listitem",
        "log",
        "main",
        "marquee",
        "math",
        "menu",
        "menubar",
        "menuitem",
        "menuitemcheckbox",
        "menuitemradio",
        "meter",
        "navigation",
        "none",
        "note",
        "option",
        "paragraph",
        "presentation",
        "progressbar",
        "radio",
        "radiogroup",
        "region",
        "row",
        "rowgroup",
        "rowheader",
        "scrollbar",
        "search",
        "searchbox",
        "separator",
        "slider",
        "spinbutton",
        "status",
        "strong",
        "subscript",
        "superscript",
        "switch",
        "tab",
        "table",
        "tablist",
        "tabpanel",
        "term",
        "textbox",
        "time",
        "timer",
        "toolbar",
        "tooltip",
        "tree",
        "treegrid",
        "treeitem",
    )
)


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


class StatusEntry(BaseModel):
    """One row of the statuses table: a ``validStatus`` as the page words it and as icpbot does."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: int
    actions: tuple[Action, ...]
    category: Category
    #: stable machine name, e.g. ``verified_all``
    name: str
    #: the page's banner text, exactly (Chinese, mixed punctuation)
    banner: str
    #: English: what happened, and what the operator should do now
    message: str
    next_step: str


EndpointKind = Literal["auth", "verify", "resend"]
#: What a web-firewall page says, when it says something (see ``FrontDoor``).
Barrier = Literal["blocked", "rate_limited"]


class FrontDoor(BaseModel):
    """Texts of the pages the site's CDN and web firewall answer with instead of the site:
    a block page and a rate limit, on the page load or on an API call (substring matches)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    blocked: tuple[str, ...] = ()
    rate_limited: tuple[str, ...] = ()

    def barrier(self, text: str, http_status: int | None = None) -> Barrier | None:
        """Which firewall page ``text`` (with ``http_status``, when known) is, if any."""
        if http_status == 429 or any(s in text for s in self.rate_limited):
            return "rate_limited"
        if any(s in text for s in self.blocked):
            return "blocked"
        return None


class Endpoints(BaseModel):
    """API path suffixes; a request matches when its URL path ends with one (any host)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    auth: str
    verify: str
    resend: str

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


def normalize_banner(text: str) -> str:
    """Banner text for comparison: all whitespace removed (the texts have none of their own)."""
    return re.sub(r"\s+", "", text)


def banner_matches(expected: str, shown: str) -> bool:
    """Whether the page's text ``shown`` is ``expected``: equal, or containing it (a prefix such
    as 尊敬的ICP用户： may come along), after whitespace normalisation."""
    want, got = normalize_banner(expected), normalize_banner(shown)
    return bool(want) and (want == got or want in got)


class SelectorMap(BaseModel):
    """A loaded, validated selector map."""

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


# -- finding ---------------------------------------------------------------------------------------

_SITE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def find_selector_map(site: str, selectors_dir: Path | str | None = None) -> Path:
    """Path of ``<site>.yaml``, searched in: ``selectors_dir``, ``$ICPBOT_SELECTORS_DIR``,
    ``./selectors/``, then the ``selectors/`` next to the ``bot`` package. Raises
    :class:`SelectorMapError` naming every path tried."""
    if not _SITE_RE.fullmatch(site):
        raise SelectorMapError(
            [
                Problem(
                    "",
                    None,
                    "site",
                    "not a selector map name (lower case letters, digits, - and _)",
                )
            ]
        )
    dirs: list[Path] = []
    if selectors_dir is not None:
        dirs.append(Path(selectors_dir))
    if env_dir := os.environ.get(SELECTORS_DIR_ENV):
        dirs.append(Path(env_dir))
    dirs.append(Path.cwd() / "selectors")
    dirs.append(Path(__file__).resolve().parents[2] / "selectors")
    tried: list[str] = []
    for d in dirs:
        candidate = d / f"{site}.yaml"
        if str(candidate) in tried:
            continue
        tried.append(str(candidate))
        if candidate.is_file():
            return candidate
    raise SelectorMapError(
        [Problem("", None, "site", f"no selector map for site {site!r}; tried: {', '.join(tried)}")]
    )


# -- loading ---------------------------------------------------------------------------------------

_TOP_KEYS = (
    "site",
    "description",
    "route",
    "login_route",
    "endpoints",
    "elements",
    "statuses",
    "default_status",
    "front_door",
)
_REQUIRED_TOP = ("site", "route", "endpoints", "elements", "statuses")
_ELEMENT_KEYS = ("within", "candidates")
_STATUS_KEYS = ("status", "actions", "category", "name", "banner", "message", "next_step")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class _Checker:
    def __init__(self, doc: YamlDoc) -> None:
        self.doc = doc
        self.problems: list[Problem] = []

    def problem(self, path: KeyPath, message: str) -> None:
        self.problems.append(
            Problem(self.doc.file, self.doc.line(path), format_path(path), message)
        )

    def keys(
        self,
        path: KeyPath,
        data: dict[str, Any],
        allowed: Iterable[str],
        required: Iterable[str] = (),
    ) -> None:
        allowed = tuple(allowed)
        for key in data:
            if key not in allowed:
                self.problem((*path, key), f"unknown key; allowed here: {', '.join(allowed)}")
        for key in required:
            if key not in data:
                self.problem(path, f"missing required key {key!r}")

    def text(self, path: KeyPath, value: Any, *, required: bool = True) -> str | None:
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem(path, "must be a non-empty string")
            return None
        return value

    def mapping(self, path: KeyPath, value: Any) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.problem(path, "must be a mapping")
            return None
        return value

    def integer(self, path: KeyPath, value: Any) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(path, "must be an integer")
            return None
        return value

    # -- parts --

    def front_door(self, data: Any) -> FrontDoor:
        path: KeyPath = ("front_door",)
        mapping = self.mapping(path, data)
        if mapping is None:
            return FrontDoor()
        self.keys(path, mapping, ("blocked", "rate_limited"))
        texts: dict[str, tuple[str, ...]] = {}
        for key in ("blocked", "rate_limited"):
            value = mapping.get(key, [])
            if not isinstance(value, list):
                self.problem((*path, key), "must be a list of texts")
                continue
            found = [self.text((*path, key, i), v) for i, v in enumerate(value)]
            texts[key] = tuple(v for v in found if v is not None)
        return FrontDoor(**texts)

    def endpoints(self, data: Any) -> Endpoints | None:
        path: KeyPath = ("endpoints",)
        mapping = self.mapping(path, data)
        if mapping is None:
            return None
        self.keys(path, mapping, ("auth", "verify", "resend"), ("auth", "verify", "resend"))
        values: dict[str, str] = {}
        for kind in ("auth", "verify", "resend"):
            if kind not in mapping:
                continue
            value = self.text((*path, kind), mapping[kind])
            if value is None:
                continue
            if not value.startswith("/") or "://" in value:
                self.problem((*path, kind), "must be a path suffix starting with / (never a host)")
                continue
            values[kind] = value
        if len(values) != 3:
            return None
        return Endpoints(**values)

    def candidate(self, path: KeyPath, data: Any) -> Candidate | None:
        mapping = self.mapping(path, data)
        if mapping is None:
            return None
        strategies = [Strategy(k) for k in mapping if k in Strategy.__members__]
        for key in mapping:
            if key not in Strategy.__members__ and key not in _ALL_MODIFIERS:
                self.problem(
                    (*path, key),
                    "unknown key; a candidate has one of role, "
                    "placeholder, text, css and the modifiers name, exact, has_text",
                )
        if len(strategies) != 1:
            found = ", ".join(strategies) if strategies else "none"
            self.problem(
                path,
                f"a candidate needs exactly one of role, placeholder, text, css (found: {found})",
            )
            return None
        strategy = strategies[0]
        ok = True
        for key in mapping:
            if key in _ALL_MODIFIERS and key not in _MODIFIERS[strategy]:
                allowed = ", ".join(sorted(_MODIFIERS[strategy]))
                self.problem(
                    (*path, key), f"{strategy} does not take {key!r} (it takes: {allowed})"
                )
                ok = False

        raw = mapping[strategy]
        spath: KeyPath = (*path, strategy.value)
        value: str | None = None
        regex: str | None = None
        if isinstance(raw, dict) and strategy in (Strategy.placeholder, Strategy.text):
            if set(raw) != {"regex"}:
                self.problem(spath, "the mapping form is {regex: <pattern>}")
                return None
            regex = self.text((*spath, "regex"), raw["regex"])
            if regex is None:
                return None
            try:
                re.compile(regex)
            except re.error as exc:
                self.problem((*spath, "regex"), f"not a valid regular expression: {exc.msg}")
                ok = False
            if "exact" in mapping:
                self.problem((*path, "exact"), "exact does not apply to a regex; remove it")
                ok = False
        else:
            value = self.text(spath, raw)
            if value is None:
                return None
            if strategy is Strategy.role and value not in _ARIA_ROLES:
                self.problem(
                    spath, "not an ARIA role Playwright knows (e.g. button, heading, textbox)"
                )
                ok = False

        name = self.text((*path, "name"), mapping.get("name"), required=False)
        has_text = self.text((*path, "has_text"), mapping.get("has_text"), required=False)
        exact = mapping.get("exact", True)
        if not isinstance(exact, bool):
            self.problem((*path, "exact"), "must be true or false")
            ok = False
        elif strategy is Strategy.role and "exact" in mapping and name is None:
            self.problem((*path, "exact"), "exact applies to a role's name; add name or remove it")
            ok = False
        if (
            not ok
            or ("name" in mapping and name is None)
            or ("has_text" in mapping and has_text is None)
        ):
            return None
        return Candidate(
            strategy=strategy,
            value=value,
            regex=regex,
            name=name,
            exact=bool(exact),
            has_text=has_text,
        )

    def element(self, name: str, data: Any) -> ElementSpec | None:
        path: KeyPath = ("elements", name)
        if not _NAME_RE.fullmatch(name):
            self.problem(path, "element names are snake_case (a-z, 0-9, _)")
        mapping = self.mapping(path, data)
        if mapping is None:
            return None
        self.keys(path, mapping, _ELEMENT_KEYS, ("candidates",))
        within = self.text((*path, "within"), mapping.get("within"), required=False)
        raw = mapping.get("candidates")
        if "candidates" in mapping and (not isinstance(raw, list) or not raw):
            self.problem((*path, "candidates"), "must be a non-empty list")
            return None
        candidates = [self.candidate((*path, "candidates", i), c) for i, c in enumerate(raw or [])]
        if any(c is None for c in candidates) or not candidates:
            return None
        return ElementSpec(
            name=name, within=within, candidates=tuple(c for c in candidates if c is not None)
        )

    def elements(self, data: Any) -> dict[str, ElementSpec]:
        path: KeyPath = ("elements",)
        mapping = self.mapping(path, data)
        if mapping is None:
            return {}
        specs: dict[str, ElementSpec] = {}
        for name, spec_data in mapping.items():
            spec = self.element(name, spec_data)
            if spec is not None:
                specs[name] = spec
        for name in REQUIRED_ELEMENTS:
            if name not in mapping:
                self.problem(path, f"missing required element {name!r}")
        for name, spec_data in mapping.items():
            within = spec_data.get("within") if isinstance(spec_data, dict) else None
            if isinstance(within, str) and within not in mapping:
                self.problem((*path, name, "within"), f"no element called {within!r}")
        self.cycles(mapping)
        return specs

    def cycles(self, mapping: dict[str, Any]) -> None:
        parent: dict[str, str] = {}
        for name, spec in mapping.items():
            within = spec.get("within") if isinstance(spec, dict) else None
            if isinstance(within, str) and within in mapping:
                parent[name] = within
        reported: set[str] = set()
        for start in parent:
            seen = [start]
            node = start
            while node in parent:
                node = parent[node]
                if node in seen:
                    loop = seen[seen.index(node) :]
                    if not reported & set(loop):
                        reported |= set(loop)
                        self.problem(
                            ("elements", node, "within"),
                            "within forms a cycle: " + " -> ".join([*loop, node]),
                        )
                    break
                seen.append(node)

    def status(self, index: int, data: Any) -> StatusEntry | None:
        path: KeyPath = ("statuses", index)
        mapping = self.mapping(path, data)
        if mapping is None:
            return None
        self.keys(path, mapping, _STATUS_KEYS, _STATUS_KEYS)
        if any(k not in mapping for k in _STATUS_KEYS):
            return None
        status = self.integer((*path, "status"), mapping.get("status"))
        actions: list[Action] = []
        raw_actions = mapping.get("actions")
        if not isinstance(raw_actions, list) or not raw_actions:
            self.problem((*path, "actions"), "must be a non-empty list of verify, resend")
        else:
            for i, a in enumerate(raw_actions):
                if a not in Action.__members__:
                    self.problem((*path, "actions", i), "must be verify or resend")
                elif Action(a) in actions:
                    self.problem((*path, "actions", i), "listed twice")
                else:
                    actions.append(Action(a))
        category: Category | None = None
        raw_category = mapping.get("category")
        if isinstance(raw_category, str) and raw_category in Category.__members__:
            category = Category(raw_category)
        else:
            self.problem(
                (*path, "category"),
                f"unknown category; one of: {', '.join(c.value for c in Category)}",
            )
        name = self.text((*path, "name"), mapping.get("name"))
        if name is not None and not _NAME_RE.fullmatch(name):
            self.problem((*path, "name"), "status names are snake_case (a-z, 0-9, _)")
            name = None
        texts = {
            k: self.text((*path, k), mapping.get(k)) for k in ("banner", "message", "next_step")
        }
        if (
            status is None
            or not actions
            or len(actions) != len(raw_actions or [])
            or category is None
            or name is None
            or None in texts.values()
        ):
            return None
        return StatusEntry(
            status=status,
            actions=tuple(actions),
            category=category,
            name=name,
            banner=texts["banner"] or "",
            message=texts["message"] or "",
            next_step=texts["next_step"] or "",
        )

    def statuses(self, data: Any) -> list[StatusEntry]:
        path: KeyPath = ("statuses",)
        if not isinstance(data, list) or not data:
            self.problem(path, "must be a non-empty list")
            return []
        entries: list[StatusEntry] = []
        first_seen: dict[tuple[int, Action], int] = {}
        for i, item in enumerate(data):
            entry = self.status(i, item)
            if entry is None:
                continue
            line = self.doc.line((*path, i)) or 0
            for action in entry.actions:
                key = (entry.status, action)
                if key in first_seen:
                    self.problem(
                        (*path, i, "status"),
                        f"status {entry.status} for {action} is "
                        f"already defined on line {first_seen[key]}",
                    )
                else:
                    first_seen[key] = line
            entries.append(entry)
        return entries


def load_selector_map(path: Path | str) -> SelectorMap:
    """Load and check a selector map; raises :class:`SelectorMapError` listing every problem."""
    doc = load_yaml(path, error=SelectorMapError)
    c = _Checker(doc)
    data = doc.data
    if not isinstance(data, dict):
        c.problem((), "expected a mapping with site, route, endpoints, elements, statuses")
        raise SelectorMapError(c.problems, path=path)
    c.keys((), data, _TOP_KEYS, _REQUIRED_TOP)
    site = c.text(("site",), data.get("site")) if "site" in data else None
    description = data.get("description", "")
    if not isinstance(description, str):
        c.problem(("description",), "must be a string")
        description = ""
    route = c.text(("route",), data.get("route")) if "route" in data else None
    login_route = c.text(("login_route",), data.get("login_route", "#/login"))
    endpoints = c.endpoints(data["endpoints"]) if "endpoints" in data else None
    elements = c.elements(data["elements"]) if "elements" in data else {}
    statuses = c.statuses(data["statuses"]) if "statuses" in data else []
    default_status = c.integer(("default_status",), data.get("default_status", 0))
    front_door = c.front_door(data["front_door"]) if "front_door" in data else FrontDoor()
    if (
        default_status is not None
        and statuses
        and not any(e.status == default_status for e in statuses)
    ):
        c.problem(("default_status",), f"no entry in statuses for status {default_status}")
    if c.problems or site is None or route is None or endpoints is None or login_route is None:
        raise SelectorMapError(c.problems, path=path)
    return SelectorMap(
        site=site,
        description=description,
        route=route,
        login_route=login_route,
        endpoints=endpoints,
        elements=elements,
        statuses=tuple(statuses),
        default_status=default_status or 0,
        front_door=front_door,
        source=Path(path),
    )


def selector_map_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the selector map format, for editors."""
    text_or_regex = {
        "oneOf": [
            {"type": "string", "minLength": 1},
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["regex"],
                "properties": {
                    "regex": {
                        "type": "string",
                        "minLength": 1,
                        "description": "Regular expression, searched (not anchored).",
                    }
                },
            },
        ]
    }
    exact = {
        "type": "boolean",
        "default": True,
        "description": "Whole-string, case-sensitive match (false: substring, any case).",
    }
    has_text = {
        "type": "string",
        "minLength": 1,
        "description": "Keep only elements whose text contains this.",
    }
    candidate = {
        "oneOf": [
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["role"],
                "properties": {
                    "role": {"enum": sorted(_ARIA_ROLES)},
                    "name": {"type": "string", "description": "Accessible name."},
                    "exact": exact,
                    "has_text": has_text,
                },
            },
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["placeholder"],
                "properties": {"placeholder": text_or_regex, "exact": exact},
            },
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["text"],
                "properties": {"text": text_or_regex, "exact": exact},
            },
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["css"],
                "properties": {"css": {"type": "string", "minLength": 1}, "has_text": has_text},
            },
        ]
    }
    element = {
        "type": "object",
        "additionalProperties": False,
        "required": ["candidates"],
        "properties": {
            "within": {"type": "string", "description": "Search inside this other element."},
            "candidates": {
                "type": "array",
                "minItems": 1,
                "items": candidate,
                "description": "Tried in order; the first finding exactly one "
                "visible element wins.",
            },
        },
    }
    suffix = {"type": "string", "pattern": "^/", "description": "URL path suffix (never a host)."}
    status = {
        "type": "object",
        "additionalProperties": False,
        "required": list(_STATUS_KEYS),
        "properties": {
            "status": {"type": "integer", "description": "params.validStatus"},
            "actions": {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": {"enum": [a.value for a in Action]},
            },
            "category": {"enum": [c.value for c in Category]},
            "name": {"type": "string", "pattern": _NAME_RE.pattern},
            "banner": {"type": "string", "description": "The page's text, exactly."},
            "message": {"type": "string", "description": "English: what happened."},
            "next_step": {"type": "string", "description": "English: what to do now."},
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "icpbot selector map",
        "type": "object",
        "additionalProperties": False,
        "required": list(_REQUIRED_TOP),
        "properties": {
            "site": {"type": "string"},
            "description": {"type": "string"},
            "route": {"type": "string", "description": "Hash route of the form page."},
            "login_route": {"type": "string", "default": "#/login"},
            "endpoints": {
                "type": "object",
                "additionalProperties": False,
                "required": ["auth", "verify", "resend"],
                "properties": {"auth": suffix, "verify": suffix, "resend": suffix},
            },
            "elements": {
                "type": "object",
                "required": list(REQUIRED_ELEMENTS),
                "propertyNames": {"pattern": _NAME_RE.pattern},
                "additionalProperties": element,
            },
            "statuses": {"type": "array", "minItems": 1, "items": status},
            "default_status": {"type": "integer", "default": 0},
            "front_door": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    k: {"type": "array", "items": {"type": "string", "minLength": 1}}
                    for k in ("blocked", "rate_limited")
                },
                "description": "Texts of the web firewall's block and rate-limit pages.",
            },
        },
    }
