"""The service's workers: queued runs taken from the database and run on the engine, one
browser for the process, up to ``parallel`` at once.

Each run is a batch of one on the engine (:func:`bot.run.runner.prepare_batch`), with the
service's relay (the security check served by the API and the pages) and a pacer whose lock and
last-submission time are in the database (:class:`DbPacers`), so that the site's pacing holds
across every process sharing it.

A stop (SIGTERM, Ctrl-C) cancels the workers: no run is taken any more, and each running run
records its outcome first (the engine's shielded ``finally``). A run stopped before its click is
queued again for the next start; one stopped after it ends as done, interrupted. Runs of a
process that died (``kill -9``) are found by :meth:`Worker.recover`, at start and every few
seconds: resumed if they had not reached the click, else ended as interrupted, outcome unknown.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from bot.config.scenario import Inputs, Scenario
from bot.config.selector_models import Pacing
from bot.page.browser import LazyBrowser
from bot.privacy import logger
from bot.run.options import RunEvent, RunOptions, RunResult
from bot.run.pacing import Pacer, Pacers, is_local, site_key
from bot.run.runner import prepare_batch
from bot.run.signals import finish_shielded
from bot.safety.store import PersonLock
from bot.serve import observe
from bot.serve.seal import Sealer
from bot.serve.store import RunRow, ServeStore
from bot.types import Action

__all__ = ["DbPacers", "Worker", "interrupted_outcome", "outcome_of"]

RECOVER_EVERY_S = 3.0
POLL_S = 0.5  # other processes' new runs: the database is asked this often when idle
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


def outcome_of(result: RunResult) -> dict[str, Any]:
    o = result.outcome
    return {
        "category": str(o.category),
        "status": o.status,
        "site_status": o.site_status,
        "message": o.message,
        "next_step": o.next_step,
        "submitted": o.submitted,
        "banner_zh": o.banner_zh or o.expected_banner_zh,
        "run_id": result.run_id,
    }


def interrupted_outcome() -> dict[str, Any]:
    """A run whose process died after it had reached the click: never submitted again."""
    return {
        "category": "unknown",
        "status": "interrupted",
        "site_status": None,
        "message": "The service stopped (a crash or kill) after this run had reached 提交 "
        "(submit): the submission may have reached the site. icpbot will not submit it again.",
        "next_step": "Check the filing's status before trying again (ask the customer whether "
        "the site said verified, or look it up with the hosting provider); a new run needs the "
        "operator's decision.",
        "submitted": "maybe",
        "banner_zh": None,
        "run_id": None,
    }


class DbPacer(Pacer):
    """The site's pacing through the database: a submission holds the site's lock (the
    ledger's per-key lock, released by the system if the process dies) and starts no sooner
    than ``min_interval_s`` after the last one recorded by any process."""

    def __init__(self, pacing: Pacing, store: ServeStore, key: str) -> None:
        super().__init__(pacing)
        self.store = store
        self.key = key
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        slots = pacing.max_parallel or 1
        self._locks = [f"serve-pace-{digest}-{n}" for n in range(slots)]
        self._held: PersonLock | None = None

    def try_acquire(self) -> bool:
        """Take the site's lock now if it is free and the interval has passed (then the
        submission is recorded as now); False otherwise. Blocking (the database)."""
        for name in self._locks:
            lock = self.store.try_lock(name)
            if lock is None:
                continue
            if time.time() - self.store.last_submission(self.key) >= self.pacing.min_interval_s:
                self.store.mark_submission(self.key, time.time())
                self._held = lock
                return True
            lock.release()
            return False
        return False

    async def acquire(self, waiting: Callable[[], None] | None = None) -> None:
        told = False
        while not await asyncio.to_thread(self.try_acquire):
            if not told and waiting is not None:
                told = True
                waiting()
            await asyncio.sleep(POLL_S)  # another process's submission: asked again, on purpose

    def release_now(self) -> None:
        """Let go of the site's lock, if held (blocking: the database)."""
        held, self._held = self._held, None
        if held is not None:
            self.store.locked(held.release)

    async def release(self) -> None:
        await asyncio.to_thread(self.release_now)


class DbPacers(Pacers):
    def __init__(self, store: ServeStore, *, ignore: bool = False) -> None:
        super().__init__(ignore=ignore)
        self.store = store

    def for_site(self, site: str, base_url: str, pacing: Pacing) -> Pacer | None:
        if self.ignore or is_local(base_url):
            return None
        pacer = DbPacer(pacing, self.store, site_key(site, base_url))
        return pacer if pacer.limited else None


