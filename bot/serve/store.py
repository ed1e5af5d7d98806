"""The service's queue, in the ledger's own database (SQLite by default, PostgreSQL for a team).

Every ``icpbot serve`` process sharing the database shares the queue: a run is taken in one
transaction (PostgreSQL: under a transaction advisory lock; SQLite: ``BEGIN IMMEDIATE``), never
when its person has a run going, so one person never runs twice at once, across processes.

A process holds a lock of its own for as long as it lives (the ledger's per-key lock: a
PostgreSQL session advisory lock or a ``flock``, both dropped by the system however the process
ends). A run whose process holds no lock any more was cut short (``kill -9``, a crash):
:meth:`ServeStore.orphans` finds it, and the worker resumes it, or, if its request had been
released (the ledger's attempt was marked sent), ends it as interrupted, outcome unknown.

No personal value is stored in clear: the person is the ledger's salted key, the mobile is kept
masked, and the values a queued run needs are sealed (:mod:`bot.serve.seal`) and erased when
the run ends.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from bot.safety.store import LedgerStore, PersonLock
from bot.serve.schema import migrate

__all__ = ["RunRow", "RunState", "ServeStore", "new_id"]

T = TypeVar("T")
RunState = Literal["queued", "running", "needs_person", "done"]
_QUEUE_LOCK = 0x1C9B07  # the transaction advisory lock that orders takes (PostgreSQL)

_RUN_COLUMNS = (
    "id, created_at, updated_at, action, site, base_url, person, mobile_masked, sealed, state,"
    " phase, owner, link_id, batch_id, outcome, run_dir, created_by"
)


def new_id(n: int = 16) -> str:
    """A random id of lower-case letters (no digits: never mistaken for a personal value)."""
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(n))


@dataclass(frozen=True)
class RunRow:
    id: str
    created_at: float
    updated_at: float
    action: str
    site: str
    base_url: str
    person: str
    mobile_masked: str
    sealed: str | None
    state: RunState
    phase: str
    owner: str | None
    link_id: str | None
    batch_id: str | None
    outcome: dict[str, Any] | None
    run_dir: str | None
    created_by: str

    @classmethod
    def of(cls, row: Sequence[Any]) -> RunRow:
        values = list(row)
        values[14] = json.loads(values[14]) if values[14] else None
        return cls(*values)

    @property
    def name(self) -> str:
        """The scenario's name in the engine and the ledger."""
        return f"serve-{self.id}"


