"""The team ledger's connections: how they are made, pooled, and which of their errors pass.

Statements go through one pool per database URL in this process (``psycopg_pool``), shared by
every ledger opened on it (the service's store and each run's claim): a connection is tried
before each use (a dropped one is replaced, not used), and one that broke while lent is thrown
away when it comes back. Locks do not: a session advisory lock lives on one connection, so each
ledger keeps its locks on a connection of its own (:mod:`bot.safety.pglocks`).

Every connection asks the kernel for TCP keepalives (a peer that vanished without a word, a cut
network, is noticed in about a minute instead of hours) unless the URL sets them itself, and
names itself in ``pg_stat_activity`` (``icpbot``, ``icpbot-locks``) unless the URL names it.
"""

from __future__ import annotations

import threading
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from bot import defaults

__all__ = [
    "POOL_NAME",
    "connect_kwargs",
    "lost_in_flight",
    "params",
    "pools",
    "transient",
]

#: ``application_name`` of the pooled connections (the locks' add ``-locks``)
POOL_NAME = "icpbot"
_POOL_MOST = 8
_KEEPALIVES = {
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
}


def params(url: str) -> dict[str, Any] | None:
    """``url`` (any form libpq takes) as its parameters; None when it cannot be parsed."""
    try:
        return conninfo_to_dict(url)
    except psycopg.Error:
        return None


def connect_kwargs(url: str, name: str) -> dict[str, Any]:
    """The keyword arguments of every connection to ``url``: autocommit (every statement outside
    a transaction is its own, and a session advisory lock is never tied to one), the connect
    timeout, and keepalives and ``application_name`` where the URL says nothing of them."""
    given = params(url) or {}
    extra = {k: v for k, v in _KEEPALIVES.items() if k not in given}
    if "application_name" not in given:
        extra["application_name"] = name
    return {"autocommit": True, "connect_timeout": defaults.LEDGER_SERVER_TIMEOUT_S, **extra}


def transient(exc: BaseException) -> bool:
    """Worth trying again: a lost or refused connection, no pooled connection for a moment, a
    transaction the server rolled back (class 40), a lock not available. Not a cancelled
    statement (a timeout someone set on purpose), not a closed pool (the ledger was closed)."""
    if isinstance(exc, (psycopg.errors.QueryCanceled, PoolClosed)):
        return False
    return isinstance(exc, psycopg.OperationalError)


def lost_in_flight(exc: BaseException) -> bool:
    """Whether ``exc`` says the connection went away (no answer, or the server ending the
    session: class 08, 57P) rather than the server answering with an error: after a write was
    sent, the write may then have happened. A pool timeout comes before anything is sent."""
    if not isinstance(exc, psycopg.OperationalError) or isinstance(exc, PoolTimeout):
        return False
    state = exc.sqlstate
    return state is None or state.startswith(("08", "57P"))


class _Pools:
    """One pool per URL in this process, counted: closed when its last ledger closes (a test's
    many databases, a batch's sequential runs, leave no connection behind). The URLs that once
    connected are remembered for the process's life."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._pools: dict[str, tuple[ConnectionPool, int]] = {}
        self._known: set[str] = set()

    def known(self, url: str) -> bool:
        """Whether ``url`` connected before in this process: its failures now are the database
        away for a moment, not a wrong URL or password (those fail at once)."""
        with self._mutex:
            return url in self._known

    def take(self, url: str) -> ConnectionPool:
        with self._mutex:
            self._known.add(url)
            pool, users = self._pools.get(url, (None, 0))
            if pool is None:
                pool = ConnectionPool(
                    url,
                    kwargs=connect_kwargs(url, POOL_NAME),
                    min_size=1,
                    max_size=_POOL_MOST,
                    open=False,
                    timeout=float(defaults.LEDGER_SERVER_TIMEOUT_S),
                    name=POOL_NAME,
                    num_workers=2,
                )
                pool.open(wait=False)
            self._pools[url] = (pool, users + 1)
            return pool

    def give_back(self, url: str) -> None:
        with self._mutex:
            pool, users = self._pools[url]
            if users > 1:
                self._pools[url] = (pool, users - 1)
                return
            del self._pools[url]
        pool.close(timeout=5.0)


#: the process's pools
pools = _Pools()
