"""The service's own tables (``serve_*``), versioned: ordered migrations, each bringing the
schema from the version before it to its own number.

The version is kept in ``serve_meta`` (key ``schema_version``). A database made by the first
release of ``icpbot serve`` has the tables of version 1 and no version row: it is recognised
by its ``serve_runs`` table. :func:`migrate` runs under the queue's lock (PostgreSQL: a
transaction advisory lock; SQLite: ``BEGIN IMMEDIATE``), so that processes starting together
upgrade once; a database newer than this icpbot knows is refused with a clear error.

To change the schema, append a migration (never edit one that was released): statements both
SQLite and PostgreSQL speak, or a ``{"sqlite": [...], "postgresql": [...]}`` pair.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bot.errors import ConfigError

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate"]

Statements = Sequence[str] | dict[str, Sequence[str]]

# Version 1: the tables of the first release (kept as they were: a test upgrades them).
_V1 = (
    """CREATE TABLE IF NOT EXISTS serve_runs (
    id            TEXT PRIMARY KEY,
    created_at    DOUBLE PRECISION NOT NULL,
    updated_at    DOUBLE PRECISION NOT NULL,
    action        TEXT NOT NULL,
    site          TEXT NOT NULL,
    base_url      TEXT NOT NULL,
    person        TEXT NOT NULL,
    mobile_masked TEXT NOT NULL,
    sealed        TEXT,
    state         TEXT NOT NULL,
    phase         TEXT NOT NULL,
    owner         TEXT,
    link_id       TEXT,
    batch_id      TEXT,
    outcome       TEXT,
    run_dir       TEXT,
    created_by    TEXT NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS serve_runs_state ON serve_runs (state, created_at)",
    """CREATE TABLE IF NOT EXISTS serve_secrets (
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    hash       TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (kind, name)
)""",
    """CREATE TABLE IF NOT EXISTS serve_links (
    id            TEXT PRIMARY KEY,
    token_hash    TEXT NOT NULL UNIQUE,
    person        TEXT NOT NULL,
    mobile_masked TEXT NOT NULL,
    sealed        TEXT NOT NULL,
    base_url      TEXT,
    created_at    DOUBLE PRECISION NOT NULL,
    expires_at    DOUBLE PRECISION NOT NULL,
    revoked       INTEGER NOT NULL DEFAULT 0,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_attempt  DOUBLE PRECISION NOT NULL DEFAULT 0,
    run_id        TEXT,
    created_by    TEXT NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS serve_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS serve_pacing (
    site_key TEXT PRIMARY KEY,
    last_at  DOUBLE PRECISION NOT NULL
)""",
)

# Fenced runs, atomic links, idempotent creates (issue 22).
_FENCED = (
    # Each take of a run is a new attempt generation: every write about a taken run names its
    # owner and generation, so a process that lost the run can change nothing about it.
    "ALTER TABLE serve_runs ADD COLUMN generation INTEGER NOT NULL DEFAULT 0",
    # When this run's one request was let go by the gate (NULL: never): after that, a run is
    # never queued again.
    "ALTER TABLE serve_runs ADD COLUMN released_at DOUBLE PRECISION",
    # The operator's explicit yes to send again a code that was sent without a verdict.
    "ALTER TABLE serve_runs ADD COLUMN confirm_resubmit INTEGER NOT NULL DEFAULT 0",
    # A link: 'open' (takes a code), 'held' (the form may have reached the site: no code until
    # an operator decides), 'done' (verified); busy = 1 while its one run is in flight.
    "ALTER TABLE serve_links ADD COLUMN state TEXT NOT NULL DEFAULT 'open'",
    "ALTER TABLE serve_links ADD COLUMN busy INTEGER NOT NULL DEFAULT 0",
    """CREATE TABLE IF NOT EXISTS serve_idempotency (
    caller     TEXT NOT NULL,
    key        TEXT NOT NULL,
    body_hash  TEXT NOT NULL,
    status     INTEGER NOT NULL,
    answer     TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (caller, key)
)""",
)

