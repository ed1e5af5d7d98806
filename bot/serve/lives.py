"""Which ``icpbot serve`` processes live: each holds a lock of its own for as long as it lives.

The lock is the ledger's per-key lock (a PostgreSQL session advisory lock, or a ``flock``),
dropped by the system however the process ends: a run whose process holds no lock any more was
cut short, and another process recovers it.

A PostgreSQL lock also drops, for a moment, with its connection (a server restart, a cut
network) while its process lives on; the ledger takes it again at once (:mod:`bot.safety.pglocks`).
So a process that finds another one dead *buries* it (:meth:`Lives.bury`): it takes the dead one's
lock and keeps it, so that a process that was only cut off cannot take it back and go on as if
nothing happened. It learns instead that its life is lost (:attr:`Lives.lost`).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from typing import Any

from bot.safety.store import LedgerStore, PersonLock, Rows

__all__ = ["BURY_GRACE_S", "Lives", "lock_key"]

#: Seconds after the database server started during which no process is buried: every live
#: process's lock connection is taking its locks again then (the server freed them all).
BURY_GRACE_S = 15.0


def lock_key(name: str) -> str:
    """The ledger's lock key for one of the service's own locks: hex, as the ledger's person
    keys are (PostgreSQL's advisory lock is made from the key's first 64 bits)."""
    return hashlib.sha256(f"icpbot-serve:{name}".encode()).hexdigest()


def _owner_key(owner: str) -> str:
    return lock_key(f"process-{owner}")


class Lives:
    """This process's life lock, and the dead processes' locks it buried (kept until it ends).

    Blocking calls (the database), under the store's mutex."""

    def __init__(
        self,
        ledger: LedgerStore,
        owner: str,
        mutex: threading.RLock,
        execute: Callable[[str, Sequence[Any]], Rows],
    ) -> None:
        self.ledger = ledger
        self.owner = owner
        self._mutex = mutex
        self._execute = execute
        self._alive: PersonLock | None = None
        self._buried: dict[str, PersonLock] = {}
        #: seconds after the database server's start during which no process is buried
        self.grace_s = BURY_GRACE_S

    def hold(self) -> None:
        """Take this process's lock: while it is held, its runs are not orphans."""
        with self._mutex:
            if self._alive is None:
                self._alive = self.ledger.try_lock_person(_owner_key(self.owner))
                if self._alive is None:
                    raise RuntimeError("another process uses this owner id")

    def still_alive(self) -> bool:
        """Whether this process still holds its lock, asked of the database now. False once
        another process buried it while its connection was down (:attr:`lost`): its runs are
        that one's to recover, and this process must change nothing about them."""
        alive = self._alive
        return alive is not None and alive.still_held()

    @property
    def lost(self) -> bool:
        """Whether another process took this process's lock (it thought it dead) while its
        connection was down. For good: the lock is never this process's again."""
        alive = self._alive
        return alive is not None and alive.lost

    def alive(self, owner: str) -> bool:
        """Whether the process ``owner`` holds its lock now (a read: see :meth:`bury`)."""
        if owner == self.owner:
            return True
        with self._mutex:
            if owner in self._buried:
                return False
            return self.ledger.person_locked(_owner_key(owner))

    def bury(self, owner: str) -> bool:
        """Whether ``owner`` is dead for sure: its lock is free, and is now this process's,
        kept until this process ends; a process that was only cut off from the database then
        finds its lock taken (:attr:`lost`) instead of taking it back and going on beside the
        runs recovered from it. False for this process, for a live owner, and for every owner
        while the database server started less than :attr:`grace_s` ago."""
        if owner == self.owner:
            return False
        with self._mutex:
            if owner in self._buried:
                return True
            if self._server_age_s() < self.grace_s:
                return False
            taken = self.ledger.try_lock_person(_owner_key(owner))
            if taken is None:
                return False
            self._buried[owner] = taken
            return True

    def _server_age_s(self) -> float:
        if self.ledger.dialect != "postgresql":
            return float("inf")  # a flock is never freed under a live process
        row = self._execute(
            "SELECT EXTRACT(EPOCH FROM clock_timestamp() - pg_postmaster_start_time())", ()
        ).fetchone()
        return float(row[0])

    def close(self) -> None:
        with self._mutex:
            for held in (self._alive, *self._buried.values()):
                if held is not None:
                    held.release()
            self._alive = None
            self._buried.clear()
