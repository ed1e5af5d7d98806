"""What every ledger back end shares: the rows, the counts, the code memory, the SQL.

:class:`LedgerStore` holds every query, written once in the SQL both back ends speak (``?``
placeholders are turned into ``%s`` for PostgreSQL). A back end supplies the connection, the
salt, the write transaction and the per-person run lock: :class:`bot.safety.ledger.Ledger`
(SQLite, the default) and :class:`bot.safety.pgledger.PgLedger` (``ICPBOT_LEDGER_URL``).

An attempt row moves through ``claimed`` (the guard let a run go ahead; nothing sent, does not
count), ``pending`` (the click that submits is next; counts as a possible failure until the
run records how it ended) and a :class:`~bot.types.Category`. A row left ``claimed`` or
``pending`` by a process that died stays as it is: the lists call it ``abandoned`` or
``interrupted`` once its person's run lock is free, and an interrupted one keeps counting.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from types import TracebackType
from typing import Any, Literal, Self

from bot.types import Category

__all__ = [
    "CLAIMED",
    "COUNTED_OUTCOMES",
    "PENDING",
    "CodeVerdict",
    "LedgerEntry",
    "LedgerStore",
    "PersonLock",
    "ResetMarker",
    "State",
    "as_datetime",
    "local_time",
    "utcnow",
]

#: Outcome of an attempt the guard let through, before its click: nothing sent, never counted.
CLAIMED = "claimed"
#: Outcome of an attempt whose click was next and that never finished (crash, Ctrl-C, running).
PENDING = "pending"
#: Verify outcomes that may have used up one of the site's failed attempts, as the safety issue
#: defines them: wrong information (status 2), ``unknown`` and ``pending`` (the submit may have
#: reached the site and failed there). A failed verification the site words differently
#: (statuses 21 and 0, category ``failed``) and ``no_record`` (status 4: nothing was pending) do
#: not count; nor do site_error, captcha_required, refused, selector_error and invalid_input,
#: where the site judged nothing. Only attempts that reached the click (``sent``) count.
COUNTED_OUTCOMES: frozenset[str] = frozenset({Category.wrong_info, Category.unknown, PENDING})
_ACTIONS: frozenset[str] = frozenset({"verify", "resend"})

#: What `ledger list` shows for an attempt: its outcome, or one of the unfinished states.
State = str
CodeVerdict = Literal["rejected", "accepted"]

_COLUMNS = (
    "id, person, action, scenario, run_id, started_at, finished_at, outcome, site_status,"
    " mobile_masked, sent"
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_time(moment: datetime) -> str:
    """A moment in the operator's local time zone, to the second, with the zone's offset."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %z")


def as_datetime(value: object) -> datetime | None:
    """A stored time (ISO text in SQLite, ``timestamptz`` in PostgreSQL) as an aware datetime."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class LedgerEntry:
    """One attempt as `icpbot ledger list` shows it. Holds masked values only."""

    id: int
    #: the salted hash; not reversible without the salt and the values
    person: str
    action: str
    scenario: str
    run_id: str
    started_at: datetime
    finished_at: datetime | None
    #: as stored: a :class:`~bot.types.Category` value, ``claimed`` or ``pending``
    outcome: str
    site_status: int | None
    mobile_masked: str
    #: whether this attempt counts against the person's failure budget right now
    counted: bool
    #: whether the run reached the click that submits (only such attempts can count)
    sent: bool = True
    #: ``outcome`` when finished; else ``in_flight`` (its run holds the person's lock),
    #: ``interrupted`` (died after the click: counts) or ``abandoned`` (died before it)
    state: State = ""


@dataclass(frozen=True)
class ResetMarker:
    """A reset of a person's counts; earlier attempts stay in the ledger but no longer count."""

    person: str
    at: datetime
    reason: str


class PersonLock(ABC):
    """The per-person run lock: held for a run's whole life, freed when its process dies."""

    @abstractmethod
    def release(self) -> None:
        """Idempotent."""


