"""The service's secret, on SQLite and PostgreSQL: never in the database (a 0600 file of one
process's, or ``ICPBOT_SERVE_SECRET``); the first release's copy moved out of the database; the
key's fingerprint recorded, and a process with another secret refused with what to do (a second
process on one PostgreSQL told to share ``ICPBOT_SERVE_SECRET``); ``rotate-secret`` reseals every
queued run and link in one go; a link whose values can no longer be opened answers 410."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet

from bot.serve.seal import SECRET_FILE, SecretMismatch, Unreadable
from bot.serve.server import open_service
from bot.serve.service import Service
from bot.serve.webhooks import Outbox
from tests.safety.pgserver import PgServer
from tests.serve.conftest import start_serve
from tests.serve.stores import Db, pg, serve_db

__all__ = ["pg", "serve_db"]

MOBILE, ID6, CODE = "13912345678", "30721X", "864209"
MOCKLIKE = "http://127.0.0.1:9/"  # an origin the operator allowed (no run is taken here)


def _meta(service: Service) -> dict[str, str]:
    rows = service.store.execute("SELECT key, value FROM serve_meta").fetchall()
    return {str(k): str(v) for k, v in rows}


def _queue(service: Service) -> tuple[str, str]:
    """A queued run and a link: the two kinds of sealed values."""
    run = service.queue_run(
        action="verify", mobile=MOBILE, id_last6=ID6, code=CODE, created_by="test"
    )
    service.add_link(mobile=MOBILE, id_last6=ID6, base_url=None, expires_in_s=3600, by="test")
    [link] = service.links.all()
    return run, link.id


def _sealed(service: Service) -> list[str]:
    runs = service.store.execute("SELECT sealed FROM serve_runs").fetchall()
    links = service.store.execute("SELECT sealed FROM serve_links").fetchall()
    return [str(r[0]) for r in [*runs, *links]]


def _cli(db: Db, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ICPBOT_SERVE_")}
    return subprocess.run(
        [sys.executable, "-m", "bot", "serve", *args],
        env=clean | db.env | (env or {}),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_without_a_setting_one_process_keeps_its_secret_in_a_private_file(serve_db: Db) -> None:
    service = open_service(MOCKLIKE)
    try:
        path = serve_db.state / SECRET_FILE
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        secret = path.read_text().strip()
        meta = _meta(service)
        assert set(meta) == {"schema_version", "key_fingerprint"}
        assert secret not in json.dumps(meta)
        keys = service.sealer.keys
        assert len({keys.seal.decode(), keys.sign, keys.fingerprint}) == 3
        assert meta["key_fingerprint"] == keys.fingerprint
        assert keys.fingerprint not in (keys.seal.decode(), keys.sign, keys.hash.hex())
    finally:
        service.store.close()
    # The next start reads the same file.
    again = open_service(MOCKLIKE)
    assert again.sealer.keys == keys
    again.store.close()


def test_the_first_releases_secret_leaves_the_database(serve_db: Db) -> None:
    store = serve_db.store()
    old = "the-first-release-kept-me-in-the-database"
    store.execute("INSERT INTO serve_meta (key, value) VALUES ('secret', ?)", (old,))
    first_key = base64.urlsafe_b64encode(
        hashlib.sha256(f"icpbot-serve:seal:{old}".encode()).digest()
    )
    sealed = Fernet(first_key).encrypt(json.dumps({"mobile": MOBILE}).encode()).decode()
    store.execute(
        "INSERT INTO serve_runs (id, created_at, updated_at, action, site, base_url, person,"
        " mobile_masked, sealed, state, phase, created_by) VALUES ('r1', 0, 0, 'resend', 'miit',"
        " ?, 'p', '139****5678', ?, 'queued', 'queued', 'test')",
        (MOCKLIKE, sealed),
    )
    service = Service(store, MOCKLIKE)
    assert (serve_db.state / SECRET_FILE).read_text().strip() == old
    assert "secret" not in _meta(service)
    assert service.sealer.open(sealed)["mobile"] == MOBILE  # queued under the first release


def test_another_secret_is_refused_with_what_to_do(serve_db: Db) -> None:
    with_a = {"ICPBOT_SERVE_SECRET": "a" * 40}
    assert _cli(serve_db, "add-token", "ci", env=with_a).returncode == 0
    refused = _cli(serve_db, "add-token", "ci", env={"ICPBOT_SERVE_SECRET": "b" * 40})
    assert refused.returncode != 0
    assert "ICPBOT_SERVE_SECRET is not the secret" in refused.stderr
    assert "rotate-secret" in refused.stderr
    assert "a" * 40 not in refused.stderr + refused.stdout


def test_a_second_process_on_one_postgresql_is_told_to_share_the_secret(
    pg: PgServer, tmp_path: Path
) -> None:
    url = pg.url()
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("CREATE DATABASE shared_secret")
    shared = {"ICPBOT_LEDGER_URL": url.replace("/postgres?", "/shared_secret?")}
    first = start_serve(tmp_path / "one", env=shared)
    with pytest.raises(AssertionError) as second:
        start_serve(tmp_path / "two", env=shared)
    said = str(second.value)
    assert "must share one secret" in said
    assert "set ICPBOT_SERVE_SECRET to the same long random value on every machine" in said
    first.stop()


def test_rotate_secret_reseals_every_run_and_link(serve_db: Db) -> None:
    service = Service(serve_db.store(), MOCKLIKE)
    run, link = _queue(service)
    before = _sealed(service)
    old = (serve_db.state / SECRET_FILE).read_text().strip()
    done = _cli(serve_db, "rotate-secret")
    assert done.returncode == 0, done.stderr
    assert "2 sealed value(s) sealed again" in done.stdout
    new = (serve_db.state / SECRET_FILE).read_text().strip()
    assert new != old
    assert stat.S_IMODE((serve_db.state / SECRET_FILE).stat().st_mode) == 0o600
    rotated = Service(serve_db.store(), MOCKLIKE)
    after = _sealed(rotated)
    assert not set(before) & set(after)
    assert [rotated.sealer.open(s)["mobile"] for s in after] == [MOBILE, MOBILE]
    # The old secret no longer starts a process.
    with pytest.raises(SecretMismatch):
        _with_env("ICPBOT_SERVE_SECRET", old, lambda: Service(serve_db.store(), MOCKLIKE))
    # With the secret in the environment, the new one comes from ICPBOT_SERVE_NEW_SECRET.
    env = {"ICPBOT_SERVE_SECRET": new}
    told = _cli(serve_db, "rotate-secret", env=env)
    assert told.returncode == 20
    assert "ICPBOT_SERVE_NEW_SECRET" in told.stderr
    moved = _cli(serve_db, "rotate-secret", env=env | {"ICPBOT_SERVE_NEW_SECRET": "n" * 40})
    assert moved.returncode == 0, moved.stderr
    fresh = _with_env("ICPBOT_SERVE_SECRET", "n" * 40, lambda: Service(serve_db.store(), MOCKLIKE))
    assert [fresh.sealer.open(s)["id"] for s in _sealed(fresh)] == [ID6, ID6]
    assert run
    assert link


def test_rotate_secret_reseals_the_webhooks_secrets(serve_db: Db) -> None:
    """A webhook's signing secret is sealed too: after a rotation its deliveries still sign."""
    service = Service(serve_db.store(), MOCKLIKE)
    hook_id, secret = Outbox(service.store, service.sealer).add(
        "http://127.0.0.1:9/hooks", ["run.done"], "test"
    )
    query = "SELECT sealed FROM serve_webhooks WHERE id = ?"
    before = str(service.store.execute(query, (hook_id,)).fetchone()[0])
    done = _cli(serve_db, "rotate-secret")
    assert done.returncode == 0, done.stderr
    assert "1 sealed value(s) sealed again" in done.stdout
    rotated = Service(serve_db.store(), MOCKLIKE)
    after = str(rotated.store.execute(query, (hook_id,)).fetchone()[0])
    assert after != before
    assert rotated.sealer.open(after) == {"secret": secret}


