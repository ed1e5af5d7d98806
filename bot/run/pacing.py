"""Pacing submissions to one site: at most so many at once, and so many seconds between starts.

The selector map's ``pacing`` says what the site allows (the real MIIT site bans an address for
minutes after bursts). Only the submission is paced: page loads of other runs may overlap. A base
URL on this machine (the mock) is never paced, and ``--ignore-site-pacing`` lifts the limits for
a staging copy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from urllib.parse import urlparse

from bot.config.selector_models import Pacing

__all__ = ["Pacer", "Pacers", "is_local", "site_key"]

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
# Waits are cut into short slices so that Ctrl-C (delivered between two slices) stays prompt.
# allow-sleep: pacing waits on purpose (a rate limit, not a wait for a page).
_SLICE_S = 0.2


def is_local(base_url: str) -> bool:
    """A base URL on this machine: the mock, which needs no pacing."""
    return (urlparse(base_url).hostname or "") in _LOCAL_HOSTS


def site_key(site: str, base_url: str) -> str:
    return f"{site}@{urlparse(base_url).netloc}"


class Pacer:
    """The submissions of one site: :meth:`acquire` before the click, :meth:`release` once the
    reply is in (or the run ended). Thread-safe; it waits with ``sleep``, which a parallel batch
    sets to its fibers' sleep (a blocking sleep would stop every run of the batch)."""

    def __init__(self, pacing: Pacing, sleep: Callable[[float], None] = time.sleep) -> None:
        self.pacing = pacing
        self._sleep = sleep
        self._free = pacing.max_parallel  # submission slots left; None: no limit
        self._lock = threading.Lock()
        self._last_start = float("-inf")

    @property
    def limited(self) -> bool:
        return self._free is not None or self.pacing.min_interval_s > 0

    def acquire(self, waiting: Callable[[], None] | None = None) -> None:
        """Wait until this submission may start; ``waiting`` is called once if it must wait."""
        told = False
        while True:
            with self._lock:
                wait = self._last_start + self.pacing.min_interval_s - time.monotonic()
                if self._free is not None and self._free <= 0:
                    wait = _SLICE_S  # every slot taken: look again in a moment
                elif wait <= 0:
                    if self._free is not None:
                        self._free -= 1
                    self._last_start = time.monotonic()
                    return
            if not told and waiting is not None:
                told = True
                waiting()
            self._sleep(min(wait, _SLICE_S))  # short slices keep Ctrl-C prompt

    def release(self) -> None:
        with self._lock:
            if self._free is not None:
                self._free += 1


class Pacers:
    """One :class:`Pacer` per site and host, for one invocation."""

    def __init__(
        self, *, ignore: bool = False, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.ignore = ignore
        self.sleep = sleep
        self._by_key: dict[str, Pacer] = {}
        self._lock = threading.Lock()

    def for_site(self, site: str, base_url: str, pacing: Pacing) -> Pacer | None:
        """The pacer of a site, or None when nothing limits it (the mock, the flag, no map)."""
        if self.ignore or is_local(base_url):
            return None
        pacer = Pacer(pacing, self.sleep)
        if not pacer.limited:
            return None
        with self._lock:
            return self._by_key.setdefault(site_key(site, base_url), pacer)
