"""`icpbot ledger list|reset|import`, in-process, on both back ends."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.app import app
from bot.privacy import REDACTOR
from bot.safety.guard import claim
from bot.safety.ledger import LEDGER_URL_ENV, Ledger
from bot.safety.store import LedgerStore
from bot.types import Category

from .conftest import Backend
from .pgserver import PgServer

MOBILE, ID6 = "13912345678", "30721X"
cli = CliRunner()


@pytest.fixture(autouse=True)
def _fresh_redactor() -> None:
    REDACTOR.clear()


def icpbot(*args: str) -> tuple[int, str, str]:
    result = cli.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def scenario(tmp_path: Path, code: str = "${ICP_CODE_UNSET}") -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(
        f"action: verify\ninputs:\n  mobile: '+86 {MOBILE}'\n  code: '{code}'\n"
        f"  id_last6: '{ID6.lower()}'\n",
        encoding="utf-8",
    )
    return path


def record(store: LedgerStore, code: str, category: Category | None, *, send: bool = True) -> None:
    """One claimed run; ``category=None`` leaves it open (still running, or died)."""
    got = claim(
        store,
        store.person_key(MOBILE, ID6),
        "verify",
        scenario="acme",
        run_id=f"run-{code}",
        mobile_masked="139****5678",
        code=code,
        allow_risky=True,
    )
    assert got.granted, got.refusal
    if send:
        got.mark_sending()
    if category is not None:
        got.finish(category, 2)
    else:
        got.release()  # as if its process had died: the lock goes, the row stays open


def test_empty_ledger_says_so(backend: Backend) -> None:
    code, out, _ = icpbot("ledger", "list")
    assert code == 0
    assert "The ledger is empty" in out


def test_list_reads_like_a_table(backend: Backend, store: LedgerStore, tmp_path: Path) -> None:
    record(store, "100001", Category.wrong_info)
    record(store, "100002", Category.site_error)
    record(store, "100003", None)  # died after its click
    store.reset(None, reason="new SMS")
    record(store, "100004", Category.wrong_info)
    record(store, "100005", Category.unknown)
    code, out, err = icpbot("ledger", "list", str(scenario(tmp_path)))  # ${VAR} unset: fine
    assert code == 0, err
    assert "2 of about 5 failed verifications counted" in out
    assert "WHEN (local time)" in out
    assert "RESULT" in out
    assert "COUNTS" in out
    assert "INTERRUPTED: run run-100003" in out
    assert re.search(r"reset\s+new SMS", out)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}", out)
    assert "139****5678" in out
    for secret in (MOBILE, ID6, ID6.lower(), "100004"[:0] or MOBILE[3:]):
        assert secret not in out
    same = icpbot("ledger", "list", "--mobile", MOBILE, "--id-last6", ID6.lower())
    assert same[1].split("\n", 1)[1] == out.split("\n", 1)[1]
    everyone = icpbot("ledger", "list")[1]
    assert "2 of about 5" in everyone


def test_list_shows_the_run_in_flight(backend: Backend, store: LedgerStore) -> None:
    got = claim(
        store,
        store.person_key(MOBILE, ID6),
        "verify",
        scenario="acme",
        run_id="run-live",
        mobile_masked="139****5678",
        code="222222",
    )
    with backend.open():
        code, out, _ = icpbot("ledger", "list")
    assert "IN FLIGHT: run run-live since" in out
    assert "in_flight" in out
    code, _, err = icpbot("ledger", "reset", "--mobile", MOBILE, "--id-last6", ID6)
    assert code == 24
    assert "in flight" in err
    got.finish(Category.site_error)


def test_reset_needs_only_mobile_and_id(
    backend: Backend, store: LedgerStore, tmp_path: Path
) -> None:
    for n in range(4):
        record(store, f"20000{n}", Category.wrong_info)
    code, out, err = icpbot("ledger", "reset", str(scenario(tmp_path)))
    assert (code, out.strip()) == (0, "reset 1 person(s)"), err
    assert store.failures_since_success(store.person_key(MOBILE, ID6)) == 0
    code, out, _ = icpbot("ledger", "reset", "--mobile", "13800000000", "--id-last6", "123456")
    assert (code, out.strip()) == (0, "reset 0 person(s)")
    code, _, err = icpbot("ledger", "reset", "--mobile", MOBILE)
    assert code == 20
    assert "go together" in err
    assert icpbot("ledger", "reset")[0] == 20


def test_import_a_local_ledger(backend: Backend, tmp_path: Path) -> None:
    if backend.name != "postgresql":
        code, _, err = icpbot("ledger", "import", str(tmp_path))
        assert code == 20
        return
    local_dir = tmp_path / "laptop"
    with Ledger(local_dir) as local:
        record(local, "300001", Category.wrong_info)
        record(local, "300002", None)  # interrupted on the laptop
        local.reset(None, reason="new SMS")
        record(local, "300003", Category.wrong_info)
        record(local, "300004", Category.success)
    code, out, err = icpbot("ledger", "import", str(local_dir / "ledger.sqlite3"))
    assert code == 0, err
    assert "imported 4 attempt(s) and 1 reset(s)" in out
    with backend.open() as shared:
        person = shared.person_key(MOBILE, ID6)
        assert person == Ledger(local_dir).person_key(MOBILE, ID6)  # the salt came along
        assert [e.state for e in shared.entries()] == [
            "success",
            "wrong_info",
            "interrupted",
            "wrong_info",
        ]
        assert [e.counted for e in shared.entries()] == [False] * 4
        done = claim(
            shared, person, "verify", scenario="s", run_id="r", mobile_masked="m", code="300004"
        )
        assert done.refusal is not None
        assert done.refusal.status == "already_verified"
    code, _, err = icpbot("ledger", "import", str(local_dir))
    assert code == 20
    assert "already imported" in err
    other = tmp_path / "desktop"
    with Ledger(other) as desk:
        record(desk, "400001", Category.wrong_info)
    code, _, err = icpbot("ledger", "import", str(other))
    assert code == 20
    assert "another salt" in err


def test_the_url_password_is_never_shown(
    pg_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = pg_server.url().replace("postgres@", "postgres:s3cr3t-pw@")
    monkeypatch.setenv(LEDGER_URL_ENV, url)
    code, out, err = icpbot("ledger", "list")
    assert code == 0, err
    assert f"ledger: postgresql:///postgres?host={pg_server.socket_dir}" in out  # no user either
    assert "s3cr3t-pw" not in out + err
    monkeypatch.setenv(LEDGER_URL_ENV, url.replace("/postgres?", "/no_such_db?"))
    code, out, err = icpbot("ledger", "list")
    assert code == 20
    assert "cannot reach the PostgreSQL ledger" in err
    assert "s3cr3t-pw" not in out + err


# -- a server that wants a password: every form of ICPBOT_LEDGER_URL keeps it out of the output --

PG_ROLE, PG_PASSWORD, WRONG_PASSWORD = "icpbot_team", "Scr4m-s3cret_pw", "Wr0ng-guess_pw"


@pytest.fixture(scope="module")
def password_server(pg_server: PgServer) -> PgServer:
    pg_server.add_password_role(PG_ROLE, PG_PASSWORD)
    return pg_server


def _forms(server: PgServer, password: str) -> dict[str, str]:
    sock = server.socket_dir
    return {
        "url user:pass@": f"postgresql://{PG_ROLE}:{password}@/{PG_ROLE}?host={sock}",
        "url ?password=": f"postgresql://{PG_ROLE}@/{PG_ROLE}?host={sock}&password={password}",
        "key=value": f"host={sock} user={PG_ROLE} password={password} dbname={PG_ROLE}",
    }


@pytest.mark.parametrize("form", ["url user:pass@", "url ?password=", "key=value"])
def test_a_password_in_any_form_of_the_url_is_never_shown(
    password_server: PgServer, monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    from bot.safety.pgledger import PgLedger

    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", "/nonexistent")
    where = f"postgresql:///{PG_ROLE}?host={password_server.socket_dir}"
    url = _forms(password_server, PG_PASSWORD)[form]
    with PgLedger(url) as ledger:  # SCRAM with the right password
        assert ledger.location == where
    monkeypatch.setenv(LEDGER_URL_ENV, url)
    code, out, err = icpbot("ledger", "list")
    assert code == 0, err
    assert f"ledger: {where}" in out
    assert PG_PASSWORD not in out + err
    assert PG_ROLE not in out.replace(where, "")  # nor the user

    monkeypatch.setenv(LEDGER_URL_ENV, _forms(password_server, WRONG_PASSWORD)[form])
    code, out, err = icpbot("ledger", "list")
    assert code == 20
    assert "cannot reach the PostgreSQL ledger" in err
    assert "password authentication failed" in err  # the server did ask for it
    assert WRONG_PASSWORD not in out + err
    assert len(err.strip().splitlines()) == 1


def test_the_password_role_needs_its_password(
    password_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.errors import ConfigError
    from bot.safety.pgledger import PgLedger

    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", "/nonexistent")
    with pytest.raises(ConfigError, match="password"):
        PgLedger(f"postgresql://{PG_ROLE}@/{PG_ROLE}?host={password_server.socket_dir}")


# -- psycopg is an extra: without it, ICPBOT_LEDGER_URL gets one line, not a traceback ----------

_WITHOUT_PSYCOPG = """
import sys
sys.modules["psycopg"] = None  # as if icpbot[postgres] were not installed
sys.argv = ["icpbot", *sys.argv[1:]]
from bot.cli.app import main
main()
"""


@pytest.mark.parametrize(
    "args",
    [("ledger", "list"), ("ledger", "import", "."), ("run", "--headless", "s.yaml")],
)
def test_a_missing_driver_is_one_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    import os
    import subprocess
    import sys

    scenario(tmp_path, code="864209").rename(tmp_path / "s.yaml")
    env = {
        **os.environ,
        LEDGER_URL_ENV: "postgresql://team:pw-never-shown@db.example/ledger",
        "ICPBOT_STATE_DIR": str(tmp_path / "state"),
    }
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_PSYCOPG, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 20
    assert done.stderr == (
        "error: ICPBOT_LEDGER_URL: set, but the PostgreSQL driver is missing: "
        "pip install 'icpbot[postgres]'\n"
    )
    assert done.stdout == ""
    assert not (tmp_path / "recordings").exists()  # no run started


def test_the_library_says_so_too(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from bot.errors import ConfigError
    from bot.safety.ledger import open_ledger

    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.delitem(sys.modules, "bot.safety.pgledger", raising=False)
    monkeypatch.setenv(LEDGER_URL_ENV, "postgresql://team:pw@db.example/ledger")
    with pytest.raises(ConfigError, match=r"pip install 'icpbot\[postgres\]'"):
        open_ledger()
