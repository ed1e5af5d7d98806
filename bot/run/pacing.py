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
_SLICE_S = 0.2


def is_local(base_url: str) -> bool:
    """A base URL on this machine: the mock, which needs no pacing."""
    return (urlparse(base_url).hostname or "") in _LOCAL_HOSTS


def site_key(site: str, base_url: str) -> str:
    return f"{site}@{urlparse(base_url).netloc}"


class Pacer:
    """The submissions of one site: :meth:`acquire` before the click, :meth:`release` once the
    reply is in (or the run ended). Thread-safe."""

    def __init__(self, pacing: Pacing) -> None:
        self.pacing = pacing
        limit = pacing.max_parallel
        self._slots = threading.BoundedSemaphore(limit) if limit else None
        self._lock = threading.Lock()
        self._last_start = float("-inf")

    @property
    def limited(self) -> bool:
        return self._slots is not None or self.pacing.min_interval_s > 0

    def acquire(self, waiting: Callable[[], None] | None = None) -> None:
        """Block until this submission may start; ``waiting`` is called once if it must wait."""
        told = False

        def tell() -> None:
            nonlocal told
            if not told and waiting is not None:
                told = True
                waiting()

        if self._slots is not None and not self._slots.acquire(blocking=False):
            tell()
            while not self._slots.acquire(timeout=_SLICE_S):
                pass
        try:
            while True:
                with self._lock:
                    wait = self._last_start + self.pacing.min_interval_s - time.monotonic()
                    if wait <= 0:
                        self._last_start = time.monotonic()
                        return
                tell()
                time.sleep(min(wait, _SLICE_S))  # allow-sleep: a rate limit, not a wait for a page
        except BaseException:
            if self._slots is not None:
                self._slots.release()
            raise

    def release(self) -> None:
        if self._slots is not None:
            self._slots.release()


class Pacers:
    """One :class:`Pacer` per site and host, for one invocation."""

    def __init__(self, *, ignore: bool = False) -> None:
        self.ignore = ignore
        self._by_key: dict[str, Pacer] = {}
        self._lock = threading.Lock()

    def for_site(self, site: str, base_url: str, pacing: Pacing) -> Pacer | None:
        """The pacer of a site, or None when nothing limits it (the mock, the flag, no map)."""
        if self.ignore or is_local(base_url):
            return None
        pacer = Pacer(pacing)
        if not pacer.limited:
            return None
        with self._lock:
            return self._by_key.setdefault(site_key(site, base_url), pacer)
