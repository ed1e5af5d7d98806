"""The attempt ledger's default back end: SQLite in the state folder (policy: ``budget``).

The MIIT site returns the whole filing after about 5 failed verifications (wrong code, mobile or ID
digits, in any mix), and a code lives 24 h (see ``../shared/domain.md``). A submission is
therefore not free: before each one the runner claims it through :func:`bot.safety.guard.claim`,
which checks the budget and records the attempt in one transaction, *before* the click that
submits, so that a crash or Ctrl-C leaves a ``pending`` row that counts as a possible failure.

No personal value is stored in clear: a person is a salted SHA-256 of mobile and ID digits, and
only a masked mobile (``139****5678``) is kept for listing. :func:`open_ledger` picks the back
end: PostgreSQL when ``ICPBOT_LEDGER_URL`` is set (a team's shared ledger), else this one.
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import sqlite3
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from bot import defaults
from bot.errors import ConfigError
from bot.privacy import logger
from bot.safety.store import (
    CLAIMED,
    COUNTED_OUTCOMES,
    PENDING,
    LedgerEntry,
    LedgerStore,
    PersonLock,
    ResetMarker,
    Rows,
)

__all__ = [
    "CLAIMED",
    "COUNTED_OUTCOMES",
    "LEDGER_URL_ENV",
    "MISSING_DRIVER",
    "PENDING",
    "SCHEMA_VERSION",
    "Action",
    "Ledger",
    "LedgerEntry",
    "LedgerStore",
    "ResetMarker",
    "check_driver",
    "default_state_dir",
    "open_ledger",
]

Action = Literal["verify", "resend"]

#: ``postgresql://user@host/db``: keep the ledger in PostgreSQL, shared by a team.
LEDGER_URL_ENV = "ICPBOT_LEDGER_URL"
MISSING_DRIVER = "set, but the PostgreSQL driver is missing: pip install 'icpbot[postgres]'"

SCHEMA_VERSION = 2
#: How long one statement waits for another process's write lock (SQLite's busy handler) before
#: it fails "database is locked"; the whole work is then tried again (bot.safety.retry).
_LOCK_TIMEOUT_S = 10.0
_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_SALT_BYTES = 32

# Each entry brings a ledger from the version before it to its own number (PRAGMA user_version).
_MIGRATIONS: dict[int, str] = {
    1: """
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
""",
    # Claims (a row before the click that does not count until it is sent) and the code memory.
    # Rows of version 1 were all written right before their click: sent.
    2: """
