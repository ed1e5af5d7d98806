"""Warm pages: when a customer opens their link (its page, or its first state poll), this process
opens the site's SMS page and fills what the link knows (mobile, ID digits), so that Verify only
types the code and clicks (:mod:`bot.run.warm`, ``RunOptions.adopt_page``).

A warm page is only a page: nothing about it is in the database, its gate is never armed, and no
try is counted for it. The link's run claims the person in the ledger and goes through the gate's
release (pacing, the fence, the "sent" mark) exactly as without it; if the process dies, a
browser page is all that is lost. Loading a page is not a submission: the site's pacing does not
apply to it.

At most ``Limits.warm`` are open at once, within ``--max-pages`` (a run that starts while the
pages are full closes the oldest warm page: runs come first), one per link; a page not used for
``Limits.warm_idle_s`` is closed. It lives in the process that served the customer's request: a
run taken by another process of a fleet opens its own page, as it would without it.

The link's values are registered with the redactor in the warm page's own scope, for as long as
the page is held; the adopting run registers them in its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from playwright.async_api import Browser

from bot.config.scenario import Inputs, Scenario
from bot.config.scenario_input import register
from bot.config.selector_map import find_selector_map, load_selector_map
from bot.errors import first_line
from bot.privacy import REDACTOR, logger, reveal
from bot.run.options import RunOptions
from bot.run.session import Session
from bot.run.signals import finish_shielded
from bot.run.warm import WarmFailed, open_warm_page
from bot.serve.links import LinkRow
from bot.serve.service import Service
from bot.serve.slots import Slots
from bot.types import Action

__all__ = ["WarmPages"]


def _key(site: str, base_url: str, mobile: str, id_last6: str) -> str:
    """What a warm page was filled for (a digest: no value kept in the clear for it)."""
    return hashlib.sha256("\0".join((site, base_url, mobile, id_last6)).encode()).hexdigest()


@dataclass(eq=False)
class _Warm:
    link_id: str
    key: str
    session: Session | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # opened, or failed
    done: asyncio.Event = field(default_factory=asyncio.Event)  # adopted, or to be closed
    adopted: bool = False
    counted: bool = True  # among Slots.warm


@dataclass
class WarmPages:
    """This process's warm pages, by link (on the loop)."""

    service: Service
    slots: Slots
    options: RunOptions
    browser: Callable[[], Awaitable[Browser]]
    changed: Callable[[], None] = lambda: None
    most_links: int = 5  # tries of a link (a link with none left is not warmed)
    _pages: dict[str, _Warm] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def enabled(self) -> bool:
        return self.slots.limits.warm > 0 and not self.options.har

    def count(self) -> int:
        return len(self._pages)

    def offer(self, link: LinkRow) -> None:
        """The customer opened ``link``: warm its page if it may take a code now and a warm
        page may open (never blocks; a refusal is silent: Verify opens the page then)."""
        if not self.enabled or link.id in self._pages:
            return
        if link.revoked or link.expired or link.erased or link.busy or link.state != "open":
            return
        if link.attempts >= self.most_links or not self.slots.warm_free():
            return
        warm = _Warm(link.id, "")
        self._pages[link.id] = warm
        self.slots.warm += 1
        task = asyncio.get_running_loop().create_task(self._hold(warm, link), name="serve-warm")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _hold(self, warm: _Warm, link: LinkRow) -> None:
        """Open and fill the page, then hold it until a run adopts it or its time is over."""
        with REDACTOR.scope(shared=True):  # the link's values: masked while the page is held
            try:
                await self._open(warm, link)
                warm.ready.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(warm.done.wait(), self.slots.limits.warm_idle_s)
                if not warm.adopted:
                    logger.info("a warm page was not used in time: closed")
            except (WarmFailed, ValueError) as exc:
                logger.info("no warm page for a link: {}", first_line(exc))
            except Exception as exc:  # a bug: the link's run opens its own page
                logger.opt(exception=exc).warning("a warm page failed: {}", type(exc).__name__)
            finally:
                warm.ready.set()
                self._forget(warm)
                if not warm.adopted and warm.session is not None:
                    await finish_shielded(_close(warm.session))

    async def _open(self, warm: _Warm, link: LinkRow) -> None:
        service = self.service

        def values() -> tuple[str, str, str, str]:
            opened = service.sealer.open(link.sealed)  # ValueError: not this secret's
            site, url = service.site_and_url(None, link.base_url)
            return site, url, str(opened["mobile"]), str(opened["id"])

        site, url, mobile, id_last6 = await asyncio.to_thread(values)
        register("mobile", mobile)
        register("id_last6", id_last6)
        smap = await asyncio.to_thread(
            lambda: load_selector_map(self.options.selectors or find_selector_map(site))
        )
        warm.key = _key(site, url, mobile, id_last6)
        inputs = Inputs(mobile=mobile, id_last6=id_last6)
        browser = await self.browser()
        warm.session = await open_warm_page(
            browser,
            smap,
            url,
            Action.verify,
            inputs,
            self.options.timeout_s,
            viewport=self.options.viewport,
        )

    def _forget(self, warm: _Warm) -> None:
        if self._pages.get(warm.link_id) is warm:
            del self._pages[warm.link_id]
        if warm.counted:
            warm.counted = False
            self.slots.warm -= 1
            self.slots.changed.set()

    def adopter(self, link_id: str) -> Callable[[Scenario], Awaitable[Session | None]]:
        """The run's ``RunOptions.adopt_page``: this link's warm page, if this process holds
        one filled for the run's values (one still opening is waited for)."""

        async def adopt(scenario: Scenario) -> Session | None:
            warm = self._pages.get(link_id)
            if warm is None or warm.adopted:
                return None
            await warm.ready.wait()  # bounded: the page's own loads time out
            session = warm.session
            inputs = scenario.inputs
            key = _key(
                scenario.site, scenario.base_url, reveal(inputs.mobile), reveal(inputs.id_last6)
            )
            if (
                warm.adopted
                or warm.done.is_set()
                or session is None
                or session.page.is_closed()
                or key != warm.key
            ):
                return None
            warm.adopted = True  # no await since the check: one run has it
            self._forget(warm)
            warm.done.set()
            return session

        return adopt

    def make_room(self) -> None:
        """A run started: while the pages are over ``--max-pages``, the oldest warm pages not
        being adopted close (runs come first)."""
        for warm in list(self._pages.values()):
            if not self.slots.over():
                return
            if not warm.adopted and not warm.done.is_set():
                warm.done.set()
                self._forget(warm)

    async def close_all(self) -> None:
        for warm in list(self._pages.values()):
            warm.done.set()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task


async def _close(session: Session) -> None:
    try:
        await session.context.close()
    except Exception as exc:
        logger.debug("closing a warm page: {}", first_line(exc))
