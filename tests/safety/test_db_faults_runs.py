"""Whole runs (the engine, Chromium, the mock site) on the team ledger while its database fails
under them: the run's connections ended while a person is at its security check (the run goes
on and submits once), its person taken by another run meanwhile (it never submits), a finish
that fails once (the run ends, writes its result and frees the person; the ledger gets the
outcome later), and ``icpbot serve`` with PostgreSQL restarted while its run waits."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config.scenario import load_scenario
from bot.mocksite import Filing, MockSite
from bot.privacy import REDACTOR
from bot.run.options import RunEvent, RunOptions, RunResult
from bot.run.runner import SharedBrowser
from bot.safety import guard
from bot.safety.later import LATER
from bot.safety.ledger import LEDGER_URL_ENV
from bot.safety.pgledger import PgLedger
from bot.safety.retry import CommitUnknown
from bot.types import Category
from tests.serve.conftest import start_serve

from .conftest import Backend
from .pgfaults import Admin
from .pgserver import PgServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("backend", ["postgresql"], indirect=True),
]

MOBILE, ID6, CODE = "13912345678", "30721X", "864209"


@pytest.fixture(autouse=True)
def _fresh_redactor() -> None:
    REDACTOR.clear()


@pytest.fixture
def admin(backend: Backend, pg_server: PgServer) -> Iterator[Admin]:
    made = Admin(backend.env[LEDGER_URL_ENV], pg_server.url())
    try:
        yield made
    finally:
        made.close()


class AtCheck:
    """A verify run in a thread, whose security check opens before 提交 (the mock's ``first``
    check) and waits for a person: :meth:`wait` returns once the check is shown."""

    def __init__(self, browser: SharedBrowser, site: MockSite, tmp_path: Path) -> None:
        site.load_filings([Filing(MOBILE, ID6, CODE)])
        site.set_captcha("click", first=True)
        path = tmp_path / "s.yaml"
        path.write_text(
            f"name: faults\naction: verify\ncaptcha: manual\ninputs:\n  mobile: '{MOBILE}'\n"
            f"  code: '{CODE}'\n  id_last6: '{ID6}'\n",
            encoding="utf-8",
        )
        self.shown = threading.Event()
        self.results: list[RunResult] = []
        options = RunOptions(
            base_url=site.url,
            out_dir=tmp_path / "out",
            headed=False,
            timeout_s=15.0,
            captcha_timeout_s=60.0,
            on_event=self._event,
        )  # no state_dir: the ledger is ICPBOT_LEDGER_URL's
        scenario = load_scenario(path)
        self.thread = threading.Thread(
            target=lambda: self.results.extend(browser.run([scenario], options))
        )
        self.thread.start()

    def _event(self, event: RunEvent) -> None:
        if event.stage == "captcha_shown":
            self.shown.set()

    def wait(self) -> None:
        assert self.shown.wait(60), "the check never opened"

    def result(self) -> RunResult:
        self.thread.join(90)
        [result] = self.results
        saved = json.loads((result.run_dir / "result.json").read_text(encoding="utf-8"))
        assert saved["outcome"]["category"] == result.outcome.category.value
        return result


def test_a_run_whose_connections_drop_at_its_check_goes_on_and_submits_once(
    backend: Backend, icpbot_browser: SharedBrowser, site: MockSite, tmp_path: Path, admin: Admin
) -> None:
    run = AtCheck(icpbot_browser, site, tmp_path)
    run.wait()
    with backend.open() as ledger:
        person = ledger.person_key(MOBILE, ID6)
    first = admin.holder(person)
    assert first is not None
    admin.terminate(*admin.pids("icpbot"), *admin.pids("icpbot-locks"))
    admin.wait_holder(person, other_than=first)  # the run's lock, taken again by itself
    site.pass_captcha()
    result = run.result()
    assert result.outcome.category is Category.success, result.outcome
    assert len(site.submissions()) == 1
    with backend.open() as ledger:
        [entry] = ledger.entries()
        assert (entry.outcome, entry.sent) == ("success", True)
    assert admin.holder(person) is None


def test_a_run_whose_person_was_taken_while_its_connection_was_down_never_submits(
    backend: Backend, icpbot_browser: SharedBrowser, site: MockSite, tmp_path: Path, admin: Admin
) -> None:
    run = AtCheck(icpbot_browser, site, tmp_path)
    run.wait()
    with backend.open() as ledger:
        person = ledger.person_key(MOBILE, ID6)
    with admin.no_new_connections():
        admin.terminate(admin.holder(person) or 0)
        admin.take(person)  # another run's process has the person now
    try:
        site.pass_captcha()
        result = run.result()
        # held back at the gate's release: stopped, nothing sent, and it says why
        assert result.outcome.category is Category.stopped, result.outcome
        assert result.outcome.status == "claim_lost"
        assert result.outcome.submitted == "no"
        assert site.submissions() == []
        with backend.open() as ledger:
            [entry] = ledger.entries()
            assert (entry.outcome, entry.sent, entry.counted) == ("stopped", False, False)
    finally:
        admin.give(person)


class _FailsOnce(PgLedger):
    """The seam: the run's ledger, whose first finish fails as a dropped connection would."""

    def finish(
        self, attempt_id: int, outcome: str, site_status: int | None = None, **kw: Any
    ) -> None:
        if not getattr(self, "failed", False):
            self.failed = True
            raise CommitUnknown("finishing an attempt")
        super().finish(attempt_id, outcome, site_status, **kw)


