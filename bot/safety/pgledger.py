"""The team ledger: the attempt ledger in PostgreSQL (``ICPBOT_LEDGER_URL=postgresql://...``).

Same guarantees as the SQLite ledger, across machines:

- check and record are one transaction (every query is :class:`~bot.safety.store.LedgerStore`'s);
- one run per person in flight: a *session* advisory lock (``pg_try_advisory_lock``) held on the
  run's own connection for the run's life; the server drops it when that connection ends, so a
  client that died (kill -9, power loss, lost network) never locks a person for ever;
- the salt lives in the database (table ``ledger_meta``), so every machine computes the same
  person key; the schema is versioned there too and migrated under a transaction lock.

Credentials come from ``ICPBOT_LEDGER_URL`` (any form libpq takes: a URL with ``user:pass@`` or
``?password=``, or ``key=value`` conninfo) or libpq's environment (``PGPASSWORD``,
``~/.pgpass``...). icpbot never prints or logs that string: only :func:`describe_url` (host, port,
database) and error texts with the password taken out.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

import psycopg
from psycopg.conninfo import conninfo_to_dict

from bot import defaults
from bot.errors import ConfigError
from bot.safety.store import LedgerStore, PersonLock

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


def _params(url: str) -> dict[str, Any] | None:
    try:
        return conninfo_to_dict(url)
    except psycopg.Error:
        return None


def describe_url(url: str) -> str:
    """Where the ledger is, for messages and logs: a URL of host, port and database only (no user,
    password or other parameter), whichever form ``url`` has; unset parts are left out (libpq
    then takes them from its environment, e.g. ``PGHOST``)."""
    params = _params(url)
    if params is None:
        return "postgresql://(ICPBOT_LEDGER_URL cannot be parsed)"
    host, port = str(params.get("host") or ""), str(params.get("port") or "")
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
    database = quote(str(params.get("dbname") or ""))
    tail = f"?{urlencode(query, safe='/')}" if query else ""
    return f"postgresql://{netloc}/{database}{tail}"


def _lock_key(person: str) -> int:
    """The advisory lock key of a person: the first 64 bits of its key, as a signed bigint."""
    return int.from_bytes(bytes.fromhex(person[:16]), "big", signed=True)


class _AdvisoryLock(PersonLock):
    def __init__(self, ledger: PgLedger, person: str) -> None:
        self._ledger: PgLedger | None = ledger
        self._person = person

    def release(self) -> None:
        ledger, self._ledger = self._ledger, None
        if ledger is not None:
            ledger._unlock(self._person)


class PgLedger(LedgerStore):
    """The ledger in PostgreSQL. One connection per instance: it carries the run locks."""

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        self.location = describe_url(url)
        self._held: set[str] = set()
        try:
            # autocommit: every statement outside :meth:`transaction` is its own transaction,
            # and a session advisory lock is never tied to one.
            self._conn: psycopg.Connection[Any] | None = psycopg.connect(
                url, autocommit=True, connect_timeout=defaults.LEDGER_SERVER_TIMEOUT_S
            )
        except psycopg.Error as exc:
            # An unparsable string's error quotes a piece of it: say only that it is unparsable.
            reason = _scrub(str(exc), url).strip().splitlines()[0] if str(exc) else ""
            if _params(url) is None:
                reason = "not a PostgreSQL URL or key=value connection string"
            raise ConfigError(
                f"cannot reach the PostgreSQL ledger {self.location}: "
                f"{reason or type(exc).__name__}",
                path="ICPBOT_LEDGER_URL",
            ) from None
        try:
            self._salt = self._migrate()
        except BaseException:
            self.close()
            raise

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def _db(self) -> psycopg.Connection[Any]:
        if self._conn is None:
            raise RuntimeError("the ledger is closed")
        return self._conn

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        # No query of the ledger contains a literal "?" or "%": the swap is safe.
        return self._db.execute(sql.replace("?", "%s"), tuple(params))

    def _stamp(self, moment: datetime) -> datetime:
        return moment

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._db.transaction():
            yield

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()  # ends the session: the server frees its advisory locks
            self._conn = None
            self._held.clear()

    def _migrate(self) -> bytes:
        with self.transaction():
            self._execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            self._execute(
                "CREATE TABLE IF NOT EXISTS ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            row = self._execute(
                "SELECT value FROM ledger_meta WHERE key = 'schema_version'"
            ).fetchone()
            version = int(row[0]) if row else 0
            if version > PG_SCHEMA_VERSION:
                raise ConfigError(
                    f"the ledger has schema version {version}, newer than this icpbot "
                    f"understands ({PG_SCHEMA_VERSION}); upgrade icpbot",
                    path=self.location,
                )
            for target in range(version + 1, PG_SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[target]:
                    self._execute(statement)
            if version < PG_SCHEMA_VERSION:
                self._execute(
                    "INSERT INTO ledger_meta (key, value) VALUES ('schema_version', ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    (str(PG_SCHEMA_VERSION),),
                )
            self._execute(
                "INSERT INTO ledger_meta (key, value) VALUES ('salt', ?)"
                " ON CONFLICT (key) DO NOTHING",
                (secrets.token_hex(_SALT_BYTES),),
            )
            salt = bytes.fromhex(
                self._execute("SELECT value FROM ledger_meta WHERE key = 'salt'").fetchone()[0]
            )
        if len(salt) != _SALT_BYTES:
            raise ConfigError("the ledger's salt is damaged; restore it", path=self.location)
        return salt

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
        if person in self._held:
            return None  # session locks nest; one run per person means one hold per session
        row = self._execute("SELECT pg_try_advisory_lock(?)", (_lock_key(person),)).fetchone()
        if not row[0]:
            return None
        self._held.add(person)
        return _AdvisoryLock(self, person)

    def _unlock(self, person: str) -> None:
        if person in self._held and self._conn is not None:
            self._held.discard(person)
            self._execute("SELECT pg_advisory_unlock(?)", (_lock_key(person),))

    def person_locked(self, person: str) -> bool:
        if person in self._held:
            return True
        key = _lock_key(person) & 0xFFFF_FFFF_FFFF_FFFF
        # A bigint key shows in pg_locks as classid (high 32 bits), objid (low 32), objsubid 1.
        row = self._execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid = ?::bigint::oid AND objid = ?::bigint::oid AND objsubid = 1)",
            (key >> 32, key & 0xFFFF_FFFF),
        ).fetchone()
        return bool(row[0])


def _scrub(text: str, url: str) -> str:
    """``text`` without the password of ``url`` (in any form libpq takes)."""
    password = str((_params(url) or {}).get("password") or "")
    return text.replace(password, "***") if password else text
