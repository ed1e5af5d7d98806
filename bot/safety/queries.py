"""The ledger's reads (counts, lists, the code memory) over the hooks a back end supplies, and
the plumbing every statement goes through: retried after transient errors (:mod:`bot.safety.retry`)
when that is safe, and read whole (:class:`Rows`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar

from bot.safety.retry import RETRY_S, retrying
from bot.safety.rows import (
    COLUMNS,
    COUNTED_OUTCOMES,
    PENDING,
    UNANSWERED_OUTCOMES,
    CodeVerdict,
    LedgerEntry,
    PersonLock,
    ResetMarker,
    as_datetime,
)
from bot.types import Category

__all__ = ["LedgerReads", "Rows"]

T = TypeVar("T")


class Rows:
    """A statement's answer, read whole when it ran: its rows and its row count. (A pooled
    connection is back in its pool, or lent to another thread, by the time the caller reads.)"""

    def __init__(self, rows: Sequence[Any], rowcount: int) -> None:
        self._rows = list(rows)
        self._next = 0
        self.rowcount = rowcount

    def fetchone(self) -> Any:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[Any]:
        rest, self._next = self._rows[self._next :], len(self._rows)
        return rest


class LedgerReads(ABC):
    """What a back end supplies (the hooks below), the statements' plumbing, and every read."""

    # -- what a back end supplies -------------------------------------------------------------

    #: where the ledger lives, for people (a path, or a URL without its password)
    location: str
    #: the secret that person keys and code hashes are salted with (set when the ledger opens)
    _salt: bytes
    #: seconds in all that one statement or transaction is tried for after transient errors
    retry_s: float = RETRY_S

    @abstractmethod
    def _run(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        """Run one statement (``?`` placeholders) once, on this thread's transaction if it is in
        one. A write outside a transaction whose answer was lost with its connection raises
        :class:`~bot.safety.retry.CommitUnknown`."""

    @abstractmethod
    def _in_transaction(self) -> bool:
        """Whether this thread is inside :meth:`transaction` on this ledger."""

    @abstractmethod
    def _transient(self, exc: BaseException) -> bool:
        """Whether ``exc`` is worth trying again (see :mod:`bot.safety.retry`): a lost
        connection, a rolled-back transaction, a busy file. Never a constraint or a bug."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """One write transaction that takes the write lock up front; all or nothing. Not tried
        again by itself (its body is the caller's): :meth:`atomic` is. A COMMIT whose answer was
        lost raises :class:`~bot.safety.retry.CommitUnknown`."""

    @abstractmethod
    def try_lock_person(self, person: str) -> PersonLock | None:
        """The person's run lock, or None at once when another run holds it."""

    @abstractmethod
    def person_locked(self, person: str) -> bool:
        """Whether a run (of any process, this one included) holds the person's lock now."""

    @abstractmethod
    def _stamp(self, moment: datetime) -> Any:
        """A time as the back end stores it."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------------

    def transient(self, exc: BaseException) -> bool:
        """Whether ``exc``, raised by this ledger, is worth trying again later (the database
        away, a busy file), as opposed to a constraint or a bug."""
        return self._transient(exc)

    def _execute(self, sql: str, params: Sequence[Any] = (), *, idempotent: bool = False) -> Rows:
        """One statement. Inside a transaction it runs once (the transaction is what is tried
        again, by :meth:`atomic`). Outside, it is tried again after a transient error: a read
        always, a write when its failure says nothing was written, or when ``idempotent`` (the
        caller vouches that running it twice does what running it once does)."""
        if self._in_transaction():
            return self._run(sql, params)
        return retrying(
            lambda: self._run(sql, params),
            transient=self._transient,
            what="a statement",
            idempotent=idempotent,
            bound_s=self.retry_s,
        )

    def atomic(
        self,
        work: Callable[[], T],
        *,
        what: str = "a transaction",
        idempotent: bool = False,
        settled: Callable[[], T | None] | None = None,
    ) -> T:
        """``work()`` inside one :meth:`transaction`, run again from the start after a transient
        failure: before the COMMIT nothing was written (the server rolls an unfinished
        transaction back), so that is always safe. A COMMIT whose answer was lost is run again
        only when ``idempotent``, or after ``settled()`` (a read) found it did not land (None);
        otherwise :class:`~bot.safety.retry.CommitUnknown` is raised. Inside a transaction
        already, ``work()`` simply joins it."""
        if self._in_transaction():
            return work()

        def once() -> T:
            with self.transaction():
                return work()

        return retrying(
            once,
            transient=self._transient,
            what=what,
            idempotent=idempotent,
            settled=settled,
            bound_s=self.retry_s,
        )

    # -- counts ---------------------------------------------------------------------------------

    def _floor(self, person: str, *, since_success: bool) -> int:
        """The attempt id after which attempts count: the last reset (and last verify success)."""
        row = self._execute(
            "SELECT COALESCE(MAX(after_attempt), 0) FROM resets WHERE person = ?", (person,)
        ).fetchone()
        floor = int(row[0])
        if since_success:
            row = self._execute(
                "SELECT COALESCE(MAX(id), 0) FROM attempts"
                " WHERE person = ? AND action = 'verify' AND outcome = ?",
                (person, Category.success.value),
            ).fetchone()
            floor = max(floor, int(row[0]))
        return floor

    def _counted_failures(self, person: str) -> dict[str, int]:
        floor = self._floor(person, since_success=True)
        marks = ", ".join("?" for _ in COUNTED_OUTCOMES)
        rows = self._execute(
            "SELECT outcome, COUNT(*) FROM attempts WHERE person = ? AND action = 'verify'"
            f" AND sent = 1 AND id > ? AND outcome IN ({marks}) GROUP BY outcome",
            (person, floor, *sorted(COUNTED_OUTCOMES)),
        ).fetchall()
        return {str(outcome): int(count) for outcome, count in rows}

    def failures_since_success(self, person: str) -> int:
        """Verify attempts since the last verify success or reset that may have failed on the
        site (see :data:`COUNTED_OUTCOMES`; unfinished attempts count)."""
        return sum(self._counted_failures(person).values())

    def pending_since_success(self, person: str) -> int:
        """How many of :meth:`failures_since_success` never finished (crash or still running)."""
        return self._counted_failures(person).get(PENDING, 0)

    def resends_since_reset(self, person: str) -> int:
        """Successful resend attempts since the last reset."""
        floor = self._floor(person, since_success=False)
        row = self._execute(
            "SELECT COUNT(*) FROM attempts"
            " WHERE person = ? AND action = 'resend' AND outcome = ? AND id > ?",
            (person, Category.success.value, floor),
        ).fetchone()
        return int(row[0])

    def code_verdict(self, person: str, code_hash: str) -> tuple[CodeVerdict, LedgerEntry] | None:
        """What the ledger knows of this code for this person: ``rejected`` (the site answered
        wrong_info) or ``accepted`` (success), the last verdict; else ``unanswered`` when it was
        sent and got no verdict (:data:`UNANSWERED_OUTCOMES`: it may have reached the site);
        with that attempt. None when it was never sent.

        Resets do not forget codes: a reset follows a new SMS, whose code is another one.
        """
        row = self._execute(
            f"SELECT {COLUMNS} FROM attempts WHERE person = ? AND action = 'verify'"
            " AND sent = 1 AND code_hash = ? AND outcome IN (?, ?) ORDER BY id DESC LIMIT 1",
            (person, code_hash, Category.wrong_info.value, Category.success.value),
        ).fetchone()
        if row is not None:
            entry = self._entry(row, floor=None, locked=False, newest_open=None)
            verdict: CodeVerdict = "accepted" if entry.outcome == Category.success else "rejected"
            return verdict, entry
        marks = ", ".join("?" for _ in UNANSWERED_OUTCOMES)
        row = self._execute(
            f"SELECT {COLUMNS} FROM attempts WHERE person = ? AND action = 'verify'"
            f" AND sent = 1 AND code_hash = ? AND outcome IN ({marks}) ORDER BY id DESC LIMIT 1",
            (person, code_hash, *sorted(UNANSWERED_OUTCOMES)),
        ).fetchone()
        if row is None:
            return None
        return "unanswered", self._entry(row, floor=None, locked=False, newest_open=None)

    # -- listing --------------------------------------------------------------------------------

    def _entry(
        self, row: Sequence[Any], *, floor: int | None, locked: bool, newest_open: int | None
    ) -> LedgerEntry:
        attempt_id, outcome, sent = int(row[0]), str(row[7]), bool(row[10])
        finished = as_datetime(row[6])
        if finished is not None:
            state = outcome
        elif locked and attempt_id == newest_open:
            state = "in_flight"
        else:
            state = "interrupted" if sent else "abandoned"
        counted = (
            floor is not None
            and str(row[2]) == "verify"
            and sent
            and outcome in COUNTED_OUTCOMES
            and attempt_id > floor
        )
        started = as_datetime(row[5])
        assert started is not None  # NOT NULL column
        return LedgerEntry(
            id=attempt_id,
            person=str(row[1]),
            action=str(row[2]),
            scenario=str(row[3]),
            run_id=str(row[4]),
            started_at=started,
            finished_at=finished,
            outcome=outcome,
            site_status=None if row[8] is None else int(row[8]),
            mobile_masked=str(row[9]),
            counted=counted,
            sent=sent,
            state=state,
        )

    def entries(self, person: str | None = None) -> list[LedgerEntry]:
        """Attempts, newest first, for one person or all."""
        where, params = ("WHERE person = ?", (person,)) if person is not None else ("", ())
        rows = self._execute(
            f"SELECT {COLUMNS} FROM attempts {where} ORDER BY id DESC", params
        ).fetchall()
        floors: dict[str, int] = {}
        locked: dict[str, bool] = {}
        newest_open: dict[str, int] = {}
        for row in rows:  # newest first: the first unfinished row is the one a live run owns
            if row[6] is None:
                newest_open.setdefault(str(row[1]), int(row[0]))
        entries = []
        for row in rows:
            who = str(row[1])
            if who not in floors:
                floors[who] = self._floor(who, since_success=True)
                locked[who] = who in newest_open and self.person_locked(who)
            entries.append(
                self._entry(
                    row, floor=floors[who], locked=locked[who], newest_open=newest_open.get(who)
                )
            )
        return entries

    def in_flight(self, person: str) -> LedgerEntry | None:
        """The attempt of the run that holds the person's lock now, if it has recorded one."""
        for entry in self._open_entries(person):
            if entry.state == "in_flight":
                return entry
        return None

    def _open_entries(self, person: str) -> Iterator[LedgerEntry]:
        return (e for e in self.entries(person) if e.finished_at is None)

    def persons(self) -> list[str]:
        """Every person with an attempt, most recently active first."""
        rows = self._execute(
            "SELECT person FROM attempts GROUP BY person ORDER BY MAX(id) DESC"
        ).fetchall()
        return [str(p) for (p,) in rows]

    def resets(self, person: str | None = None) -> list[ResetMarker]:
        """Reset markers, newest first, for one person or all."""
        where, params = ("WHERE person = ?", (person,)) if person is not None else ("", ())
        rows = self._execute(
            f"SELECT person, at, reason FROM resets {where} ORDER BY id DESC", params
        ).fetchall()
        markers = []
        for who, at, reason in rows:
            moment = as_datetime(at)
            assert moment is not None
            markers.append(ResetMarker(str(who), moment, str(reason)))
        return markers
