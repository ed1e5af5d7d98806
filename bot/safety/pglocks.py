"""Session advisory locks on a watched connection: the run lock of a person, a process's life.

A PostgreSQL *session* advisory lock belongs to the connection that took it: the server frees it
when that connection ends, which is what makes a killed process never hold a person for ever. It
also means a connection that drops while its process lives (the server restarted,
``pg_terminate_backend``, a cut network) silently frees the locks on it, and then another
process may take the person, or think this process dead and recover its runs.

So each ledger keeps its locks on one connection of its own (:class:`LockSession`), never a
pooled one, and a thread watches it: it waits on the connection's socket (the server's farewell
wakes it at once; a ``SELECT 1`` every :data:`CHECK_EVERY_S` finds a silent peer, with the
kernel's keepalives), and when the connection is gone it connects again (with back-off, for as
long as the ledger is open) and takes every lock again. A lock that another session took in the
meantime is *lost* for good (:attr:`AdvisoryLock.lost`): its holder learns it from
:meth:`AdvisoryLock.still_held`, which also checks the server for real, and must not act as if
it still held it. One that was taken again counts in :attr:`AdvisoryLock.retaken`: the database
saw it free for a moment, which a holder may need to look into (a claim does: see
:meth:`bot.safety.guard.Claim.still_valid`).
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any, TypeVar

import psycopg

from bot.privacy import logger
from bot.safety.pgconn import transient
from bot.safety.retry import RETRY_S, retrying
from bot.safety.rows import PersonLock

__all__ = ["CHECK_EVERY_S", "AdvisoryLock", "LockSession", "lock_key"]

T = TypeVar("T")

#: Seconds between two checks of an idle lock connection (a dropped one wakes the watcher at once)
CHECK_EVERY_S = 10.0
_MOST_WAIT_S = 2.0

# A bigint key shows in pg_locks as classid (high 32 bits), objid (low 32), objsubid 1.
_HELD_HERE = (
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND classid = %s::bigint::oid AND objid = %s::bigint::oid"
    " AND objsubid = 1)"
)


def lock_key(person: str) -> int:
    """The advisory lock key of a person: the first 64 bits of its key, as a signed bigint."""
    return int.from_bytes(bytes.fromhex(person[:16]), "big", signed=True)


def key_parts(key: int) -> tuple[int, int]:
    """A key as pg_locks shows it: (classid, objid)."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    return unsigned >> 32, unsigned & 0xFFFF_FFFF


class AdvisoryLock(PersonLock):
    """One session advisory lock of a :class:`LockSession`."""

    def __init__(self, session: LockSession, person: str) -> None:
        self.session = session
        self.person = person
        self.key = lock_key(person)
        self._lost = threading.Event()
        self._retaken = 0
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self.session.release(self)

    def still_held(self) -> bool:
        return not self._released and self.session.holds(self)

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    @property
    def retaken(self) -> int:
        return self._retaken

    def was_lost(self) -> None:
        self._lost.set()

    def was_retaken(self) -> None:
        self._retaken += 1


def _usable(conn: psycopg.Connection[Any] | None) -> bool:
    return conn is not None and not conn.closed and not conn.broken