def test_a_run_whose_finish_fails_once_ends_frees_the_person_and_is_recorded_later(
    backend: Backend,
    icpbot_browser: SharedBrowser,
    site: MockSite,
    tmp_path: Path,
    admin: Admin,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = backend.env[LEDGER_URL_ENV]
    monkeypatch.setattr(guard, "open_ledger", lambda state_dir=None: _FailsOnce(url))
    run = AtCheck(icpbot_browser, site, tmp_path)
    run.wait()
    site.pass_captcha()
    result = run.result()
    assert result.outcome.category is Category.success
    assert len(site.submissions()) == 1
    assert any("recorded when the database is back" in w for w in result.warnings)
    with backend.open() as ledger:
        person = ledger.person_key(MOBILE, ID6)
        assert admin.holder(person) is None  # freed with the run's end
        assert LATER.wait(30)
        [entry] = ledger.entries()
        assert (entry.outcome, entry.sent, entry.site_status) == ("success", True, 3)


def test_icpbot_serve_rides_out_a_postgresql_restart_while_its_run_waits(
    backend: Backend, pg_server: PgServer, site: MockSite, tmp_path: Path, admin: Admin
) -> None:
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    site.set_captcha("click", first=True)
    serve = start_serve(tmp_path, env=backend.env)
    try:
        api = serve.client()
        made = api.post("/api/runs", json={"action": "verify", "mobile": MOBILE, "code": CODE,
                                           "id_last6": ID6, "base_url": site.url})  # fmt: skip
        assert made.status_code == 201, made.text
        run_id = made.json()["id"]
        serve.wait_run(api, run_id, lambda r: r["state"] == "needs_person", s=90)
        with backend.open() as ledger:
            person = ledger.person_key(MOBILE, ID6)
        first = admin.holder(person)
        admin.close()
        pg_server.restart()  # every session ended: the store's, the run's, its locks
        back = Admin(backend.env[LEDGER_URL_ENV], pg_server.url())
        try:
            back.wait_holder(person, other_than=first, s=30)  # the run's lock, taken again
            site.pass_captcha()
            done = serve.wait_run(api, run_id, lambda r: r["state"] == "done", s=90)
            assert done["outcome"]["category"] == "success", done
            assert len(site.submissions()) == 1
            assert api.get("/api/runs").status_code == 200  # the service goes on
            [(count,)] = back.conn.execute("SELECT COUNT(*) FROM serve_runs").fetchall()
            assert count == 1
        finally:
            back.close()
    finally:
        printed = serve.stop()
    assert serve.proc.returncode == 0, printed
