"""Several runs on one Playwright driver: cooperative fibers (greenlets) in one thread.

Playwright's sync API is built on greenlets. Each sync call starts the call as a task on the
driver's event loop and switches to the *dispatcher fiber*, which runs that loop until the task
is done; a done task switches back to the greenlet that waits for it. Playwright runs its own route
and event handlers as greenlets of their own in the same way. So N runs can share ONE driver and
ONE browser: each run is a greenlet; while one waits for the browser, the loop serves the others.
(Threads would need a driver each: a Node.js process that costs about a CPU second to start.)

A fiber must never block the thread outside a Playwright call: it waits with :meth:`Fibers.wait`
or :meth:`Fibers.sleep`, never ``time.sleep`` or a lock held across a switch. A switch happens only
inside a Playwright call or one of those waits, so code without either (writing ``result.json``,
a ledger transaction) runs as one piece.

This reads two attributes that every object of the sync API has, ``_loop`` and
``_dispatcher_fiber`` (see ``playwright/_impl/_sync_base.py``), and waits the way its ``_sync``
does; the parallel-batch tests fail if a Playwright upgrade changes that.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import greenlet
from playwright.sync_api import Error as PlaywrightError

__all__ = ["Fibers", "driver_gone", "is_fiber", "result_of", "throw_soon"]

T = TypeVar("T")

#: Every fiber spawned, with its Fibers. By identity: a context variable would also be seen by
#: the driver's loop while it runs a task that a fiber started.
_SPAWNED: weakref.WeakKeyDictionary[greenlet.greenlet, Fibers] = weakref.WeakKeyDictionary()


def driver_gone(sync_object: Any) -> bool:
    """The Playwright driver behind ``sync_object`` (any sync-API object) has ended: its
    dispatcher fiber, which runs the driver's loop, is dead."""
    dispatcher = getattr(sync_object, "_dispatcher_fiber", None)
    return bool(dispatcher is not None and dispatcher.dead)


def is_fiber(candidate: greenlet.greenlet) -> bool:
    """``candidate`` is one of the runs' fibers (not the driver's loop, not its handlers)."""
    return candidate in _SPAWNED


def throw_soon(
    loop: asyncio.AbstractEventLoop, target: greenlet.greenlet, exc: type[BaseException]
) -> None:
    """Raise ``exc`` in ``target`` where it waits now, at ``loop``'s next turn (skipped if it has
    ended by then). Safe from a signal handler."""

    def throw() -> None:
        if not target.dead:
            target.throw(exc)

    loop.call_soon_threadsafe(throw)


def result_of(future: concurrent.futures.Future[T]) -> T:
    """The result of a thread's ``future``; in a fiber, the other fibers run meanwhile (a plain
    ``future.result()`` would stop all of them)."""
    fibers = _SPAWNED.get(greenlet.getcurrent())
    if fibers is not None and not future.done() and not fibers.dispatcher.dead:
        fibers.wait(asyncio.wrap_future(future, loop=fibers.loop))
    return future.result()  # (with the driver gone, nothing else runs: block)


class Fibers:
    """The fibers of one Playwright instance. Create it, spawn and wait in the thread (and the
    greenlet) that started Playwright: a signal that interrupts the driver's loop is raised in
    that greenlet."""

    def __init__(self, sync_object: Any) -> None:
        """``sync_object``: any object of Playwright's sync API (the Playwright, a Browser)."""
        self.loop: asyncio.AbstractEventLoop = sync_object._loop
        self.dispatcher: greenlet.greenlet = sync_object._dispatcher_fiber

    def spawn(self, body: Callable[[], None]) -> greenlet.greenlet:
        """Start ``body`` as a fiber at the loop's next turn. ``body`` must not raise: whatever
        escapes it lands in the dispatcher (and stops the driver's loop)."""
        fiber = greenlet.greenlet(body, parent=self.dispatcher)
        _SPAWNED[fiber] = self
        self.loop.call_soon(fiber.switch)
        return fiber

    def future(self) -> asyncio.Future[None]:
        return self.loop.create_future()

    def wait(self, future: asyncio.Future[Any]) -> None:
        """Let the other fibers run until ``future`` is done. An exception thrown into this fiber
        (an interruption) is raised here; ``future`` itself is never cancelled by the wait."""
        if future.done():
            return
        me = greenlet.getcurrent()
        waiting = True

        def resume(_: object) -> None:
            if waiting:
                me.switch()

        # A proxy: the wait removes and cancels only its own future, never a shared one.
        proxy: asyncio.Future[None] = self.loop.create_future()

        def settle(_: object) -> None:
            if not proxy.done():
                proxy.set_result(None)

        future.add_done_callback(settle)
        proxy.add_done_callback(resume)
        try:
            while not proxy.done():
                if self.dispatcher.dead:
                    raise PlaywrightError("Playwright connection closed")
                self.dispatcher.switch()
        finally:
            waiting = False
            future.remove_done_callback(settle)
            proxy.remove_done_callback(resume)
            proxy.cancel()
            if not self.dispatcher.dead:
                # As Playwright's own wait does: the loop counts as running between two calls,
                # also after a signal made run_forever() clear it on the way out.
                asyncio.events._set_running_loop(self.loop)

    def sleep(self, seconds: float) -> None:
        """Let the other fibers run for ``seconds``."""
        future = self.future()
        handle = self.loop.call_later(max(0.0, seconds), _settle, future)
        try:
            self.wait(future)
        finally:
            handle.cancel()


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
