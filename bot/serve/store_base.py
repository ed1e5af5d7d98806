"""The store's plumbing: one ledger connection shared by the worker threads (one call at a
time), its statements and transactions (tried again where that is safe: :mod:`bot.safety.retry`),
the queue's lock, the database's clock, this process's life (:mod:`bot.serve.lives`) and the
service's settings (``serve_meta``). The queue's parts build on it (:mod:`bot.serve.store`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from bot.safety.store import LedgerStore, Rows
from bot.serve.lives import Lives, lock_key
from bot.serve.rows import NEXT_CHANGE_SQL, NOW_SQL, new_id
from bot.serve.schema import migrate

__all__ = ["StoreBase"]

T = TypeVar("T")
_QUEUE_LOCK = 0x1C9B07  # the transaction advisory lock that orders takes (PostgreSQL)


class StoreBase:
    """The service's tables on one ledger connection (one call at a time: the calls come from
    worker threads), this process's owner id and life lock."""

    def __init__(self, ledger: LedgerStore, owner: str | None = None) -> None:
        self.ledger = ledger
        self.owner = owner or new_id(12)
        self._mutex = threading.RLock()
        self.lives = Lives(ledger, self.owner, self._mutex, self.execute)
        self._past_lives: list[Lives] = []
        self.now_sql = NOW_SQL[ledger.dialect]
        self._next_change = NEXT_CHANGE_SQL[ledger.dialect]
        try:
            # Migrations are one transaction: run again whole after a transient error.
            self.atomic(
                lambda: migrate(self.execute, ledger.dialect, ledger.location),
                what="the service's migration",
            )
        except BaseException:
            ledger.close()
            raise

    # -- plumbing -------------------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[Any] = (), *, idempotent: bool = False) -> Rows:
        """One statement; its rows (``fetchone``, ``fetchall``, ``rowcount``). Outside a
        transaction, tried again after a transient error when that is safe: a read always, a
        write when nothing was written, or when ``idempotent`` (see
        :meth:`bot.safety.store.LedgerStore.execute`); else a write whose answer was lost raises
        :class:`~bot.safety.retry.CommitUnknown`."""
        with self._mutex:
            return self.ledger.execute(sql, params, idempotent=idempotent)

    @contextmanager
    def transaction(self, *, queue: bool = True) -> Iterator[None]:
        """One transaction on this store's connection, not tried again (its body is the
        caller's: :meth:`atomic` is). ``queue``: under the queue's lock too (PostgreSQL: a
        transaction advisory lock; SQLite's ``BEGIN IMMEDIATE`` orders every write transaction
        anyway), for what orders takes and recoveries; a write that is one compare-and-set on
        its rows needs only the transaction."""
        with self._mutex, self.ledger.transaction():
            if queue:
                self._queue_lock()
            yield

    def _queue_lock(self) -> None:
        if self.ledger.dialect == "postgresql":
            self.ledger.execute("SELECT pg_advisory_xact_lock(?)", (_QUEUE_LOCK,))

    def atomic(
        self,
        work: Callable[[], T],
        *,
        what: str = "a transaction",
        idempotent: bool = False,
        settled: Callable[[], T | None] | None = None,
    ) -> T:
        """``work()`` in one transaction under the queue's lock, run again from the start after
        a transient failure (nothing was written before the COMMIT). A COMMIT whose answer was
        lost is run again only when ``idempotent``, or once ``settled()`` (a read) found that
        it did not land (None; else its result is returned); otherwise it raises
        :class:`~bot.safety.retry.CommitUnknown`. See :meth:`bot.safety.store.LedgerStore.atomic`.
        """

        def locked_work() -> T:
            self._queue_lock()
            return work()

        with self._mutex:
            return self.ledger.atomic(
                locked_work, what=what, idempotent=idempotent, settled=settled
            )

    def db_now(self) -> float:
        """The database's clock, in seconds since the epoch: the one clock every process
        sharing the database agrees on (stamps that order events across machines)."""
        return float(self.execute(f"SELECT {self.now_sql}").fetchone()[0])

    def locked(self, work: Callable[[], T]) -> T:
        with self._mutex:
            return work()

    def close(self) -> None:
        with self._mutex:
            for life in (*self._past_lives, self.lives):
                life.close()
            self.ledger.close()

    # -- this process's life (bot.serve.lives) -------------------------------------------------

    @staticmethod
    def lock_key(name: str) -> str:
        """The ledger's lock key for one of the service's own locks (:func:`lock_key`)."""
        return lock_key(name)

    def hold_life(self) -> None:
        """Take this process's lock: while it is held, its runs are not orphans."""
        self.lives.hold()

    def still_alive(self) -> bool:
        """:meth:`bot.serve.lives.Lives.still_alive`: False once this process was buried."""
        return self.lives.still_alive()

    def renew_life(self) -> bool:
        """After this process was buried (:attr:`life_lost`): go on as a new process, with a
        new owner id and a life lock of its own; the runs of the old id are the recoverer's
        (their writes are fenced by the old id). Whether it renewed."""
        with self._mutex:
            if not self.lives.lost:
                return False
            self._past_lives.append(self.lives)
            self.owner = new_id(12)
            self.lives = Lives(self.ledger, self.owner, self._mutex, self.execute)
            self.lives.hold()
            return True

    @property
    def life_lost(self) -> bool:
        """:attr:`bot.serve.lives.Lives.lost`"""
        return self.lives.lost

    def owner_alive(self, owner: str) -> bool:
        """Whether the process ``owner`` holds its life lock now (a read: see :meth:`bury`)."""
        return self.lives.alive(owner)

    def bury(self, owner: str) -> bool:
        """:meth:`bot.serve.lives.Lives.bury`: whether ``owner`` is dead for sure, its lock
        now this process's."""
        return self.lives.bury(owner)

    # -- meta -----------------------------------------------------------------------------------

    def meta(self, key: str, make: Callable[[], str]) -> str:
        """The value of ``key``, created with ``make()`` by the first process that asks."""
        with self.transaction():
            row = self.execute("SELECT value FROM serve_meta WHERE key = ?", (key,)).fetchone()
            if row is not None:
                return str(row[0])
            value = make()
            self.execute("INSERT INTO serve_meta (key, value) VALUES (?, ?)", (key, value))
            return value
