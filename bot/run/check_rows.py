"""The rows of ``icpbot check-selectors``: one per element, with its own candidates and what
each found, the report they make up, and the exit codes a scheduled job acts on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from playwright.async_api import Error as PlaywrightError

from bot.config.selector_map import SelectorMap
from bot.errors import SelectorError, first_line
from bot.page.forms import ResendTab, VerifyTab
from bot.page.locate import Resolver, candidate_locator
from bot.types import Category

__all__ = [
    "EXIT_FALLBACKS",
    "EXIT_MISMATCH",
    "EXIT_OK",
    "CheckReport",
    "CheckRow",
    "Progress",
    "Tried",
    "not_tried",
    "probe",
    "probe_block",
]

#: every element matched its first candidate
EXIT_OK = 0
#: every element matched, some only by a later candidate: the page changed, the map still copes
EXIT_FALLBACKS = 26
#: an element matched no candidate (or its container did not): the page no longer fits the map
EXIT_MISMATCH = Category.selector_error.exit_code

#: where progress lines go (the CLI prints them on stderr)
Progress = Callable[[str], None]
#: after the first miss the page has shown what it will show: later misses need not wait long
_SETTLED_WAIT_S = 2.0

Status = Literal["first", "fallback", "missing", "blocked", "not_checked"]


@dataclass(frozen=True)
class Tried:
    candidate: str
    #: "1 visible", "0 visible", "2 visible", "error: …", or "not tried"
    result: str


@dataclass(frozen=True)
class CheckRow:
    """One element of the map: its own candidates and what each found."""

    element: str
    status: Status
    candidates: tuple[Tried, ...] = ()
    matched: str | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("first", "fallback", "not_checked")

    def to_json(self) -> dict[str, Any]:
        return {
            "element": self.element,
            "status": self.status,
            "ok": self.ok,
            "matched": self.matched,
            "fallback": self.status == "fallback",
            "candidates": [{"candidate": t.candidate, "result": t.result} for t in self.candidates],
            "note": self.note,
        }


@dataclass
class CheckReport:
    base_url: str
    #: "site" (anything not served by icpbot), "mock" or "replay"
    target: str = "site"
    page_ok: bool = False
    page_detail: str = ""
    #: set when the page did not load, or the front door (firewall, rate limit) answered
    page_exit_code: int | None = None
    rows: list[CheckRow] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.page_exit_code is not None:
            return self.page_exit_code
        if not self.page_ok or any(r.status in ("missing", "blocked") for r in self.rows):
            return EXIT_MISMATCH
        if any(r.status == "fallback" for r in self.rows):
            return EXIT_FALLBACKS
        return EXIT_OK

    @property
    def verdict(self) -> str:
        return {EXIT_OK: "ok", EXIT_FALLBACKS: "fallbacks", EXIT_MISMATCH: "mismatch"}.get(
            self.exit_code, "page_not_reached"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "target": self.target,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "page": {"ok": self.page_ok, "detail": self.page_detail},
            "elements": [r.to_json() for r in self.rows],
        }


async def _own_candidates(resolver: Resolver, name: str) -> tuple[Tried, ...]:
    """What each of the element's candidates finds right now, in its (pinned) container."""
    spec = resolver.smap.element(name)
    scope: Any = resolver.pinned.get(spec.within or "", resolver.page)
    out = []
    for cand in spec.candidates:
        try:
            count = await candidate_locator(scope, cand).filter(visible=True).count()
            out.append(Tried(cand.describe(), f"{count} visible"))
        except PlaywrightError as exc:
            out.append(Tried(cand.describe(), f"error: {first_line(exc)}"))
    return tuple(out)


def not_tried(smap: SelectorMap, name: str) -> tuple[Tried, ...]:
    return tuple(Tried(c.describe(), "not tried") for c in smap.element(name).candidates)


async def probe(
    resolver: Resolver,
    name: str,
    timeout_s: float,
    rows: dict[str, CheckRow],
    progress: Progress,
) -> CheckRow:
    """Wait up to ``timeout_s`` for ``name`` and report it; recorded in ``rows``.

    An element inside a container that did not match is not looked for (no second report of the
    container). A container that matched is pinned, so its elements are searched inside it.
    """
    smap = resolver.smap
    spec = smap.element(name)
    parent = rows.get(spec.within) if spec.within else None
    if spec.within and (parent is None or not parent.ok or parent.status == "not_checked"):
        row = CheckRow(
            name,
            "blocked",
            not_tried(smap, name),
            note=f"not looked for: its container {spec.within} did not match",
        )
        rows[name] = row
        return row
    progress(f"waiting up to {timeout_s:g}s for {name}")
    try:
        await resolver.resolve(name, timeout_s=timeout_s, quiet=True)
    except SelectorError as exc:
        tried = tuple(Tried(c, r) for c, r in exc.tried)
        row = CheckRow(name, "missing", tried, note="no candidate matched exactly one element")
    except PlaywrightError as exc:
        row = CheckRow(name, "missing", not_tried(smap, name), note=first_line(exc))
    else:
        matched = resolver.matched[name]
        first = spec.candidates[0].describe()
        if any(name == other.within for other in smap.elements.values()):
            await resolver.pin(name)
        row = CheckRow(
            name,
            "first" if matched == first else "fallback",
            await _own_candidates(resolver, name),
            matched,
            "" if matched == first else "matched by a fallback: the page changed",
        )
    rows[name] = row
    return row


async def probe_block(
    resolver: Resolver, timeout_s: float, progress: Progress
) -> dict[str, CheckRow]:
    """Every element of the two tabs, in the page's order (each tab clicked when it matched)."""
    rows: dict[str, CheckRow] = {}
    wait = timeout_s

    async def look(name: str) -> CheckRow:
        nonlocal wait
        row = await probe(resolver, name, wait, rows, progress)
        if row.status == "missing":
            wait = min(wait, _SETTLED_WAIT_S)
        return row

    for form in (VerifyTab(resolver), ResendTab(resolver)):
        tab = await look(form.tab_element)
        if tab.ok:
            await (await resolver.resolve(form.tab_element)).click()
        for name in (form.card_element, *(e for _, e in form.fields), form.submit_element):
            await look(name)
    return rows
