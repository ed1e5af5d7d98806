"""What every ledger back end shares: the writes, the keys, the import.

:class:`LedgerStore` holds every statement, written once in the SQL both back ends speak (``?``
placeholders are turned into ``%s`` for PostgreSQL); it inherits the reads from
:class:`bot.safety.queries.LedgerReads`, and the rows and states are in :mod:`bot.safety.rows`.
A back end supplies the connection, the salt, the write transaction and the per-person run lock:
:class:`bot.safety.ledger.Ledger` (SQLite, the default) and :class:`bot.safety.pgledger.PgLedger`
(``ICPBOT_LEDGER_URL``).

Every write is tried again after a transient database error only where that is safe
(:mod:`bot.safety.retry`); each says why next to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import sha256
from typing import Any

from bot.privacy import reveal
from bot.safety.queries import LedgerReads, Rows
from bot.safety.rows import (
    CLAIMED,
    COLUMNS,
    COUNTED_OUTCOMES,
    PENDING,
    CodeVerdict,
    LedgerEntry,
    PersonLock,
    ResetMarker,
    State,
    as_datetime,
    local_time,
    utcnow,
)
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
    "Rows",
    "State",
    "as_datetime",
    "local_time",
    "utcnow",
]

_ACTIONS: frozenset[str] = frozenset({"verify", "resend"})


class LedgerStore(LedgerReads):
    """The attempt ledger, whatever keeps it. Every write is one short transaction."""

    #: "sqlite" or "postgresql": the SQL dialect of :meth:`execute` for callers with tables of
    #: their own in the ledger's database (``icpbot serve``'s queue)
    dialect: str = "sqlite"

    def execute(self, sql: str, params: Sequence[Any] = (), *, idempotent: bool = False) -> Rows:
        """One statement on the ledger's database (``?`` placeholders, in either back end); its
        rows. Inside :meth:`transaction` (or :meth:`atomic`) when it must be atomic with others.

        Outside a transaction it is tried again after a transient error while that is safe: a
        read always; a write when the error says nothing was written, or when the caller passes
        ``idempotent`` (running it twice does what running it once does: a conditional UPDATE
        that sets the same values, an ``INSERT ... ON CONFLICT DO NOTHING`` of a key chosen
        before the first try). A write whose answer was lost with its connection otherwise raises
        :class:`~bot.safety.retry.CommitUnknown`.
        """
        return self._execute(sql, params, idempotent=idempotent)

    # -- keys -----------------------------------------------------------------------------------

    def person_key(self, mobile: str, id_last6: str) -> str:
        """The salted key of one person: ``sha256(salt + mobile + ":" + id_last6)`` in hex.

        Values are stripped and the ID's check letter upper-cased first, so ``x`` and ``X``
        share one failure budget.
        """
        data = f"{reveal(mobile).strip()}:{reveal(id_last6).strip().upper()}".encode()
        return sha256(self._salt + data).hexdigest()

    def salt_fingerprint(self) -> str:
        """A short public name of the salt: equal fingerprints, equal person keys."""
        return sha256(b"fingerprint:" + self._salt).hexdigest()[:16]

    def code_hash(self, person: str, code: str) -> str:
        """The salted hash of one SMS code for one person (a code means nothing for another)."""
        return sha256(self._salt + f"code:{person}:{reveal(code).strip()}".encode()).hexdigest()

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
        # Not idempotent (a second row would count twice): tried again only when nothing was
        # written; a lost COMMIT raises CommitUnknown.
        return self.atomic(
            lambda: self._insert(
                person,
                action,
                scenario=scenario,
                run_id=run_id,
                mobile_masked=mobile_masked,
                outcome=PENDING,
                sent=True,
                code_hash=None,
            ),
            what="recording an attempt",
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

    def open_attempt(self, person: str, run_id: str) -> int | None:
        """The unfinished attempt that run ``run_id`` recorded for ``person``, if any: how a
        claim whose COMMIT was lost finds out whether it landed (the run id is chosen before)."""
        row = self._execute(
            "SELECT id FROM attempts WHERE person = ? AND run_id = ? AND finished_at IS NULL"
            " ORDER BY id DESC LIMIT 1",
            (person, run_id),
        ).fetchone()
        return None if row is None else int(row[0])

    def claim_current(self, person: str, attempt_id: int) -> bool:
        """Whether ``attempt_id`` is still unfinished and the person's newest attempt: no other
        run recorded one since (as one could if the person's lock was lost for a moment)."""
        row = self._execute(
            "SELECT (SELECT COUNT(*) FROM attempts WHERE person = ? AND id > ?),"
            " (SELECT COUNT(*) FROM attempts WHERE id = ? AND finished_at IS NULL)",
            (person, attempt_id, attempt_id),
        ).fetchone()
        return int(row[0]) == 0 and int(row[1]) == 1

    def mark_sending(self, attempt_id: int) -> None:
        """The submission request is released now (it leaves the browser next): from now on the
        attempt counts until it finishes. Refused (ValueError) for a finished attempt."""

        def mark() -> None:
            cursor = self._execute(
                "UPDATE attempts SET outcome = ?, sent = 1 WHERE id = ? AND finished_at IS NULL",
                (PENDING, attempt_id),
            )
            if cursor.rowcount != 1:
                raise ValueError(f"no unfinished attempt with id {attempt_id}")

        # Idempotent: it sets the same two values on the same unfinished row; after a lost
        # COMMIT the second try matches that row again.
        self.atomic(mark, what="marking an attempt sent", idempotent=True)

    def finish(
        self,
        attempt_id: int,
        outcome: str,
        site_status: int | None = None,
        *,
        sent: bool | None = None,
    ) -> None:
        """Record how an unfinished attempt ended. ``outcome`` must be a :class:`Category`
        value. Raises ValueError for an attempt that does not exist or ended otherwise.

        ``sent`` False takes back a "sent" mark for a request that was held back after all (the
        run that knows it ended before the request left); None leaves the mark as it is."""
        try:
            category = Category(outcome)
        except ValueError:
            raise ValueError(f"unknown outcome {outcome!r}") from None

        def write() -> None:
            cursor = self._execute(
                "UPDATE attempts SET outcome = ?, site_status = ?, finished_at = ?,"
                " sent = CASE WHEN ? = 0 THEN 0 ELSE sent END"
                " WHERE id = ? AND finished_at IS NULL",
                (
                    category.value,
                    site_status,
                    self._stamp(utcnow()),
                    1 if sent is None or sent else 0,
                    attempt_id,
                ),
            )
            if cursor.rowcount == 1:
                return
            row = self._execute(
                "SELECT outcome, finished_at FROM attempts WHERE id = ?", (attempt_id,)
            ).fetchone()
            if row is None:
                raise ValueError(f"no attempt with id {attempt_id}")
            if str(row[0]) != category.value:
                raise ValueError(f"attempt {attempt_id} already ended as {row[0]}")
            # Already finished with this outcome: an earlier try whose COMMIT's answer was lost.

        # Idempotent: conditioned on the row being unfinished, and a second try that finds it
        # finished with this same outcome is the first one's landing.
        self.atomic(write, what="finishing an attempt", idempotent=True)

    def reset(self, person: str | None = None, reason: str = "") -> int:
        """Start counting afresh for one person, or every person (``None``).

        Writes marker rows and deletes nothing. Returns how many persons were reset; a person
        with no recorded attempt is not reset (0), which usually means other values were typed.
        A person whose run is in flight is not reset either (its attempt must keep counting):
        check :meth:`in_flight` first to say so.
        """
        # Tried again only when nothing was written (a second try could reset attempts made
        # in between); a lost COMMIT raises CommitUnknown: `ledger list` shows whether it did.
        return self.atomic(lambda: self._reset(person, reason), what="a reset")

    def _reset(self, person: str | None, reason: str) -> int:
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

    # -- import ---------------------------------------------------------------------------------

    def dump(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Every attempt (with its code hash) and reset row, oldest first, for an import."""
        attempts = self._execute(
            f"SELECT {COLUMNS}, code_hash FROM attempts ORDER BY id"
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
