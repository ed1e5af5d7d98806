"""The service's workers: queued runs taken from the database and run on the engine, one
browser for the process, as many at once as :class:`~bot.serve.slots.Limits` allow (a run
waiting for a person at its check holds no working slot).

Each run is a batch of one on the engine (:func:`bot.run.runner.prepare_batch`), with the
service's relay (the security check served by the API and the pages) and a pacer whose lock and
last-submission time are in the database (:class:`bot.serve.pacing.DbPacers`), so that the
site's pacing holds across every process sharing it.

Each taken run is fenced (:class:`~bot.serve.store.Lease`): its writes are compare-and-sets on
its owner and attempt generation, made in order by one chain of tasks per run, and the engine's
gate awaits :meth:`Worker.fence` right before the one request leaves: a run that another
process took over is never sent from here.

A run that cannot start ends with an outcome saying so; nothing a run does ends the service. A
stop (SIGTERM) cancels the workers; each running run records its outcome first. A run stopped,
or whose process died (:meth:`Worker.recover`, at start and every few seconds), before its
request left is queued again (a link's run ends, "nothing was sent; press Verify again", its
try given back); after it, it ends as unknown and is never sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import bot.serve.observe as observe
from bot.config.scenario import Inputs, Scenario
from bot.config.scenario_input import register
from bot.errors import ReleaseRefused, first_line
from bot.page.browser import LazyBrowser
from bot.privacy import REDACTOR, logger
from bot.run.batch import Batch
from bot.run.options import RunEvent, RunOptions, RunResult
from bot.run.runner import prepare_batch
from bot.run.session import Session
from bot.run.signals import finish_shielded
from bot.serve.links import Links, hand_off_hash
from bot.serve.outcomes import (
    Unreadable,
    cannot_start_outcome,
    interrupted_outcome,
    outcome_of,
    restarted_outcome,
)
from bot.serve.pacing import DbPacers
from bot.serve.recovery import Recovery
from bot.serve.seal import Sealer
from bot.serve.slots import Limits, Slots
from bot.serve.store import Lease, RunRow, ServeStore
from bot.serve.warm import WarmPages
from bot.types import Action

__all__ = ["TakenRun", "Worker", "interrupted_outcome", "outcome_of"]

T = TypeVar("T")
POLL_S = 0.5  # other processes' new runs: the database is asked this often when idle
_END_TRIES = 6  # a run's end is written again after a database error, 0.5 s to 16 s apart
_PHASES = {
    "guard_passed": "loading",
    "browser_started": "loading",
    "page_loaded": "loaded",
    "form_filled": "filled",
    "pacing": "pacing",
    "submit_clicked": "clicked",
    "request_sent": "sent",
    "reply_received": "reply",
}


@dataclass
class TakenRun:
    """A run this process took, while it runs here."""

    row: RunRow
    at_check: bool = False  # counted among the runs at their checks
    released: bool = False  # the fence let its request go
    last: asyncio.Task[bool] | None = field(default=None, repr=False)  # its latest write

    @property
    def lease(self) -> Lease:
        return self.row.lease


@dataclass
class Worker(Recovery):
    store: ServeStore
    sealer: Sealer
    options: RunOptions
    launcher: LazyBrowser
    changed: Callable[[], None]  # called after every state change (live views)
    limits: Limits | None = None  # None: ``options.parallel`` working, the other defaults
    #: pages opened when a customer opened their link (set by the server; None: none)
    warm: WarmPages | None = None

    def __post_init__(self) -> None:
        self.wake = asyncio.Event()
        if self.limits is None:
            self.limits = Limits(parallel=max(1, self.options.parallel))
        self.slots = Slots(self.limits)
        self.links = Links(self.store)
        self._taken: dict[str, TakenRun] = {}

    async def run(self) -> None:
        """Work until cancelled."""
        await asyncio.to_thread(self.store.hold_life)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._recovering())
                await self._dispatch(group)
        finally:
            if self.warm is not None:
                await finish_shielded(self.warm.close_all())

    async def _dispatch(self, group: asyncio.TaskGroup) -> None:
        while True:  # until cancelled
            await self.slots.wait_free()
            self.wake.clear()
            row = await self._take()
            if row is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), POLL_S)
                continue
            taken = TakenRun(row)
            self._taken[row.id] = taken
            self.slots.start()
            if self.warm is not None:
                self.warm.make_room()  # runs come first: a warm page gives way
            self.changed()
            group.create_task(self._execute(taken), name=f"serve-run-{row.id}")

    async def _take(self) -> RunRow | None:
        try:
            if self.store.life_lost and await asyncio.to_thread(self.store.renew_life):
                logger.error(
                    "this process was cut off from the database long enough for another one to "
                    "recover its runs; it goes on as a new process (its old runs send nothing)"
                )
            return await asyncio.to_thread(self.store.take)
        except Exception as exc:  # the database away for a moment: asked again
            logger.warning("taking a run failed: {}", type(exc).__name__)
            return None

    # -- one run --------------------------------------------------------------------------------

    async def _execute(self, taken: TakenRun) -> None:
        try:
            with REDACTOR.scope(shared=True):  # the run's values: masked while it runs, then gone
                await self._run(taken)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug: this run ends here, the service goes on
            logger.opt(exception=exc).error("run {} failed: {}", taken.row.id, type(exc).__name__)
        finally:
            self._taken.pop(taken.row.id, None)
            self.slots.end(at_check=taken.at_check)
            self.wake.set()  # the person's next run may go now

    async def _run(self, taken: TakenRun) -> None:
        batch = await self._start(taken)
        if batch is None:
            return
        error: Exception | None = None
        try:
            await batch.run()
        except asyncio.CancelledError:
            await finish_shielded(self._settle(taken, batch.results, stopped=True))
            raise
        except Exception as exc:
            logger.opt(exception=exc).error("run {} failed: {}", taken.row.id, type(exc).__name__)
            error = exc
        await finish_shielded(self._settle(taken, batch.results, stopped=False, error=error))

    async def _start(self, taken: TakenRun) -> Batch | None:
        """The run's batch; None when it cannot start (then it has ended, saying why)."""
        row = taken.row
        try:
            scenario = await asyncio.to_thread(self._scenario, row)
            options = replace(
                self.options,
                parallel=1,
                on_event=self._on_event(taken),
                release_check=self.fence(taken),
                confirm_resubmit=row.confirm_resubmit,
                adopt_page=self._warm_page(row),
            )
            batch = prepare_batch([scenario], options, self.launcher.get)
        except asyncio.CancelledError:
            await finish_shielded(self._settle(taken, [], stopped=True))
            raise
        except Exception as exc:
            logger.error("run {} cannot start: {}", row.id, first_line(exc))
            outcome = cannot_start_outcome(exc, link=row.link_id is not None)
            await finish_shielded(self._finish(taken, outcome, None, nothing_sent=True))
            return None
        batch.pacers = DbPacers(
            self.store, ignore=options.ignore_site_pacing, loopback=options.pace_loopback
        )
        return batch

    def _warm_page(self, row: RunRow) -> Callable[[Scenario], Awaitable[Session | None]] | None:
        """A link's verify uses the page this process opened when its customer opened the link
        (if it holds one: in a fleet, the process that served the customer's page)."""
        if self.warm is None or row.link_id is None or row.action != Action.verify:
            return None
        return self.warm.adopter(row.link_id)

    def _scenario(self, row: RunRow) -> Scenario:
        if row.sealed is None:
            raise Unreadable("the run's values are gone")
        try:
            values = self.sealer.open(row.sealed)
        except ValueError as exc:
            raise Unreadable(str(exc)) from None
        # Whoever queued the run, this process types the values: its redactor masks them in
        # every log line and evidence file (the trace's fill entries).
        register("mobile", values.get("mobile"))
        register("id_last6", values.get("id"))
        register("code", values.get("code"))
        return Scenario(
            name=row.name,
            action=Action(row.action),
            site=row.site,
            base_url=row.base_url,
            inputs=Inputs(
                mobile=str(values["mobile"]), code=values.get("code"), id_last6=str(values["id"])
            ),
        )

    # -- the run's writes, in order, fenced -----------------------------------------------------

    def _write(self, taken: TakenRun, work: Callable[[], bool]) -> asyncio.Task[bool]:
        """``work()`` (a compare-and-set of the run's lease) in a thread, after the run's
        earlier writes: one run's writes land in the order they were made. Its task says
        whether it applied (False on a database error too)."""
        before = taken.last

        async def write() -> bool:
            if before is not None:
                await asyncio.wait([before])
            try:
                applied = await asyncio.to_thread(work)
            except Exception as exc:
                logger.warning("run {}: a write failed: {}", taken.row.id, type(exc).__name__)
                return False
            if applied:
                self.changed()
            return applied

        taken.last = asyncio.get_running_loop().create_task(write())
        return taken.last

    def fence(self, taken: TakenRun) -> Callable[[], Awaitable[None]]:
        """The engine's ``release_check`` for this run: right before its one request leaves,
        the run must still be this process's, in its generation, not done, not released
        before; then it is marked released (never queued again). Otherwise (or when the
        database cannot say) :class:`~bot.errors.ReleaseRefused`: nothing is sent."""

        async def release_check() -> None:
            write = self._write(
                taken,
                lambda: self.store.still_alive() and self.store.release(taken.lease),
            )
            if not await asyncio.shield(write):
                raise ReleaseRefused(
                    f"run {taken.row.id} is no longer this process's to send (another process "
                    "took it over, or the database could not confirm it): nothing was sent"
                )
            taken.released = True

        return release_check

    def _on_event(self, taken: TakenRun) -> Callable[[RunEvent], None]:
        loop = asyncio.get_running_loop()

        def on_event(event: RunEvent) -> None:
            observe.run_stage(taken.row.id, event.stage)  # metrics: pacing waits, submissions
            phase = _PHASES.get(event.stage)
            if phase is not None:
                loop.call_soon_threadsafe(self._phase, taken, phase)

        return on_event

    def _phase(self, taken: TakenRun, phase: str) -> None:
        self._write(taken, lambda: self.store.set_phase(taken.lease, phase))

    def check_changed(self, run_id: str, what: str, url: str | None = None) -> None:
        """The relay's word (on the loop): a run's security check ``"opened"`` (it waits for
        a person: its working slot goes to the next run; ``url``: its hand-off link, kept in
        the database as its token's hash and sealed, so that every process finds and shows
        it) or was ``"passed"``."""
        taken = self._taken.get(run_id)
        if taken is None:
            return
        if what == "opened":
            if not taken.at_check:
                taken.at_check = self.slots.to_check()
            token_hash = sealed = None
            if url is not None:
                token_hash = hand_off_hash(url)
                sealed = self.sealer.seal({"url": url})
            self._write(taken, lambda: self.store.check_opened(taken.lease, token_hash, sealed))
        elif what == "passed":
            if taken.at_check:
                self.slots.from_check()
                taken.at_check = False
            self._write(taken, lambda: self.store.check_passed(taken.lease))

    # -- the run's end --------------------------------------------------------------------------

    async def _settle(
        self,
        taken: TakenRun,
        results: list[RunResult],
        *,
        stopped: bool,
        error: Exception | None = None,
    ) -> None:
        if taken.last is not None:
            await asyncio.wait([taken.last])  # the run's writes land before its end
        row = taken.row
        result = results[0] if results else None
        sent = taken.released or await _retrying(lambda: self.store.may_have_left(row.id))
        cut = result is None or result.outcome.status == "interrupted"
        run_dir = str(result.run_dir) if result is not None else None
        if stopped and cut and not sent:
            if row.link_id is None:
                if await _retrying(lambda: self.store.requeue(taken.lease)):
                    logger.info("run {} was stopped before its request left: queued again", row.id)
                else:
                    _lost(row)
                self.changed()
                return
            outcome, nothing_sent = restarted_outcome(), True
        elif result is None:
            if sent:
                outcome, nothing_sent = interrupted_outcome(), False
            else:
                why = error or RuntimeError("the run left no result")
                outcome = cannot_start_outcome(why, link=row.link_id is not None)
                nothing_sent = True
        else:
            outcome, nothing_sent = outcome_of(result), False
        await self._finish(taken, outcome, run_dir, nothing_sent=nothing_sent)

    async def _finish(
        self, taken: TakenRun, outcome: dict[str, Any], run_dir: str | None, *, nothing_sent: bool
    ) -> None:
        row = taken.row
        then = self._link_then(row, outcome, nothing_sent=nothing_sent)
        if not await _retrying(lambda: self.store.finish(taken.lease, outcome, run_dir, then=then)):
            _lost(row)
        self.changed()


def _lost(row: RunRow) -> None:
    logger.warning(
        "run {} is no longer this process's (another process took it over): its end here "
        "is not recorded",
        row.id,
    )


async def _retrying(work: Callable[[], T]) -> T:
    """``work()`` in a thread, again after a database error (a run's end must land)."""
    delay = 0.5
    for _ in range(_END_TRIES - 1):
        try:
            return await asyncio.to_thread(work)
        except Exception as exc:
            logger.warning(
                "writing a run's end failed ({}); again in {:g} s", type(exc).__name__, delay
            )
            await asyncio.sleep(delay)  # allow-sleep: a back-off for the database
            delay *= 2
    return await asyncio.to_thread(work)
