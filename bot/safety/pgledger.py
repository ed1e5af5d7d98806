"""The team ledger: the attempt ledger in PostgreSQL (``ICPBOT_LEDGER_URL=postgresql://...``).

Same guarantees as the SQLite ledger, across machines:

- check and record are one transaction (every query is :class:`~bot.safety.store.LedgerStore`'s);
- one run per person in flight: a *session* advisory lock (``pg_try_advisory_lock``) held on the
  run's own lock connection for the run's life; the server drops it when that connection ends,
  so a client that died (kill -9, power loss, lost network) never locks a person for ever. The
  connection is watched, and restored with its locks when it drops while the process lives
  (:mod:`bot.safety.pglocks`): a lock someone else took meanwhile is *lost*, and its run learns
  it before it sends anything;
- statements go through a pool of checked connections shared by the process
  (:mod:`bot.safety.pgconn`), and are tried again after transient errors where that is safe
  (:mod:`bot.safety.retry`);
- the salt lives in the database (table ``ledger_meta``), so every machine computes the same
  person key; the schema is versioned there too and migrated under a transaction lock.

Session advisory locks need a real session: behind PgBouncer, the pool must be in *session*
mode. In *transaction* mode each statement may run on another server connection, so a lock
would be taken on one and freed (or never seen) on another.

Credentials come from ``ICPBOT_LEDGER_URL`` (any form libpq takes: a URL with ``user:pass@`` or
``?password=``, or ``key=value`` conninfo) or libpq's environment (``PGPASSWORD``,
``~/.pgpass``...). icpbot never prints or logs that string: only :func:`describe_url` (host, port,
database) and error texts with the password taken out.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

import psycopg

from bot import defaults
from bot.errors import ConfigError
from bot.safety.pgconn import POOL_NAME, connect_kwargs, lost_in_flight, params, pools, transient
from bot.safety.pglocks import LockSession, key_parts, lock_key
from bot.safety.retry import CommitUnknown, retrying
from bot.safety.store import LedgerStore, PersonLock, Rows

__all__ = ["PG_SCHEMA_VERSION", "PgLedger", "describe_url"]

PG_SCHEMA_VERSION = 1
_SALT_BYTES = 32
#: The key of the transaction lock that serialises migrations of several first starts.
_MIGRATION_LOCK = 0x1C9B_07_1ED6E5

# Each entry brings the schema from the version before it to its own number.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE attempts (
            id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            person        TEXT        NOT NULL,
            action        TEXT        NOT NULL CHECK (action IN ('verify', 'resend')),
            scenario      TEXT        NOT NULL,
            run_id        TEXT        NOT NULL,
            started_at    TIMESTAMPTZ NOT NULL,
            finished_at   TIMESTAMPTZ,
            outcome       TEXT        NOT NULL DEFAULT 'pending',
            site_status   INTEGER,
            mobile_masked TEXT        NOT NULL,
            sent          INTEGER     NOT NULL DEFAULT 1,
            code_hash     TEXT
        )""",
        "CREATE INDEX attempts_person ON attempts (person, action, id)",
        "CREATE INDEX attempts_code ON attempts (person, code_hash)",
        # A reset is a marker, never a delete; after_attempt orders it against attempts by id.
        """CREATE TABLE resets (
            id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            person        TEXT        NOT NULL,
            at            TIMESTAMPTZ NOT NULL,
            reason        TEXT        NOT NULL,
            after_attempt BIGINT      NOT NULL
        )""",
        "CREATE INDEX resets_person ON resets (person, after_attempt)",
    ),
}


def describe_url(url: str) -> str:
    """Where the ledger is, for messages and logs: a URL of host, port and database only (no user,
    password or other parameter), whichever form ``url`` has; unset parts are left out (libpq
    then takes them from its environment, e.g. ``PGHOST``)."""
    params_ = params(url)
    if params_ is None:
        return "postgresql://(ICPBOT_LEDGER_URL cannot be parsed)"
    host, port = str(params_.get("host") or ""), str(params_.get("port") or "")
    query: dict[str, str] = {}
    if host.startswith("/"):  # a unix socket's folder: a query parameter in a URL
        query["host"] = host
        if port:
            query["port"] = port
        netloc = ""
    else:
        hosts, ports = host.split(","), port.split(",") if port else []
        netloc = ",".join(
            (f"[{h}]" if ":" in h else h) + (f":{ports[i]}" if i < len(ports) and ports[i] else "")
            for i, h in enumerate(hosts)
        )
    database = quote(str(params_.get("dbname") or ""))
    tail = f"?{urlencode(query, safe='/')}" if query else ""
    return f"postgresql://{netloc}/{database}{tail}"