def _with_env(name: str, value: str, work: Callable[[], Service]) -> Service:
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        return work()
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def test_a_lost_secret_can_be_given_up_and_what_it_sealed_is_unreadable(serve_db: Db) -> None:
    service = Service(serve_db.store(), MOCKLIKE)
    _queue(service)
    (serve_db.state / SECRET_FILE).unlink()  # lost: the next process makes another
    with pytest.raises(SecretMismatch) as refused:
        Service(serve_db.store(), MOCKLIKE)
    assert "--old-secret-lost" in str(refused.value)
    (serve_db.state / SECRET_FILE).unlink()
    given_up = _cli(serve_db, "rotate-secret", "--old-secret-lost")
    assert given_up.returncode == 0, given_up.stderr
    assert "2 could not be opened" in given_up.stdout
    after = Service(serve_db.store(), MOCKLIKE)
    for sealed in _sealed(after):
        with pytest.raises(Unreadable):
            after.sealer.open(sealed)


def test_a_link_whose_values_cannot_be_opened_answers_410(tmp_path: Path) -> None:
    serve = start_serve(tmp_path, "--allow-base-url", MOCKLIKE)
    made = serve.client().post(
        "/api/links",
        json={"mobile": MOBILE, "id_last6": ID6, "base_url": MOCKLIKE, "expires_in_s": 3600},
    )
    assert made.status_code == 201, made.text
    url = made.json()["url"]
    serve.stop()
    db = sqlite3.connect(tmp_path / "state" / "ledger.sqlite3")
    with db:  # sealed under a key this service never had
        db.execute("UPDATE serve_links SET sealed = ?", (Fernet(Fernet.generate_key()).encrypt(
            b'{"mobile": "13900000000", "id": "000000"}').decode(),))  # fmt: skip
    db.close()
    again = start_serve(tmp_path, "--allow-base-url", MOCKLIKE)
    origin = again.url.rstrip("/")
    url = url.replace(serve.url, again.url)
    answer = again.client(None).post(
        url + "/verify", json={"sms": CODE}, headers={"Origin": origin}
    )
    assert answer.status_code == 410, answer.text
    assert answer.json()["state"] == "unreadable"
    printed = again.stop()
    assert "Traceback" not in printed
    assert "internal error" not in printed
