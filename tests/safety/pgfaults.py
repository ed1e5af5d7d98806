"""Faults of a real PostgreSQL, injected from outside as an operator or a failure would: sessions
ended with ``pg_terminate_backend``, new connections refused for a while, a lock taken by
someone else in between. No mock of psycopg anywhere."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from bot.safety.pglocks import key_parts, lock_key

__all__ = ["Admin"]


class Admin:
    """A superuser's sessions: one in the test database, one in the server's own (a database's
    connections are refused from another one), both connected before any fault."""

    def __init__(self, url: str, server_url: str) -> None:
        self.conn: psycopg.Connection[Any] = psycopg.connect(url, autocommit=True)
        self.server: psycopg.Connection[Any] = psycopg.connect(server_url, autocommit=True)
        self.database = str(self.conn.execute("SELECT current_database()").fetchone()[0])  # type: ignore[index]

    def close(self) -> None:
        self.conn.close()
        self.server.close()

    def pids(self, application: str) -> list[int]:
        """The sessions of this database that name themselves ``application``."""
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = %s AND pid <> pg_backend_pid() ORDER BY pid",
            (application,),
        ).fetchall()
        return [int(r[0]) for r in rows]

    def holder(self, key: str) -> int | None:
        """The session that holds the advisory lock of ``key`` (a person key), if any."""
        row = self.conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = %s::bigint::oid AND objid = %s::bigint::oid AND objsubid = 1",
            key_parts(lock_key(key)),
        ).fetchone()
        return None if row is None else int(row[0])

    def wait_holder(self, key: str, other_than: int | None, s: float = 10.0) -> int:
        """The session holding ``key``'s lock once it is one other than ``other_than``."""
        deadline = time.monotonic() + s
        while time.monotonic() < deadline:
            pid = self.holder(key)
            if pid is not None and pid != other_than:
                return pid
            time.sleep(0.01)
        raise AssertionError(f"the lock of {key[:8]} was not taken again")

    def terminate(self, *pids: int) -> None:
        """End these sessions, and wait (up to 5 s each) until they are gone: their locks too."""
        for pid in pids:
            self.conn.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))

    def take(self, key: str) -> None:
        """Take ``key``'s lock on this session (waits until it is free)."""
        self.conn.execute("SELECT pg_advisory_lock(%s)", (lock_key(key),))

    def give(self, key: str) -> None:
        self.conn.execute("SELECT pg_advisory_unlock(%s)", (lock_key(key),))

    @contextmanager
    def no_new_connections(self) -> Iterator[None]:
        """No new session may connect to the database meanwhile (superusers included); the open
        ones go on. A dropped connection cannot come back until the block ends."""
        self._allow(False)
        try:
            yield
        finally:
            self._allow(True)

    def _allow(self, allowed: bool) -> None:
        self.server.execute(
            f'ALTER DATABASE "{self.database}" WITH ALLOW_CONNECTIONS {str(allowed).lower()}'
        )
