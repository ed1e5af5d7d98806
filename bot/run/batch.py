"""Running scenarios: up to N at once, each in its own browser context of one browser, one person
never in two runs at once, results in input order.

The runs are tasks on one asyncio loop and one Playwright driver: while one run waits for the
browser, the others go on, and a batch costs one driver and one browser whatever N is. N worker
tasks in a task group take the scenarios in input order, each the next one whose person (mobile +
ID digits) is not running: a second row for the same person waits for the first to end instead of
being refused by the ledger's claim. With N = 1 that is the plain sequential run.

Cancellation (Ctrl-C, SIGTERM: :mod:`bot.run.signals`) cancels the task group: no new run starts,
and every running run records its outcome (``interrupted``) before the cancellation goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from playwright.async_api import Browser
from playwright.async_api import Error as PlaywrightError

from bot.config.scenario import Scenario
from bot.config.selector_map import SelectorMap
from bot.privacy import logger
from bot.run.options import RunOptions, RunResult
from bot.run.pacing import Pacers
from bot.run.scenario_run import ScenarioRun

__all__ = ["Batch"]


class _Queue:
    """The scenarios not started yet, and the people running now."""

    def __init__(self, scenarios: Sequence[Scenario]) -> None:
        self.scenarios = scenarios
        self.pending = list(range(len(scenarios)))
        self.running: set[tuple[str, str]] = set()
        self.stopped = False
        self._changed = asyncio.Condition()

    @staticmethod
    def person(sc: Scenario) -> tuple[str, str]:
        return (sc.inputs.mobile, sc.inputs.id_last6)

    async def take(self) -> int | None:
        """The next scenario to run, waiting while every pending one's person is busy; None
        when nothing is left or the batch was stopped."""
        async with self._changed:
            while not self.stopped and self.pending:
                for index in self.pending:
                    person = self.person(self.scenarios[index])
                    if person not in self.running:
                        self.pending.remove(index)
                        self.running.add(person)
                        return index
                await self._changed.wait()
            return None

    async def done(self, index: int) -> None:
        async with self._changed:
            self.running.discard(self.person(self.scenarios[index]))
            self._changed.notify_all()

    async def stop(self) -> None:
        async with self._changed:
            self.stopped = True
            self._changed.notify_all()


async def _alive(browser: Browser) -> bool:
    """Whether ``browser`` still answers (its driver and process are up): a context is opened
    and closed. (After its driver was killed, a launched browser still says it is connected.)"""
    try:
        context = await asyncio.wait_for(browser.new_context(), 10)
        await context.close()
    except (PlaywrightError, TimeoutError):
        return False
    return True


class Batch:
    """One invocation's runs. :meth:`run` runs them; :attr:`results` holds every run that
    started, in input order, also after a cancellation."""

    def __init__(
        self,
        scenarios: Sequence[Scenario],
        options: RunOptions,
        maps: dict[int, SelectorMap],
        browser: Callable[[], Awaitable[Browser]],
    ) -> None:
        self.scenarios = scenarios
        self.options = options
        self.maps = maps
        self.browser = browser
        self.pacers = Pacers(ignore=options.ignore_site_pacing, loopback=options.pace_loopback)
        self.queue = _Queue(scenarios)
        self._results: list[RunResult | None] = [None] * len(scenarios)
        self.errors: list[BaseException] = []

    @property
    def results(self) -> list[RunResult]:
        return [r for r in self._results if r is not None]

    async def run(self) -> list[RunResult]:
        """Run every scenario once, up to ``options.parallel`` at once; results in input order.
        A cancellation propagates once every started run has recorded its outcome."""
        workers = max(1, min(self.options.parallel, len(self.scenarios)))
        async with asyncio.TaskGroup() as group:
            for _ in range(workers):
                group.create_task(self._worker())
        if self.errors:
            raise self.errors[0]
        return self.results

    async def _worker(self) -> None:
        """Scenarios until none is left. Raises nothing but its cancellation."""
        try:
            while (index := await self.queue.take()) is not None:
                try:
                    await self._one(index)
                finally:
                    await self.queue.done(index)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug: stop the batch, report it once the others ended
            logger.opt(exception=exc).error("batch worker failed: {}", exc)
            self.errors.append(exc)
            await self.queue.stop()

    async def _one(self, index: int) -> None:
        sc = self.scenarios[index]
        smap = self.maps[id(sc)]
        pacer = self.pacers.for_site(smap.site, sc.base_url, smap.pacing)
        run = ScenarioRun(sc, self.options, smap, self.browser, index=index, pacer=pacer)
        # Registered before it runs: execute() fills this same object in, cancelled or not.
        self._results[index] = run.result
        result = await run.execute()
        lost = result.outcome.status in ("browser_gone", "no_reply")
        if lost and run.chromium is not None and not await _alive(run.chromium):
            await self._driver_gone()

    async def _driver_gone(self) -> None:
        if self.queue.stopped:
            return
        """The browser or its driver ended (killed, crashed): the runs that wait for it record
        their outcome by themselves (every call fails at once); no new run starts."""
        await self.queue.stop()
        left = len(self.queue.pending)
        logger.error("the browser has gone away; {} scenario(s) not started", left)
        if left and self.options.notify is not None:
            self.options.notify(
                f"error: the browser's driver (Playwright) has gone away; {left} scenario(s) "
                "not started"
            )