@dataclass
class Worker:
    store: ServeStore
    sealer: Sealer
    options: RunOptions
    launcher: LazyBrowser
    changed: Callable[[], None]  # called after every state change (live views)

    def __post_init__(self) -> None:
        self.wake = asyncio.Event()

    async def run(self) -> None:
        """Work until cancelled."""
        await asyncio.to_thread(self.store.hold_life)
        async with asyncio.TaskGroup() as group:
            group.create_task(self._recovering())
            for _ in range(max(1, self.options.parallel)):
                group.create_task(self._slot())

    async def _recovering(self) -> None:
        while True:
            try:
                await self.recover()
            except Exception as exc:  # the database away for a moment: try again
                logger.warning("recovering orphaned runs failed: {}", type(exc).__name__)
            await asyncio.sleep(RECOVER_EVERY_S)

    async def recover(self) -> None:
        """Runs of dead processes: resumed (queued again) before the click, ended after it."""
        for row in await asyncio.to_thread(self.store.orphans):
            if await asyncio.to_thread(self.store.reached_click, row):
                await asyncio.to_thread(self.store.finish, row.id, interrupted_outcome(), None)
                logger.warning("run {} was cut short after its click: ended, unknown", row.id)
            else:
                await asyncio.to_thread(self.store.requeue, row.id)
                logger.info("run {} was cut short before its click: queued again", row.id)
            self.changed()
            self.wake.set()

    async def _slot(self) -> None:
        while True:  # until cancelled
            row = await asyncio.to_thread(self.store.take)
            if row is None:
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), POLL_S)
                continue
            self.changed()
            await self._execute(row)
            self.wake.set()  # the person's next run may go now

    def _scenario(self, row: RunRow) -> Scenario:
        if row.sealed is None:
            raise ValueError("the run's values are gone")
        values = self.sealer.open(row.sealed)
        return Scenario(
            name=row.name,
            action=Action(row.action),
            site=row.site,
            base_url=row.base_url,
            inputs=Inputs(
                mobile=str(values["mobile"]), code=values.get("code"), id_last6=str(values["id"])
            ),
        )

    def _on_event(self, run_id: str) -> Callable[[RunEvent], None]:
        loop = asyncio.get_running_loop()

        def on_event(event: RunEvent) -> None:
            observe.run_stage(run_id, event.stage)  # metrics: pacing waits, submissions
            phase = _PHASES.get(event.stage)
            if phase is not None:
                loop.call_soon_threadsafe(self._phase, run_id, phase)

        return on_event

    def _phase(self, run_id: str, phase: str) -> None:
        async def write() -> None:
            await asyncio.to_thread(self.store.set_phase, run_id, phase)
            self.changed()

        asyncio.get_running_loop().create_task(write())

    async def _execute(self, row: RunRow) -> None:
        try:
            scenario = await asyncio.to_thread(self._scenario, row)
        except Exception as exc:
            logger.error("run {} cannot start: {}", row.id, type(exc).__name__)
            outcome = interrupted_outcome() | {
                "category": "failed",
                "status": "unreadable",
                "message": "The run's values could not be read (the service's secret changed).",
                "next_step": "Queue the run again.",
                "submitted": "no",
            }
            await asyncio.to_thread(self.store.finish, row.id, outcome, None)
            return
        options = replace(self.options, on_event=self._on_event(row.id))
        batch = prepare_batch([scenario], options, self.launcher.get)
        batch.pacers = DbPacers(self.store, ignore=options.ignore_site_pacing)
        try:
            await batch.run()
        except asyncio.CancelledError:
            await finish_shielded(self._settle(row, batch.results, stopped=True))
            raise
        except Exception as exc:
            logger.opt(exception=exc).error("run {} failed: {}", row.id, type(exc).__name__)
        await finish_shielded(self._settle(row, batch.results, stopped=False))

    async def _settle(self, row: RunRow, results: list[RunResult], *, stopped: bool) -> None:
        result = results[0] if results else None
        sent = await asyncio.to_thread(self.store.reached_click, row)
        cut = result is None or result.outcome.status == "interrupted"
        if stopped and cut and not sent:
            await asyncio.to_thread(self.store.requeue, row.id)  # resumed at the next start
        elif result is None:
            await asyncio.to_thread(self.store.finish, row.id, interrupted_outcome(), None)
        else:
            await asyncio.to_thread(
                self.store.finish, row.id, outcome_of(result), str(result.run_dir)
            )
        self.changed()
