"""The phases of a run around the security check and after the click: the check when it opens
before the click, the release of the page's one request (the gate's last word), the watch until
the request leaves, the reply classified with what the page shows for it. :class:`CheckPhases`
is a base of :class:`bot.run.scenario_run.ScenarioRun`, which sets up the state (declared on
:class:`bot.run.recording.RunRecording` and here).
"""

from __future__ import annotations

import asyncio

from playwright.async_api import Locator

from bot.config.selector_map import SelectorMap
from bot.errors import GuardRefused, ReleaseRefused
from bot.outcome import verdicts
from bot.outcome.classify import classify_response, page_read_for
from bot.outcome.model import Outcome
from bot.page import readers
from bot.page.locate import Resolver
from bot.page.watch import AfterClick, Hooks, PageSignals, hand_off_open_check
from bot.run.options import RunOptions
from bot.run.recording import RunRecording
from bot.run.signals import finish_shielded
from bot.safety.gate import Reply
from bot.types import Action

__all__ = ["CheckPhases"]


class CheckPhases(RunRecording):
    """The security check, the release, the watch after the click and the classification of a
    run."""

    smap: SelectorMap
    signals: PageSignals | None
    after_click: AfterClick | None

    async def screenshot(self, name: str) -> None:
        await self.recorder.screenshot(self.session.page if self.session else None, name)

    async def release(self) -> None:
        """The gate's release work, awaited when the page's one request reaches the gate and
        right before it leaves; raising holds it back (nothing sent). In this order:

        (a) the site's pacing: a place taken now (at most so many in flight, so many seconds
            apart), waiting up to ``pacing_wait_s`` and saying so with the seconds left;
        (b) the caller's own check (``RunOptions.release_check``, e.g. the web service's fence);
        (c) the ledger's durable "sent" mark: from here on a crash counts as a possible failure.

        Then the place is stamped: the next submission to the site waits the interval from now.
        """
        assert self.claim is not None
        opts = self.options
        if self.pacer is not None:
            self.slot = await self.pacer.acquire(opts.pacing_wait_s, self._pacing)
        if opts.release_check is not None:
            try:
                async with asyncio.timeout(opts.timeout_s):
                    await opts.release_check()
            except TimeoutError:
                raise ReleaseRefused(
                    f"The run's release check did not answer within {opts.timeout_s:g} s."
                ) from None
        claim = self.claim
        try:
            # Finished even when the run is cancelled meanwhile: the mark is known either way.
            await finish_shielded(asyncio.to_thread(claim.mark_sending))
        except GuardRefused as exc:  # the claim lapsed (its lock lost, the person taken)
            refused = ReleaseRefused(exc.reason, exc.next_step)
            refused.status = exc.status  # ``claim_lost``
            raise refused from exc
        except Exception as exc:
            raise ReleaseRefused(
                f"The ledger could not record the submission as sent ({type(exc).__name__}).",
                "Check the ledger (its disk, or its database server), then run it again.",
            ) from exc
        if self.slot is not None:
            await self.slot.stamp()

    def _pacing(self, seconds: float) -> None:
        self.stage("pacing", seconds=seconds)

    async def captcha_first(self) -> Outcome | None:
        """The security check when it is open before the click (it covers the form)."""
        assert self.resolver is not None
        return await hand_off_open_check(
            self.resolver, self.hooks, self.check_wait_s, self.headed, self.scenario.captcha
        )

    @property
    def headed(self) -> bool:
        return self.person.headed

    @property
    def check_wait_s(self) -> float:
        return self.person.wait_s

    @property
    def hooks(self) -> Hooks:
        return Hooks(
            stage=self.stage,
            screenshot=self.screenshot,
            notify=self.notify,
            check_opened=self._check_opened,
            check_passed=self.person.passed,
        )

    async def _check_opened(self, box: Locator, wait_s: float) -> None:
        assert self.resolver is not None
        assert self.session is not None
        await self.person.opened(self.resolver, self.session.page, box, wait_s)

    async def watch(self) -> Outcome | None:
        """Until the request leaves: the security check, the page's own refusals, a timeout."""
        assert self.session is not None
        assert self.resolver is not None
        assert self.signals is not None
        self.after_click = AfterClick(
            resolver=self.resolver,
            sending=self.session.gate,
            signals=self.signals,
            hooks=self.hooks,
            action=self.scenario.action,
            timeout_s=self.options.timeout_s,
            captcha_mode=self.scenario.captcha,
            captcha_wait_s=self.check_wait_s,
            headed=self.headed,
        )
        problem = await self.after_click.until_sent()
        if problem is None:
            self.stage("request_sent")
        return problem

    async def classify(self) -> Outcome:
        """Wait for the gate's reply, read what the page shows for it, classify the pair."""
        assert self.session is not None
        assert self.resolver is not None
        assert self.after_click is not None
        await self.after_click.until_reply()
        await self.free_slot()  # the reply is in: the site's next submission may go
        gate = self.session.gate
        if gate.error is not None or gate.reply is None:
            self.stage("no_reply")
            return verdicts.no_reply(gate.error)
        self.stage("reply_received")
        return await _outcome_of(gate.reply, self.resolver, self.scenario.action, self.options)


async def _outcome_of(
    reply: Reply, resolver: Resolver, action: Action, options: RunOptions
) -> Outcome:
    """The reply and what the page shows for it (the banner, or a toast), classified."""
    read = page_read_for(reply.http_status, reply.json)
    banner = toast = None
    if read == "banner":
        banner = await readers.banner_text(resolver, min(10.0, options.timeout_s))
    elif read == "toast":
        toast = await readers.wait_toast(resolver)
    return classify_response(
        resolver.smap,
        action,
        http_status=reply.http_status,
        body=reply.json,
        text=reply.text,
        elapsed_s=reply.elapsed_s,
        banner=banner,
        toast=toast,
    )
