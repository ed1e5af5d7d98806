"""``icpbot check-selectors``: open the page and report each element's match, submitting nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

from playwright.sync_api import Error as PlaywrightError

from bot.config.selector_map import SelectorMap, find_selector_map, load_selector_map
from bot.errors import SelectorError, first_line
from bot.page.browser import LazyBrowser
from bot.page.locate import Resolver

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


def check_selectors(
    base_url: str,
    *,
    site: str = "miit",
    selectors: Path | None = None,
    timeout_s: float = 15.0,
    headed: bool = False,
    browser: str | None = None,
) -> list[CheckRow]:
    smap: SelectorMap = load_selector_map(selectors or find_selector_map(site))
    rows: list[CheckRow] = []
    pool = LazyBrowser(browser, headed=headed)
    try:
        context = pool().new_context(locale="zh-CN")
        try:
            page = context.new_page()
            # Block the submission endpoints outright: this command must never send anything.
            page.route(
                lambda url: any(
                    url.split("?")[0].endswith(s)
                    for s in (smap.endpoints.verify, smap.endpoints.resend)
                ),
                lambda route: route.abort("blockedbyclient"),
            )
            try:
                response = page.goto(
                    urljoin(base_url, smap.route),
                    wait_until="domcontentloaded",
                    timeout=timeout_s * 1000,
                )
            except PlaywrightError as exc:
                return [CheckRow("page", False, f"did not load: {first_line(exc)}")]
            status = response.status if response else 0
            rows.append(CheckRow("page", status < 400, f"HTTP {status}"))
            resolver = Resolver(page, smap, timeout_s)
            for tab, names in (
                (
                    "verify_tab",
                    [
                        "verify_card",
                        "verify_code",
                        "verify_mobile",
                        "verify_id_last6",
                        "verify_submit",
                    ],
                ),
                (
                    "resend_tab",
                    ["resend_card", "resend_mobile", "resend_id_last6", "resend_submit"],
                ),
            ):
                row = _check(resolver, tab, timeout_s)
                rows.append(row)
                if row.ok:
                    resolver.resolve(tab).click()
                rows.extend(_check(resolver, n, timeout_s if row.ok else 0.5) for n in names)
            for name in sorted(smap.elements):
                if name in _AFTER_SUBMIT:
                    rows.append(CheckRow(name, True, "appears after a submission; not checked"))
        finally:
            context.close()
    finally:
        pool.close()
    return rows
