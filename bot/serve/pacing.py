"""The site's pacing held in the database, so that it holds across every ``icpbot serve`` process
sharing it (ten processes behind one outgoing address submit no faster than one).

A submission takes a place when the gate releases its request (after the security check: a
person at the check holds nothing) and gives it back when its reply is in or its run ended:

- a place is one of the site's ``max_parallel`` locks (the ledger's per-key lock: a PostgreSQL
  advisory lock or a ``flock``, dropped by the system if the process dies, so a killed process
  never holds the site);
- the interval is one compare-and-set on ``serve_pacing`` with the database's clock (every
  process agrees on it): ``last_at`` moves to now only if it is at least ``min_interval_s`` old,
  and moves to now again when the request leaves and when its reply is in.

Waiting polls the database (another process's submission sends no event here) and has a
deadline, after which the run ends with nothing sent (:class:`~bot.errors.PacingTimeout`).
"""

from __future__ import annotations

import asyncio
import hashlib
import time

from bot.config.selector_models import Pacing
from bot.errors import PacingTimeout
from bot.privacy import logger
from bot.run.pacing import Pacer, Pacers, Slot, Waiting, site_key
from bot.run.signals import finish_shielded
from bot.safety.store import PersonLock
from bot.serve.store import ServeStore

__all__ = ["POLL_S", "TELL_EVERY_S", "DbPacer", "DbPacers"]

POLL_S = 0.5  # a site held by another process's submission: the database is asked this often
TELL_EVERY_S = 5.0  # the seconds left are told again this often while a run waits


class DbPacer(Pacer):
    """One site's pacing through the database (see the module's text)."""

    def __init__(self, pacing: Pacing, store: ServeStore, key: str) -> None:
        super().__init__(pacing)
        self.store = store
        self.key = key
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        places = pacing.max_parallel or 1
        self._locks = [f"serve-pace-{digest}-{n}" for n in range(places)]

    def try_acquire(self) -> _DbSlot | float | None:
        """A place now, stamped with the database's clock; else the seconds until the
        interval allows one, or None while every place is held. Blocking (the database)."""
        for name in self._locks:
            lock = self.store.try_lock(name)
            if lock is None:
                continue
            try:
                left = self._reserve()
            except BaseException:
                self.store.locked(lock.release)
                raise
            if left <= 0:
                return _DbSlot(self, lock)
            self.store.locked(lock.release)
            return left
        return None

    def _reserve(self) -> float:
        """The interval's compare-and-set: 0 when this submission's stamp was written, else the
        seconds until the last one is ``min_interval_s`` old."""
        interval = self.pacing.min_interval_s
        with self.store.transaction():
            now = self.store.db_now()
            cursor = self.store.execute(
                "INSERT INTO serve_pacing (site_key, last_at) VALUES (?, ?)"
                " ON CONFLICT (site_key) DO UPDATE SET last_at = excluded.last_at"
                " WHERE serve_pacing.last_at <= ?",
                (self.key, now, now - interval),
            )
            if cursor.rowcount == 1:
                return 0.0
            row = self.store.execute(
                "SELECT last_at FROM serve_pacing WHERE site_key = ?", (self.key,)
            ).fetchone()
        return max(0.001, float(row[0]) + interval - now)

    def stamp_now(self) -> None:
        """The request leaves now: the interval counts from this moment (never moved back)."""
        with self.store.transaction():
            now = self.store.db_now()
            self.store.execute(
                "UPDATE serve_pacing SET last_at = ? WHERE site_key = ? AND last_at < ?",
                (now, self.key, now),
            )

    async def acquire(self, wait_s: float, waiting: Waiting | None = None) -> Slot:
        deadline = time.monotonic() + wait_s
        told = float("-inf")
        while True:
            got = await self._try()
            if isinstance(got, _DbSlot):
                return got
            now = time.monotonic()
            left = deadline - now
            if left <= 0:
                raise PacingTimeout(wait_s)
            if waiting is not None and now - told >= TELL_EVERY_S:
                told = now
                waiting(left if got is None else min(got, left))
            pause = min(POLL_S if got is None else got, left)
            # Another process's submission sends no event here: the database is asked again.
            await asyncio.sleep(pause)

    async def _try(self) -> _DbSlot | float | None:
        """:meth:`try_acquire` in a thread; a place it took while this task was cancelled is
        given back before the cancellation goes on."""
        work = asyncio.ensure_future(asyncio.to_thread(self.try_acquire))
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            await finish_shielded(_give_back(work))
            raise


async def _give_back(work: asyncio.Future[_DbSlot | float | None]) -> None:
    await asyncio.wait([work])
    if not work.cancelled() and work.exception() is None:
        got = work.result()
        if isinstance(got, _DbSlot):
            await got.release()


class _DbSlot(Slot):
    def __init__(self, pacer: DbPacer, lock: PersonLock) -> None:
        self.pacer = pacer
        self._lock: PersonLock | None = lock

    async def stamp(self) -> None:
        try:
            await asyncio.to_thread(self.pacer.stamp_now)
        except Exception as exc:  # the place's own stamp stands (taken a moment earlier)
            logger.warning("the site's pacing stamp was not moved: {}", type(exc).__name__)

    async def release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is None:
            return
        try:
            await asyncio.to_thread(self.pacer.store.locked, lock.release)
        except Exception as exc:  # a lost connection took the lock with it
            logger.warning("the site's pacing lock was not released: {}", type(exc).__name__)


class DbPacers(Pacers):
    """:class:`DbPacer` per run, on the service's store."""

    def __init__(self, store: ServeStore, *, ignore: bool = False, loopback: bool = False) -> None:
        super().__init__(ignore=ignore, loopback=loopback)
        self.store = store

    def for_site(self, site: str, base_url: str, pacing: Pacing) -> Pacer | None:
        if not self.applies(base_url):
            return None
        pacer = DbPacer(pacing, self.store, site_key(site, base_url))
        return pacer if pacer.limited else None
