"""``icpbot check-selectors``: open the page as a run does and report each element's match.

It uses the run's own session (a fresh context with the submission gate installed and never
armed, so nothing can be sent), the run's page objects (:mod:`bot.page.forms`) for which
elements make up each tab, and the run's resolver.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser
from playwright.sync_api import Error as PlaywrightError

from bot import defaults
from bot.config.selector_map import SelectorMap, find_selector_map, load_selector_map
from bot.errors import SelectorError, first_line
from bot.page.browser import LazyBrowser
from bot.page.forms import ResendTab, VerifyTab
from bot.page.locate import Resolver
from bot.run.session import open_session

__all__ = ["CheckRow", "check_selectors"]

# Elements that only exist after a submission: reported, not required.
_AFTER_SUBMIT = {
    "result_banner",
    "result_text",
    "error_toast",
    "error_toast_text",
    "captcha_box",
    "captcha_overlay",
    "validation_error",
}


@dataclass(frozen=True)
class CheckRow:
    element: str
    ok: bool
    detail: str


def _check(resolver: Resolver, name: str, timeout_s: float) -> CheckRow:
    try:
        resolver.resolve(name, timeout_s=timeout_s)
    except SelectorError as exc:
        tried = "; ".join(f"{c} -> {r}" for c, r in exc.tried)
        return CheckRow(name, False, f"no match: {tried}")
    return CheckRow(name, True, f"matched {resolver.matched[name]}")


def _check_page(
    browser: Browser, smap: SelectorMap, base_url: str, timeout_s: float
) -> list[CheckRow]:
    session = open_session(browser, smap, base_url, timeout_s)
    try:
        try:
            response = session.goto(timeout_s)
        except PlaywrightError as exc:
            return [CheckRow("page", False, f"did not load: {first_line(exc)}")]
        status = response.status if response else 0
        rows = [CheckRow("page", status < 400, f"HTTP {status}")]
        resolver = Resolver(session.page, smap, timeout_s)
        for form in (VerifyTab(resolver), ResendTab(resolver)):
            row = _check(resolver, form.tab_element, timeout_s)
            rows.append(row)
            if row.ok:
                resolver.resolve(form.tab_element).click()
            names = [form.card_element, *(e for _, e in form.fields), form.submit_element]
            rows.extend(_check(resolver, n, timeout_s if row.ok else 0.5) for n in names)
        rows.extend(
            CheckRow(name, True, "appears after a submission; not checked")
            for name in sorted(smap.elements)
            if name in _AFTER_SUBMIT
        )
        return rows
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
) -> list[CheckRow]:
    """One row per element of the map, in the page's order. Submits nothing.

    ``lent`` is a browser to use (left open); otherwise one is launched and closed here.
    """
    smap = load_selector_map(selectors or find_selector_map(site))
    if lent is not None:
        return _check_page(lent, smap, base_url, timeout_s)
    pool = LazyBrowser(browser, headed=headed)
    try:
        return _check_page(pool(), smap, base_url, timeout_s)
    finally:
        pool.close()
