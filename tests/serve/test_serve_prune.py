"""Retention on a real state folder and database, made by a real ``icpbot serve`` with the
mock site and a real Chromium: two finished runs (with their evidence folders, a link, audit
entries, a webhook delivery, ledger attempts) and one run cut short at its check by ``kill -9``.
Everything is then made 100 days old; ``icpbot prune --older-than 90d --dry-run`` says what
would go and deletes nothing; ``icpbot prune`` deletes it, except the run that is not finished;
``icpbot serve --prune-older-than 90d`` prunes as it starts (then daily)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.mocksite import Filing, MockSite
from bot.safety.ledger import Ledger
from bot.safety.store import as_datetime
from tests.serve.conftest import Serve, start_serve
from tests.serve.receiver import receiving

pytestmark = pytest.mark.browser

PEOPLE = [("13912345671", "30721X", "864201"), ("13912345672", "307222", "864202"),
          ("13912345673", "307223", "864203")]  # fmt: skip
AGE = 100 * 86400
AGED = {
    "serve_runs": ("created_at", "updated_at"),
    "serve_links": ("created_at", "expires_at"),
    "serve_audit": ("at",),
    "serve_webhook_deliveries": ("created_at", "next_at"),
}


def _verify(serve: Serve, site: MockSite, person: tuple[str, str, str]) -> str:
    mobile, id6, code = person
    body = {"action": "verify", "mobile": mobile, "code": code, "id_last6": id6,
            "base_url": site.url}  # fmt: skip
    return str(serve.client().post("/api/runs", json=body).json()["id"])


def _age_everything(state: Path, out: Path) -> None:
    """Every row and file 100 days older, as if it had all happened then."""
    ledger = Ledger(state)
    try:
        with ledger.transaction():
            for table, columns in AGED.items():
                sets = ", ".join(f"{c} = {c} - {AGE}" for c in columns)
                ledger.execute(f"UPDATE {table} SET {sets}")
            for row_id, started, finished in ledger.execute(
                "SELECT id, started_at, finished_at FROM attempts"
            ).fetchall():
                moved = [_older(t) for t in (started, finished)]
                ledger.execute("UPDATE attempts SET started_at = ?, finished_at = ? WHERE id = ?",
                               (moved[0], moved[1], row_id))  # fmt: skip
    finally:
        ledger.close()
    for root, dirs, files in os.walk(out):
        for name in [*files, *dirs]:
            path = Path(root) / name
            stat = path.stat()
            os.utime(path, (stat.st_atime - AGE, stat.st_mtime - AGE))


def _older(stamp: object) -> str | None:
    moment = as_datetime(stamp)
    return (
        None
        if moment is None
        else (moment - timedelta(seconds=AGE)).isoformat(timespec="microseconds")
    )


def _counts(state: Path) -> dict[str, int]:
    ledger = Ledger(state)
    try:
        return {
            table: int(ledger.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
            for table in (*AGED, "attempts")
        }
    finally:
        ledger.close()


def _prune(serve: Serve, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "prune", "--older-than", "90d", "--out", str(serve.out),
         *args],
        env=serve.env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


def _made_a_history(site: MockSite, tmp_path: Path) -> tuple[Serve, list[str]]:
    """Two finished runs, a link, webhook deliveries, then a third run waiting at its check
    when serve is killed."""
    site.load_filings([Filing(*p) for p in PEOPLE])
    with receiving() as rx:
        serve = start_serve(tmp_path)
        api = serve.client()
        api.post("/api/webhooks", json={"url": rx.url, "events": ["run.done"]})
        first = _verify(serve, site, PEOPLE[0])
        serve.wait_run(api, first, lambda r: r["state"] == "done")
        made = {"mobile": PEOPLE[1][0], "id_last6": PEOPLE[1][1], "base_url": site.url,
                "expires_in_s": 3600}  # fmt: skip
        link = api.post("/api/links", json=made)
        assert link.status_code == 201
        second = _verify(serve, site, PEOPLE[1])
        serve.wait_run(api, second, lambda r: r["state"] == "done")
        rx.wait(lambda g: len(g) >= 2)
    site.set_captcha("click")
    third = _verify(serve, site, PEOPLE[2])
    serve.wait_run(api, third, lambda r: r["state"] == "needs_person")
    serve.stop(signal.SIGKILL)  # the third run stays as it was: not finished
    return serve, [first, second, third]


def _run_folders(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.is_dir())


def test_prune_on_a_real_state_folder(site: MockSite, tmp_path: Path) -> None:
    serve, (_, _, third) = _made_a_history(site, tmp_path)
    state = Path(serve.env["ICPBOT_STATE_DIR"])
    folders = _run_folders(serve.out)
    assert len(folders) == 3
    (serve.out / "notes").mkdir()  # not a run's folder: never touched
    _age_everything(state, serve.out)
    before = _counts(state)
    assert (before["serve_runs"], before["serve_webhook_deliveries"]) == (3, 2)

    dry = _prune(serve, "--dry-run")
    assert "(dry run: nothing deleted)" in dry.stdout
    assert "would delete 2 finished runs, 2 evidence folders" in dry.stdout
    assert "kept 1 older runs that are not finished" in dry.stdout
    assert _counts(state) == before
    assert _run_folders(serve.out) == sorted([*folders, "notes"])

    done = _prune(serve, "--json")
    report: dict[str, Any] = json.loads(done.stdout)
    assert report["dry_run"] is False
    deleted = report["deleted"]
    assert (deleted["runs"], deleted["evidence_folders"], deleted["links"]) == (2, 2, 1)
    assert deleted["deliveries"] == 2
    assert deleted["audit"] == before["serve_audit"]
    assert deleted["ledger_attempts"] >= 2
    assert deleted["bytes"] > 0
    assert report["kept"]["unfinished_runs"] == 1
    after = _counts(state)
    assert after["serve_runs"] == 1
    assert after["serve_links"] == after["serve_webhook_deliveries"] == 0
    assert after["serve_audit"] == 1  # the prune itself
    # The unfinished run keeps its row and its folder; the others' folders are gone.
    assert [n for n in _run_folders(serve.out) if n != "notes"] == [
        n for n in folders if f"-serve-{third}-" in n
    ]
    assert "notes" in _run_folders(serve.out)
    ledger = Ledger(state)
    try:
        assert ledger.execute("SELECT id FROM serve_runs").fetchall() == [(third,)]
        [(actor, action, detail)] = ledger.execute(
            "SELECT actor, action, detail FROM serve_audit"
        ).fetchall()
        assert (actor, action) == ("cli", "prune")
        assert json.loads(detail)["runs"] == 2
    finally:
        ledger.close()
    # Nothing older is left: a second prune deletes nothing.
    again = json.loads(_prune(serve, "--json").stdout)["deleted"]
    assert again["runs"] == again["evidence_folders"] == again["ledger_attempts"] == 0


def test_serve_prunes_at_its_start_then_daily(site: MockSite, tmp_path: Path) -> None:
    site.load_filings([Filing(*p) for p in PEOPLE])
    serve = start_serve(tmp_path)
    run_id = _verify(serve, site, PEOPLE[0])
    serve.wait_run(serve.client(), run_id, lambda r: r["state"] == "done")
    serve.stop()
    state = Path(serve.env["ICPBOT_STATE_DIR"])
    _age_everything(state, serve.out)
    assert _counts(state)["serve_runs"] == 1

    again = start_serve(tmp_path, "--prune-older-than", "90d")
    try:
        api = again.client()
        deadline = time.monotonic() + 30
        while api.get(f"/api/runs/{run_id}").status_code != 404:
            assert time.monotonic() < deadline, "the run was never pruned"
            time.sleep(0.1)
        assert _run_folders(again.out) == []
        prunes = [e for e in api.get("/api/audit").json() if e["action"] == "prune"]
        assert [(e["actor"], e["detail"]["runs"]) for e in prunes] == [("service", 1)]
    finally:
        again.stop()
