"""Through the site's front door to the SMS block, as a person's browser gets there.

The real site sits behind a CDN and web firewall (``../shared/domain.md``, "The front door"). A
fresh browser may first get a JavaScript challenge (HTTP 521, or another status, with a script
that sets a cookie and loads the page again, dropping the ``#/…`` route), a block page, or a rate
limit. So the run waits for the SMS block itself, not for the first response: a challenge passes
by itself, a dropped route is opened again, and a firewall page (recognised by the selector map's
``front_door`` texts) ends the run with nothing filled.
"""

from __future__ import annotations

import time
from contextlib import suppress
from dataclasses import dataclass
from urllib.parse import urldefrag

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Response
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from bot.outcome import verdicts
from bot.outcome.model import Outcome
from bot.page import readers
from bot.page.locate import Resolver
from bot.privacy import in_current_run, logger

__all__ = ["DocumentWatch", "reach_sms_block"]

_SLICE_MS = 250
#: How long an error page may take to show that it is a challenge (it navigates at once).
_CHALLENGE_GRACE_S = 5.0
#: How often the route is opened again after a reload dropped it.
_MAX_REOPEN = 3
_BLOCK = ("verify_tab", "resend_tab", "verify_card", "resend_card")


@dataclass
class DocumentWatch:
    """The main frame's document responses (the challenge, the reload, the real page)."""

    page: Page
    status: int | None = None
    count: int = 0
    at: float = 0.0

    def __post_init__(self) -> None:
        self.page.on("response", in_current_run(self._on_response))

    def _on_response(self, response: Response) -> None:
        with suppress(PlaywrightError):
            if (
                response.request.resource_type == "document"
                and response.frame == self.page.main_frame
            ):
                self.status = response.status
                self.count += 1
                self.at = time.monotonic()


async def reach_sms_block(
    resolver: Resolver, documents: DocumentWatch, url: str, timeout_s: float
) -> Outcome | None:
    """Wait, up to ``timeout_s``, until the SMS block shows; None once it does (or when only the
    map can tell what is wrong: the caller's lookups then report a changed page)."""
    page, smap = resolver.page, resolver.smap
    names = [n for n in _BLOCK if n in smap.elements]
    union = resolver.any_of(names[0])
    for name in names[1:]:
        union = union.or_(resolver.any_of(name))
    deadline = time.monotonic() + timeout_s
    reopened = 0
    while True:
        with suppress(PlaywrightError):
            if await union.filter(visible=True).count() > 0:
                return None
        text = await readers.body_text(page, limit=2000)
        kind = smap.front_door.barrier(text, documents.status)
        if kind is not None:
            return verdicts.barrier(kind, "page", http_status=documents.status, page_text=text)
        status = documents.status or 0
        now = time.monotonic()
        if status >= 400 and now - documents.at > min(_CHALLENGE_GRACE_S, timeout_s):
            # An error page that did not move on by itself is the site's answer, not a challenge.
            return verdicts.document_error(status, text)
        if now >= deadline:
            return verdicts.document_error(status, text) if status >= 400 else None
        if (
            status
            and status < 400
            and not _on_route(page.url, smap.route)
            and reopened < _MAX_REOPEN
        ):
            # A challenge's reload drops the #/… route: open the SMS page again, as a person would.
            reopened += 1
            logger.info("the page came back without its route; opening {} again", smap.route)
            with suppress(PlaywrightError):
                await page.goto(
                    url, wait_until="domcontentloaded", timeout=max(0.1, deadline - now) * 1000
                )
            continue
        with suppress(PlaywrightTimeoutError):
            await union.filter(visible=True).first.wait_for(state="attached", timeout=_SLICE_MS)


def _on_route(current: str, route: str) -> bool:
    """Whether the page's URL is on the route (a hash route such as ``#/Integrated/index``)."""
    if route.startswith("#"):
        return urldefrag(current).fragment.startswith(route[1:])
    return route in current
