"""Pacing submissions to one site: at most so many at once, and so many seconds between starts.

The selector map's ``pacing`` says what the site allows (the real MIIT site bans an address for
minutes after bursts). Only the submission is paced: page loads of other runs may overlap. A base
URL on this machine (the mock) is never paced, and ``--ignore-site-pacing`` lifts the limits for
a staging copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from urllib.parse import urlparse

from bot.config.selector_models import Pacing

__all__ = ["Pacer", "Pacers", "is_local", "site_key"]

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def is_local(base_url: str) -> bool:
    """A base URL on this machine: the mock, which needs no pacing."""
    return (urlparse(base_url).hostname or "") in _LOCAL_HOSTS


def site_key(site: str, base_url: str) -> str:
    return f"{site}@{urlparse(base_url).netloc}"


class Pacer:
    """The submissions of one site: :meth:`acquire` before the click, :meth:`release` once the
    reply is in (or the run ended). For the runs of one event loop: a run that waits lets the
    others go on; it wakes when a slot is released or when the interval has passed."""

    def __init__(self, pacing: Pacing) -> None:
        self.pacing = pacing
        self._free = pacing.max_parallel  # submission slots left; None: no limit
        self._last_start = float("-inf")
        self._changed = asyncio.Condition()

    @property
    def limited(self) -> bool:
        return self._free is not None or self.pacing.min_interval_s > 0

    async def acquire(self, waiting: Callable[[], None] | None = None) -> None:
        """Wait until this submission may start; ``waiting`` is called once if it must wait."""
        told = False
        async with self._changed:
            while True:
                wait = self._last_start + self.pacing.min_interval_s - time.monotonic()
                if (self._free is None or self._free > 0) and wait <= 0:
                    if self._free is not None:
                        self._free -= 1
                    self._last_start = time.monotonic()
                    return
                if not told and waiting is not None:
                    told = True
                    waiting()
                if self._free is not None and self._free <= 0:
                    await self._changed.wait()  # until a slot is released
                else:
                    # The site's interval: a wait on purpose (a rate limit, not a page).
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), wait)

    async def release(self) -> None:
        async with self._changed:
            if self._free is not None:
                self._free += 1
            self._changed.notify_all()


class Pacers:
    """One :class:`Pacer` per site and host, for one invocation."""

    def __init__(self, *, ignore: bool = False) -> None:
        self.ignore = ignore
        self._by_key: dict[str, Pacer] = {}

    def for_site(self, site: str, base_url: str, pacing: Pacing) -> Pacer | None:
        """The pacer of a site, or None when nothing limits it (the mock, the flag, no map)."""
        if self.ignore or is_local(base_url):
            return None
        pacer = Pacer(pacing)
        if not pacer.limited:
            return None
        return self._by_key.setdefault(site_key(site, base_url), pacer)
