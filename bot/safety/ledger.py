"""The attempt ledger: storage of every submission attempt (the policy is ``bot.safety.budget``).

The MIIT site returns the whole filing after about 5 failed verifications (wrong code, mobile or ID
digits, in any mix), and a code lives 24 h (see ``../shared/domain.md``). A submission is
therefore not free: before each one the runner asks :func:`bot.safety.budget.check_submission`,
and it records every attempt in a local SQLite :class:`Ledger` *before* the click that submits, so
that a crash or Ctrl-C leaves a ``pending`` row that counts as a possible failure.

No personal value is stored in clear: a person is a salted SHA-256 of mobile and ID digits, and
only a masked mobile (``139****5678``) is kept for listing.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

from bot.errors import ConfigError
from bot.privacy import logger
from bot.types import Category

__all__ = [
    "COUNTED_OUTCOMES",
    "PENDING",
    "SCHEMA_VERSION",
    "Action",
    "Ledger",
    "LedgerEntry",
    "ResetMarker",
    "default_state_dir",
]

Action = Literal["verify", "resend"]
_ACTIONS: frozenset[str] = frozenset({"verify", "resend"})

#: Outcome of an attempt that began and never finished (crash, Ctrl-C, or still running).
PENDING = "pending"
#: Verify outcomes that may have used up one of the site's failed attempts, as the safety issue
#: defines them: wrong information (status 2), ``unknown`` and ``pending`` (the submit may have
#: reached the site and failed there). A failed verification the site words differently
#: (statuses 21 and 0, category ``failed``) and ``no_record`` (status 4: nothing was pending) do
#: not count; nor do site_error, captcha_required, refused, selector_error and invalid_input,
#: where the site judged nothing.
COUNTED_OUTCOMES: frozenset[str] = frozenset({Category.wrong_info, Category.unknown, PENDING})

SCHEMA_VERSION = 1
_LOCK_TIMEOUT_S = 10.0
_SALT_BYTES = 32

_SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    person        TEXT    NOT NULL,
    action        TEXT    NOT NULL CHECK (action IN ('verify', 'resend')),
    scenario      TEXT    NOT NULL,
    run_id        TEXT    NOT NULL,
    started_at    TEXT    NOT NULL,
    finished_at   TEXT,
    outcome       TEXT    NOT NULL DEFAULT 'pending',
    site_status   INTEGER,
    mobile_masked TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_person ON attempts (person, action, id);
-- A reset is a marker, never a delete: history stays for `icpbot ledger list`.
-- after_attempt orders it against attempts by id, not by clock, so a clock change cannot
-- move attempts to the wrong side of a reset.
CREATE TABLE IF NOT EXISTS resets (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    person        TEXT    NOT NULL,
    at            TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    after_attempt INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS resets_person ON resets (person, after_attempt);
"""


