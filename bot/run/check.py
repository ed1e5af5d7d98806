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
does not match the map. A page that did not load, or that the firewall blocked instead, exits
with that outcome's code (22).
"""

from __future__ import annotations

import time
from contextlib import suppress
from pathlib import Path

from playwright.async_api import Browser
from playwright.async_api import Error as PlaywrightError

from bot import defaults
from bot.config.selector_map import SelectorMap, find_selector_map, load_selector_map
from bot.errors import first_line
from bot.page.browser import LazyBrowser, browser_for
from bot.page.frontdoor import DocumentWatch, reach_sms_block
from bot.page.locate import Resolver
from bot.run.check_answers import AFTER_SUBMIT, check_answers, served_by_icpbot
from bot.run.check_rows import (
    CheckReport,
    CheckRow,
    Progress,
    not_tried,
    probe_block,
)
from bot.run.session import open_session
from bot.types import Category

__all__ = ["check_selectors"]


async def _check_page(
    browser: Browser,
    smap: SelectorMap,
    base_url: str,
    timeout_s: float,
    progress: Progress,
) -> CheckReport:
    report = CheckReport(base_url)
    session = await open_session(browser, smap, base_url, timeout_s)
    try:
        capability = await served_by_icpbot(session.context, base_url)
        if capability is not None:
            report.target = str(capability.get("icpbot"))
        documents = DocumentWatch(session.page)
        progress(f"opening {session.url}")
        try:
            response = await session.goto(timeout_s)
        except PlaywrightError as exc:
            # A site that is down has not changed: not the "does not match" of a redesign.
            report.page_detail = f"did not load: {first_line(exc)}"
            report.page_exit_code = Category.site_error.exit_code
            return report
        resolver = Resolver(session.page, smap, timeout_s)
        progress(f"waiting up to {timeout_s:g}s for the SMS block (front door included)")
        barrier = await reach_sms_block(resolver, documents, session.url, timeout_s)
        status = documents.status or (response.status if response else 0)
        if barrier is not None:
            report.page_detail = f"HTTP {status}: {barrier.message}"
            report.page_exit_code = barrier.exit_code
            return report
        report.page_ok = status < 400
        report.page_detail = f"HTTP {status}"
        rows = await probe_block(resolver, timeout_s, progress)
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
            await check_answers(session, resolver, capability, rows, answers, timeout_s, progress)
        report.rows = [rows[n] for n in rows]
        return report
    finally:
        with suppress(PlaywrightError):
            await session.context.close()


async def check_selectors(
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
    launcher = LazyBrowser(browser, headed=headed, connect=connect, expose_network=expose_network)
    async with browser_for(lent, launcher) as chromium:
        report = await _check_page(chromium, smap, base_url, timeout_s, say)
    say(f"done in {time.monotonic() - started:.1f}s")
    return report
