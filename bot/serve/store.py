"""The service's queue, in the ledger's own database (SQLite by default, PostgreSQL for a team).

Every ``icpbot serve`` process sharing the database shares the queue: a run is taken in one
transaction (PostgreSQL: under a transaction advisory lock; SQLite: ``BEGIN IMMEDIATE``), never
when its person has a run going, so one person never runs twice at once, across processes.

A process holds a lock of its own for as long as it lives (the ledger's per-key lock: a
PostgreSQL session advisory lock or a ``flock``, both dropped by the system however the process
ends). A run whose process holds no lock any more was cut short (``kill -9``, a crash, a lost
database session): :meth:`ServeStore.recover` finds it inside the queue's transaction and
queues it again, or, if its request may have left (the gate released it, or the ledger marked
its attempt sent), ends it, outcome unknown.

Fencing: each take of a run starts a new attempt generation, and every later write about the
run (its phase, its security check, the gate's release, its end, its return to the queue) is a
compare-and-set on (id, owner, generation, the state it expects) that says whether it applied.
A process that lost a run (recovered by another, which bumped the generation) can change
nothing about it, and the gate asks :meth:`ServeStore.release` right before the one request
leaves: a lost run is never sent.

A PostgreSQL lock also drops, for a moment, with its connection; a process that finds another
one dead *buries* it (:mod:`bot.serve.lives`), so that one that was only cut off learns it.

Every statement goes through the ledger's plumbing: tried again after a transient database error
where that is safe (:mod:`bot.safety.retry`); :meth:`ServeStore.atomic` for a transaction that
is tried again whole.

No personal value is stored in clear: the person is the ledger's salted key, the mobile is kept
masked, and the values a queued run needs are sealed (:mod:`bot.serve.seal`) and erased when
the run ends.
"""

from __future__ import annotations

import json
import secrets
import string
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from bot.safety.store import LedgerStore, PersonLock, Rows
from bot.serve.lives import Lives, lock_key
from bot.serve.schema import migrate

__all__ = [
    "CHANGE_WINDOW",
    "NEXT_CHANGE_SQL",
    "NOW_SQL",
    "Ending",
    "Lease",
    "RunRow",
    "RunState",
    "ServeStore",
    "new_id",
]

T = TypeVar("T")
RunState = Literal["queued", "running", "needs_person", "done"]
_QUEUE_LOCK = 0x1C9B07  # the transaction advisory lock that orders takes (PostgreSQL)

_RUN_COLUMNS = (
    "id, created_at, updated_at, action, site, base_url, person, mobile_masked, sealed, state,"
    " phase, owner, link_id, batch_id, outcome, run_dir, created_by, generation, released_at,"
    " confirm_resubmit, change_seq, check_url"
)
_LIVE = "state IN ('running', 'needs_person')"  # taken: some process works on it
_END = "state = 'done', phase = 'done', outcome = ?, run_dir = ?, sealed = NULL"
_REQUEUE = (
    "state = 'queued', phase = 'queued', owner = NULL, generation = generation + 1,"
    " check_token_hash = NULL, check_url = NULL"
)
#: the database's clock in SQL (seconds since the epoch): every stamp of a run, whichever
#: process writes it, so that stamps from several machines order the same events
NOW_SQL = {
    "postgresql": "EXTRACT(EPOCH FROM clock_timestamp())",
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
}
#: the next change number in SQL. PostgreSQL: a sequence (numbers taken by transactions that
#: commit later than a higher one are looked for again by the feed: :mod:`bot.serve.changes`);
#: SQLite: one writer at a time, so the next number is taken under the write lock.
NEXT_CHANGE_SQL = {
    "postgresql": "nextval('serve_change_seq')",
    "sqlite": "(SELECT COALESCE(MAX(change_seq), 0) + 1 FROM serve_runs)",
}
#: how many of the latest change numbers are looked at for ones not committed yet
CHANGE_WINDOW = 256


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
    generation: int
    released_at: float | None  # when the gate let its one request go (None: never)
    confirm_resubmit: bool
    change_seq: int  # the number of its latest change (:meth:`ServeStore.changes_after`)
    check_url: str | None  # its hand-off link while its check waits, sealed

    @classmethod
    def of(cls, row: Sequence[Any]) -> RunRow:
        values = list(row)
        values[14] = json.loads(values[14]) if values[14] else None
        values[17] = int(values[17])
        values[19] = bool(values[19])
        values[20] = int(values[20])
        return cls(*values)

    @property
    def name(self) -> str:
        """The scenario's name in the engine and the ledger."""
        return f"serve-{self.id}"

    @property
    def lease(self) -> Lease:
        """The run as its taker knows it (a row that :meth:`ServeStore.take` returned)."""
        return Lease(self.id, self.owner or "", self.generation)


