"""The person at the security check: how long they get, what they are told, and the hand-off of
the check to a person elsewhere (``RunOptions.relay``, e.g. ``--handoff web``).

The site's check must be passed by a person: at the window of a headed browser, or through a
link of the relay, both at once when both are there. icpbot never solves it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from playwright.async_api import Locator, Page

from bot import defaults
from bot.config.scenario import Scenario
from bot.errors import first_line
from bot.outcome.model import Outcome
from bot.page import readers
from bot.page.locate import Resolver
from bot.privacy import logger
from bot.run.options import RelayedCheck, RunOptions
from bot.types import CaptchaMode

__all__ = ["PersonAtCheck"]


class PersonAtCheck:
    """One run's security check, as the people who may pass it see it."""

    def __init__(
        self, scenario: Scenario, options: RunOptions, notify: Callable[[str], None]
    ) -> None:
        self.scenario = scenario
        self.options = options
        self.notify = notify
        self.relayed: RelayedCheck | None = None  # the check handed to a person elsewhere

    @property
    def headed(self) -> bool:
        return bool(self.options.headed)

    @property
    def wait_s(self) -> float:
        """How long a person gets for the check (none headless, unless asked or handed off)."""
        if self.scenario.captcha is CaptchaMode.none:
            return 0.0
        if self.options.captcha_timeout_s is not None:
            return self.options.captcha_timeout_s
        person_there = self.headed or self.options.relay is not None
        return defaults.CAPTCHA_WAIT_HEADED_S if person_there else 0.0

    async def opened(self, resolver: Resolver, page: Page, box: Locator, wait_s: float) -> None:
        """The check is open: tell the person at the window, and hand it off."""
        relay = self.options.relay
        if self.headed or relay is None:
            self.notify(await readers.captcha_prompt(resolver, wait_s))
        if relay is None or self.relayed is not None:
            return
        name = self.scenario.name
        try:
            self.relayed = await relay.open(
                page,
                box,
                run_name=name,
                person=str(self.scenario.inputs.mobile),  # masked: a Secret's str
                deadline=time.monotonic() + wait_s,
            )
        except Exception as exc:  # the hand-off is a help: the window (if any) still works
            logger.warning("the security check could not be handed off: {}", first_line(exc))
            return
        self.notify(
            f"Pass the security check for {name} at {self.relayed.url} "
            f"(instructions in English or Chinese there; waiting up to {wait_s:g} s)"
        )

    def passed(self) -> None:
        if self.relayed is not None:
            self.relayed.passed()

    def ended(self, outcome: Outcome) -> None:
        """The run's outcome for the person who passed (or was to pass) the check: in the
        customer's voice (catalog message ids, translated by the page that shows them)."""
        if self.relayed is not None:
            self.relayed.ended([outcome.customer.message, outcome.customer.next_step])
