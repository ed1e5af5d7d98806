"""Running a batch in parallel: up to N scenarios at once, each in its own browser context of one
shared Chromium, one person never in two runs at once.

Worker threads take the next scenario in input order whose person (mobile + ID digits) is not
running: a second row for the same person waits for the first to end instead of being refused by
the ledger's claim. Results keep the input order. Ctrl-C or SIGTERM reaches the main thread, which
starts no new run and interrupts every running one (each still writes its result.json, as
``interrupted``); the interruption then propagates with ``.results`` as the sequential runner's
does.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

from bot.config.scenario import Scenario
from bot.config.selector_map import SelectorMap
from bot.page.browser import CONNECT_ENV_VAR, LazyBrowser
from bot.page.shared import SharedChromium, ThreadBrowser
from bot.privacy import logger
from bot.run.options import RunOptions, RunResult
from bot.run.pacing import Pacers
from bot.run.scenario_run import ScenarioRun
from bot.run.signals import interrupt_worker, worker_interruptible

__all__ = ["run_parallel"]

# How often an idle worker looks again for a scenario whose person became free (it is also woken
# at once when a run ends); and how often the main thread wakes to take a signal.
_POLL_S = 0.2


class _Queue:
    """The scenarios not started yet, and the people running now. Thread-safe."""

    def __init__(self, scenarios: Sequence[Scenario]) -> None:
        self.scenarios = scenarios
        self.pending = list(range(len(scenarios)))
        self.running: set[tuple[str, str]] = set()
        self.stopped = False
        self.cond = threading.Condition()

    @staticmethod
    def person(sc: Scenario) -> tuple[str, str]:
        return (sc.inputs.mobile, sc.inputs.id_last6)

    def take(self) -> int | None:
        """The next scenario to run, waiting while every pending one's person is busy; None
        when nothing is left or the batch was stopped."""
        with self.cond:
            while not self.stopped and self.pending:
                for index in self.pending:
                    person = self.person(self.scenarios[index])
                    if person not in self.running:
                        self.pending.remove(index)
                        self.running.add(person)
                        return index
                self.cond.wait(_POLL_S)
            return None

    def done(self, index: int) -> None:
        with self.cond:
            self.running.discard(self.person(self.scenarios[index]))
            self.cond.notify_all()

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()


class _Worker(threading.Thread):
    def __init__(self, batch: _Batch, number: int) -> None:
        super().__init__(name=f"icpbot-worker-{number}", daemon=True)
        self.batch = batch

    def run(self) -> None:
        b = self.batch
        opts = b.options
        browser: LazyBrowser | ThreadBrowser
        if opts.connect or os.environ.get(CONNECT_ENV_VAR):
            # A browser server: each worker its own connection (the server launches a browser
            # per connection); nothing is started here.
            browser = LazyBrowser(
                opts.browser,
                headed=bool(opts.headed),
                connect=opts.connect,
                expose_network=opts.expose_network,
            )
        else:
            browser = ThreadBrowser(b.shared)
        try:
            while (index := b.queue.take()) is not None:
                try:
                    self._one(index, browser)
                finally:
                    b.queue.done(index)
        finally:
            browser.close()

    def _one(self, index: int, browser: LazyBrowser | ThreadBrowser) -> None:
        b = self.batch
        sc = b.scenarios[index]
        smap = b.maps[id(sc)]
        pacer = b.pacers.for_site(smap.site, sc.base_url, smap.pacing)
        run: ScenarioRun | None = None
        try:
            with worker_interruptible():
                if b.queue.stopped:
                    return  # Ctrl-C came between taking the scenario and starting it
                run = ScenarioRun(sc, b.options, smap, browser, index=index, pacer=pacer)
                # Registered before it runs: an interruption anywhere later (even inside the
                # handler below) cannot drop it; execute() fills this same object in.
                b.results[index] = run.result
                run.execute()
        except KeyboardInterrupt:
            if run is not None:
                b.results[index] = run.result
            b.queue.stop()
        except BaseException as exc:  # a bug: keep what the run recorded, stop the batch
            logger.opt(exception=exc).error("worker failed: {}", exc)
            if run is not None:
                b.results[index] = run.result
            b.errors.append(exc)
            b.queue.stop()


class _Batch:
    def __init__(
        self,
        scenarios: Sequence[Scenario],
        options: RunOptions,
        maps: dict[int, SelectorMap],
        pacers: Pacers,
    ) -> None:
        self.scenarios = scenarios
        self.options = options
        self.maps = maps
        self.pacers = pacers
        self.queue = _Queue(scenarios)
        self.shared = SharedChromium(options.browser, headed=bool(options.headed))
        self.results: list[RunResult | None] = [None] * len(scenarios)
        self.errors: list[BaseException] = []

    def finished(self) -> list[RunResult]:
        return [r for r in self.results if r is not None]


def run_parallel(
    scenarios: Sequence[Scenario],
    options: RunOptions,
    maps: dict[int, SelectorMap],
    pacers: Pacers,
    workers: int,
) -> list[RunResult]:
    """Run ``scenarios`` with up to ``workers`` at once; results in input order."""
    batch = _Batch(scenarios, options, maps, pacers)
    threads = [_Worker(batch, n + 1) for n in range(workers)]
    try:
        for t in threads:
            t.start()
        _join(threads)
    except KeyboardInterrupt as exc:
        batch.queue.stop()  # no new run starts
        for t in threads:
            interrupt_worker(t, type(exc))  # only a worker inside a run is interruptible
        _join(threads, through_signals=True)
        exc.results = batch.finished()  # type: ignore[attr-defined]
        raise
    finally:
        batch.queue.stop()
        batch.shared.close()
    if batch.errors:
        raise batch.errors[0]
    return batch.finished()


def _join(threads: Sequence[threading.Thread], *, through_signals: bool = False) -> None:
    """Wait for the workers, taking signals between short waits (a plain join would not)."""
    for t in threads:
        while t.is_alive():
            try:
                t.join(_POLL_S)
            except KeyboardInterrupt:
                if not through_signals:
                    raise
                # A second Ctrl-C while the runs record their results: they finish anyway.