@dataclass(frozen=True)
class Lease:
    """A taken run as its taker knows it: every write about the run names all three, so that
    a process that lost the run (another recovered it) can change nothing about it."""

    run_id: str
    owner: str
    generation: int


@dataclass(frozen=True)
class Ending:
    """What a recovered run ends with: its outcome, and ``then()``, more writes in the same
    transaction (its link's)."""

    outcome: dict[str, Any]
    then: Callable[[], None] | None = None


class ServeStore:
    """The queue and the service's tables on one ledger connection (one call at a time: the
    calls come from worker threads)."""

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
        confirm_resubmit: bool = False,
        run_id: str | None = None,
    ) -> str:
        """Queue a run; its id (``run_id``, or a new one). Inside :meth:`transaction` when it
        must be atomic with other writes (a link's attempt)."""
        run_id = run_id or new_id()
        now = self.now_sql
        self.execute(
            f"INSERT INTO serve_runs ({_RUN_COLUMNS}) VALUES"
            f" (?, {now}, {now}, ?, ?, ?, ?, ?, ?, 'queued', 'queued', NULL, ?, ?, NULL, NULL, ?,"
            f" 0, NULL, ?, {self._next_change}, NULL)",
            (run_id, action, site, base_url, person, mobile_masked, sealed,
             link_id, batch_id, created_by, 1 if confirm_resubmit else 0),
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

    def change_mark(self) -> tuple[int, list[int]]:
        """Where the runs' changes are now: the highest change number, and those of the
        :data:`CHANGE_WINDOW` before it that no committed row holds (a transaction that took
        one may still commit: :mod:`bot.serve.changes` looks for them again)."""
        top = int(self.execute("SELECT COALESCE(MAX(change_seq), 0) FROM serve_runs")
                  .fetchone()[0])  # fmt: skip
        low = max(0, top - CHANGE_WINDOW)
        held = {
            int(r[0])
            for r in self.execute(
                "SELECT change_seq FROM serve_runs WHERE change_seq > ?", (low,)
            ).fetchall()
        }
        return top, [n for n in range(low + 1, top + 1) if n not in held]

    def changes_after(
        self, upto: int, missing: Sequence[int] = (), limit: int = 500
    ) -> list[RunRow]:
        """The runs whose latest change number is above ``upto`` or one of ``missing``, in
        the order of their numbers (at most ``limit``)."""
        also = ""
        if missing:
            also = f" OR change_seq IN ({', '.join('?' for _ in missing)})"
        rows = self.execute(
            f"SELECT {_RUN_COLUMNS} FROM serve_runs WHERE change_seq > ?{also}"
            " ORDER BY change_seq LIMIT ?",
            (upto, *missing, limit),
        ).fetchall()
        return [RunRow.of(r) for r in rows]

    def run_of_check(self, token_hash: str) -> RunRow | None:
        """The run whose hand-off link has this token (its hash): any process finds it."""
        row = self.execute(
            f"SELECT {_RUN_COLUMNS} FROM serve_runs WHERE check_token_hash = ?", (token_hash,)
        ).fetchone()
        return None if row is None else RunRow.of(row)

    def take(self) -> RunRow | None:
        """The oldest queued run whose person has no run going (in any process), now this
        process's in a new attempt generation; None when there is none."""
        with self.transaction():
            busy = {
                str(r[0])
                for r in self.execute(f"SELECT person FROM serve_runs WHERE {_LIVE}").fetchall()
            }
            rows = self.execute(
                f"SELECT {_RUN_COLUMNS} FROM serve_runs WHERE state = 'queued'"
                " ORDER BY created_at LIMIT 200"
            ).fetchall()
            for raw in rows:
                row = RunRow.of(raw)
                if row.person in busy:
                    continue
                cur = self.execute(
                    "UPDATE serve_runs SET state = 'running', phase = 'starting', owner = ?,"
                    f" generation = generation + 1, {self._stamp}"
                    " WHERE id = ? AND generation = ? AND state = 'queued'",
                    (self.owner, row.id, row.generation),
                )
                if cur.rowcount == 1:
                    return self.run(row.id)
        return None

    # Every write about a taken run is a compare-and-set on (id, owner, generation, the state
    # it expects) and says whether it applied: a process that lost the run (recovered by
    # another, which bumped the generation) changes nothing.

    def _fenced(self, lease: Lease, sets: str, expect: str, params: Sequence[Any] = ()) -> bool:
        cur = self.execute(
            f"UPDATE serve_runs SET {sets}, {self._stamp}"
            f" WHERE id = ? AND COALESCE(owner, '') = ? AND generation = ? AND {expect}",
            (*params, lease.run_id, lease.owner, lease.generation),
        )
        return bool(cur.rowcount == 1)

    @property
    def _stamp(self) -> str:
        """What every write of a run sets besides its own columns: the time of the change and
        its number, both from the database (never a machine's clock)."""
        return f"updated_at = {self.now_sql}, change_seq = {self._next_change}"

    def set_phase(self, lease: Lease, phase: str) -> bool:
        """The run's progress (its state stays: a security check that opened meanwhile keeps
        its needs_person)."""
        return self._fenced(lease, "phase = ?", _LIVE, (phase,))

    def check_opened(
        self, lease: Lease, token_hash: str | None = None, sealed_url: str | None = None
    ) -> bool:
        """The run's security check waits for a person (not once its request was let go);
        ``token_hash`` and ``sealed_url``: its hand-off link, for every process."""
        return self._fenced(
            lease,
            "state = 'needs_person', phase = 'check', check_token_hash = ?, check_url = ?",
            "state = 'running' AND released_at IS NULL",
            (token_hash, sealed_url),
        )

    def check_passed(self, lease: Lease) -> bool:
        return self._fenced(lease, "state = 'running', phase = 'passed'", "state = 'needs_person'")

    def release(self, lease: Lease) -> bool:
        """The gate's last question before the run's one request leaves: is the run still
        this process's, in the generation it took, not done, not let go before? If so it is
        marked as released (from now on it is never queued again) and True."""
        return self._fenced(
            lease,
            f"state = 'running', phase = 'sending', released_at = {self.now_sql}",
            f"{_LIVE} AND released_at IS NULL",
        )

    def finish(
        self,
        lease: Lease,
        outcome: dict[str, Any],
        run_dir: str | None,
        *,
        then: Callable[[], None] | None = None,
    ) -> bool:
        """Done: the outcome kept, the sealed values erased; ``then()`` runs in the same
        transaction once the write applied (the run's link). False: the run is not this
        process's any more (nothing written)."""
        with self.transaction(queue=False):
            applied = self._fenced(lease, _END, _LIVE, (json.dumps(outcome), run_dir))
            if applied and then is not None:
                then()
            return applied

    def requeue(self, lease: Lease) -> bool:
        """Back in the queue, for any process, in a new generation; only a run whose request
        was never let go."""
        return self._fenced(lease, _REQUEUE, f"{_LIVE} AND released_at IS NULL")

    def recover(
        self,
        decide: Callable[[RunRow, bool], Ending | None],
        *,
        between: Callable[[RunRow], None] | None = None,
    ) -> list[tuple[RunRow, str]]:
        """Runs of processes that no longer live (their life lock is free, and now buried by
        this process: checked here, in the queue's transaction, so recovering processes take
        turns), each queued again
        (``decide(row, sent)`` None; never once its request may have left) or ended.
        ``between(row)`` runs between the decision and the write (tests drive races through
        it).
        Each run found, with ``"queued"``, ``"ended"`` or ``"changed"`` (it moved meanwhile:
        looked at again next time)."""
        done: list[tuple[RunRow, str]] = []
        if self.life_lost:  # this process was buried by another: its runs are that one's
            return done
        with self.transaction():
            rows = self.execute(f"SELECT {_RUN_COLUMNS} FROM serve_runs WHERE {_LIVE}").fetchall()
            for raw in rows:
                row = RunRow.of(raw)
                # Dead for sure, and buried: a process only cut off from the database cannot
                # take its life back and go on beside the runs recovered from it.
                if row.owner is not None and not self.bury(row.owner):
                    continue
                sent = self.may_have_left(row.id)
                ending = decide(row, sent)
                if between is not None:
                    between(row)
                lease = Lease(row.id, row.owner or "", row.generation)
                # decided on "not sent": only while it was not let go meanwhile
                expect = f"state = '{row.state}'" + ("" if sent else " AND released_at IS NULL")
                if ending is None:  # never once its request may have left: then only ended
                    applied = not sent and self._fenced(lease, _REQUEUE, expect)
                else:
                    applied = self._fenced(lease, _END, expect, (json.dumps(ending.outcome), None))
                    if applied and ending.then is not None:
                        ending.then()
                what = "changed" if not applied else "ended" if ending else "queued"
                done.append((row, what))
        return done

    def may_have_left(self, run_id: str) -> bool:
        """Whether the run's request may have left: the gate released it, or the ledger marked
        an attempt of the run sent."""
        row = self.execute(
            "SELECT EXISTS (SELECT 1 FROM serve_runs WHERE id = ? AND released_at IS NOT NULL)"
            " OR EXISTS (SELECT 1 FROM attempts WHERE scenario = ? AND sent = 1)",
            (run_id, f"serve-{run_id}"),
        ).fetchone()
        return bool(row[0])

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