_READS = ("SELECT", "SHOW")
_POOL_TRIES = 10  # more than the pool's size: every idle connection may have dropped together


def _rows(cursor: psycopg.Cursor[Any]) -> Rows:
    return Rows(cursor.fetchall() if cursor.description is not None else [], cursor.rowcount)


class PgLedger(LedgerStore):
    """The ledger in PostgreSQL: statements on the process's pool for its URL, locks on a
    connection of this instance's own (:class:`~bot.safety.pglocks.LockSession`)."""

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        self.location = describe_url(url)
        self._url = url
        self._local = threading.local()  # .conn: this thread's transaction's connection
        known = pools.known(url)

        def connect() -> psycopg.Connection[Any]:
            return psycopg.connect(url, **connect_kwargs(url, f"{POOL_NAME}-locks"))

        try:
            # A URL that never connected in this process fails at once (a typo, a password);
            # one that did is the database away for a moment: waited for, within the bound.
            first = retrying(
                connect,
                transient=lambda exc: known and transient(exc),
                what="connecting to the ledger",
                bound_s=self.retry_s,
            )
        except psycopg.Error as exc:
            # An unparsable string's error quotes a piece of it: say only that it is unparsable.
            reason = _scrub(str(exc), url).strip().splitlines()[0] if str(exc) else ""
            if params(url) is None:
                reason = "not a PostgreSQL URL or key=value connection string"
            raise ConfigError(
                f"cannot reach the PostgreSQL ledger {self.location}: "
                f"{reason or type(exc).__name__}",
                path="ICPBOT_LEDGER_URL",
            ) from None
        try:
            self._salt = _migrate(first, self.location)
        except BaseException:
            first.close()
            raise
        self._locks: LockSession | None = LockSession(connect, first)
        self._pool = pools.take(url)

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def _session(self) -> LockSession:
        if self._locks is None:
            raise RuntimeError("the ledger is closed")
        return self._locks

    @contextmanager
    def _pooled(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection of the pool, tried before it is used (one that dropped while idle, after
        a restart or a ``pg_terminate_backend``, is closed, so the pool replaces it, and the
        next is tried at once), for one statement or one transaction; waited for no longer
        than the retries would go on."""
        if self._locks is None:
            raise RuntimeError("the ledger is closed")
        wait = min(float(defaults.LEDGER_SERVER_TIMEOUT_S), self.retry_s)
        for _ in range(_POOL_TRIES):
            conn = self._pool.getconn(timeout=wait)
            try:
                conn.execute("")  # the pool's own check, without its one-second back-off
            except psycopg.Error:
                conn.close()
                self._pool.putconn(conn)
                continue
            try:
                yield conn
            finally:
                self._pool.putconn(conn)
            return
        # Every connection tried was dead and nothing was sent: transient, tried again later.
        raise psycopg.OperationalError("no live connection in the ledger's pool")

    def _run(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        # No query of the ledger contains a literal "?" or "%": the swap is safe.
        query, values = sql.replace("?", "%s"), tuple(params)
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is not None:
            return _rows(conn.execute(query, values))
        with self._pooled() as conn:
            try:
                return _rows(conn.execute(query, values))
            except psycopg.OperationalError as exc:
                # An autocommit write whose answer was lost may have happened: only the caller
                # knows whether running it again is safe. A read is always safe.
                if lost_in_flight(exc) and not sql.lstrip().upper().startswith(_READS):
                    raise CommitUnknown("a statement") from exc
                raise

    def _in_transaction(self) -> bool:
        return getattr(self._local, "conn", None) is not None

    def _transient(self, exc: BaseException) -> bool:
        return transient(exc)

    def _stamp(self, moment: datetime) -> datetime:
        return moment

    @contextmanager
    def transaction(self) -> Iterator[None]:
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is not None:  # nested: a savepoint in this thread's transaction
            with conn.transaction():
                yield
            return
        with self._pooled() as conn:
            self._local.conn = conn
            body_done = False
            try:
                with conn.transaction():
                    yield
                    body_done = True
            except psycopg.OperationalError as exc:
                # Lost before the COMMIT: the server rolls the transaction back, nothing was
                # written. Lost at the COMMIT: it may have been; the caller must find out.
                if body_done and lost_in_flight(exc):
                    raise CommitUnknown("a transaction") from exc
                raise
            finally:
                self._local.conn = None

    def close(self) -> None:
        locks, self._locks = self._locks, None
        if locks is not None:
            locks.close()  # ends the lock session: the server frees its advisory locks
            pools.give_back(self._url)

    def adopt_salt(self, salt: bytes) -> None:
        """Take another ledger's salt, so its person keys stay valid here. Only while this
        ledger is empty (no attempt, no reset): afterwards keys would change under people."""
        if len(salt) != _SALT_BYTES:
            raise ConfigError("the imported salt is damaged", path=self.location)
        with self.transaction():
            self._execute("LOCK TABLE attempts, resets IN EXCLUSIVE MODE")
            if not self.is_empty():
                raise ConfigError(
                    "this PostgreSQL ledger already holds attempts under another salt",
                    path=self.location,
                )
            self._execute("UPDATE ledger_meta SET value = ? WHERE key = 'salt'", (salt.hex(),))
        self._salt = salt

    def meta(self, key: str) -> str | None:
        row = self._execute("SELECT value FROM ledger_meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Call inside :meth:`transaction`; fails if ``key`` is set already."""
        self._execute("INSERT INTO ledger_meta (key, value) VALUES (?, ?)", (key, value))

    # -- the per-person run lock --------------------------------------------------------------

    def try_lock_person(self, person: str) -> PersonLock | None:
        # One hold per person per session (session locks nest; one run per person means one).
        return self._session.try_lock(person)

    def person_locked(self, person: str) -> bool:
        if self._session.has(person):
            return True
        classid, objid = key_parts(lock_key(person))
        row = self._execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid = ?::bigint::oid AND objid = ?::bigint::oid AND objsubid = 1)",
            (classid, objid),
        ).fetchone()
        return bool(row[0])


