"""Running a batch in parallel: up to N scenarios at once, each in its own browser context of one
browser, one person never in two runs at once.

The runs are fibers on one Playwright driver (:mod:`bot.page.fibers`): while one run waits for the
browser, the others go on, and the batch costs one driver and one browser whatever N is. Each
fiber takes the next scenario in input order whose person (mobile + ID digits) is not running: a
second row for the same person waits for the first to end instead of being refused by the
ledger's claim. Results keep the input order.

Ctrl-C or SIGTERM is raised in whichever fiber runs at that moment (most often the batch's own,
waiting for the runs). Either way no new run starts, and every running run is interrupted where
it waits; each still writes its result.json, as ``interrupted``. The interruption then propagates
with ``.results``, as the sequential runner's does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import greenlet
from playwright.sync_api import Browser
from playwright.sync_api import Error as PlaywrightError

from bot.config.scenario import Scenario
from bot.config.selector_map import SelectorMap
from bot.page.fibers import Fibers, throw_soon
from bot.privacy import logger
from bot.run.options import RunOptions, RunResult
from bot.run.pacing import Pacers
from bot.run.scenario_run import ScenarioRun
from bot.run.signals import on_interrupt_delivered

__all__ = ["run_parallel"]


class _Queue:
    """The scenarios not started yet, and the people running now."""

    def __init__(self, scenarios: Sequence[Scenario], fibers: Fibers) -> None:
        self.scenarios = scenarios
        self.fibers = fibers
        self.pending = list(range(len(scenarios)))
        self.running: set[tuple[str, str]] = set()
        self.stopped = False
        self._changed = fibers.future()

    @staticmethod
    def person(sc: Scenario) -> tuple[str, str]:
        return (sc.inputs.mobile, sc.inputs.id_last6)

    def take(self) -> int | None:
        """The next scenario to run, waiting while every pending one's person is busy; None
        when nothing is left or the batch was stopped."""
        while not self.stopped and self.pending:
            for index in self.pending:
                person = self.person(self.scenarios[index])
                if person not in self.running:
                    self.pending.remove(index)
                    self.running.add(person)
                    return index
            self.fibers.wait(self._changed)
        return None

    def done(self, index: int) -> None:
        self.running.discard(self.person(self.scenarios[index]))
        self._wake()

    def stop(self) -> None:
        self.stopped = True
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, self.fibers.future()
        changed.set_result(None)


class _OneBrowser:
    """The batch's browser, started by the first run that needs it (none for a batch the guard
    refuses entirely); the others wait for that start instead of starting their own."""

    def __init__(self, get: Callable[[], Browser], fibers: Fibers) -> None:
        self.get = get
        self.fibers = fibers
        self.browser: Browser | None = None
        self.starting: asyncio.Future[None] | None = None  # while a run starts it

    def __call__(self) -> Browser:
        while self.browser is None:
            if self.starting is not None:
                self.fibers.wait(self.starting)
                continue  # started, or failed: then this run tries (and reports) itself
            starting = self.starting = self.fibers.future()
            try:
                self.browser = self.get()
            finally:
                self.starting = None
                starting.set_result(None)
        return self.browser


class _Batch:
    def __init__(
        self,
        scenarios: Sequence[Scenario],
        options: RunOptions,
        maps: dict[int, SelectorMap],
        browser: Callable[[], Browser],
        fibers: Fibers,
    ) -> None:
        self.scenarios = scenarios
        self.options = options
        self.maps = maps
        self.fibers = fibers
        self.browser = _OneBrowser(browser, fibers)
        self.pacers = Pacers(ignore=options.ignore_site_pacing, sleep=fibers.sleep)
        self.queue = _Queue(scenarios, fibers)
        self.results: list[RunResult | None] = [None] * len(scenarios)
        self.errors: list[BaseException] = []
        self.interruption: KeyboardInterrupt | None = None
        self.in_run: set[greenlet.greenlet] = set()  # fibers in a run, not interrupted yet
        self.spawned: list[greenlet.greenlet] = []
        self.all_done = fibers.future()

    def worker(self) -> None:
        """The body of one fiber: scenarios until none is left. Raises nothing."""
        try:
            while (index := self.queue.take()) is not None:
                try:
                    self._one(index)
                finally:
                    self.queue.done(index)
        except KeyboardInterrupt as exc:  # it landed while this fiber was between runs
            self.interrupt(exc)
        except greenlet.GreenletExit:
            raise  # the fiber is collected: nothing to report
        except BaseException as exc:  # a bug: stop the batch, report it from the main fiber
            logger.opt(exception=exc).error("batch worker failed: {}", exc)
            self.errors.append(exc)
            self.queue.stop()
        finally:
            me = greenlet.getcurrent()
            last = all(fiber.dead or fiber is me for fiber in self.spawned)
            if last and not self.all_done.done():
                self.all_done.set_result(None)

    def _one(self, index: int) -> None:
        sc = self.scenarios[index]
        smap = self.maps[id(sc)]
        pacer = self.pacers.for_site(smap.site, sc.base_url, smap.pacing)
        me = greenlet.getcurrent()
        try:
            run = ScenarioRun(sc, self.options, smap, self.browser, index=index, pacer=pacer)
            # Registered before it runs: execute() fills this same object in.
            self.results[index] = run.result
            self.in_run.add(me)
            with on_interrupt_delivered(lambda: self.in_run.discard(me)):
                run.execute()
        except KeyboardInterrupt as exc:
            self.interrupt(exc)
        finally:
            self.in_run.discard(me)

    def interrupt(self, exc: KeyboardInterrupt) -> None:
        """Start no new run; raise the interruption in every other run, where it waits."""
        if self.interruption is None:
            self.interruption = exc
        self.queue.stop()
        me = greenlet.getcurrent()
        for fiber in list(self.in_run):
            if fiber is not me:
                self.in_run.discard(fiber)  # once each
                throw_soon(self.fibers.loop, fiber, type(exc))

    def join(self, *, through_signals: bool = False) -> None:
        """Wait until every fiber has ended."""
        while not self.all_done.done():
            if self.fibers.dispatcher.dead:
                self._driver_gone()
                return
            try:
                self.fibers.wait(self.all_done)
            except PlaywrightError:
                if not self.fibers.dispatcher.dead:
                    raise
            except KeyboardInterrupt:
                if not through_signals:
                    raise
                # A second Ctrl-C while the runs record their results: they finish anyway.

    def _driver_gone(self) -> None:
        """The driver ended (killed, crashed): nothing can resume a waiting fiber any more. Each
        is told where it waits and records its run (every browser call now fails at once, with
        nothing to wait for); no new run starts."""
        left = len(self.queue.pending)
        self.queue.stop()
        logger.error("the Playwright driver has gone away; {} scenario(s) not started", left)
        if left and self.options.notify is not None:
            self.options.notify(
                f"error: the browser's driver (Playwright) has gone away; {left} scenario(s) "
                "not started"
            )
        for fiber in self.spawned:
            while not fiber.dead:
                fiber.throw(PlaywrightError("Playwright connection closed"))

    def finished(self) -> list[RunResult]:
        return [r for r in self.results if r is not None]


def run_parallel(
    scenarios: Sequence[Scenario],
    options: RunOptions,
    maps: dict[int, SelectorMap],
    browser: Callable[[], Browser],
    fibers: Fibers,
    workers: int,
) -> list[RunResult]:
    """Run ``scenarios`` with up to ``workers`` at once; results in input order.

    ``browser`` gives the browser (started on first call, once); ``fibers`` are those of its
    Playwright driver. Call this from the greenlet that started that driver.
    """
    batch = _Batch(scenarios, options, maps, browser, fibers)
    try:
        for _ in range(workers):  # they start when join() lets the driver's loop run
            batch.spawned.append(fibers.spawn(batch.worker))
        batch.join()
    except KeyboardInterrupt as exc:
        batch.interrupt(exc)
        batch.join(through_signals=True)
    stopped = batch.interruption
    if stopped is not None:
        stopped.results = batch.finished()  # type: ignore[attr-defined]
        raise stopped
    if batch.errors:
        raise batch.errors[0]
    return batch.finished()
