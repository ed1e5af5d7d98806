"""A browser session for one run or one check: a fresh context with the submission gate and the
session watch installed before the page exists, then the SMS page opened.

``icpbot run`` and ``icpbot check-selectors`` share it, so the page path is written once and a
check can never send a form: its gate is never armed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlparse

from playwright.async_api import Browser, BrowserContext, Page, Response

from bot import defaults
from bot.config.selector_map import SelectorMap
from bot.safety.gate import AuthWatch, SubmissionGate

__all__ = ["Session", "open_session"]


@dataclass
class Session:
    context: BrowserContext
    page: Page
    gate: SubmissionGate
    auth: AuthWatch
    url: str

    def known_request(self, url: str) -> bool:
        """A request the gate or the session watch handles (not an unknown endpoint)."""
        return self.gate.matches(url) or urlparse(url).path.endswith(self.auth.suffix)

    async def goto(self, timeout_s: float) -> Response | None:
        """Open the SMS page; the caller judges the document response (firewall, HTTP errors)."""
        return await self.page.goto(
            self.url, wait_until="domcontentloaded", timeout=timeout_s * 1000
        )


async def open_session(
    browser: Browser,
    smap: SelectorMap,
    base_url: str,
    timeout_s: float,
    context_options: dict[str, Any] | None = None,
    on_context: Callable[[BrowserContext], Awaitable[None]] | None = None,
    viewport: tuple[int, int] = defaults.VIEWPORT,
) -> Session:
    """A new context and page, guarded: the gate refuses every submission until armed.

    ``viewport`` (width, height in CSS pixels): ``icpbot serve`` asks for a smaller one than the
    command line's (:data:`bot.defaults.SERVE_VIEWPORT`: memory per waiting run)."""
    width, height = viewport
    context = await browser.new_context(
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport={"width": width, "height": height},
        **(context_options or {}),
    )
    context.set_default_timeout(timeout_s * 1000)
    gate = SubmissionGate(
        endpoint_suffixes=[smap.endpoints.verify, smap.endpoints.resend], timeout_s=timeout_s
    )
    auth = AuthWatch(smap.endpoints.auth, timeout_s=timeout_s)
    # All in place before the page exists (tracing, the gate, the session watch); independent
    # of each other, so their round trips to the browser overlap.
    await asyncio.gather(
        gate.install(context),
        auth.install(context),
        *([on_context(context)] if on_context is not None else []),
    )
    page = await context.new_page()
    return Session(context, page, gate, auth, urljoin(base_url, smap.route))
