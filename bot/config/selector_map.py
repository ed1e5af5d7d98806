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
    front_door:                       # optional: texts of the web firewall's own pages
      blocked: [当前访问疑似黑客攻击]
      rate_limited: [访问频次过高]     # (HTTP 429 is a rate limit too)
    pacing:                           # optional: how hard the site may be pressed
      max_parallel: 1                 # most submissions at once (absent: no limit)
      min_interval_s: 10              # fewest seconds between two submissions (absent: 0)

Loading checks everything it can without a browser (unknown keys, missing required elements,
unknown or cyclic ``within``, candidates with zero or two strategies, bad regexes, modifiers a
strategy does not take, unknown categories, duplicate status+action) and reports all problems with
their lines in one :class:`~bot.errors.SelectorMapError`, never quoting a value.

The file is read by the input models of :mod:`bot.config.selector_input` (their JSON Schema is
:func:`selector_map_json_schema`), the references between keys by
:mod:`bot.config.selector_checks`; the frozen models are in :mod:`bot.config.selector_models`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from bot.config.problems import json_schema, problem, to_problems
from bot.config.selector_checks import cross_references
from bot.config.selector_input import CANDIDATE_MODELS, RegexIn, SelectorMapIn
from bot.config.selector_models import (
    OPTIONAL_ELEMENTS,
    REQUIRED_ELEMENTS,
    Barrier,
    Candidate,
    ElementSpec,
    EndpointKind,
    Endpoints,
    FrontDoor,
    Pacing,
    SelectorMap,
    StatusEntry,
    Strategy,
    banner_matches,
    normalize_banner,
)
from bot.config.values import SITE_PATTERN
from bot.config.yamldoc import KeyPath, YamlDoc, load_yaml
from bot.errors import Problem, SelectorMapError
from bot.packaged import shipped_selectors_dir
from bot.types import Category

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
    "Pacing",
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


# -- finding ---------------------------------------------------------------------------------------

_SITE_RE = re.compile(SITE_PATTERN)


def find_selector_map(site: str, selectors_dir: Path | str | None = None) -> Path:
    """Path of ``<site>.yaml``, searched in: ``selectors_dir``, ``$ICPBOT_SELECTORS_DIR``,
    ``./selectors/``, then the maps icpbot ships (a checkout's ``selectors/``, or the installed
    package's copy: :func:`bot.packaged.shipped_selectors_dir`). Raises
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
    dirs.append(shipped_selectors_dir())
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


#: Maps loaded in this process, by file and version: a batch of many scenarios of one site reads
#: and checks its map once (a map is frozen, so sharing it is safe; an edited file is read again).
_LOADED: dict[tuple[str, int, int], SelectorMap] = {}


def load_selector_map(path: Path | str) -> SelectorMap:
    """Load and check a selector map; raises :class:`SelectorMapError` listing every problem."""
    try:
        st = os.stat(path)
        key: tuple[str, int, int] | None = (os.path.realpath(path), st.st_mtime_ns, st.st_size)
    except OSError:
        key = None  # load_yaml reports the missing file
    if key is not None and key in _LOADED:
        return _LOADED[key]
    smap = _load_selector_map(path)
    if key is not None:
        _LOADED[key] = smap
    return smap


def _load_selector_map(path: Path | str) -> SelectorMap:
    doc = load_yaml(path, error=SelectorMapError)
    if not isinstance(doc.data, dict):
        message = "expected a mapping with site, route, endpoints, elements, statuses"
        raise SelectorMapError([problem(doc, (), message)], path=path)
    problems = cross_references(doc)
    try:
        raw = SelectorMapIn.model_validate(doc.data)
    except ValidationError as exc:
        problems += to_problems(exc, doc, SelectorMapIn, say=lambda p, e, o: _say(doc, p, e, o))
    if problems:
        raise SelectorMapError(sorted(problems, key=lambda p: p.line or 0), path=path)
    return raw.to_map(Path(path))


_STRATEGIES = ", ".join(Strategy)
_MODIFIERS = frozenset(
    name for model in CANDIDATE_MODELS.values() for name in model.model_fields
) - set(Strategy)


def _say(
    doc: YamlDoc, path: KeyPath, err: ErrorDetails, owner: type[BaseModel] | None
) -> str | None:
    """icpbot's wording for the errors whose default says too little."""
    kind = err["type"]
    if kind == "union_tag_not_found":  # a candidate without exactly one strategy key
        written = _at(doc.data, path)
        if not isinstance(written, dict):
            return "must be a mapping"
        found = ", ".join(k for k in written if k in Strategy.__members__) or "none"
        return f"a candidate needs exactly one of {_STRATEGIES} (found: {found})"
    if kind == "enum" and path[-1:] == ("category",):
        return f"unknown category; one of: {', '.join(Category)}"
    if kind != "extra_forbidden" or owner is None:
        return None
    if owner is RegexIn:
        return "the mapping form is {regex: <pattern>}"
    for strategy, model in CANDIDATE_MODELS.items():
        if owner is model and path[-1] in _MODIFIERS:
            takes = ", ".join(sorted(set(model.model_fields) - {strategy.value}))
            return f"{strategy} does not take {path[-1]!r} (it takes: {takes})"
        if owner is model:
            return (
                f"unknown key; a candidate has one of {_STRATEGIES} and the modifiers "
                f"{', '.join(sorted(_MODIFIERS))}"
            )
    return None


def _at(data: Any, path: KeyPath) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def selector_map_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the selector map format, for editors.

    Generated from :class:`~bot.config.selector_input.SelectorMapIn`, the file as written.
    """
    return json_schema(SelectorMapIn)
