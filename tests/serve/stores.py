"""The service's store on both databases, for tests of its tables (import the fixtures into a
test module): ``serve_db`` gives a :class:`Db` that opens new stores on one database (SQLite in
the test's state folder, or a fresh PostgreSQL database), as separate processes would."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from bot.safety.ledger import LEDGER_URL_ENV, Ledger
from bot.safety.pgledger import PgLedger
from bot.serve.store import ServeStore
from tests.safety.pgserver import PgServer, skip_reason

__all__ = ["Db", "pg", "serve_db"]

_databases = itertools.count(1)


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    reason = skip_reason()
    if reason is not None:
        pytest.skip(reason)
    server = PgServer()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Db:
    name: str
    state: Path
    env: dict[str, str]  # what makes an icpbot process use this database
    _open: Callable[[], ServeStore]
    opened: list[ServeStore] = field(default_factory=list)

    def store(self) -> ServeStore:
        made = self._open()
        self.opened.append(made)
        return made


@pytest.fixture(params=["sqlite", "postgresql"])
def serve_db(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Db]:
    monkeypatch.delenv(LEDGER_URL_ENV, raising=False)
    monkeypatch.delenv("ICPBOT_SERVE_SECRET", raising=False)
    state = tmp_path / "state"
    monkeypatch.setenv("ICPBOT_STATE_DIR", str(state))
    if request.param == "sqlite":
        env = {"ICPBOT_STATE_DIR": str(state)}
        db = Db("sqlite", state, env, lambda: ServeStore(Ledger(state)))
    else:
        server: PgServer = request.getfixturevalue("pg")
        database = f"s{next(_databases)}"
        with psycopg.connect(server.url(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {database}")
        url = server.url(database)
        monkeypatch.setenv(LEDGER_URL_ENV, url)
        db = Db(
            "postgresql",
            state,
            {"ICPBOT_STATE_DIR": str(state), LEDGER_URL_ENV: url},
            lambda: ServeStore(PgLedger(url)),
        )
    yield db
    for made in db.opened:
        made.close()