def default_state_dir() -> Path:
    """``ICPBOT_STATE_DIR``, else ``$XDG_STATE_HOME/icpbot``, else ``~/.local/state/icpbot``."""
    explicit = os.environ.get("ICPBOT_STATE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_STATE_HOME")
    # The XDG spec says relative values are invalid and must be ignored.
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "icpbot"
    return Path.home() / ".local" / "state" / "icpbot"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _parse(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


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
    #: a :class:`~bot.outcome.Category` value, or ``pending``
    outcome: str
    site_status: int | None
    mobile_masked: str
    #: whether this attempt counts against the person's failure budget right now
    counted: bool


@dataclass(frozen=True)
class ResetMarker:
    """A reset of a person's counts; earlier attempts stay in the ledger but no longer count."""

    person: str
    at: datetime
    reason: str


class Ledger:
    """The local record of every submission attempt, shared by concurrent icpbot processes.

    Every write is one short transaction, committed (and synced to disk) before the method
    returns. Use as a context manager or call :meth:`close`.
    """

    def __init__(self, state_dir: Path | None = None) -> None:
        self.state_dir = (state_dir if state_dir is not None else default_state_dir()).resolve()
        _ensure_private_dir(self.state_dir)
        self._salt = _load_or_create_salt(self.state_dir / "salt")
        self.path = self.state_dir / "ledger.sqlite3"
        _touch_private(self.path)
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE in _write), so a write
        # takes the lock up front and waits up to the timeout instead of failing half-way.
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            self.path, timeout=_LOCK_TIMEOUT_S, isolation_level=None
        )
        try:
            # A plain rollback journal rather than WAL: it also works on network home folders
            # and leaves no -shm file behind; synchronous=FULL makes each commit durable.
            self._db.execute("PRAGMA journal_mode=DELETE")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except BaseException:
            self.close()
            raise

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the ledger is closed")
        return self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _migrate(self) -> None:
        with self._write() as db:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise ConfigError(
                    f"the ledger has schema version {version}, newer than this icpbot "
                    f"understands ({SCHEMA_VERSION}); upgrade icpbot",
                    path=self.path,
                )
            if version < 1:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- public API -------------------------------------------------------------------------

    def person_key(self, mobile: str, id_last6: str) -> str:
        """The salted key of one person: ``sha256(salt + mobile + ":" + id_last6)`` in hex.

        Values are stripped and the ID's check letter upper-cased first, so ``x`` and ``X``
        share one failure budget.
        """
        data = f"{mobile.strip()}:{id_last6.strip().upper()}".encode()
        return sha256(self._salt + data).hexdigest()

    def begin(
        self, person: str, action: str, *, scenario: str, run_id: str, mobile_masked: str
    ) -> int:
        """Record an attempt as ``pending`` and return its id. Durable on return: call it
        before the click that submits."""
        if action not in _ACTIONS:
            raise ValueError(f"unknown action {action!r}; expected verify or resend")
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO attempts (person, action, scenario, run_id, started_at, outcome,"
                " mobile_masked) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (person, action, scenario, run_id, _iso(_utcnow()), PENDING, mobile_masked),
            )
            attempt_id = cursor.lastrowid
        if attempt_id is None:  # pragma: no cover - sqlite always sets it after an INSERT
            raise RuntimeError("sqlite returned no row id")
        return attempt_id

    def finish(self, attempt_id: int, outcome: str, site_status: int | None = None) -> None:
        """Record how an attempt ended. ``outcome`` must be a :class:`Category` value."""
        try:
            category = Category(outcome)
        except ValueError:
            raise ValueError(f"unknown outcome {outcome!r}") from None
        with self._write() as db:
            cursor = db.execute(
                "UPDATE attempts SET outcome = ?, site_status = ?, finished_at = ? WHERE id = ?",
                (category.value, site_status, _iso(_utcnow()), attempt_id),
            )
            if cursor.rowcount != 1:
                raise ValueError(f"no attempt with id {attempt_id}")

    def _floor(self, person: str, *, since_success: bool) -> int:
        """The attempt id after which attempts count: the last reset (and last verify success)."""
        row = self._db.execute(
            "SELECT COALESCE(MAX(after_attempt), 0) FROM resets WHERE person = ?", (person,)
        ).fetchone()
        floor = int(row[0])
        if since_success:
            row = self._db.execute(
                "SELECT COALESCE(MAX(id), 0) FROM attempts"
                " WHERE person = ? AND action = 'verify' AND outcome = ?",
                (person, Category.success.value),
            ).fetchone()
            floor = max(floor, int(row[0]))
        return floor

    def _counted_failures(self, person: str) -> dict[str, int]:
        floor = self._floor(person, since_success=True)
        marks = ", ".join("?" for _ in COUNTED_OUTCOMES)
        rows = self._db.execute(
            "SELECT outcome, COUNT(*) FROM attempts WHERE person = ? AND action = 'verify'"
            f" AND id > ? AND outcome IN ({marks}) GROUP BY outcome",
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
        row = self._db.execute(
            "SELECT COUNT(*) FROM attempts"
            " WHERE person = ? AND action = 'resend' AND outcome = ? AND id > ?",
            (person, Category.success.value, floor),
        ).fetchone()
        return int(row[0])

    def reset(self, person: str | None = None, reason: str = "") -> int:
        """Start counting afresh for one person, or every person (``None``).

        Writes marker rows and deletes nothing. Returns how many persons were reset; a person
        with no recorded attempt is not reset (0), which usually means other values were typed.
        """
        with self._write() as db:
            last = int(db.execute("SELECT COALESCE(MAX(id), 0) FROM attempts").fetchone()[0])
            if person is None:
                persons = [str(p) for (p,) in db.execute("SELECT DISTINCT person FROM attempts")]
            else:
                known = db.execute("SELECT 1 FROM attempts WHERE person = ? LIMIT 1", (person,))
                persons = [person] if known.fetchone() else []
            at = _iso(_utcnow())
            db.executemany(
                "INSERT INTO resets (person, at, reason, after_attempt) VALUES (?, ?, ?, ?)",
                [(p, at, reason, last) for p in persons],
            )
        return len(persons)

    def entries(self, person: str | None = None) -> list[LedgerEntry]:
        """Attempts, newest first, for one person or all."""
        where, params = ("WHERE person = ?", (person,)) if person is not None else ("", ())
        rows = self._db.execute(
            "SELECT id, person, action, scenario, run_id, started_at, finished_at, outcome,"
            f" site_status, mobile_masked FROM attempts {where} ORDER BY id DESC",
            params,
        ).fetchall()
        floors: dict[str, int] = {}
        entries = []
        for row in rows:
            who, action, outcome = str(row[1]), str(row[2]), str(row[7])
            if who not in floors:
                floors[who] = self._floor(who, since_success=True)
            counted = action == "verify" and outcome in COUNTED_OUTCOMES and row[0] > floors[who]
            started = _parse(row[5])
            assert started is not None  # NOT NULL column
            entries.append(
                LedgerEntry(
                    id=int(row[0]),
                    person=who,
                    action=action,
                    scenario=str(row[3]),
                    run_id=str(row[4]),
                    started_at=started,
                    finished_at=_parse(row[6]),
                    outcome=outcome,
                    site_status=None if row[8] is None else int(row[8]),
                    mobile_masked=str(row[9]),
                    counted=counted,
                )
            )
        return entries

    def resets(self, person: str | None = None) -> list[ResetMarker]:
        """Reset markers, newest first, for one person or all."""
        where, params = ("WHERE person = ?", (person,)) if person is not None else ("", ())
        rows = self._db.execute(
            f"SELECT person, at, reason FROM resets {where} ORDER BY id DESC", params
        ).fetchall()
        return [ResetMarker(str(p), datetime.fromisoformat(a), str(r)) for p, a, r in rows]


def _ensure_private_dir(path: Path) -> None:
    if not path.exists():
        path.mkdir(mode=0o700, parents=True)
        os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask; make it exact
        return
    if not path.is_dir():
        raise ConfigError("the icpbot state folder is not a folder", path=path)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        # Not tightened here: ICPBOT_STATE_DIR may point at a folder the user shares on purpose.
        # The files inside are 0600 either way.
        logger.warning("state folder {} is readable by other users; 0700 is advised", path)


def _touch_private(path: Path) -> None:
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def _load_or_create_salt(path: Path) -> bytes:
    if not path.exists():
        # Written to a temporary file and hard-linked into place: link is atomic and refuses to
        # overwrite, so two processes starting at once agree on one complete salt.
        tmp = path.with_name(f".salt.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            os.write(fd, secrets.token_bytes(_SALT_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    salt = path.read_bytes()
    if len(salt) != _SALT_BYTES:
        # A changed salt would silently give everyone a fresh failure budget: stop instead.
        raise ConfigError(
            f"the salt file is damaged ({len(salt)} bytes, expected {_SALT_BYTES}); restore it",
            path=path,
        )
    return salt
