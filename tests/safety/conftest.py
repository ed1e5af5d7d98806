"""The ledger's back ends as one parametrised fixture: every contract test runs on both."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from bot.safety.ledger import LEDGER_URL_ENV, Ledger
from bot.safety.pgledger import PgLedger
from bot.safety.store import LedgerStore

from .pgserver import PgServer, skip_reason

_databases = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    reason = skip_reason()
    if reason is not None:
        pytest.skip(reason)
    server = PgServer()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Backend:
    """One ledger back end: ``open`` gives a new connection (as another process would have);
    ``env`` makes an icpbot process use the same ledger."""

    name: str
    open: Callable[[], LedgerStore]
    env: dict[str, str]


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Backend:
    monkeypatch.delenv(LEDGER_URL_ENV, raising=False)
    state = tmp_path / "state"
    monkeypatch.setenv("ICPBOT_STATE_DIR", str(state))
    if request.param == "sqlite":
        return Backend("sqlite", lambda: Ledger(state), {"ICPBOT_STATE_DIR": str(state)})
    server: PgServer = request.getfixturevalue("pg_server")
    database = f"t{next(_databases)}"
    with psycopg.connect(server.url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database}")
    url = server.url(database)
    monkeypatch.setenv(LEDGER_URL_ENV, url)
    return Backend("postgresql", lambda: PgLedger(url), {LEDGER_URL_ENV: url})


@pytest.fixture
def store(backend: Backend) -> Iterator[LedgerStore]:
    with backend.open() as opened:
        yield opened
