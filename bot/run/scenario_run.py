"""One scenario, run once, in named phases: guard, open, fill, submit, watch, classify, record.

:meth:`ScenarioRun.execute` never raises for anything the site or the page did: every run ends in
a :class:`RunResult` with a ``result.json`` on disk. The order of the phases carries the safety
guarantees; each point that does is commented where it happens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from playwright.async_api import Browser, Locator
from playwright.async_api import Error as PlaywrightError

from bot.config.scenario import Scenario
from bot.config.selector_map import SelectorMap
from bot.errors import BotError, GuardRefused, SelectorError, first_line
from bot.evidence.files import private_dir
from bot.evidence.recorder import Recorder
from bot.evidence.runlog import run_log
from bot.outcome import verdicts
from bot.outcome.model import Outcome
from bot.page.forms import FormTab, form_for
from bot.page.frontdoor import DocumentWatch, reach_sms_block
from bot.page.locate import Resolver
from bot.page.watch import AfterClick, PageSignals, wait_for_event
from bot.privacy import logger
from bot.run.check_phases import CheckPhases
from bot.run.options import RunOptions, RunResult, new_run_id, now
from bot.run.pacing import Pacer, Slot
from bot.run.person import PersonAtCheck
from bot.run.session import Session, open_session
from bot.run.signals import current_interruption, finish_shielded
from bot.safety.guard import Claim, claim_run
from bot.types import Category

__all__ = ["ScenarioRun"]


class ScenarioRun(CheckPhases):
    """State of one scenario run, from the guard to the last evidence file (the phases from
    the security check on are :class:`~bot.run.check_phases.CheckPhases`')."""

    def __init__(
        self,
        scenario: Scenario,
        options: RunOptions,
        smap: SelectorMap,
        browser: Callable[[], Awaitable[Browser]],
        *,
        index: int = 0,
        pacer: Pacer | None = None,
    ) -> None:
        self.scenario = scenario
        self.index = index
        self.pacer = pacer
        self.options = options
        self.smap = smap
        self.browser = browser
        started = now()
        run_id = new_run_id(scenario.name)
        run_dir = private_dir(options.out_dir / run_id)
        self.recorder = Recorder(
            run_dir,
            evidence=options.evidence,
            trace=options.trace,
            har=options.har,
            caption=self._caption,
            state_dir=options.state_dir,
        )
        self.result = RunResult(
            run_id=run_id,
            run_dir=run_dir,
            scenario=scenario,
            scenario_file=str(scenario.source) if scenario.source else None,
            outcome=verdicts.not_finished(),
            started_at=started,
            finished_at=started,
        )
        self.session: Session | None = None
        self.chromium: Browser | None = None  # the browser this run got, once it asked
        self.resolver: Resolver | None = None
        self.signals: PageSignals | None = None
        self.after_click: AfterClick | None = None
        self.person = PersonAtCheck(scenario, options, self.notify)
        self.claim: Claim | None = None
        self.slot: Slot | None = None  # this submission's place in the site's pacing
        self.warm = False  # the page was opened and filled ahead of the run (bot.run.warm)
        self.settled = False  # the outcome is final and result.json written
        self.gathered = False  # the evidence was gathered (or tried)

    # -- the run ----------------------------------------------------------------------------------
    async def execute(self) -> RunResult:
        """The phases, then the record. Cancelled (Ctrl-C, SIGTERM) at any point, the run is
        still recorded, shielded from a second cancellation (whatever was settled stays); then
        the cancellation propagates."""
        self._event("started")
        with run_log(self.result.run_dir / "run.log", self.result.run_id):
            self.recorder.add("run.log")
            try:
                await self._outcome_of_phases()
            except asyncio.CancelledError:
                self._close_gate()  # nothing leaves from now on: the outcome below stays true
                if not self.settled:
                    interruption = current_interruption()
                    by = interruption.by if interruption is not None else None
                    self.result.outcome = verdicts.interrupted(
                        self.result.progress, self.sent, **({"by": by} if by else {})
                    )
                await finish_shielded(self.record(interrupted=True))
                self._event("finished", done=True)
                raise
            await finish_shielded(self.record())
        self._event("finished", done=True)
        return self.result

    async def _outcome_of_phases(self) -> None:
        sc = self.scenario
        logger.info(
            "run {} scenario {} action {} against {}",
            self.result.run_id,
            sc.name,
            sc.action,
            sc.base_url,
        )
        try:
            self.result.outcome = await self._phases()
        except BotError as exc:
            self.result.outcome = verdicts.error_outcome(exc, self.sent)
        # A bug or an unforeseen browser failure: keep the evidence.
        except Exception as exc:
            if _browser_gone(exc, self.chromium):
                logger.error("the browser went away: {}", first_line(exc) or type(exc).__name__)
                self.result.outcome = verdicts.browser_gone(exc, self.sent)
            else:
                logger.exception("unexpected error: {}", exc)
                self.result.outcome = verdicts.internal_error(exc, self.sent)
        # Decided (no await since the outcome read ``sent``): a request that reaches the gate
        # from now on is held back (a person passing the check after icpbot gave up).
        self._close_gate()

    def _close_gate(self) -> None:
        if self.session is not None:
            self.session.gate.close()

    async def _phases(self) -> Outcome:
        problem = await self.guard() or await self.open()
        if problem is not None:
            return problem
        try:
            form, button = await self.fill()
        except _SessionExpired:
            return verdicts.session_expired(submitted="no")
        # The picture of the filled form is taken while the last checks before the click run
        # (they read the page and the ledger, and change nothing); the click waits for it.
        shot = asyncio.ensure_future(self.screenshot("before-submit.png"))
        try:
            problem = await self.submit(form, button, shot)
        except asyncio.CancelledError:
            shot.cancel()  # stopped: the record takes the last picture
            raise
        finally:
            await asyncio.wait([shot])  # never left running behind the run
        if problem is not None:
            return problem
        problem = await self.watch()
        if problem is not None:
            return problem
        return await self.classify()

    # -- phases -----------------------------------------------------------------------------------
    async def guard(self) -> Outcome | None:
        """Claim the person before any browser starts: the failure budget, the codes the site
        already judged and the run in flight are checked and the attempt recorded in one atomic
        step, so a refused run starts no browser and two processes never both pass."""
        sc = self.scenario
        # In a thread (a slow disk or database stops no other run), and finished even when the
        # run is cancelled meanwhile: a claim that was made is always finished by the record.
        self.claim = await finish_shielded(
            asyncio.to_thread(
                claim_run,
                sc,
                run_id=self.result.run_id,
                allow_risky=self.options.allow_risky,
                confirm_resubmit=self.options.confirm_resubmit,
                state_dir=self.options.state_dir,
            )
        )
        for warning in self.claim.warnings:
            self.warn(warning)
        refusal = self.claim.refusal
        if refusal is not None:  # refused, or already verified: nothing to send
            self.stage("refused")
            if refusal.category is Category.refused:
                raise GuardRefused(
                    refusal.message,
                    refusal.next_step,
                    status=refusal.status,
                    details=refusal.details,
                    customer=(refusal.customer.message, refusal.customer.next_step),
                )
            return refusal
        self.stage("guard_passed")
        return None

    async def open(self) -> Outcome | None:
        """A fresh context (gate installed, tracing on), then the page; judge the document."""
        opts = self.options
        if opts.adopt_page is not None and not opts.har:
            adopted = await opts.adopt_page(self.scenario)
            if adopted is not None:
                return await self._adopted(adopted)
        browser = self.chromium = await self.browser()
        self.stage("browser_started")
        session = self.session = await open_session(
            browser,
            self.smap,
            self.scenario.base_url,
            opts.timeout_s,
            context_options=self.recorder.context_options(),
            on_context=self.recorder.start_tracing,
            viewport=opts.viewport,
        )
        self.signals = PageSignals(session.page, session.known_request)
        documents = DocumentWatch(session.page)
        self.resolver = Resolver(session.page, self.smap, opts.timeout_s)
        try:
            await session.goto(opts.timeout_s)
        except PlaywrightError as exc:
            if documents.count == 0:
                return verdicts.page_not_loading(exc)
            # A document came and moved on (a challenge that navigates at once): not an error.
            logger.info("the first page moved on by itself: {}", first_line(exc))
        # Wait for the SMS block, not for the first response: a challenge passes by itself.
        problem = await reach_sms_block(self.resolver, documents, session.url, opts.timeout_s)
        if problem is not None:
            return problem
        self.stage("page_loaded")
        return await self.captcha_first()

    async def _adopted(self, session: Session) -> Outcome | None:
        """A warm page (:mod:`bot.run.warm`), opened and filled before this run: the same
        guarded context a fresh one would be (its gate never armed), its trace started now."""
        self.session = session
        self.warm = True
        self.chromium = session.context.browser
        await self.recorder.start_tracing(session.context)
        self.stage("browser_started")
        self.signals = PageSignals(session.page, session.known_request)
        self.resolver = Resolver(session.page, self.smap, self.options.timeout_s)
        logger.info("the site's page was opened ahead of the run (a warm page)")
        self.stage("page_loaded")
        return await self.captcha_first()

    async def fill(self) -> tuple[FormTab, Locator]:
        """Select the tab, fill the fields in the page's order, find 提交 (not clicked yet)."""
        assert self.session is not None
        assert self.resolver is not None
        form = form_for(self.scenario.action, self.resolver)
        try:
            await form.select()
        except SelectorError:
            # A page that went to its login route on load (the session call answered 401)
            # has no form: that is the site's answer, not a changed page.
            login = self.smap.login_route
            if login and self.session.page.url.endswith(login):
                raise _SessionExpired from None
            raise
        # each field masked in screenshots before it is typed into
        await form.fill(
            self.scenario.inputs, on_field=self.recorder.mask_field, prefilled=self.warm
        )
        self.stage("form_filled")
        return form, await form.submit_button()

    async def submit(
        self, form: FormTab, button: Locator, before_click: Awaitable[None]
    ) -> Outcome | None:
        """Arm the gate with the release work, click 提交 once (once ``before_click`` is done).

        Neither the site's pacing nor the ledger's "sent" mark happens here: the security check
        opens after this click and may hold the run for minutes, and nothing leaves the browser
        before a person has passed it. Both happen where the request leaves (:meth:`release`)."""
        assert self.claim is not None
        assert self.session is not None
        assert self.signals is not None
        session = self.session
        # The page's session call must be done: a 401 there means the page is leaving for its
        # login route, and clicking 提交 would send the form without a session.
        await wait_for_event(session.auth.idle, self.options.timeout_s)
        login = self.smap.login_route
        if session.auth.refused or (login and session.page.url.endswith(login)):
            return verdicts.session_expired(submitted="no")
        # A security check that opened by itself covers 提交: a person passes it first.
        problem = await self.captcha_first()
        if problem is not None:
            return problem
        await before_click
        session.gate.arm(release=self.release)
        self.signals.start_watching_requests()
        self.stage("submit_clicked")
        await form.click_submit(button)
        return None


def _browser_gone(exc: BaseException, chromium: Browser | None) -> bool:
    """``exc`` came from a browser that is no longer there (not from a bug of icpbot)."""
    if not isinstance(exc, PlaywrightError) or chromium is None:
        return False
    # Playwright's TargetClosedError (not exported by its public API): the page, the context
    # or the whole browser closed under the run: a crash, a killed driver, or a person who
    # closed the window of a headed run.
    closed = any(cls.__name__ == "TargetClosedError" for cls in type(exc).__mro__)
    return closed or not chromium.is_connected()


class _SessionExpired(BotError):
    """The page left for its login route on load: the site's answer, not a changed page."""