class ServeStore:
    """The queue and the service's tables on one ledger connection (one call at a time: the
    calls come from worker threads)."""

    def __init__(self, ledger: LedgerStore, owner: str | None = None) -> None:
        self.ledger = ledger
        self.owner = owner or new_id(12)
        self._mutex = threading.RLock()
        self._alive: PersonLock | None = None
        try:
            with self.transaction():
                migrate(self.execute, ledger.dialect, ledger.location)
        except BaseException:
            ledger.close()
            raise

    # -- plumbing -------------------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._mutex:
            return self.ledger.execute(sql, params)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._mutex, self.ledger.transaction():
            if self.ledger.dialect == "postgresql":
                self.ledger.execute("SELECT pg_advisory_xact_lock(?)", (_QUEUE_LOCK,))
            yield

    def db_now(self) -> float:
        """The database's clock, in seconds since the epoch: the one clock every process
        sharing the database agrees on (stamps that order events across machines)."""
        sql = (
            "SELECT EXTRACT(EPOCH FROM clock_timestamp())"
            if self.ledger.dialect == "postgresql"
            else "SELECT (julianday('now') - 2440587.5) * 86400.0"
        )
        return float(self.execute(sql).fetchone()[0])

    def locked(self, work: Callable[[], T]) -> T:
        with self._mutex:
            return work()

    def close(self) -> None:
        with self._mutex:
            if self._alive is not None:
                self._alive.release()
                self._alive = None
            self.ledger.close()

    # -- this process's life ----------------------------------------------------------------------

    @staticmethod
    def lock_key(name: str) -> str:
        """The ledger's lock key for one of the service's own locks: hex, as the ledger's
        person keys are (PostgreSQL's advisory lock is made from the key's first 64 bits)."""
        return hashlib.sha256(f"icpbot-serve:{name}".encode()).hexdigest()

    @classmethod
    def _owner_key(cls, owner: str) -> str:
        return cls.lock_key(f"process-{owner}")

    def hold_life(self) -> None:
        """Take this process's lock: while it is held, its runs are not orphans."""
        with self._mutex:
            if self._alive is None:
                self._alive = self.ledger.try_lock_person(self._owner_key(self.owner))
                if self._alive is None:
                    raise RuntimeError("another process uses this owner id")

    def owner_alive(self, owner: str) -> bool:
        if owner == self.owner:
            return True
        with self._mutex:
            return self.ledger.person_locked(self._owner_key(owner))

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

    # -- runs -----------------------------------------------------------------------------------

    def add_run(
        self,
        *,
        action: str,
        site: str,
        base_url: str,
        person: str,
        mobile_masked: str,
        sealed: str,
        created_by: str,
        link_id: str | None = None,
        batch_id: str | None = None,
    ) -> str:
        run_id = new_id()
        stamp = time.time()
        self.execute(
            f"INSERT INTO serve_runs ({_RUN_COLUMNS}) VALUES"
            " (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 'queued', NULL, ?, ?, NULL, NULL, ?)",
            (run_id, stamp, stamp, action, site, base_url, person, mobile_masked, sealed,
             link_id, batch_id, created_by),
        )  # fmt: skip
        return run_id

    def run(self, run_id: str) -> RunRow | None:
        row = self.execute(
            f"SELECT {_RUN_COLUMNS} FROM serve_runs WHERE id = ?", (run_id,)
        ).fetchone()
        return None if row is None else RunRow.of(row)

    def runs(self, limit: int = 200) -> list[RunRow]:
        rows = self.execute(
            f"SELECT {_RUN_COLUMNS} FROM serve_runs ORDER BY created_at DESC LIMIT ?", (limit,)
        ).fetchall()
        return [RunRow.of(r) for r in rows]

    def changed_since(self, stamp: float) -> list[RunRow]:
        rows = self.execute(
            f"SELECT {_RUN_COLUMNS} FROM serve_runs WHERE updated_at > ? ORDER BY updated_at",
            (stamp,),
        ).fetchall()
        return [RunRow.of(r) for r in rows]

    def take(self) -> RunRow | None:
        """The oldest queued run whose person has no run going (in any process), now this
        process's; None when there is none."""
        with self.transaction():
            busy = {
                str(r[0])
                for r in self.execute(
                    "SELECT person FROM serve_runs WHERE state IN ('running', 'needs_person')"
                ).fetchall()
            }
            rows = self.execute(
                f"SELECT {_RUN_COLUMNS} FROM serve_runs WHERE state = 'queued'"
                " ORDER BY created_at LIMIT 200"
            ).fetchall()
            for raw in rows:
                row = RunRow.of(raw)
                if row.person in busy:
                    continue
                busy.add(row.person)
                self.execute(
                    "UPDATE serve_runs SET state = 'running', phase = 'starting', owner = ?,"
                    " updated_at = ? WHERE id = ?",
                    (self.owner, time.time(), row.id),
                )
                return self.run(row.id)
        return None

    def set_state(self, run_id: str, state: RunState, phase: str | None = None) -> None:
        self.execute(
            "UPDATE serve_runs SET state = ?, phase = COALESCE(?, phase), updated_at = ?"
            " WHERE id = ? AND state <> 'done'",
            (state, phase, time.time(), run_id),
        )

    def set_phase(self, run_id: str, phase: str) -> None:
        """The run's progress; a queued run is running from now on, any other keeps its state
        (one statement: a security check that opens meanwhile keeps its needs_person)."""
        self.execute(
            "UPDATE serve_runs SET phase = ?, updated_at = ?,"
            " state = CASE WHEN state = 'queued' THEN 'running' ELSE state END"
            " WHERE id = ? AND state <> 'done'",
            (phase, time.time(), run_id),
        )

    def finish(self, run_id: str, outcome: dict[str, Any], run_dir: str | None) -> None:
        """Done: the outcome kept, the sealed values erased."""
        self.execute(
            "UPDATE serve_runs SET state = 'done', phase = 'done', outcome = ?, run_dir = ?,"
            " sealed = NULL, updated_at = ? WHERE id = ?",
            (json.dumps(outcome), run_dir, time.time(), run_id),
        )

    def requeue(self, run_id: str) -> None:
        self.execute(
            "UPDATE serve_runs SET state = 'queued', phase = 'queued', owner = NULL,"
            " updated_at = ? WHERE id = ? AND state <> 'done'",
            (time.time(), run_id),
        )

    def orphans(self) -> list[RunRow]:
        """Runs taken by a process that no longer lives."""
        rows = self.execute(
            f"SELECT {_RUN_COLUMNS} FROM serve_runs WHERE state IN ('running', 'needs_person')"
        ).fetchall()
        found = [RunRow.of(r) for r in rows]
        return [r for r in found if r.owner is None or not self.owner_alive(r.owner)]

    def reached_click(self, row: RunRow) -> bool:
        """Whether the ledger marked an attempt of this run as sent (when the gate released its
        request, after any security check)."""
        found = self.execute(
            "SELECT COUNT(*) FROM attempts WHERE scenario = ? AND sent = 1", (row.name,)
        ).fetchone()
        return bool(found[0])

    def counts(self) -> dict[str, int]:
        rows = self.execute("SELECT state, COUNT(*) FROM serve_runs GROUP BY state").fetchall()
        return {str(r[0]): int(r[1]) for r in rows}

    # -- pacing ---------------------------------------------------------------------------------

    def last_submission(self, site_key: str) -> float:
        row = self.execute(
            "SELECT last_at FROM serve_pacing WHERE site_key = ?", (site_key,)
        ).fetchone()
        return float(row[0]) if row else 0.0

    def mark_submission(self, site_key: str, stamp: float) -> None:
        self.execute(
            "INSERT INTO serve_pacing (site_key, last_at) VALUES (?, ?)"
            " ON CONFLICT (site_key) DO UPDATE SET last_at = excluded.last_at",
            (site_key, stamp),
        )

    def try_lock(self, key: str) -> PersonLock | None:
        """The ledger's per-key lock (any process on the database), for the site's pacing."""
        with self._mutex:
            return self.ledger.try_lock_person(self.lock_key(key))
