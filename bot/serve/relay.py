"""The service's :class:`~bot.run.options.CheckRelay`: each run whose security check appears is
kept here by its run id, so that the JSON API, the operator's page and the customer's page can
all serve the same :class:`~bot.handoff.CheckHandoff`; it also gets a hand-off link of its own
(``check_url``) on the service's own origin (the hand-off app is mounted there)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from playwright.async_api import Locator, Page

from bot.handoff import CheckHandoff, HandoffServer
from bot.serve import observe

__all__ = ["ServiceCheck", "ServiceRelay"]

#: how long a check's link and page show the outcome after the run ended
ENDED_GRACE_S = 30.0


@dataclass
class ServiceCheck:
    """One run's check as the engine sees it (``RelayedCheck``)."""

    relay: ServiceRelay
    run_id: str
    url: str
    handoff: CheckHandoff

    def passed(self) -> None:
        self.handoff.passed()
        self.relay.changed(self.run_id, "passed")

    def ended(self, lines: Sequence[str]) -> None:
        self.handoff.ended(lines)
        observe.check_changed(self.run_id, "ended")  # metrics: a check not passed
        asyncio.get_running_loop().call_later(ENDED_GRACE_S, self.relay.forget, self.run_id)


class ServiceRelay:
    """Security checks of the service's runs, by run id. ``on_change(run_id, what)`` is called
    on the loop when a check opens (``"opened"``) and when it is passed (``"passed"``)."""

    def __init__(self, server: HandoffServer, on_change: Callable[[str, str], None]) -> None:
        self.server = server
        self._on_change = on_change
        self._checks: dict[str, ServiceCheck] = {}

    @staticmethod
    def run_id_of(run_name: str) -> str:
        return run_name.removeprefix("serve-")

    async def open(
        self, page: Page, box: Locator, *, run_name: str, person: str, deadline: float
    ) -> ServiceCheck:
        run_id = self.run_id_of(run_name)
        handoff = CheckHandoff(page, box, run_name=run_name, person=person, deadline=deadline)
        check = ServiceCheck(self, run_id, self.server.register(handoff), handoff)
        self._checks[run_id] = check
        self.changed(run_id, "opened")
        return check

    def changed(self, run_id: str, what: str) -> None:
        self._on_change(run_id, what)
        observe.check_changed(run_id, what)  # metrics, webhook run.needs_person, audit

    def check(self, run_id: str) -> ServiceCheck | None:
        return self._checks.get(run_id)

    def waiting(self, run_id: str) -> ServiceCheck | None:
        """The run's check while a person can act on it."""
        found = self._checks.get(run_id)
        return found if found is not None and found.handoff.state == "waiting" else None

    def forget(self, run_id: str) -> None:
        found = self._checks.pop(run_id, None)
        if found is not None:
            self.server.unregister(found.url)
