"""The hand-off as the engine sees it, for the command line and the service alike: a
:class:`Relay` gives each run whose security check appears a link of its own on one
:class:`~bot.handoff.server.HandoffServer` and keeps the check by the run's key, so that other
doors (the service's API and customer pages) serve the same :class:`CheckHandoff`.

The engine knows only the shape of it (``bot.run.options.CheckRelay``): :meth:`Relay.open`
when the check shows, then ``passed()`` once the check was passed and ``ended(lines)`` with the
run's outcome. The link keeps showing that outcome for a grace period (a person's page asks every
second), then answers 410; it never serves the check again once the run has ended.

One relay, two doors (httpx's ``BaseClient`` under ``Client`` and ``AsyncClient``): ``icpbot run
--handoff web`` starts its own server on first need and stops it at the end of the invocation;
``icpbot serve`` gives the relay its server (mounted in the service's app), a key (the run id)
and ``on_change`` (the run's row follows the check).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from contextlib import suppress

from playwright.async_api import Locator, Page

from bot.handoff.check import CheckHandoff
from bot.handoff.server import HandoffServer
from bot.page.memory import shed_memory

__all__ = [
    "ENDED_GRACE_S",
    "OUTCOME_WAIT_S",
    "Relay",
    "RelayedCheck",
    "WebRelay",
    "parse_listen",
]

#: how long a link shows the outcome after the run ended, before it answers 410
ENDED_GRACE_S = 10.0
#: a page that asked for the state this recently is open (it asks every second; a busy phone
#: or machine can leave a few seconds between two requests)
WATCHING_S = 10.0
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
    """One run's check on the relay: its key, its link, and what the run tells it."""

    def __init__(self, relay: Relay, key: str, url: str, handoff: CheckHandoff) -> None:
        self.relay = relay
        self.key = key
        self.url = url
        self.handoff = handoff

    def passed(self) -> None:
        """The check was passed (the site said so, or the request left)."""
        self.handoff.passed()
        self.relay.changed(self.key, "passed")

    def ended(self, lines: Sequence[str]) -> None:
        """The run's outcome for the person; the link goes after the relay's grace."""
        self.handoff.ended(lines)
        self.relay.changed(self.key, "ended")
        asyncio.get_running_loop().call_later(self.relay.grace_s, self.relay.forget, self.key)


class Relay:
    """Hands security checks to people through links on one hand-off server.

    ``server``: a server that is already serving (the service's, mounted in its app); None: the
    relay starts its own on ``host:port`` (loopback by default) on first need, and :meth:`close`
    stops it (every link dies). ``key(run_name)``: how other doors find a run's check (default:
    its link's token). ``on_change(key, what)`` is called on the loop when a check opens
    (``"opened"``), when it is passed (``"passed"``) and when its run ended (``"ended"``).
    """

    def __init__(
        self,
        server: HandoffServer | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        grace_s: float = ENDED_GRACE_S,
        key: Callable[[str], str] | None = None,
        on_change: Callable[[str, str], None] | None = None,
    ) -> None:
        self.host, self.port, self.grace_s = host, port, grace_s
        self.server = server if server is not None else HandoffServer()
        self._own = server is None
        self._key = key
        self._on_change = on_change
        self._started = not self._own
        self._starting = asyncio.Lock()
        self._checks: dict[str, RelayedCheck] = {}
        self._opened: list[CheckHandoff] = []

    async def start(self) -> str:
        """Start the relay's own server now (else on the first check); its base URL."""
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
        handoff.capture()  # the picture ready for the first page that asks
        url = self.server.register(handoff)
        key = self._key(run_name) if self._key is not None else url.rsplit("/", 1)[-1]
        check = RelayedCheck(self, key, url, handoff)
        self._checks[key] = check
        self._opened.append(handoff)
        self.changed(key, "opened")
        # From now on the page only waits for a person, maybe for minutes, and many may wait at
        # once: what it holds from its past (garbage, caches) goes back (docs/memory.md).
        await shed_memory(page)
        return check

    def changed(self, key: str, what: str) -> None:
        if self._on_change is not None:
            self._on_change(key, what)

    def check(self, key: str) -> RelayedCheck | None:
        """The run's check, from its opening until the grace after its end."""
        return self._checks.get(key)

    def waiting(self, key: str) -> RelayedCheck | None:
        """The run's check while a person can act on it."""
        found = self._checks.get(key)
        return found if found is not None and found.handoff.state == "waiting" else None

    def forget(self, key: str) -> None:
        """The run's check is no longer served (its link answers 410)."""
        found = self._checks.pop(key, None)
        if found is not None:
            self.server.unregister(found.url)
            with suppress(ValueError):
                self._opened.remove(found.handoff)

    async def close(self) -> None:
        """Stop the relay's own server. A person whose page is open on a check that just ended
        is first given a moment (at most ``OUTCOME_WAIT_S``) to be told the outcome."""
        if not self._own or not self._started:
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


class WebRelay(Relay):
    """The command line's door (``--handoff web``): a relay with a server of its own on
    ``host:port``."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, grace_s: float = ENDED_GRACE_S
    ) -> None:
        super().__init__(host=host, port=port, grace_s=grace_s)
