"""A warm page: the site's SMS page opened and its known fields filled before the run exists, so
that the run (:meth:`bot.run.scenario_run.ScenarioRun.open`, through ``RunOptions.adopt_page``)
only types the code and clicks.

A warm page is only a page. Its context has the submission gate installed before the page
exists, as every run's does, and the gate is never armed here: nothing can leave it. Loading the
page is not a submission, so the site's pacing does not apply; the run that adopts the page
claims the person in the ledger (its guard) before it, and the gate's release (pacing, the
fence, the ledger's "sent" mark) stays where it is. No evidence is recorded for the warm part
(no trace, no HAR: the adopting run starts its trace; a run asked for a HAR opens its own page),
and nothing of it is written anywhere: if the process dies, a browser page is all that is lost.
"""

from __future__ import annotations

from playwright.async_api import Browser
from playwright.async_api import Error as PlaywrightError

from bot import defaults
from bot.config.scenario import Inputs
from bot.config.selector_map import SelectorMap
from bot.errors import BotError, first_line
from bot.page.forms import form_for
from bot.page.frontdoor import DocumentWatch, reach_sms_block
from bot.page.locate import Resolver
from bot.privacy import logger
from bot.run.session import Session, open_session
from bot.run.signals import finish_shielded
from bot.types import Action

__all__ = ["WarmFailed", "open_warm_page"]


class WarmFailed(BotError):
    """The page could not be opened and filled ahead of its run (the run opens its own)."""


async def open_warm_page(
    browser: Browser,
    smap: SelectorMap,
    base_url: str,
    action: Action,
    inputs: Inputs,
    timeout_s: float,
    viewport: tuple[int, int] = defaults.VIEWPORT,
) -> Session:
    """A new guarded context with the SMS page open, the action's tab selected and the fields
    known now (``inputs`` without the code) filled. Raises :class:`WarmFailed` (the context
    closed) when the page does not come as a run needs it."""
    session = await open_session(browser, smap, base_url, timeout_s, viewport=viewport)
    try:
        documents = DocumentWatch(session.page)
        resolver = Resolver(session.page, smap, timeout_s)
        try:
            await session.goto(timeout_s)
        except PlaywrightError as exc:
            if documents.count == 0:
                raise WarmFailed(f"the page did not load: {first_line(exc)}") from None
        problem = await reach_sms_block(resolver, documents, session.url, timeout_s)
        if problem is not None:
            raise WarmFailed(f"the SMS block did not show: {problem.status}")
        form = form_for(action, resolver)
        await form.select()
        await form.prefill(inputs)
    except WarmFailed:
        await finish_shielded(_close(session))
        raise
    except Exception as exc:  # the page's or the browser's: the run opens its own page
        await finish_shielded(_close(session))
        raise WarmFailed(first_line(exc) or type(exc).__name__) from None
    except BaseException:  # cancelled (the service stops): the page goes with it
        await finish_shielded(_close(session))
        raise
    logger.debug("a warm page is open")
    return session


async def _close(session: Session) -> None:
    try:
        await session.context.close()
    except PlaywrightError as exc:
        logger.debug("closing a warm page: {}", first_line(exc))
