"""Pacing submissions to one site: at most so many in flight at once, and so many seconds apart.

The selector map's ``pacing`` says what the site allows (the real MIIT site bans an address for
minutes after bursts). Only the submission request is paced, where it leaves: the submission gate
(:mod:`bot.safety.gate`) asks for a :class:`Slot` when the page's one request reaches it, after
the security check, so a person working at the check holds nothing and any number of runs can be
at their checks at once. The slot is stamped when the request leaves, stamped again when its reply
is in (the site has the request by then, whatever the network's delay: the site sees submissions
at least the interval apart), and freed then, or when the run ended, whichever way. Waiting has a
deadline (:class:`~bot.errors.PacingTimeout`).

A base URL on this machine (the mock) is not paced unless asked (``loopback``: benchmarks and
tests of the pacing itself), and ``--ignore-site-pacing`` lifts the limits for a staging copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from urllib.parse import urlparse

from bot.config.selector_models import Pacing
from bot.errors import PacingTimeout

__all__ = ["Pacer", "Pacers", "Slot", "Waiting", "is_local", "site_key"]

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}

#: told the seconds left while a submission waits for the site's pacing (once per change)
Waiting = Callable[[float], None]


def is_local(base_url: str) -> bool:
    """A base URL on this machine: the mock, which needs no pacing."""
    return (urlparse(base_url).hostname or "") in _LOCAL_HOSTS


def site_key(site: str, base_url: str) -> str:
    return f"{site}@{urlparse(base_url).netloc}"


class Slot(ABC):
    """One submission's place in the site's pacing, from its release until its reply."""

    @abstractmethod
    async def stamp(self) -> None:
        """The request leaves now: the next submission starts no sooner than the interval
        after this moment."""

    @abstractmethod
    async def release(self) -> None:
        """Free the place (the reply is in, or the run ended). Idempotent; never raises for a
        place already freed."""


class Pacer:
    """The submissions of one site, for the runs of one event loop: :meth:`acquire` waits until
    a submission may leave (a free place and the interval since the last one), up to a deadline.
    A run that waits lets the others go on; it wakes when a place is freed or the interval has
    passed."""

    def __init__(self, pacing: Pacing) -> None:
        self.pacing = pacing
        self._free = pacing.max_parallel  # places left; None: no limit on submissions in flight
        self._last = float("-inf")  # monotonic time of the last submission (granted or left)
        self._changed = asyncio.Condition()

    @property
    def limited(self) -> bool:
        return self.pacing.max_parallel is not None or self.pacing.min_interval_s > 0

    async def acquire(self, wait_s: float, waiting: Waiting | None = None) -> Slot:
        """A place for one submission, stamped now; raises :class:`PacingTimeout` when none
        came within ``wait_s`` seconds. ``waiting`` is told the seconds left each time the
        wait (re)starts: until the interval allows, or until the deadline while another
        submission holds the site."""
        deadline = time.monotonic() + wait_s
        async with self._changed:
            while True:
                now = time.monotonic()
                free = self._free is None or self._free > 0
                interval_left = self._last + self.pacing.min_interval_s - now
                if free and interval_left <= 0:
                    if self._free is not None:
                        self._free -= 1
                    self._last = now
                    return _LocalSlot(self, holds_place=self._free is not None)
                left = deadline - now
                if left <= 0:
                    raise PacingTimeout(wait_s)
                pause = min(left, interval_left) if free else left
                if waiting is not None:
                    waiting(pause)
                # The site's interval: a wait on purpose (a rate limit, not a page).
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), pause)

    async def mark_left(self) -> None:
        """A submission left (or its reply came) now: the interval counts from here (a
        :class:`Slot`'s stamp)."""
        async with self._changed:
            self._last = max(self._last, time.monotonic())

    async def give_back(self, holds_place: bool) -> None:
        """A submission's place is free again (a :class:`Slot`'s release)."""
        async with self._changed:
            if holds_place and self._free is not None:
                self._free += 1
            self._changed.notify_all()


class _LocalSlot(Slot):
    def __init__(self, pacer: Pacer, *, holds_place: bool) -> None:
        self.pacer = pacer
        self.holds_place = holds_place
        self.freed = False

    async def stamp(self) -> None:
        await self.pacer.mark_left()

    async def release(self) -> None:
        if self.freed:
            return
        self.freed = True
        await self.pacer.give_back(self.holds_place)


class Pacers:
    """One :class:`Pacer` per site and host, for one invocation."""

    def __init__(self, *, ignore: bool = False, loopback: bool = False) -> None:
        self.ignore = ignore
        #: pace a site on this machine too (the mock: benchmarks and tests of the pacing)
        self.loopback = loopback
        self._by_key: dict[str, Pacer] = {}

    def applies(self, base_url: str) -> bool:
        """Whether submissions to ``base_url`` are paced at all."""
        return not self.ignore and (self.loopback or not is_local(base_url))

    def for_site(self, site: str, base_url: str, pacing: Pacing) -> Pacer | None:
        """The pacer of a site, or None when nothing limits it (the mock, the flag, no map)."""
        if not self.applies(base_url):
            return None
        pacer = Pacer(pacing)
        if not pacer.limited:
            return None
        return self._by_key.setdefault(site_key(site, base_url), pacer)
