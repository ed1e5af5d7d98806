"""Turning selector-map elements into Playwright locators, with ordered fallbacks.

For each element the candidates are tried in map order; the first that matches exactly one visible
element wins and is logged. ``within`` scopes an element to its container (a field inside its tab
card), resolved the same way first. When no candidate matches, :class:`bot.errors.SelectorError`
names the element and what every candidate found.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, cast

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator, Page
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from bot.config.selector_map import Candidate, SelectorMap, Strategy
from bot.errors import SelectorError, first_line
from bot.privacy import logger

__all__ = ["Resolver", "candidate_locator"]

# One animation frame: Vue applies v-show and re-renders on the next tick, so an ambiguous or empty
# match is re-checked once the page has painted again, never after a fixed delay.
_MAX_AMBIGUOUS_ROUNDS = 30  # about half a second of frames: a stable ambiguity is a map problem
_NEXT_FRAME = "() => new Promise(resolve => requestAnimationFrame(() => resolve(true)))"


def _text_arg(candidate: Candidate) -> str | re.Pattern[str]:
    return re.compile(candidate.regex) if candidate.regex else cast(str, candidate.value)


def candidate_locator(scope: Page | Locator, candidate: Candidate) -> Locator:
    """The Playwright locator a candidate describes, inside ``scope``."""
    strategy = candidate.strategy
    if strategy is Strategy.role:
        kwargs: dict[str, Any] = {}
        if candidate.name is not None:
            kwargs["name"] = candidate.name
            kwargs["exact"] = candidate.exact
        loc = scope.get_by_role(cast(Any, candidate.value), **kwargs)
    elif strategy is Strategy.placeholder:
        arg = _text_arg(candidate)
        loc = scope.get_by_placeholder(arg, exact=candidate.exact if isinstance(arg, str) else None)
    elif strategy is Strategy.text:
        arg = _text_arg(candidate)
        loc = scope.get_by_text(arg, exact=candidate.exact if isinstance(arg, str) else None)
    else:
        loc = scope.locator(cast(str, candidate.value))
    if candidate.has_text:
        loc = loc.filter(has_text=candidate.has_text)
    return loc


@dataclass
class Resolver:
    """Resolves map elements on one page and remembers which candidate matched each."""

    page: Page
    smap: SelectorMap
    timeout_s: float
    matched: dict[str, str] = field(default_factory=dict)
    pinned: dict[str, Locator] = field(default_factory=dict)
    #: one line per fallback to a later candidate (a sign that the page changed)
    fallbacks: list[str] = field(default_factory=list)

    async def pin(self, name: str) -> Locator:
        """Resolve a container once and reuse it as the scope of the elements ``within`` it,
        until the next :meth:`pin` (a form's fields then cost one lookup each)."""
        return self.keep(name, await self.resolve(name))

    def keep(self, name: str, found: Locator) -> Locator:
        """Pin ``found``, the element ``name`` resolved already (see :meth:`pin`)."""
        self.pinned = {name: found}
        return found

    async def scope_of(self, name: str, deadline: float) -> Page | Locator:
        spec = self.smap.element(name)
        if spec.within:
            pinned = self.pinned.get(spec.within)
            return pinned if pinned is not None else await self._resolve(spec.within, deadline)
        return self.page

    async def resolve(
        self, name: str, *, timeout_s: float | None = None, quiet: bool = False
    ) -> Locator:
        """The one visible element for ``name``; waits up to the timeout for the page to show it.

        ``quiet``: a miss is expected and handled by the caller, so it is not logged as an error.
        """
        deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        return await self._resolve(name, deadline, quiet=quiet)

    async def present(self, name: str) -> Locator | None:
        """The element if it is visible right now (no waiting), else None. Never raises."""
        try:
            return await self._resolve(name, time.monotonic(), quiet=True)
        except (SelectorError, PlaywrightError):
            return None

    async def visible(self, name: str) -> Locator | None:
        """Every visible match of any candidate of ``name`` right now (no waiting), or None.

        For things that may show more than once: stacked error toasts, a message under each of
        several fields. Never raises.
        """
        loc = self.any_of(name).filter(visible=True)
        try:
            return loc if await loc.count() > 0 else None
        except PlaywrightError:
            return None

    def any_of(self, name: str) -> Locator:
        """A locator matching any candidate of ``name`` (for waiting on several things at once)."""
        spec = self.smap.element(name)
        scope: Page | Locator = self.page
        if spec.within:
            parent = self.smap.element(spec.within)
            scope = self._union(self.page, parent.candidates)
        return self._union(scope, spec.candidates)

    def _union(self, scope: Page | Locator, candidates: tuple[Candidate, ...]) -> Locator:
        locs = [candidate_locator(scope, c) for c in candidates]
        union = locs[0]
        for loc in locs[1:]:
            union = union.or_(loc)
        return union

    async def _try_once(
        self, scope: Page | Locator, name: str
    ) -> tuple[Locator | None, list[tuple[str, str]]]:
        spec = self.smap.element(name)
        tried: list[tuple[str, str]] = []
        for candidate in spec.candidates:
            loc = candidate_locator(scope, candidate).filter(visible=True)
            try:
                count = await loc.count()
            except PlaywrightError as exc:
                tried.append((candidate.describe(), f"error: {first_line(exc)}"))
                continue
            if count == 1:
                return loc, [*tried, (candidate.describe(), "1 visible")]
            tried.append((candidate.describe(), f"{count} visible"))
        return None, tried

    async def _resolve(self, name: str, deadline: float, *, quiet: bool = False) -> Locator:
        scope = await self.scope_of(name, deadline)
        spec = self.smap.element(name)
        ambiguous_rounds = 0
        while True:
            loc, tried = await self._try_once(scope, name)
            if loc is not None and len(tried) > 1:
                # The page may have shown the element while the earlier candidates were being
                # tried (a banner appearing): a fallback counts only if they still fail now.
                loc, tried = await self._try_once(scope, name)
            if loc is not None:
                desc = tried[-1][0]
                if self.matched.get(name) != desc:
                    if len(tried) > 1:
                        warning = (
                            f"{name}: fell back to candidate {desc} "
                            f"({len(tried) - 1} earlier did not match)"
                        )
                        self.fallbacks.append(warning)
                        logger.warning(warning)
                    else:
                        logger.debug("{}: matched {}", name, desc)
                    self.matched[name] = desc
                return loc
            remaining = deadline - time.monotonic()
            if remaining <= 0 or ambiguous_rounds >= _MAX_AMBIGUOUS_ROUNDS:
                if not quiet:
                    logger.error("{}: no candidate matched exactly one visible element", name)
                raise SelectorError(name, tried)
            union = self._union(scope, spec.candidates).filter(visible=True)
            try:
                if await union.count() == 0:
                    await union.first.wait_for(state="visible", timeout=remaining * 1000)
                else:
                    # Something is visible but not exactly one: give the page one more frame.
                    ambiguous_rounds += 1
                    await self.page.wait_for_function(_NEXT_FRAME, timeout=remaining * 1000)
            except PlaywrightTimeoutError:
                continue