class LedgerStore(ABC):
    """The attempt ledger, whatever keeps it. Every write is one short transaction."""

    # -- what a back end supplies -------------------------------------------------------------

    #: where the ledger lives, for people (a path, or a URL without its password)
    location: str

    @property
    @abstractmethod
    def _salt(self) -> bytes: ...

    @abstractmethod
    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement (``?`` placeholders) and return its cursor."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """One write transaction that takes the write lock up front; all or nothing."""

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

    # -- keys -----------------------------------------------------------------------------------

    def person_key(self, mobile: str, id_last6: str) -> str:
        """The salted key of one person: ``sha256(salt + mobile + ":" + id_last6)`` in hex.

        Values are stripped and the ID's check letter upper-cased first, so ``x`` and ``X``
        share one failure budget.
        """
        data = f"{mobile.strip()}:{id_last6.strip().upper()}".encode()
        return sha256(self._salt + data).hexdigest()

    def salt_fingerprint(self) -> str:
        """A short public name of the salt: equal fingerprints, equal person keys."""
        return sha256(b"fingerprint:" + self._salt).hexdigest()[:16]

    def code_hash(self, person: str, code: str) -> str:
        """The salted hash of one SMS code for one person (a code means nothing for another)."""
        return sha256(self._salt + f"code:{person}:{code.strip()}".encode()).hexdigest()

    # -- writes ---------------------------------------------------------------------------------

    def _insert(
        self,
        person: str,
        action: str,
        *,
        scenario: str,
        run_id: str,
        mobile_masked: str,
        outcome: str,
        sent: bool,
        code_hash: str | None,
    ) -> int:
        if action not in _ACTIONS:
            raise ValueError(f"unknown action {action!r}; expected verify or resend")
        row = self._execute(
            "INSERT INTO attempts (person, action, scenario, run_id, started_at, outcome,"
            " mobile_masked, sent, code_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                person,
                action,
                scenario,
                run_id,
                self._stamp(utcnow()),
                outcome,
                mobile_masked,
                1 if sent else 0,
                code_hash,
            ),
        ).fetchone()
        return int(row[0])

    def begin(
        self, person: str, action: str, *, scenario: str, run_id: str, mobile_masked: str
    ) -> int:
        """Record an attempt as ``pending`` (sent) and return its id. Durable on return.

        Without the person's lock or the budget check: runs use
        :func:`bot.safety.guard.claim` instead, which does both in one step.
        """
        with self.transaction():
            return self._insert(
                person,
                action,
                scenario=scenario,
                run_id=run_id,
                mobile_masked=mobile_masked,
                outcome=PENDING,
                sent=True,
                code_hash=None,
            )

    def claim_attempt(
        self,
        person: str,
        action: str,
        *,
        scenario: str,
        run_id: str,
        mobile_masked: str,
        code_hash: str | None,
    ) -> int:
        """Record a ``claimed`` attempt (not sent, not counted). Call inside :meth:`transaction`
        after the checks, so that check and record are one step."""
        return self._insert(
            person,
            action,
            scenario=scenario,
            run_id=run_id,
            mobile_masked=mobile_masked,
            outcome=CLAIMED,
            sent=False,
            code_hash=code_hash,
        )

    def mark_sending(self, attempt_id: int) -> None:
        """The click that submits is next: from now on the attempt counts until it finishes."""
        with self.transaction():
            cursor = self._execute(
                "UPDATE attempts SET outcome = ?, sent = 1 WHERE id = ? AND finished_at IS NULL",
                (PENDING, attempt_id),
            )
            if cursor.rowcount != 1:
                raise ValueError(f"no unfinished attempt with id {attempt_id}")

    def finish(self, attempt_id: int, outcome: str, site_status: int | None = None) -> None:
        """Record how an attempt ended. ``outcome`` must be a :class:`Category` value."""
        try:
            category = Category(outcome)
        except ValueError:
            raise ValueError(f"unknown outcome {outcome!r}") from None
        with self.transaction():
            cursor = self._execute(
                "UPDATE attempts SET outcome = ?, site_status = ?, finished_at = ? WHERE id = ?",
                (category.value, site_status, self._stamp(utcnow()), attempt_id),
            )
            if cursor.rowcount != 1:
                raise ValueError(f"no attempt with id {attempt_id}")

    def reset(self, person: str | None = None, reason: str = "") -> int:
        """Start counting afresh for one person, or every person (``None``).

        Writes marker rows and deletes nothing. Returns how many persons were reset; a person
        with no recorded attempt is not reset (0), which usually means other values were typed.
        A person whose run is in flight is not reset either (its attempt must keep counting):
        check :meth:`in_flight` first to say so.
        """
        with self.transaction():
            last = int(self._execute("SELECT COALESCE(MAX(id), 0) FROM attempts").fetchone()[0])
            if person is None:
                rows = self._execute("SELECT DISTINCT person FROM attempts").fetchall()
                persons = [str(p) for (p,) in rows]
            else:
                known = self._execute(
                    "SELECT 1 FROM attempts WHERE person = ? LIMIT 1", (person,)
                ).fetchone()
                persons = [person] if known else []
            persons = [p for p in persons if not self.person_locked(p)]
            at = self._stamp(utcnow())
            for who in persons:
                self._execute(
                    "INSERT INTO resets (person, at, reason, after_attempt) VALUES (?, ?, ?, ?)",
                    (who, at, reason, last),
                )
        return len(persons)

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
        """What the site last said to this code for this person: ``rejected`` (wrong_info) or
        ``accepted`` (success), with that attempt; None when it never judged it.

        Resets do not forget codes: a reset follows a new SMS, whose code is another one.
        """
        row = self._execute(
            f"SELECT {_COLUMNS} FROM attempts WHERE person = ? AND action = 'verify'"
            " AND sent = 1 AND code_hash = ? AND outcome IN (?, ?) ORDER BY id DESC LIMIT 1",
            (person, code_hash, Category.wrong_info.value, Category.success.value),
        ).fetchone()
        if row is None:
            return None
        entry = self._entry(row, floor=None, locked=False, newest_open=None)
        verdict: CodeVerdict = "accepted" if entry.outcome == Category.success else "rejected"
        return verdict, entry

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
            f"SELECT {_COLUMNS} FROM attempts {where} ORDER BY id DESC", params
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

    # -- import ---------------------------------------------------------------------------------

    def dump(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Every attempt (with its code hash) and reset row, oldest first, for an import."""
        attempts = self._execute(
            f"SELECT {_COLUMNS}, code_hash FROM attempts ORDER BY id"
        ).fetchall()
        resets = self._execute(
            "SELECT person, at, reason, after_attempt FROM resets ORDER BY id"
        ).fetchall()
        return [tuple(r) for r in attempts], [tuple(r) for r in resets]

    def is_empty(self) -> bool:
        row = self._execute(
            "SELECT (SELECT COUNT(*) FROM attempts) + (SELECT COUNT(*) FROM resets)"
        ).fetchone()
        return int(row[0]) == 0

    def load_rows(self, attempts: Sequence[Sequence[Any]], resets: Sequence[Sequence[Any]]) -> int:
        """Append rows from :meth:`dump` of another ledger with the same salt, keeping their
        order (new ids) and each reset's place among its own attempts. Returns attempts added.
        Call inside :meth:`transaction`."""
        new_ids: list[tuple[int, int]] = []
        for row in attempts:
            new = self._execute(
                "INSERT INTO attempts (person, action, scenario, run_id, started_at,"
                " finished_at, outcome, site_status, mobile_masked, sent, code_hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    row[1],
                    row[2],
                    row[3],
                    row[4],
                    self._stamp(as_datetime(row[5]) or utcnow()),
                    None if row[6] is None else self._stamp(as_datetime(row[6]) or utcnow()),
                    row[7],
                    row[8],
                    row[9],
                    1 if row[10] else 0,
                    row[11],
                ),
            ).fetchone()
            new_ids.append((int(row[0]), int(new[0])))
        for who, at, reason, after in resets:
            mapped = max((n for old, n in new_ids if old <= int(after)), default=0)
            self._execute(
                "INSERT INTO resets (person, at, reason, after_attempt) VALUES (?, ?, ?, ?)",
                (who, self._stamp(as_datetime(at) or utcnow()), reason, mapped),
            )
        return len(new_ids)