def _migrate(conn: psycopg.Connection[Any], location: str) -> bytes:
    """Bring the schema up to :data:`PG_SCHEMA_VERSION` and read the salt (making it on the
    first start), on ``conn``, in one transaction under the migration lock."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
        )
        row = conn.execute("SELECT value FROM ledger_meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0]) if row else 0
        if version > PG_SCHEMA_VERSION:
            raise ConfigError(
                f"the ledger has schema version {version}, newer than this icpbot "
                f"understands ({PG_SCHEMA_VERSION}); upgrade icpbot",
                path=location,
            )
        for target in range(version + 1, PG_SCHEMA_VERSION + 1):
            for statement in _MIGRATIONS[target]:
                conn.execute(statement)
        if version < PG_SCHEMA_VERSION:
            conn.execute(
                "INSERT INTO ledger_meta (key, value) VALUES ('schema_version', %s)"
                " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (str(PG_SCHEMA_VERSION),),
            )
        conn.execute(
            "INSERT INTO ledger_meta (key, value) VALUES ('salt', %s) ON CONFLICT (key) DO NOTHING",
            (secrets.token_hex(_SALT_BYTES),),
        )
        found = conn.execute("SELECT value FROM ledger_meta WHERE key = 'salt'").fetchone()
    salt = bytes.fromhex(str(found[0])) if found else b""
    if len(salt) != _SALT_BYTES:
        raise ConfigError("the ledger's salt is damaged; restore it", path=location)
    return salt


def _scrub(text: str, url: str) -> str:
    """``text`` without the password of ``url`` (in any form libpq takes)."""
    password = str((params(url) or {}).get("password") or "")
    return text.replace(password, "***") if password else text
