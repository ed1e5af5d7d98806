"""Holding Ctrl-C and SIGTERM back while a run writes what must not be lost.

A signal that arrives inside :func:`signals_held` is delivered when the block ends, to the
handler that was in place before: the ledger's row and ``result.json`` are then complete, and the
interruption takes its usual path. (Blocking the signal with a thread mask would not do: the
kernel hands a process-wide signal to any thread that does not block it, and Python then runs its
handler in the main thread at once.)
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from bot.errors import Stopped

__all__ = ["signals_held", "stop_on_sigterm"]

_HELD = (signal.SIGINT, signal.SIGTERM)


def _stop(signum: int, frame: object) -> None:
    raise Stopped


def stop_on_sigterm() -> None:
    """Make SIGTERM take Ctrl-C's path: :class:`~bot.errors.Stopped` (a KeyboardInterrupt) is
    raised, so the run writes its result.json first; the CLI then exits 143. Main thread only."""
    signal.signal(signal.SIGTERM, _stop)


@contextmanager
def signals_held() -> Iterator[None]:
    """Defer SIGINT and SIGTERM for the block (main thread only; elsewhere a no-op)."""
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
