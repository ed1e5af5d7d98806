"""The recording half of a run: its result, its evidence, its ledger row, its progress events.

:class:`RunRecording` is the base of :class:`bot.run.scenario_run.ScenarioRun`: the phases live
there, what they leave behind lives here. :meth:`RunRecording.record` keeps the order that
carries the promises: the gate closed before the ledger's finish, result.json written before any
browser call after an interruption, with signals held.
"""

from __future__ import annotations

import asyncio

from bot.config.scenario import Scenario
from bot.evidence.caption import OUTCOME_PREFIX, caption_lines
from bot.evidence.files import safe_capture, safe_capture_async
from bot.evidence.recorder import Recorder
from bot.page.locate import Resolver
from bot.privacy import REDACTOR, logger, mask_mobile
from bot.run.options import RunEvent, RunOptions, RunResult, now
from bot.run.pacing import Pacer, Slot
from bot.run.person import PersonAtCheck
from bot.run.session import Session
from bot.safety.guard import Claim
from bot.types import Category

__all__ = ["RunRecording"]


class RunRecording:
    """What a run records, and how; the state is set up by :class:`ScenarioRun`."""

    scenario: Scenario
    options: RunOptions
    index: int
    pacer: Pacer | None
    recorder: Recorder
    result: RunResult
    session: Session | None
    resolver: Resolver | None
    claim: Claim | None
    slot: Slot | None
    person: PersonAtCheck
    settled: bool
    gathered: bool

    @property
    def sent(self) -> bool:
        return self.session is not None and self.session.gate.sent

    def notify(self, line: str) -> None:
        logger.info(line)
        if self.options.notify:
            self.options.notify(REDACTOR(line))

    def warn(self, warning: str) -> None:
        """A warning about this run: kept in result.json, and said once, naming the scenario and
        the (masked) person, since in a batch the lines of several runs interleave."""
        if warning in self.result.warnings:
            return
        self.result.warnings.append(warning)
        who = f"{self.scenario.name} ({mask_mobile(self.scenario.inputs.mobile)})"
        self.notify(f"WARNING: {who}: {warning}")

    def stage(self, name: str, *, seconds: float | None = None) -> None:
        """The run reached stage ``name`` (``seconds``: what stage "pacing" has left to wait)."""
        self.result.progress = name
        if seconds is None:
            logger.debug("progress: {}", name)
        else:
            logger.debug("progress: {} ({:.1f} s left)", name, seconds)
        self._event(name, seconds=seconds)

    async def free_slot(self) -> None:
        """Give back this submission's place in the site's pacing (idempotent). A request that
        left is stamped again first: the site has it by now (its reply is in, or the run gave
        up on it), so the next submission reaches the site at least the interval after this one
        whatever the network's delay."""
        slot, self.slot = self.slot, None
        if slot is not None:
            try:
                if self.sent:
                    await slot.stamp()
            finally:
                await slot.release()

    def _event(self, stage: str, *, done: bool = False, seconds: float | None = None) -> None:
        if self.options.on_event is not None:
            event = RunEvent(
                self.index,
                self.scenario.name,
                stage,
                self.result if done else None,
                seconds=None if seconds is None else round(seconds, 1),
            )
            safe_capture("progress display", lambda: self.options.on_event(event))  # type: ignore[misc]

    def _caption(self, shot: str, url: str) -> list[str]:
        """The caption under a screenshot: who, when, where, what (values masked)."""
        inputs = self.result.to_json()["inputs"]
        o = self.result.outcome
        decided = o.status != "not_finished"  # final.png: the outcome, in the result's words
        outcome = [
            f"{OUTCOME_PREFIX}{o.category.value} (status {o.status}, exit {o.exit_code}) · "
            f"submitted: {o.submitted}",
            o.message,
        ]
        return caption_lines(
            run_id=self.result.run_id,
            moment=now(),
            url=url,
            action=str(self.scenario.action),
            shot=shot,
            values=[(k, str(v)) for k, v in inputs.items() if v],
            outcome=outcome if decided else (),
        )

    async def record(self, *, interrupted: bool = False) -> None:
        """Close the gate, finish the ledger row, write result.json, then gather the evidence.

        The first write of result.json comes before any browser call: after Ctrl-C the browser
        may be gone, and the result must be on disk anyway. The caller runs this shielded
        (:func:`~bot.run.signals.finish_shielded`): a second Ctrl-C cannot cut it short.
        """
        logger.debug("recording the outcome")
        await self._settle()
        session = self.session
        self.recorder.interrupted = interrupted
        if not self.gathered:
            self.gathered = True
            try:
                await self.recorder.gather(
                    session.page if session else None,
                    session.context if session else None,
                    failed=self.result.outcome.category is not Category.success,
                )
            except BaseException as exc:  # Playwright torn down under the run
                if not interrupted:
                    raise
                logger.warning("evidence after the interruption incomplete: {}", type(exc).__name__)
            finally:
                self.recorder.discard_raw()
                # The context closes while the last screenshot's caption is finished and
                # result.json written: nothing more is read from the page.
                closing = self._close(interrupted)
                try:
                    await self._write_result()
                finally:
                    await closing
        else:
            await self._close(interrupted)
        outcome = self.result.outcome
        logger.info("outcome {} ({}) exit {}", outcome.category, outcome.status, outcome.exit_code)

    def _close(self, interrupted: bool) -> asyncio.Future[None]:
        """Close the run's context (a task: it goes on while the caller writes)."""

        async def close() -> None:
            if self.session is not None:
                await safe_capture_async(
                    "close context", self.session.context.close, expected=interrupted
                )

        return asyncio.ensure_future(close())

    async def _settle(self) -> None:
        """Close the gate, finish the ledger row, give back the pacing place, write
        result.json: no browser call."""
        if self.settled:
            await self._write_result()
            return
        self.settled = True
        session = self.session
        if session is not None:
            # Closed before the ledger's finish: a person who passes the security check after
            # icpbot gave up must not send the form behind the operator's back. A release under
            # way is cancelled and ends first (its ledger mark and its pacing place are known).
            session.gate.close()
            await session.gate.quiet()
        outcome = self.result.outcome
        if session is not None:
            self.result.submissions = session.gate.submissions
            if session.gate.blocked:
                details = {**outcome.details, "blocked_duplicates": session.gate.blocked}
                outcome = outcome.model_copy(update={"details": details})
        if self.sent and outcome.submitted == "no":
            outcome = outcome.model_copy(update={"submitted": "maybe"})
        self.result.outcome = outcome
        self.person.ended(outcome)  # the person who passed the check reads how it ended
        try:
            if self.claim is not None:
                claim, self.claim = self.claim, None
                # also frees the person; in a thread: a slow disk or database stops no other
                # run. The budget is read there too: this run's figures, not the report's later
                # ones. ``sent`` is the gate's word: a mark written for a request that was then
                # held back (the run ended in between) is taken back.
                await asyncio.to_thread(
                    claim.finish, outcome.category, outcome.site_status, sent=self.sent
                )
                self.result.failure_budget = claim.budget
                if claim.unsettled:  # the ledger's write is owed: the run's own end goes on
                    self.warn(claim.unsettled)
        finally:
            await self.free_slot()  # whatever the ledger did: the site's next submission may go
        await self._write_result()

    async def _write_result(self) -> None:
        if self.resolver is not None:
            self.result.selectors_matched = dict(self.resolver.matched)
            for warning in self.resolver.fallbacks:
                if warning not in self.result.warnings:
                    self.result.warnings.append(warning)
        self.result.finished_at = now()
        self.result.evidence = self.recorder.evidence
        await self.recorder.write_result(self.result.to_json())
