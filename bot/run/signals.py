"""Holding Ctrl-C and SIGTERM back while a run writes what must not be lost.

A signal that arrives inside :func:`signals_held` is delivered when the block ends, to the
handler that was in place before: the ledger's row and ``result.json`` are then complete, and the
interruption takes its usual path. (Blocking the signal with a thread mask would not do: the
kernel hands a process-wide signal to any thread that does not block it, and Python then runs its
handler in the main thread at once.)
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bot.errors import Stopped

__all__ = [
    "interrupt_delivered",
    "interrupt_worker",
    "signals_held",
    "stop_on_sigterm",
    "worker_interruptible",
]

_HELD = (signal.SIGINT, signal.SIGTERM)


def _stop(signum: int, frame: object) -> None:
    raise Stopped


def stop_on_sigterm() -> None:
    """Make SIGTERM take Ctrl-C's path: :class:`~bot.errors.Stopped` (a KeyboardInterrupt) is
    raised, so the run writes its result.json first; the CLI then exits 143. Main thread only.

    Either signal can land while Python runs a finalizer (a weakref callback, a ``__del__``),
    where an exception cannot propagate: Python would print "Exception ignored" and drop the
    interruption. Such a signal is delivered again instead, to land in the run's own code.
    """
    signal.signal(signal.SIGTERM, _stop)
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


# -- worker threads of a parallel batch ------------------------------------------------------------
#
# Signals reach the main thread only. The batch passes Ctrl-C or SIGTERM on to each worker that is
# running a scenario by raising the same exception in it (asynchronously: at its next Python
# instruction, as a signal handler would in the main thread), unless the worker is inside
# :func:`signals_held`: then it is raised when the block ends.


@dataclass
class _Hold:
    lock: threading.Lock = field(default_factory=threading.Lock)
    depth: int = 0
    pending: type[KeyboardInterrupt] | None = None
    armed: bool = False  # an asynchronous exception is set and may not have been raised yet
    delivered: bool = False


_HOLDS: dict[int, _Hold] = {}
_HOLDS_LOCK = threading.Lock()


def _async_raise(ident: int, exc: type[BaseException] | None) -> None:
    """Raise ``exc`` in thread ``ident`` at its next Python instruction (None cancels)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(ident), ctypes.py_object(exc) if exc is not None else None
    )


@contextmanager
def worker_interruptible() -> Iterator[None]:
    """Mark the current (worker) thread as one :func:`interrupt_worker` may interrupt."""
    ident = threading.get_ident()
    with _HOLDS_LOCK:
        _HOLDS[ident] = _Hold()
    try:
        yield
    finally:
        with _HOLDS_LOCK:
            hold = _HOLDS.pop(ident)
        with hold.lock:
            if hold.armed:
                _async_raise(ident, None)
                hold.armed = False


def interrupt_worker(thread: threading.Thread, exc: type[KeyboardInterrupt]) -> bool:
    """Interrupt a worker the way a signal interrupts the main thread; False if it is not
    interruptible (not running a scenario) or was interrupted already."""
    if thread.ident is None:
        return False
    with _HOLDS_LOCK:
        hold = _HOLDS.get(thread.ident)
    if hold is None:
        return False
    with hold.lock:
        if hold.pending is not None or hold.delivered:
            return False
        hold.pending = exc
        if hold.depth == 0:
            _async_raise(thread.ident, exc)
            hold.armed = True
    return True


def interrupt_delivered() -> None:
    """Called where a run catches the interruption: nothing more is to be raised in it."""
    with _HOLDS_LOCK:
        hold = _HOLDS.get(threading.get_ident())
    if hold is not None:
        with hold.lock:
            hold.delivered, hold.armed = True, False


@contextmanager
def _worker_held(hold: _Hold) -> Iterator[None]:
    ident = threading.get_ident()
    with hold.lock:
        hold.depth += 1
        if hold.armed:  # not raised yet: keep it for the end of the block
            _async_raise(ident, None)
            hold.armed = False
    try:
        yield
    finally:
        with hold.lock:
            hold.depth -= 1
            fire = hold.pending if hold.depth == 0 and not hold.delivered else None
            if fire is not None:
                hold.delivered = True
        if fire is not None:
            raise fire


@contextmanager
def signals_held() -> Iterator[None]:
    """Defer SIGINT and SIGTERM for the block (main thread), or the batch's interruption of a
    worker thread; elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        with _HOLDS_LOCK:
            hold = _HOLDS.get(threading.get_ident())
        if hold is None:
            yield
        else:
            with _worker_held(hold):
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
