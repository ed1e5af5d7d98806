"""Sessions, logins and tokens through a real ``icpbot serve`` process and its real CLI: a
session lives in the database, so logout, a password reset and ``remove-operator`` end it for
every process (the old cookie replayed is refused); ``tokens list`` never shows a token and
``tokens revoke`` ends one; concurrent wrong guesses released together do not all pass the
back-off; ``X-Forwarded-For`` is believed only from the trusted proxies."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.serve.conftest import Serve, start_serve

PASSWORD = "correct horse battery"


def cli(serve: Serve, *args: str, password: str = PASSWORD) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "serve", *args],
        env=serve.env | {"ICPBOT_OPERATOR_PASSWORD": password},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def login(
    serve: Serve, name: str, password: str = PASSWORD, headers: dict[str, str] | None = None
) -> httpx.Response:
    """The login form posted as a browser would (its token in the cookie and the form)."""
    http = serve.client(None)
    form = http.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    return http.post(
        "/login",
        data={"name": name, "password": password, "csrf": csrf.group(1)},
        headers={"Cookie": f"icpbot_login={csrf.group(1)}", **(headers or {})},
    )


def session_of(answer: httpx.Response) -> str:
    assert answer.status_code == 303, answer.text
    [cookie] = [c for c in answer.headers.get_list("set-cookie") if c.startswith("icpbot_session=")]
    return cookie.split(";")[0]


def live(serve: Serve, cookie: str) -> bool:
    """Whether the cookie still opens the dashboard (else it sends to the login)."""
    answer = serve.client(None).get("/", headers={"Cookie": cookie})
    assert answer.status_code in (200, 303)
    return answer.status_code == 200


def test_logout_ends_the_session_itself(serve: Serve) -> None:
    assert cli(serve, "add-operator", "alice").returncode == 0
    cookie = session_of(login(serve, "alice"))
    dashboard = serve.client(None).get("/", headers={"Cookie": cookie})
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', dashboard.text)
    assert csrf is not None
    out = serve.client(None).post(
        "/logout",
        data={"csrf": csrf.group(1)},
        headers={"Cookie": cookie, "Origin": serve.url.rstrip("/")},
    )
    assert out.status_code == 303
    # The cookie a thief copied before the logout opens nothing afterwards.
    assert not live(serve, cookie)
    assert serve.client(None).get("/api/runs", headers={"Cookie": cookie}).status_code == 401
    # The database keeps the session's hash, never the id the cookie carries.
    other = session_of(login(serve, "alice"))
    db = sqlite3.connect(Path(serve.env["ICPBOT_STATE_DIR"]) / "ledger.sqlite3")
    rows = db.execute("SELECT * FROM serve_sessions").fetchall()
    db.close()
    assert len(rows) == 1
    assert not any(part in repr(rows) for part in re.split(r"[.=]", other) if len(part) > 8)


def test_a_password_reset_and_a_removal_end_every_session(serve: Serve) -> None:
    assert cli(serve, "add-operator", "alice").returncode == 0
    first, second = (session_of(login(serve, "alice")) for _ in range(2))
    assert live(serve, first)
    assert live(serve, second)
    reset = cli(serve, "add-operator", "alice", password="a new password!")
    assert reset.returncode == 0
    assert "2 session(s) of alice ended" in reset.stdout
    assert not live(serve, first)
    assert not live(serve, second)
    assert login(serve, "alice").status_code == 401  # the old password
    third = session_of(login(serve, "alice", "a new password!"))
    assert live(serve, third)
    removed = cli(serve, "remove-operator", "alice")
    assert removed.returncode == 0, removed.stderr
    assert not live(serve, third)
    assert login(serve, "alice", "a new password!").status_code == 401
    missing = cli(serve, "remove-operator", "alice")
    assert missing.returncode == 20
    assert "no operator named alice" in missing.stderr


def test_tokens_are_listed_without_their_value_and_revoked(serve: Serve) -> None:
    made = cli(serve, "add-token", "ci")
    assert made.returncode == 0
    token = made.stdout.strip()
    api = serve.client(token)
    assert api.get("/api/runs").status_code == 200
    listed = cli(serve, "tokens", "list")
    assert listed.returncode == 0
    header, row = listed.stdout.strip().splitlines()
    assert header.split() == ["name", "created", "last", "used"]
    assert row.startswith("ci ")
    assert len(re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", row)) == 2  # made, and used
    assert token not in listed.stdout + listed.stderr
    assert cli(serve, "tokens", "revoke", "ci").returncode == 0
    # Every process refuses it within its few seconds of cache.
    deadline = time.monotonic() + 15
    while api.get("/api/runs").status_code != 401:
        assert time.monotonic() < deadline, "the revoked token was still accepted"
        time.sleep(0.2)
    again = cli(serve, "tokens", "revoke", "ci")
    assert again.returncode == 20
    assert "no API token named ci" in again.stderr
    assert cli(serve, "tokens", "list").stdout.startswith("no API tokens")


def _guesses(serve: Serve, count: int, name: str, headers: list[dict[str, str]]) -> list[int]:
    """``count`` wrong logins, each on its own connection, released together."""
    barrier = threading.Barrier(count)
    clients = [serve.client(None) for _ in range(count)]
    forms = []
    for http in clients:
        csrf = re.search(r'name="csrf" value="([^"]+)"', http.get("/login").text)
        assert csrf is not None
        forms.append(csrf.group(1))

    def guess(i: int) -> int:
        barrier.wait()
        return clients[i].post(
            "/login",
            data={"name": name if name else f"user{i}", "password": f"guess {i}",
                  "csrf": forms[i]},
            headers={"Cookie": f"icpbot_login={forms[i]}", **headers[i % len(headers)]},
        ).status_code  # fmt: skip

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(guess, range(count)))


def test_concurrent_guesses_do_not_all_pass_the_back_off(serve: Serve) -> None:
    assert cli(serve, "add-operator", "alice").returncode == 0
    statuses = _guesses(serve, 16, "alice", [{}])
    assert set(statuses) <= {401, 429}, statuses
    assert statuses.count(401) <= 4  # the fifth counted try locks the name
    printed = serve.stop()
    # Only the tries the back-off counted ran the password hash: the five free ones.
    assert printed.count("a login was refused") == 5, printed
    assert PASSWORD not in printed


def test_forwarded_for_is_believed_only_from_the_trusted_proxies(tmp_path: Path) -> None:
    # Not trusted (the proxy is elsewhere): 21 tries, each from a "new address", hit the
    # per-address limit of the one address they really come from.
    direct = start_serve(tmp_path / "direct", "--forwarded-allow-ips", "192.0.2.1")
    spoofed = [{"X-Forwarded-For": f"203.0.113.{i}"} for i in range(20)]
    first = _guesses(direct, 10, "", spoofed[:10]) + _guesses(direct, 10, "", spoofed[10:])
    assert set(first) <= {401, 429}
    assert login(direct, "someone", headers={"X-Forwarded-For": "198.51.100.1"}).status_code == 429
    direct.stop()
    # Trusted (the default: loopback, where the proxy is): the address it names is believed.
    proxied = start_serve(tmp_path / "proxied")
    one = [{"X-Forwarded-For": "203.0.113.5"}]
    assert set(_guesses(proxied, 10, "", one) + _guesses(proxied, 10, "", one)) <= {401, 429}
    assert login(proxied, "someone", headers=one[0]).status_code == 429
    other = {"X-Forwarded-For": "203.0.113.6"}
    assert login(proxied, "someone", headers=other).status_code == 401
    proxied.stop()