class LockSession:
    """The connection that carries one ledger's session advisory locks, watched and restored.

    Thread-safe: the watcher, the run's thread and the service's threads share it under one
    mutex, held only while a statement runs on the connection (never while connecting)."""

    def __init__(
        self, connect: Callable[[], psycopg.Connection[Any]], first: psycopg.Connection[Any]
    ) -> None:
        self._connect = connect
        self._conn: psycopg.Connection[Any] | None = first
        self._mutex = threading.Lock()
        self._locks: dict[str, AdvisoryLock] = {}
        self._closing = threading.Event()
        self._watcher: threading.Thread | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self.retry_s = RETRY_S

    # -- the locks ------------------------------------------------------------------------------

    def has(self, person: str) -> bool:
        with self._mutex:
            return person in self._locks

    def try_lock(self, person: str) -> AdvisoryLock | None:
        """The person's lock, or None when another session (or this one: one hold per person)
        has it. A connection that drops meanwhile is replaced and the lock tried again on the
        new one: whatever the lost statement took went with its connection."""
        self._watch()

        def take(conn: psycopg.Connection[Any]) -> AdvisoryLock | None:
            if person in self._locks:
                return None
            made = AdvisoryLock(self, person)
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (made.key,)).fetchone()
            if row is None or not row[0]:
                return None
            self._locks[person] = made
            return made

        return retrying(
            lambda: self._use(take),
            transient=transient,
            what="taking a lock",
            bound_s=self.retry_s,
        )

    def holds(self, lock: AdvisoryLock) -> bool:
        """Whether ``lock`` is held by this session now, asked of the server (a dropped
        connection is restored first, once). False when the server cannot be reached."""

        def ask(conn: psycopg.Connection[Any]) -> bool:
            if self._locks.get(lock.person) is not lock:
                return False
            row = conn.execute(_HELD_HERE, key_parts(lock.key)).fetchone()
            return bool(row and row[0])

        try:
            return self._use(ask)
        except psycopg.Error:
            return False

    def release(self, lock: AdvisoryLock) -> None:
        """Free ``lock``. A connection that is gone took the lock with it: nothing to do."""
        with self._mutex:
            if self._locks.get(lock.person) is not lock:
                return
            del self._locks[lock.person]  # first: a restore must not take it again
            conn = self._conn
            if conn is None or not _usable(conn):
                return
            try:
                conn.execute("SELECT pg_advisory_unlock(%s)", (lock.key,))
            except psycopg.Error:
                self._drop(conn)  # the server frees every lock of a session that ends

    def close(self) -> None:
        """Close the connection (the server frees its locks) and stop the watcher."""
        self._closing.set()
        with suppress(OSError):  # the watcher has gone already and closed its end
            self._wake_w.send(b"x")
        with self._mutex:
            for lock in self._locks.values():
                lock.was_lost()  # never taken again by anyone's restore
            self._locks.clear()
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        watcher = self._watcher
        if watcher is None:
            self._wake_r.close()
            self._wake_w.close()
        elif watcher is not threading.current_thread():
            watcher.join(timeout=5.0)

    # -- the connection -------------------------------------------------------------------------

    def _use(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """``work`` on the live connection, under the mutex; a connection found gone is
        restored first (one try: the caller's retry, or the watcher, try again)."""
        if self._closing.is_set():
            raise psycopg.InterfaceError("the ledger is closed")
        with self._mutex:
            live = _usable(self._conn)
        if not live and not self._restore():
            raise psycopg.OperationalError("the ledger's lock connection is down")
        with self._mutex:
            conn = self._conn
            if conn is None or not _usable(conn):
                raise psycopg.OperationalError("the ledger's lock connection is down")
            try:
                return work(conn)
            except psycopg.Error:
                if not _usable(conn):
                    self._drop(conn)
                raise

    def _drop(self, conn: psycopg.Connection[Any]) -> None:
        """Forget a connection that went away (under the mutex)."""
        if self._conn is conn:
            self._conn = None
            if self._locks:
                logger.warning(
                    "the ledger's lock connection dropped with {} lock(s) on it: reconnecting",
                    len(self._locks),
                )
        conn.close()

    def _restore(self) -> bool:
        """A new connection with every held lock taken on it again; False when the server
        cannot be reached (or the session is closing). Locks another session took meanwhile
        are lost."""
        if self._closing.is_set():
            return False
        try:
            conn = self._connect()  # not under the mutex: connecting can take seconds
        except psycopg.Error:
            return False
        with self._mutex:
            if self._closing.is_set() or _usable(self._conn):
                conn.close()  # closed meanwhile, or another thread restored it first
                return not self._closing.is_set()
            try:
                for person, lock in list(self._locks.items()):
                    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (lock.key,)).fetchone()
                    if row is not None and row[0]:
                        lock.was_retaken()
                    else:
                        del self._locks[person]
                        lock.was_lost()
                        logger.warning(
                            "a lock of this process was taken by another while its connection "
                            "was down: lost"
                        )
            except psycopg.Error:
                conn.close()  # gone again, and the locks taken on it with it: next round
                return False
            self._conn = conn
        return True

    # -- the watcher ----------------------------------------------------------------------------

    def _watch(self) -> None:
        with self._mutex:
            if self._watcher is None and not self._closing.is_set():
                self._watcher = threading.Thread(
                    target=self._watching, name="icpbot-ledger-locks", daemon=True
                )
                self._watcher.start()

    def _watching(self) -> None:
        try:
            down = 0
            while not self._closing.is_set():
                if not _usable(self._conn):
                    if self._restore():
                        if down:
                            logger.info("the ledger's lock connection is back")
                        down = 0
                    else:
                        down += 1
                        self._closing.wait(min(_MOST_WAIT_S, 0.05 * 2**down))
                    continue
                self._check_when_woken()
        finally:
            self._wake_r.close()
            self._wake_w.close()

    def _check_when_woken(self) -> None:
        """Wait until the connection's socket speaks (the server's farewell, or an answer to
        another thread) or the check is due, then check it."""
        conn = self._conn
        if conn is None:
            return
        # The descriptor may go away under us: the check below says so.
        with suppress(OSError, ValueError, psycopg.Error):
            select.select([conn.fileno(), self._wake_r.fileno()], [], [], CHECK_EVERY_S)
        if self._closing.is_set():
            return
        with self._mutex:
            if self._conn is not conn:
                return
            try:
                conn.execute("SELECT 1")
            except psycopg.Error:
                self._drop(conn)
