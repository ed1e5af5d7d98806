"""The hand-off as the engine sees it: a :class:`WebRelay` gives each run whose security check
appears a link of its own on one :class:`~bot.handoff.server.HandoffServer`, started on first
need on the engine's loop.

The engine knows only the shape of it (``bot.run.options.CheckRelay``): :meth:`WebRelay.open`
when the check shows, then ``passed()`` once the box is gone and ``ended(lines)`` with the run's
outcome. The link keeps showing that outcome for a short grace (the person's page asks every
second), then answers 410; it never serves the check again once the run has ended.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from contextlib import suppress

from playwright.async_api import Locator, Page

from bot.handoff.check import CheckHandoff
from bot.handoff.server import HandoffServer

__all__ = [
    "ENDED_GRACE_S",
    "OUTCOME_WAIT_S",
    "RelayedCheck",
    "WebRelay",
    "parse_listen",
]

#: how long a link shows the outcome after the run ended, before it answers 410
ENDED_GRACE_S = 10.0
#: a page that asked for the state this recently is open (it asks every second)
WATCHING_S = 3.0
#: how long the end of an invocation waits for such a page to be told the outcome
OUTCOME_WAIT_S = 5.0


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6; PORT 0: a free one) -> (host, port); ValueError
    with a readable reason otherwise."""
    host, sep, port = value.rpartition(":")
    if not sep or not host:
        raise ValueError("expected HOST:PORT, e.g. 127.0.0.1:8765")
    host = host.strip("[]")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("the port must be a number from 0 to 65535")
    return host, int(port)


class RelayedCheck:
    """One run's check on the relay: its link, and what the run tells it."""

    def __init__(self, url: str, handoff: CheckHandoff, server: HandoffServer, grace_s: float):
        self.url = url
        self.handoff = handoff
        self._server = server
        self._grace_s = grace_s

    def passed(self) -> None:
        self.handoff.passed()

    def ended(self, lines: Sequence[str]) -> None:
        """The run's outcome for the person; the link goes after the grace."""
        self.handoff.ended(lines)
        asyncio.get_running_loop().call_later(self._grace_s, self._server.unregister, self.url)


class WebRelay:
    """Hands security checks to people through links on one hand-off server (loopback by
    default). Close it at the end of the invocation (its server stops: every link dies)."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, grace_s: float = ENDED_GRACE_S
    ) -> None:
        self.host, self.port, self.grace_s = host, port, grace_s
        self.server = HandoffServer()
        self._started = False
        self._starting = asyncio.Lock()
        self._opened: list[CheckHandoff] = []

    async def start(self) -> str:
        """Start the server now (else on the first check); its base URL."""
        async with self._starting:
            if not self._started:  # (the server warns when it listens beyond loopback)
                await self.server.start(self.host, self.port)
                self._started = True
        return self.server.base_url

    async def open(
        self, page: Page, box: Locator, *, run_name: str, person: str, deadline: float
    ) -> RelayedCheck:
        await self.start()
        handoff = CheckHandoff(page, box, run_name=run_name, person=person, deadline=deadline)
        self._opened.append(handoff)
        return RelayedCheck(self.server.register(handoff), handoff, self.server, self.grace_s)

    async def close(self) -> None:
        """Stop the server. A person whose page is open on a check that just ended is first
        given a moment (at most ``OUTCOME_WAIT_S``) to be told the outcome."""
        if not self._started:
            return
        watched = [
            c.outcome_seen.wait()
            for c in self._opened
            if c.state == "ended"
            and c.last_seen is not None
            and time.monotonic() - c.last_seen < WATCHING_S
            and not c.outcome_seen.is_set()
        ]
        if watched:
            with suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*watched), OUTCOME_WAIT_S)
        self._started = False
        await self.server.stop()
