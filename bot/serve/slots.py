"""How many runs one ``icpbot serve`` process works on at once: runs working, runs waiting for
a person at their security check, browser pages in all (:class:`Limits`), counted on the loop
(:class:`Slots`).

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
    #: browser pages open at once, of either kind (None: ``parallel + at_check``)
    pages: int | None = None

    @property
    def most_pages(self) -> int:
        return self.pages if self.pages is not None else self.parallel + self.at_check


class Slots:
    """The :class:`Limits`, counted on the loop."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.working = 0
        self.at_check = 0
        self.changed = asyncio.Event()

    @property
    def pages(self) -> int:
        return self.working + self.at_check

    def free(self) -> bool:
        """Whether one more run may start now."""
        return self.working < self.limits.parallel and self.pages < self.limits.most_pages

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
