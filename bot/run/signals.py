"""Holding Ctrl-C and SIGTERM back while a run writes what must not be lost.

A signal that arrives inside :func:`signals_held` is delivered when the block ends, to the
handler that was in place before: the ledger's row and ``result.json`` are then complete, and the
interruption takes its usual path. (Blocking the signal with a thread mask would not do: the
kernel hands a process-wide signal to any thread that does not block it, and Python then runs its
handler in the main thread at once.)
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import greenlet

from bot.errors import Stopped
from bot.page.fibers import is_fiber, throw_soon

__all__ = [
    "interrupt_delivered",
    "on_interrupt_delivered",
    "signals_held",
    "stop_on_sigterm",
]

_HELD = (signal.SIGINT, signal.SIGTERM)


def _interrupt(signum: int, frame: object) -> None:
    """Ctrl-C raises KeyboardInterrupt and SIGTERM :class:`~bot.errors.Stopped`, in the code that
    runs now, as Python's own handler does; but never inside Playwright's driver loop.

    The sync API runs the driver's event loop in a greenlet of its own (the dispatcher), and
    runs route and event handlers in greenlets it starts from there. An exception raised in the
    middle of that loop can kill the task that reads the driver's pipe (seen: "Task was destroyed
    but it is pending! ... PipeTransport.run()"): every later call then waits forever. So there
    the interruption is raised at the loop's next turn in the greenlet the loop serves (where the
    run waits for its call), the way Playwright passes on an exception that escapes its loop.
    """
    exc: type[KeyboardInterrupt] = Stopped if signum == signal.SIGTERM else KeyboardInterrupt
    loop = asyncio.events._get_running_loop()
    current = greenlet.getcurrent()
    if loop is None or current.parent is None or is_fiber(current):
        raise exc  # the run's own code (the thread's first greenlet, or a batch's fiber)
    root = current
    while root.parent is not None:
        root = root.parent
    throw_soon(loop, root, exc)


def stop_on_sigterm() -> None:
    """Make SIGTERM take Ctrl-C's path: :class:`~bot.errors.Stopped` (a KeyboardInterrupt) is
    raised, so the run writes its result.json first; the CLI then exits 143. Both signals are
    kept out of Playwright's driver loop (:func:`_interrupt`). Main thread only.

    Either signal can land while Python runs a finalizer (a weakref callback, a ``__del__``),
    where an exception cannot propagate: Python would print "Exception ignored" and drop the
    interruption. Such a signal is delivered again instead, to land in the run's own code.
    """
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    sys.unraisablehook = _redeliver_interruptions


def _redeliver_interruptions(unraisable: Any) -> None:
    exc = unraisable.exc_value
    if isinstance(exc, KeyboardInterrupt) and threading.current_thread() is threading.main_thread():
        # Sent from another thread, so that nothing is raised inside this hook: the main thread
        # takes the signal at its next step in ordinary code.
        sig = signal.SIGTERM if isinstance(exc, Stopped) else signal.SIGINT
        threading.Thread(target=os.kill, args=(os.getpid(), sig), daemon=True).start()
        return
    sys.__unraisablehook__(unraisable)


# -- the runs of a parallel batch ---------------------------------------------------------------
#
# The runs of a batch are fibers of the main thread (bot.page.fibers). A signal is raised in
# whichever fiber runs at that moment; the batch passes it on to every other running run by
# raising it where that run waits. A run that caught its interruption says so with
# interrupt_delivered(), and is not interrupted twice.

_ON_DELIVERED: ContextVar[Callable[[], None] | None] = ContextVar(
    "icpbot_on_interrupt_delivered", default=None
)


@contextmanager
def on_interrupt_delivered(callback: Callable[[], None]) -> Iterator[None]:
    """Call ``callback`` when the run in this block catches its interruption."""
    token = _ON_DELIVERED.set(callback)
    try:
        yield
    finally:
        _ON_DELIVERED.reset(token)


def interrupt_delivered() -> None:
    """Called where a run catches the interruption: nothing more is to be raised in it."""
    callback = _ON_DELIVERED.get()
    if callback is not None:
        callback()


@contextmanager
def signals_held() -> Iterator[None]:
    """Defer SIGINT and SIGTERM for the block (main thread; elsewhere a no-op: signals reach the
    main thread only).

    The block must not wait for the browser: in a parallel batch another run could then enter
    and leave a held block of its own in between, and the saved handlers would be restored out
    of order. Writing result.json and the ledger's row never waits for the browser."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def defer(signum: int, frame: object) -> None:
        pending.append(signum)

    saved = {sig: signal.signal(sig, defer) for sig in _HELD}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        if pending:
            signal.raise_signal(pending[0])  # now, to the handler that was in place
