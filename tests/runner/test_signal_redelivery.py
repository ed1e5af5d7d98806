"""A Ctrl-C or SIGTERM that lands in a finalizer, where Python cannot raise it, is delivered
again rather than dropped (the "Exception ignored in ..." case)."""

from __future__ import annotations

import gc
import signal
import sys
import threading
from collections.abc import Iterator

import pytest

from bot.errors import Stopped
from bot.run.signals import stop_on_sigterm


@pytest.fixture
def received() -> Iterator[list[int]]:
    got: list[int] = []
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    hook = sys.unraisablehook
    stop_on_sigterm()
    for sig in saved:
        signal.signal(sig, lambda signum, frame: got.append(signum))
    try:
        yield got
    finally:
        sys.unraisablehook = hook
        for sig, handler in saved.items():
            signal.signal(sig, handler)


class _RaisesWhenCollected:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def __del__(self) -> None:
        raise self.exc


@pytest.mark.parametrize(
    ("exc", "sig"), [(KeyboardInterrupt(), signal.SIGINT), (Stopped(), signal.SIGTERM)]
)
def test_an_interruption_lost_in_a_finalizer_is_delivered_again(
    received: list[int], exc: BaseException, sig: int
) -> None:
    before = set(threading.enumerate())
    _RaisesWhenCollected(exc)  # collected at once: its __del__ raises where nothing can catch
    gc.collect()
    for thread in set(threading.enumerate()) - before:  # the signal is sent from a helper thread
        thread.join(timeout=5)
    signal.pthread_sigmask(signal.SIG_BLOCK, [])  # a call into C: pending handlers run here
    assert received == [sig]
