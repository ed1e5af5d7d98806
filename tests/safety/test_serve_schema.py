"""The service's tables are versioned: a database of the first release (no version row) is
upgraded in place, and one newer than this icpbot is refused, on both back ends."""

from __future__ import annotations

import pytest

from bot.errors import ConfigError
from bot.serve.schema import MIGRATIONS, SCHEMA_VERSION
from bot.serve.store import ServeStore

from .conftest import Backend


def _version(store: ServeStore) -> int:
    row = store.execute("SELECT value FROM serve_meta WHERE key = 'schema_version'").fetchone()
    return int(row[0])


def test_a_database_of_the_first_release_is_upgraded(backend: Backend) -> None:
    ledger = backend.open()
    # The first release's tables, exactly as it made them, with a queued run in them.
    with ledger.transaction():
        for statement in MIGRATIONS[1]:
            ledger.execute(statement)
        ledger.execute(
            "INSERT INTO serve_runs (id, created_at, updated_at, action, site, base_url, person,"
            " mobile_masked, sealed, state, phase, created_by) VALUES ('old', 1, 1, 'resend',"
            " 'miit', 'https://beian.miit.gov.cn/', 'p', '139****5678', 's', 'queued',"
            " 'queued', 'test')"
        )
    store = ServeStore(ledger)
    try:
        assert _version(store) == SCHEMA_VERSION
        row = store.run("old")
        assert row is not None
        assert row.state == "queued"
    finally:
        store.close()


def test_a_newer_database_is_refused(backend: Backend) -> None:
    store = ServeStore(backend.open())
    store.execute(
        "UPDATE serve_meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),)
    )
    store.close()
    with pytest.raises(ConfigError, match="newer than this icpbot"):
        ServeStore(backend.open())


def test_two_stores_on_one_new_database_agree(backend: Backend) -> None:
    a, b = ServeStore(backend.open()), ServeStore(backend.open())
    try:
        assert _version(a) == _version(b) == SCHEMA_VERSION
    finally:
        a.close()
        b.close()


def test_the_database_clock_is_the_stamp(backend: Backend) -> None:
    import time

    store = ServeStore(backend.open())
    try:
        first, second = store.db_now(), store.db_now()
        assert second >= first
        assert abs(first - time.time()) < 5  # the same machine here: one clock
    finally:
        store.close()
