"""How many runs one ``icpbot serve`` process works on at once: runs working, runs waiting for
a person at their security check, warm pages (a customer's link opened, no run yet), browser
pages in all (:class:`Limits`), counted on the loop (:class:`Slots`).

A run whose security check opens gives its working slot to the next run (if a place among the
runs at their checks is free): a customer who is slow at the check, or never comes, holds up
nobody. Once its check is passed it works again at once, even above ``parallel`` for a moment:
the site is waiting for its request.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

__all__ = ["Limits", "Slots"]


@dataclass(frozen=True)
class Limits:
    """How many runs one process works on at once (``icpbot serve --parallel``,
    ``--at-check``, ``--max-pages``)."""

    #: runs working (loading, filling, submitting): the browser's and the machine's work
    parallel: int = 4
    #: besides those, runs waiting for a person at their security check
    at_check: int = 8
    #: browser pages open at once, of any kind (None: ``parallel + at_check``)
    pages: int | None = None
    #: of those, warm pages: a customer's link opened, its site's page loaded and filled
    #: before Verify (:mod:`bot.serve.warm`); 0: none
    warm: int = 2
    #: a warm page not used for this long is closed
    warm_idle_s: float = 180.0

    @property
    def most_pages(self) -> int:
        return self.pages if self.pages is not None else self.parallel + self.at_check


class Slots:
    """The :class:`Limits`, counted on the loop."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.working = 0
        self.at_check = 0
        self.warm = 0  # warm pages open (or opening), no run yet
        self.changed = asyncio.Event()

    @property
    def runs(self) -> int:
        return self.working + self.at_check

    @property
    def pages(self) -> int:
        return self.runs + self.warm

    def free(self) -> bool:
        """Whether one more run may start now (a warm page gives way to it: the worker
        closes one when the pages are over the limit, :meth:`over`)."""
        return self.working < self.limits.parallel and self.runs < self.limits.most_pages

    def over(self) -> bool:
        """More pages open than ``--max-pages`` (a run started while warm pages were open)."""
        return self.pages > self.limits.most_pages

    def warm_free(self) -> bool:
        """Whether one more warm page may open now: under its own cap and within the pages."""
        return self.warm < self.limits.warm and self.pages < self.limits.most_pages

    async def wait_free(self) -> None:
        while not self.free():
            self.changed.clear()
            await self.changed.wait()

    def start(self) -> None:
        self.working += 1

    def to_check(self) -> bool:
        """A run's check opened: it gives up its working slot, if a place at the checks is
        free (else it keeps the slot while it waits). Whether it moved."""
        if self.at_check >= self.limits.at_check:
            return False
        self.working -= 1
        self.at_check += 1
        self.changed.set()
        return True

    def from_check(self) -> None:
        """Its check passed: it works again (at once: the site is waiting for its request)."""
        self.at_check -= 1
        self.working += 1

    def end(self, *, at_check: bool) -> None:
        if at_check:
            self.at_check -= 1
        else:
            self.working -= 1
        self.changed.set()
