"""Fibers on one real Playwright driver: waits that let the others run, an interruption raised
where a fiber waits, and the site's pacing waiting without stopping the other runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from playwright.sync_api import Playwright

from bot.config.selector_models import Pacing
from bot.page.fibers import Fibers, result_of, throw_soon
from bot.run.pacing import Pacer

# ``playwright`` is pytest-playwright's driver of the session (only one can run in a thread); no
# browser is needed to switch fibers.


def _run_all(fibers: Fibers, bodies: list[Callable[[], None]]) -> None:
    """Run ``bodies`` as fibers; return when all have ended."""
    done = fibers.future()
    left = [len(bodies)]

    def wrap(body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            finally:
                left[0] -= 1
                if left[0] == 0:
                    done.set_result(None)

        return run

    for body in bodies:
        fibers.spawn(wrap(body))
    fibers.wait(done)


def test_a_waiting_fiber_lets_the_others_run(playwright: Playwright) -> None:
    fibers = Fibers(playwright)
    events: list[str] = []
    _run_all(
        fibers,
        [
            lambda: (events.append("a waits"), fibers.sleep(0.2), events.append("a woke")),
            lambda: (events.append("b works"), events.append("b done")),
        ],
    )
    assert events == ["a waits", "b works", "b done", "a woke"]


def test_an_interruption_is_raised_where_the_fiber_waits(playwright: Playwright) -> None:
    fibers = Fibers(playwright)
    shared = fibers.future()  # e.g. the batch's "something changed"
    caught: list[str] = []

    def waiter() -> None:
        try:
            fibers.wait(shared)
        except KeyboardInterrupt:
            caught.append("interrupted")

    def interrupter() -> None:
        throw_soon(fibers.loop, target, KeyboardInterrupt)

    done = fibers.future()
    target = fibers.spawn(lambda: (waiter(), done.set_result(None)))
    fibers.spawn(interrupter)
    fibers.wait(done)
    assert caught == ["interrupted"]
    assert not shared.cancelled()  # the wait cancels only its own proxy, never a shared future


def test_pacing_spaces_submissions_and_never_blocks_the_other_runs(playwright: Playwright) -> None:
    fibers = Fibers(playwright)
    pacer = Pacer(Pacing(max_parallel=1, min_interval_s=0.3), sleep=fibers.sleep)
    starts: dict[str, float] = {}
    waited: list[str] = []
    other_ran_at: list[float] = []

    def submit(name: str) -> Callable[[], None]:
        def body() -> None:
            pacer.acquire(waiting=lambda: waited.append(name))
            starts[name] = time.monotonic()
            fibers.sleep(0.05)  # the reply
            pacer.release()

        return body

    def page_load() -> None:  # a run that only loads its page meanwhile
        fibers.sleep(0.1)
        other_ran_at.append(time.monotonic())

    _run_all(fibers, [submit("first"), submit("second"), page_load])
    assert waited == ["second"]
    assert starts["second"] - starts["first"] >= 0.3
    assert starts["first"] < other_ran_at[0] < starts["second"]  # ran during the wait


def test_waiting_for_a_thread_lets_the_other_fibers_run(playwright: Playwright) -> None:
    fibers = Fibers(playwright)
    future: Future[str] = Future()
    events: list[str] = []

    def waiter() -> None:
        events.append("waiting for the thread")
        events.append(result_of(future))

    def other() -> None:
        events.append("other ran")
        threading.Thread(target=future.set_result, args=("thread done",)).start()

    _run_all(fibers, [waiter, other])
    assert events == ["waiting for the thread", "other ran", "thread done"]
