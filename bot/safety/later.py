"""Attempts finished later: the outcome of a run whose ledger write failed, written when it can be.

A run that ends while its database is away (longer than :mod:`bot.safety.retry`'s bound) still
knows its outcome: :meth:`bot.safety.guard.Claim.finish` frees the person's lock, lets the run
write its result and go on, and leaves the ledger write here. One thread of this process writes
it again with back-off until it lands (the finish is idempotent: conditioned on the attempt
being unfinished) or :data:`GIVE_UP_AFTER_S` has passed.

Until then the attempt stays as a crash would leave it: ``pending`` once the run reached the
click (it counts as a possible failure, the safe side) or ``claimed`` before it (it counts
nothing). If this process ends first, it stays so for good; the run's ``result.json`` has the
real outcome, and ``icpbot ledger list`` shows the attempt as interrupted or abandoned.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from bot.privacy import logger
from bot.safety.retry import CommitUnknown
from bot.safety.store import LedgerStore

__all__ = ["GIVE_UP_AFTER_S", "LATER", "LateFinishes"]

#: Seconds a finish is tried for in the background before it is left as a crash would leave it.
GIVE_UP_AFTER_S = 3600.0
_FIRST_WAIT_S = 0.5
_MOST_WAIT_S = 30.0


@dataclass
class _Finish:
    ledger: LedgerStore
    attempt_id: int
    outcome: str
    site_status: int | None
    #: the ledger was the claim's own: closed once the finish is written or given up
    close: bool
    #: the gate's word (``LedgerStore.finish``'s ``sent``): False takes back a "sent" mark
    sent: bool | None = None
    tries: int = 0
    waited_s: float = 0.0


class LateFinishes:
    """The finishes this process still owes the ledger, written by one background thread."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._queue: deque[_Finish] = deque()
        self._idle = threading.Event()
        self._idle.set()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.give_up_after_s = GIVE_UP_AFTER_S

    @property
    def owed(self) -> int:
        """How many finishes are still to be written."""
        with self._mutex:
            return len(self._queue)

    def add(
        self,
        ledger: LedgerStore,
        attempt_id: int,
        outcome: str,
        site_status: int | None,
        *,
        close: bool,
        sent: bool | None = None,
    ) -> None:
        with self._mutex:
            self._queue.append(_Finish(ledger, attempt_id, outcome, site_status, close, sent))
            self._idle.clear()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._work, name="icpbot-late-finishes", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Until every owed finish is written (or given up); False if ``timeout`` came first.
        A service calls it on its way out, so that a database that came back gets them."""
        return self._idle.wait(timeout)

    def _work(self) -> None:
        while True:
            with self._mutex:
                if not self._queue:
                    self._idle.set()
                    return
                item = self._queue.popleft()
            if self._write(item):
                continue
            wait = min(_MOST_WAIT_S, _FIRST_WAIT_S * 2**item.tries)
            item.tries += 1
            item.waited_s += wait
            with self._mutex:
                self._queue.append(item)
            self._wake.clear()
            self._wake.wait(wait)  # a new finish wakes it early: it may find the database back

    def _write(self, item: _Finish) -> bool:
        """True when ``item`` is done with (written, or given up); False to try again later."""
        try:
            item.ledger.finish(item.attempt_id, item.outcome, item.site_status, sent=item.sent)
        except Exception as exc:
            if item.waited_s < self.give_up_after_s and _worth_again(item.ledger, exc):
                return False
            logger.error(
                "the ledger never recorded how attempt {} ended ({}): it stays as a crash "
                "would leave it; the run's result.json has its outcome",
                item.attempt_id,
                type(exc).__name__,
            )
        else:
            logger.info("attempt {} finished in the ledger, late", item.attempt_id)
        if item.close:
            try:
                item.ledger.close()
            except Exception as exc:  # closing a ledger whose database is gone
                logger.debug("ledger not closed cleanly: {}", type(exc).__name__)
        return True


def _worth_again(ledger: LedgerStore, exc: Exception) -> bool:
    return isinstance(exc, CommitUnknown) or ledger.transient(exc)


#: this process's late finishes
LATER = LateFinishes()
