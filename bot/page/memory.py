"""Memory a page gives back while it only waits for a person at its security check.

A run of ``icpbot serve`` may wait minutes at its check, and twenty may wait at once, each with
a renderer of its own (a browser context per run). Once the check shows, nothing of the page's
past is needed again: its JavaScript garbage, the caches of decoded images, fonts and compiled
code are rebuilt on demand. :func:`shed_memory` asks Chromium, through the DevTools protocol
(Playwright's public ``BrowserContext.new_cdp_session``), for a full garbage collection and a
critical memory-pressure signal, as an operating system short of memory would send. The page
stays as it is: the check's picture, its timers and its input are untouched (docs/memory.md has
the figures).
"""

from __future__ import annotations

from contextlib import suppress

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from bot.errors import first_line
from bot.privacy import logger

__all__ = ["shed_memory"]


async def shed_memory(page: Page) -> bool:
    """Collect the page's garbage and signal critical memory pressure; False when the browser
    would not (a browser without the DevTools protocol, a page that closed meanwhile): the page
    is then as it was, and the run goes on either way."""
    try:
        cdp = await page.context.new_cdp_session(page)
    except PlaywrightError as exc:
        logger.debug("no memory given back: {}", first_line(exc))
        return False
    try:
        await cdp.send("HeapProfiler.collectGarbage")
        await cdp.send("Memory.simulatePressureNotification", {"level": "critical"})
    except PlaywrightError as exc:
        logger.debug("no memory given back: {}", first_line(exc))
        return False
    finally:
        with suppress(PlaywrightError):  # the page (and its session) is gone already
            await cdp.detach()
    return True