ALTER TABLE attempts ADD COLUMN sent INTEGER NOT NULL DEFAULT 1;
ALTER TABLE attempts ADD COLUMN code_hash TEXT;
CREATE INDEX IF NOT EXISTS attempts_code ON attempts (person, code_hash);
""",
}


def default_state_dir() -> Path:
    """``ICPBOT_STATE_DIR``, else ``$XDG_STATE_HOME/icpbot``, else ``~/.local/state/icpbot``."""
    return defaults.state_dir()


def open_ledger(state_dir: Path | None = None) -> LedgerStore:
    """The ledger this process uses: SQLite in ``state_dir`` when one is given (the demo's
    throw-away ledger, tests), else PostgreSQL when ``ICPBOT_LEDGER_URL`` is set, else SQLite
    in :func:`default_state_dir`."""
    url = os.environ.get(LEDGER_URL_ENV, "").strip()
    if url and state_dir is None:
        try:
            from bot.safety.pgledger import PgLedger
        except ModuleNotFoundError as exc:  # psycopg is the extra icpbot[postgres]
            if not (exc.name or "").startswith("psycopg"):
                raise
            raise ConfigError(MISSING_DRIVER, path=LEDGER_URL_ENV) from None
        return PgLedger(url)
    return Ledger(state_dir)


def check_driver() -> None:
    """Raise :class:`ConfigError` when ``ICPBOT_LEDGER_URL`` asks for PostgreSQL but psycopg (the
    extra ``icpbot[postgres]``) is not installed: one line up front, before any run starts."""
    if not os.environ.get(LEDGER_URL_ENV, "").strip():
        return
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        raise ConfigError(MISSING_DRIVER, path=LEDGER_URL_ENV) from None


class _FileLock(PersonLock):
    """An exclusive ``flock`` on the person's lock file. The kernel frees it when the process
    dies, however it dies, so a killed run never locks a person for ever."""

    def __init__(self, fd: int, owner: set[str], person: str) -> None:
        self._fd: int | None = fd
        self._owner = owner
        self._person = person

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor drops the flock
            self._fd = None
            self._owner.discard(self._person)

    def still_held(self) -> bool:
        # The kernel keeps a flock for as long as its descriptor is open: it cannot be lost.
        return self._fd is not None


class Ledger(LedgerStore):
    """The local SQLite ledger, shared by concurrent icpbot processes on one machine.

    Every write is one short transaction, committed (and synced to disk) before the method
    returns. A statement waits ``busy_timeout_s`` for another process's write lock; past it,
    the whole work is tried again (:mod:`bot.safety.retry`). Use as a context manager or call
    :meth:`close`.
    """

    def __init__(
        self, state_dir: Path | None = None, *, busy_timeout_s: float = _LOCK_TIMEOUT_S
    ) -> None:
        self.state_dir = (state_dir if state_dir is not None else default_state_dir()).resolve()
        _ensure_private_dir(self.state_dir)
        self._salt = _load_or_create_salt(self.state_dir / "salt")
        self.path = self.state_dir / "ledger.sqlite3"
        self.location = str(self.path)
        self._locks_dir = self.state_dir / "locks"
        self._held: set[str] = set()
        _touch_private(self.path)
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE), so a write takes
        # the lock up front and waits up to the timeout instead of failing half-way.
        # check_same_thread=False: the async engine calls the ledger through worker threads
        # (one call at a time per ledger), so that a slow disk never stops the other runs.
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
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

    def _run(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        cursor = self._db.execute(sql, tuple(params))
        rows = cursor.fetchall()  # read whole here: a busy error comes now, not at a later fetch
        return Rows(rows, cursor.rowcount)

    def _in_transaction(self) -> bool:
        return self._conn is not None and self._conn.in_transaction

    def _transient(self, exc: BaseException) -> bool:
        # SQLITE_BUSY/LOCKED: another connection held the file's lock past the busy timeout.
        # SQLite changes nothing when it answers so (a busy COMMIT leaves the transaction open,
        # and transaction() then rolls it back), so the whole work can run again.
        code = getattr(exc, "sqlite_errorcode", None)
        return (
            isinstance(exc, sqlite3.OperationalError)
            and code is not None
            and (code & 0xFF in _BUSY_CODES)
        )

    def _stamp(self, moment: datetime) -> str:
        return moment.isoformat(timespec="microseconds")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
            db.execute("COMMIT")
        except BaseException:
            # Also after a COMMIT that failed busy: SQLite keeps that transaction open, and a
            # connection left in it would join the next caller's statements to it.
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _migrate(self) -> None:
        # Run again whole after a busy file: migrations are in one transaction, all or nothing.
        self.atomic(self._migrate_once, what="the ledger's migration")

    def _migrate_once(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"the ledger has schema version {version}, newer than this icpbot "
                f"understands ({SCHEMA_VERSION}); upgrade icpbot",
                path=self.path,
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in _MIGRATIONS[target].split(";"):
                if statement.strip():
                    self._db.execute(statement)
        if version < SCHEMA_VERSION:
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- the per-person run lock --------------------------------------------------------------

    def _lock_path(self, person: str) -> Path:
        if not self._locks_dir.exists():
            self._locks_dir.mkdir(mode=0o700, exist_ok=True)
        # Lock files are never deleted: deleting one while another process waits on it would
        # let two runs hold "the" lock of one person.
        return self._locks_dir / f"{person}.lock"

    def try_lock_person(self, person: str) -> PersonLock | None:
        fd = os.open(self._lock_path(person), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return None
            raise
        self._held.add(person)
        return _FileLock(fd, self._held, person)

    def person_locked(self, person: str) -> bool:
        if person in self._held:
            return True
        path = self._locks_dir / f"{person}.lock"
        if not path.exists():
            return False
        fd = os.open(path, os.O_RDONLY)
        try:
            # A shared probe, dropped at once. (A claim racing this probe may be refused as
            # "in flight" for that instant: it can simply run again.)
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return True
            raise
        finally:
            os.close(fd)
        return False


def _ensure_private_dir(path: Path) -> None:
    if not path.exists():
        try:
            path.mkdir(mode=0o700, parents=True)
        except FileExistsError:
            pass  # another run of the same batch (a thread) or process made it just now
        else:
            os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask; make it exact
            return
    if not path.is_dir():
        raise ConfigError("the icpbot state folder is not a folder", path=path)
    if stat.S_IMODE(path.stat().st_mode) & 0o077 and path not in _WARNED_OPEN:
        # Not tightened here: ICPBOT_STATE_DIR may point at a folder the user shares on purpose.
        # The files inside are 0600 either way. Said once per process: every run opens the
        # ledger (a batch many times), and the folder is the same for all of them.
        _WARNED_OPEN.add(path)
        logger.warning("state folder {} is readable by other users; 0700 is advised", path)


#: state folders already warned about (their mode), in this process
_WARNED_OPEN: set[Path] = set()


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
