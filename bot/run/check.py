"""``icpbot check-selectors``: open the page as a run does and report each element's match.

It uses the run's own session (a fresh context with the submission gate installed and never
armed, so nothing can be sent), the front door as a run passes it, the run's page objects
(:mod:`bot.page.forms`) for which elements make up each tab, and the run's resolver.

Each element is reported once, with its own candidates: which one matched, whether that was a
fallback (a later candidate: the page changed), or what every candidate found. An element whose
container did not match is not looked for (the container's row says why). The elements that only
show after 提交 (banner, error toast, security check, field messages) are rendered and checked on
a mock or a replay served by icpbot (:mod:`bot.run.check_answers`); on any other site they are
reported as not checked.

Exit codes (for a scheduled job): :data:`EXIT_OK` every element matched its first candidate,
:data:`EXIT_FALLBACKS` all matched but some only by a fallback, :data:`EXIT_MISMATCH` the page
does not match the map. A page that the firewall blocked exits with that outcome's code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from playwright.sync_api import Browser
from playwright.sync_api import Error as PlaywrightError

from bot import defaults
from bot.config.selector_map import SelectorMap, find_selector_map, load_selector_map
from bot.errors import SelectorError, first_line
from bot.page.browser import LazyBrowser
from bot.page.forms import ResendTab, VerifyTab
from bot.page.frontdoor import DocumentWatch, reach_sms_block
from bot.page.locate import Resolver, candidate_locator
from bot.run.check_answers import AFTER_SUBMIT, check_answers, served_by_icpbot
from bot.run.session import open_session
from bot.types import Category

__all__ = [
    "EXIT_FALLBACKS",
    "EXIT_MISMATCH",
    "EXIT_OK",
    "CheckReport",
    "CheckRow",
    "Progress",
    "Tried",
    "check_selectors",
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
    #: set when the front door (firewall, rate limit) answered instead of the page
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


def _own_candidates(resolver: Resolver, name: str) -> tuple[Tried, ...]:
    """What each of the element's candidates finds right now, in its (pinned) container."""
    spec = resolver.smap.element(name)
    scope: Any = resolver.pinned.get(spec.within or "", resolver.page)
    out = []
    for cand in spec.candidates:
        try:
            count = candidate_locator(scope, cand).filter(visible=True).count()
            out.append(Tried(cand.describe(), f"{count} visible"))
        except PlaywrightError as exc:
            out.append(Tried(cand.describe(), f"error: {first_line(exc)}"))
    return tuple(out)


def not_tried(smap: SelectorMap, name: str) -> tuple[Tried, ...]:
    return tuple(Tried(c.describe(), "not tried") for c in smap.element(name).candidates)


def probe(
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
        resolver.resolve(name, timeout_s=timeout_s, quiet=True)
    except SelectorError as exc:
        tried = tuple(Tried(c, r) for c, r in exc.tried)
        row = CheckRow(name, "missing", tried, note="no candidate matched exactly one element")
    except PlaywrightError as exc:
        row = CheckRow(name, "missing", not_tried(smap, name), note=first_line(exc))
    else:
        matched = resolver.matched[name]
        first = spec.candidates[0].describe()
        if any(name == other.within for other in smap.elements.values()):
            resolver.pin(name)
        row = CheckRow(
            name,
            "first" if matched == first else "fallback",
            _own_candidates(resolver, name),
            matched,
            "" if matched == first else "matched by a fallback: the page changed",
        )
    rows[name] = row
    return row


def probe_block(resolver: Resolver, timeout_s: float, progress: Progress) -> dict[str, CheckRow]:
    """Every element of the two tabs, in the page's order (each tab clicked when it matched)."""
    rows: dict[str, CheckRow] = {}
    wait = timeout_s

    def look(name: str) -> CheckRow:
        nonlocal wait
        row = probe(resolver, name, wait, rows, progress)
        if row.status == "missing":
            wait = min(wait, _SETTLED_WAIT_S)
        return row

    for form in (VerifyTab(resolver), ResendTab(resolver)):
        tab = look(form.tab_element)
        if tab.ok:
            resolver.resolve(form.tab_element).click()
        for name in (form.card_element, *(e for _, e in form.fields), form.submit_element):
            look(name)
    return rows


def _check_page(
    browser: Browser,
    smap: SelectorMap,
    base_url: str,
    timeout_s: float,
    progress: Progress,
) -> CheckReport:
    report = CheckReport(base_url)
    session = open_session(browser, smap, base_url, timeout_s)
    try:
        capability = served_by_icpbot(session.context, base_url)
        if capability is not None:
            report.target = str(capability.get("icpbot"))
        documents = DocumentWatch(session.page)
        progress(f"opening {session.url}")
        try:
            response = session.goto(timeout_s)
        except PlaywrightError as exc:
            report.page_detail = f"did not load: {first_line(exc)}"
            return report
        resolver = Resolver(session.page, smap, timeout_s)
        progress(f"waiting up to {timeout_s:g}s for the SMS block (front door included)")
        barrier = reach_sms_block(resolver, documents, session.url, timeout_s)
        status = documents.status or (response.status if response else 0)
        if barrier is not None:
            report.page_detail = f"HTTP {status}: {barrier.message}"
            report.page_exit_code = barrier.exit_code
            return report
        report.page_ok = status < 400
        report.page_detail = f"HTTP {status}"
        rows = probe_block(resolver, timeout_s, progress)
        answers = [n for n in smap.elements if n in AFTER_SUBMIT]
        if capability is None:
            for name in answers:
                rows[name] = CheckRow(
                    name,
                    "not_checked",
                    not_tried(smap, name),
                    note="not checked (only on the mock or a replay)",
                )
        else:
            check_answers(session, resolver, capability, rows, answers, timeout_s, progress)
        report.rows = [rows[n] for n in rows]
        return report
    finally:
        session.context.close()


def check_selectors(
    base_url: str,
    *,
    site: str = defaults.SITE,
    selectors: Path | None = None,
    timeout_s: float = defaults.CHECK_TIMEOUT_S,
    headed: bool = False,
    browser: str | None = None,
    lent: Browser | None = None,
    progress: Progress | None = None,
    connect: str | None = None,
    expose_network: str | None = None,
) -> CheckReport:
    """One row per element of the map, in the page's order. Submits nothing.

    ``lent`` is a browser to use (left open); otherwise one is launched and closed here.
    ``progress`` receives a line before each wait (the CLI prints them on stderr).
    """
    smap = load_selector_map(selectors or find_selector_map(site))
    say = progress or (lambda _line: None)
    started = time.monotonic()
    if lent is not None:
        report = _check_page(lent, smap, base_url, timeout_s, say)
    else:
        pool = LazyBrowser(browser, headed=headed, connect=connect, expose_network=expose_network)
        try:
            report = _check_page(pool(), smap, base_url, timeout_s, say)
        finally:
            pool.close()
    say(f"done in {time.monotonic() - started:.1f}s")
    return report
