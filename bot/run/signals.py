"""Ctrl-C and SIGTERM: one interruption that cancels the running tasks, and the thin sync door.

icpbot runs on one asyncio loop per process. :func:`run_blocking` is how synchronous code (the
CLI, scripts, ordinary tests) runs a coroutine of the engine to its end: in the main thread it
owns the loop and installs SIGINT and SIGTERM handlers with ``loop.add_signal_handler``; the first
signal cancels the main task, and every run then records its outcome in a shielded ``finally``
(:func:`finish_shielded`) before the cancellation goes on. Further signals change nothing while
that happens: the results are being written, and nothing is lost. Then KeyboardInterrupt (SIGINT)
or :class:`~bot.errors.Stopped` (SIGTERM) is raised to the caller, as Python's own handler would.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import signal
import threading
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.errors import Stopped
from bot.privacy import logger

__all__ = [
    "Engine",
    "Interruption",
    "begin_early",
    "current_interruption",
    "end_early",
    "finish_shielded",
    "run_blocking",
    "stop_on_sigterm",
]

T = TypeVar("T")

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class Interruption:
    """The signal that stopped this invocation, once one arrived."""

    signum: int | None = None

    @property
    def by(self) -> str | None:
        """Who stopped the runs, in the words of a result (None: the default, Ctrl-C)."""
        return "SIGTERM (a stop request)" if self.signum == signal.SIGTERM else None

    def exception(self) -> KeyboardInterrupt:
        return Stopped() if self.signum == signal.SIGTERM else KeyboardInterrupt()


_CURRENT: ContextVar[Interruption | None] = ContextVar("icpbot_interruption", default=None)


def current_interruption() -> Interruption | None:
    """The interruption of the invocation this task belongs to (None outside one)."""
    return _CURRENT.get()


async def finish_shielded(work: Awaitable[T]) -> T:
    """Run ``work`` to its end even if this task is cancelled meanwhile (a second Ctrl-C, a
    task group cancelling its members): what it writes must not be lost. A cancellation that
    arrived is raised again once the work is done."""
    task = asyncio.ensure_future(work)
    cancelled: asyncio.CancelledError | None = None
    while True:
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError as exc:
            if task.done():
                raise
            cancelled = exc  # the work goes on; the cancellation waits for it
            continue
        if cancelled is not None:
            raise cancelled
        return result


def _on_signal(interruption: Interruption, main: asyncio.Task[Any], signum: int) -> None:
    if interruption.signum is not None:
        logger.info("signal {} while the runs record their results: they finish first", signum)
        return
    interruption.signum = signum
    logger.info("signal {}: stopping the runs", signum)
    main.cancel()


def run_blocking(make: Callable[[], Coroutine[Any, Any, T]], *, engine: Engine | None = None) -> T:
    """Run the coroutine ``make()`` to its end from synchronous code; its result.

    Ctrl-C or SIGTERM cancels it (each run records its outcome first), then KeyboardInterrupt
    or :class:`~bot.errors.Stopped` is raised here. In the main thread, with no event loop
    running, the loop is made here and the signals come in through ``loop.add_signal_handler``.
    With ``engine``, or where that is not possible (another thread, or a thread whose loop is
    busy, such as one that runs Playwright's sync API in a test), the coroutine runs on the loop
    of an :class:`Engine` thread, and a KeyboardInterrupt in this thread cancels it the same way.
    """
    if engine is not None:
        return engine.call(make)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        in_loop = False
    else:
        in_loop = True
    if not in_loop and threading.current_thread() is threading.main_thread():
        return _run_here(make)
    with Engine() as temporary:
        return temporary.call(make)


_EARLY: list[asyncio.Runner] = []  # the loop begin_early() made, until run_blocking takes it


def begin_early(
    start: Callable[[], Coroutine[Any, Any, Any]], meanwhile: Callable[[], None]
) -> None:
    """Make the main thread's loop now and run ``start()`` on it (e.g. start Playwright's
    driver, a Node.js process) while a thread runs ``meanwhile()`` (e.g. imports); the next
    :func:`run_blocking` in this thread goes on with that loop, its tasks and signal handlers.
    ``start`` must raise nothing (it is not awaited here). Main thread, no loop running."""
    runner = asyncio.Runner()
    loop = runner.get_loop()
    started = loop.create_task(start())
    try:
        loop.run_until_complete(asyncio.to_thread(meanwhile))
    except BaseException:
        started.cancel()
        runner.close()
        raise
    _EARLY.append(runner)


def end_early(stop: Callable[[], Coroutine[Any, Any, Any]] | None = None) -> None:
    """Close the loop of :func:`begin_early` if no :func:`run_blocking` took it (a command that
    ended before running), after ``stop()`` on it."""
    while _EARLY:
        runner = _EARLY.pop()
        with runner:
            if stop is not None:
                runner.run(stop())


def _run_here(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    interruption = Interruption()
    with _EARLY.pop() if _EARLY else asyncio.Runner() as runner:
        loop = runner.get_loop()
        context = contextvars.copy_context()
        context.run(_CURRENT.set, interruption)
        main = loop.create_task(make(), context=context)
        installed = []
        for sig in _SIGNALS:
            try:
                loop.add_signal_handler(sig, _on_signal, interruption, main, sig)
                installed.append(sig)
            except (NotImplementedError, RuntimeError):  # pragma: no cover - not on POSIX
                pass
        try:
            return loop.run_until_complete(main)
        except asyncio.CancelledError:
            if interruption.signum is None:
                raise
            raise interruption.exception() from None
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)


class Engine:
    """An event loop in a thread of its own, for synchronous callers that make many calls (a
    test session, a script): what a call starts on the loop (a browser, through a
    :class:`~bot.page.browser.LazyBrowser` it keeps) lives on for the next call.

    :meth:`call` waits in the calling thread; a KeyboardInterrupt there cancels the call's task,
    which records its runs, and is raised again once it has ended.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="icpbot-engine", daemon=True
        )
        self._thread.start()

    def call(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run ``make()`` on the engine's loop and wait for its result."""
        interruption = Interruption()

        async def main() -> T:
            _CURRENT.set(interruption)
            return await make()

        future = asyncio.run_coroutine_threadsafe(main(), self.loop)
        while True:
            try:
                return future.result()
            except concurrent.futures.CancelledError:
                if interruption.signum is None:
                    raise
                raise interruption.exception() from None
            except KeyboardInterrupt:  # Ctrl-C in this thread: the runs stop and record first
                if interruption.signum is None:
                    interruption.signum = signal.SIGINT
                    self.loop.call_soon_threadsafe(future.cancel)

    def close(self) -> None:
        """Stop the loop (after what runs on it was closed by its owner) and the thread."""
        if self.loop.is_closed():
            return

        async def finish() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.loop.shutdown_asyncgens()
            await self.loop.shutdown_default_executor()

        asyncio.run_coroutine_threadsafe(finish(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _raise_stopped(signum: int, frame: object) -> None:
    raise Stopped()


def stop_on_sigterm() -> None:
    """Outside the engine's loop (start-up, commands that run no browser): SIGTERM raises
    :class:`~bot.errors.Stopped`, a KeyboardInterrupt, so that it takes Ctrl-C's path and the
    CLI exits 143. Main thread only. While :func:`run_blocking` runs, its loop's handlers rule."""
    signal.signal(signal.SIGTERM, _raise_stopped)
