"""The audit log of a real ``icpbot serve`` with the mock and a real Chromium: logins that
failed and succeeded, a link made, used by its customer and revoked, the customer's click at
the check, a token holder taking the run over and passing the check, a run queued; who, what,
on what, stamped by the database's clock, and no personal value anywhere in it."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from bot.mocksite import Filing, MockSite
from tests.serve.checks import pass_check
from tests.serve.conftest import Serve
from tests.serve.test_serve_ui import PASSWORD, add_operator

pytestmark = pytest.mark.browser

MOBILE, ID6, CODE = "13912345678", "30721X", "864209"
OTHER = ("13987654321", "123456")


def _login(serve: Serve, name: str, password: str) -> httpx.Response:
    http = serve.client(None)
    form = http.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    return http.post(
        "/login",
        data={"name": name, "password": password, "csrf": csrf.group(1)},
        headers={"Cookie": f"icpbot_login={csrf.group(1)}"},
    )


def _trail(entries: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    return [(e["actor"], e["action"], e["target"]) for e in reversed(entries)]


def test_who_did_what(serve: Serve, site: MockSite) -> None:
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    site.set_captcha("click")
    add_operator(serve, "alice")
    started = time.time()
    assert _login(serve, "alice", "not the password").status_code == 401
    assert _login(serve, MOBILE, "a phone typed as a name").status_code == 401
    assert _login(serve, "alice", PASSWORD).status_code == 303

    api = serve.client()
    made = {"mobile": MOBILE, "id_last6": ID6, "base_url": site.url, "expires_in_s": 3600}
    link = api.post("/api/links", json=made).json()
    origin = {"origin": serve.url.rstrip("/")}
    with httpx.Client(timeout=30) as customer:
        assert customer.post(link["url"] + "/verify", json={"sms": CODE},
                             headers=origin).status_code == 202  # fmt: skip
        [run_id] = [x["run_id"] for x in api.get("/api/links").json()]
        serve.wait_run(api, run_id, lambda r: r["state"] == "needs_person")
        answer = site.captcha_answer()
        first = answer["points"][0]
        tapped = customer.post(link["url"] + "/check/click", json=first, headers=origin)
        assert tapped.status_code == 200, tapped.text
    # The customer gave up after one tap: the operator's token holder takes over.
    pass_check(api, site, run_id)
    serve.wait_run(api, run_id, lambda r: r["state"] == "done")
    assert api.post(f"/api/links/{link['id']}/revoke").status_code == 200
    body = {"action": "resend", "mobile": OTHER[0], "id_last6": OTHER[1], "base_url": site.url}
    queued = api.post("/api/runs", json=body).json()["id"]

    entries = api.get("/api/audit").json()
    trail = _trail(entries)
    link_actor = f"link:{link['id']}"
    expected = [
        ("operator:alice", "login.failed", None),
        ("unknown", "login.failed", None),
        ("operator:alice", "login.succeeded", None),
        ("token:env", "link.made", link["id"]),
        (link_actor, "link.used", link["id"]),
        (link_actor, "check.click", run_id),
        ("token:env", "run.taken_over", run_id),
        ("token:env", "check.click", run_id),
        ("token:env", "check.passed", run_id),
        ("token:env", "link.revoked", link["id"]),
        ("token:env", "run.queued", queued),
    ]
    kept = [t for t in trail if t in expected]
    assert list(dict.fromkeys(kept)) == expected, trail
    assert trail.count(("token:env", "run.taken_over", run_id)) == 1  # once, not per click
    by_action = {e["action"]: e for e in reversed(entries)}  # the newest of each
    assert by_action["link.made"]["detail"]["person"] == "139****5678"
    assert by_action["check.click"]["detail"]["door"] == "api"
    assert by_action["login.failed"]["detail"] == {"address": "127.0.0.1",
                                                   "reason": "no such operator"}  # fmt: skip
    assert by_action["login.failed"]["what"] == "failed to log in"
    # Stamps: the database's clock, in order.
    stamps = [e["at"] for e in reversed(entries)]
    assert stamps == sorted(stamps)
    assert started - 5 < stamps[0] <= stamps[-1] < time.time() + 5
    # Paging, and the operator's session may read it too.
    older = api.get("/api/audit", params={"before": entries[2]["id"], "limit": 2}).json()
    assert [e["id"] for e in older] == [entries[3]["id"], entries[4]["id"]]
    assert serve.client(None).get("/api/audit").status_code == 401
    printed = api.get("/api/audit", params={"limit": 1000}).text
    for value in (MOBILE, ID6, CODE, *OTHER, PASSWORD):
        assert value not in printed