# Sessions kept in the database (the cookie holds a random id; only its hash is stored), the
# login back-off shared by every process (keys are keyed hashes of a name or an address), and
# when each API token was last used.
_SESSIONS_AND_LOGINS = (
    """CREATE TABLE IF NOT EXISTS serve_sessions (
    id_hash    TEXT PRIMARY KEY,
    operator   TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS serve_sessions_operator ON serve_sessions (operator)",
    """CREATE TABLE IF NOT EXISTS serve_logins (
    key          TEXT PRIMARY KEY,
    tries        INTEGER NOT NULL,
    last_at      DOUBLE PRECISION NOT NULL,
    locked_until DOUBLE PRECISION NOT NULL
)""",
    "ALTER TABLE serve_secrets ADD COLUMN last_used DOUBLE PRECISION",
)

# Operations (bot/serve/audit.py, webhooks.py, retention.py): the audit log, the webhooks and
# their outbox of deliveries; an index on serve_runs.updated_at for the finished-run scan and
# the pruning.
_OPS: dict[str, Sequence[str]] = {
    dialect: (
        f"""CREATE TABLE IF NOT EXISTS serve_audit (
    id     {serial},
    at     DOUBLE PRECISION NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT
)""",
        "CREATE INDEX IF NOT EXISTS serve_audit_at ON serve_audit (at)",
        """CREATE TABLE IF NOT EXISTS serve_webhooks (
    id         TEXT PRIMARY KEY,
    url        TEXT NOT NULL,
    events     TEXT NOT NULL,
    sealed     TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    created_by TEXT NOT NULL
)""",
        """CREATE TABLE IF NOT EXISTS serve_webhook_deliveries (
    id           TEXT PRIMARY KEY,
    hook_id      TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    event        TEXT NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      DOUBLE PRECISION NOT NULL,
    lease_owner  TEXT,
    lease_until  DOUBLE PRECISION NOT NULL DEFAULT 0,
    last_status  INTEGER,
    last_error   TEXT,
    created_at   DOUBLE PRECISION NOT NULL,
    delivered_at DOUBLE PRECISION,
    UNIQUE (event_id, hook_id)
)""",
        "CREATE INDEX IF NOT EXISTS serve_webhook_due ON serve_webhook_deliveries (state, next_at)",
        "CREATE INDEX IF NOT EXISTS serve_runs_updated ON serve_runs (updated_at)",
    )
    for dialect, serial in (
        ("sqlite", "INTEGER PRIMARY KEY AUTOINCREMENT"),
        ("postgresql", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"),
    )
}

# A fleet (issue 24): any process answers for any run.
_PROCESSES = """CREATE TABLE IF NOT EXISTS serve_processes (
    owner        TEXT PRIMARY KEY,
    machine      TEXT NOT NULL,
    internal_url TEXT,
    out_dir      TEXT NOT NULL,
    out_id       TEXT NOT NULL,
    started_at   DOUBLE PRECISION NOT NULL,
    heartbeat_at DOUBLE PRECISION NOT NULL,
    stopped_at   DOUBLE PRECISION
)"""
_FLEET_BOTH = (
    # The hash of the run's hand-off token (/h/...), so that any process finds the run, and
    # its check URL sealed, so that any process shows it.
    "ALTER TABLE serve_runs ADD COLUMN check_token_hash TEXT",
    "ALTER TABLE serve_runs ADD COLUMN check_url TEXT",
    "CREATE INDEX IF NOT EXISTS serve_runs_check ON serve_runs (check_token_hash)",
    "CREATE INDEX IF NOT EXISTS serve_runs_owner ON serve_runs (owner)",
    # Which processes serve, where others reach them, where their evidence is.
    _PROCESSES,
)
_FLEET: dict[str, Sequence[str]] = {
    # Each change of a run takes the next number of one sequence: the live feed reads what
    # changed after the last number it saw (the numbers that commit late are looked for again).
    "sqlite": (
        "ALTER TABLE serve_runs ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0",
        "UPDATE serve_runs SET change_seq = rowid",
        "CREATE INDEX IF NOT EXISTS serve_runs_change ON serve_runs (change_seq)",
        *_FLEET_BOTH,
    ),
    "postgresql": (
        "CREATE SEQUENCE IF NOT EXISTS serve_change_seq",
        "ALTER TABLE serve_runs ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0",
        "UPDATE serve_runs SET change_seq = nextval('serve_change_seq')",
        "CREATE INDEX IF NOT EXISTS serve_runs_change ON serve_runs (change_seq)",
        *_FLEET_BOTH,
    ),
}

# Links an operator can manage (issue 23): the operator's own label for a link (the
# customer's reference, say; optional, at most 80 characters, no personal value needed).
_LINK_LABELS = ("ALTER TABLE serve_links ADD COLUMN label TEXT NOT NULL DEFAULT ''",)

#: version -> the statements that bring the schema from the version before to it
MIGRATIONS: dict[int, Statements] = {
    1: _V1,
    2: _FENCED,
    3: _SESSIONS_AND_LOGINS,
    4: _OPS,
    5: _FLEET,
    6: _LINK_LABELS,
}
SCHEMA_VERSION = max(MIGRATIONS)


def _statements(entry: Statements, dialect: str) -> Sequence[str]:
    if isinstance(entry, dict):
        return entry[dialect]
    return entry


def migrate(execute: Callable[..., Any], dialect: str, where: str) -> int:
    """Bring the tables to :data:`SCHEMA_VERSION`; the version found. Call inside the queue's
    transaction (its lock held). ``execute(sql, params)`` runs one statement; ``where`` names
    the database in an error."""
    execute("CREATE TABLE IF NOT EXISTS serve_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    row = execute("SELECT value FROM serve_meta WHERE key = 'schema_version'").fetchone()
    if row is not None:
        found = int(row[0])
    else:
        # The first release wrote no version: its serve_runs table says it was there.
        probe = (
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'serve_runs'"
            if dialect == "sqlite"
            else "SELECT 1 FROM information_schema.tables WHERE table_name = 'serve_runs'"
            " AND table_schema = current_schema()"
        )
        found = 1 if execute(probe).fetchone() is not None else 0
    if found > SCHEMA_VERSION:
        raise ConfigError(
            f"the service's tables have schema version {found}, newer than this icpbot "
            f"understands ({SCHEMA_VERSION}); upgrade icpbot on this machine",
            path=where,
        )
    for target in range(found + 1, SCHEMA_VERSION + 1):
        for statement in _statements(MIGRATIONS[target], dialect):
            execute(statement)
    if row is None or found < SCHEMA_VERSION:
        execute(
            "INSERT INTO serve_meta (key, value) VALUES ('schema_version', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(SCHEMA_VERSION),),
        )
    return found
