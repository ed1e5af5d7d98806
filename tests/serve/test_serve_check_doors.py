"""The security check's three doors on one real ``icpbot serve`` process, one waiting run: the
customer's link (``/l/<token>/check``), the hand-off link (``/h/<token>``) and the API
(``/api/runs/<id>/check``, with a session or a token) answer the same routes with the same body
reader, the same origin rule, the same statuses and the same security headers."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from bot.mocksite import Filing, MockSite
from tests.serve.conftest import Serve
from tests.serve.test_serve_links import SMS, _link
from tests.serve.test_serve_ui import _form_login, add_operator

pytestmark = pytest.mark.browser

MOBILE, ID6, CODE = "13912345678", "30721X", "864209"


def test_every_door_reads_bodies_and_origins_the_same_way(
    serve: Serve, site: MockSite, page: Page
) -> None:
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    site.set_captcha("click")
    add_operator(serve, "alice")
    url = _link(serve, site)
    page.goto(url)
    page.get_by_label(re.compile("SMS")).fill(SMS)
    page.get_by_role("button", name="Verify").click()
    expect(page.locator(".ck-shot")).to_be_visible(timeout=60_000)
    api = serve.client()
    [run] = api.get("/api/runs").json()
    check_url = api.get(f"/api/runs/{run['id']}").json()["check_url"]
    own = serve.url.rstrip("/")
    session, *_ = _form_login(serve, "alice")
    dashboard = serve.client(None).get("/", headers={"Cookie": session})
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', dashboard.text)
    assert csrf is not None
    as_operator = {"Cookie": session, "X-CSRF-Token": csrf.group(1)}
    doors = {
        "customer": (url + "/check", {}),
        "hand-off": (check_url, {}),
        "dashboard": (f"{own}/api/runs/{run['id']}/check", as_operator),
    }
    http = serve.client(None)
    for door, (prefix, auth) in doors.items():
        state = http.get(prefix + "/state", headers=auth)
        assert state.status_code == 200, door
        assert state.json()["state"] == "waiting"
        assert state.json()["instruction"]["form"] == "click"
        assert (state.json()["run"] is None) == (door == "customer")  # no run name for them
        image = http.get(prefix + "/image", headers=auth)
        assert image.content.startswith(b"\x89PNG"), door
        for answer in (state, image):
            assert "default-src 'none'" in answer.headers["content-security-policy"]
            assert answer.headers["referrer-policy"] == "no-referrer"
            assert answer.headers["cache-control"] == "no-store"
            assert answer.headers["x-frame-options"] == "DENY"
        good = {**auth, "Origin": own, "Content-Type": "application/json"}
        cases: list[tuple[dict[str, str], bytes, int]] = [
            ({**auth, "Content-Type": "application/json"}, b'{"x": 1, "y": 1}', 403),
            ({**good, "Origin": "http://evil.example"}, b'{"x": 1, "y": 1}', 403),
            ({**good, "Sec-Fetch-Site": "cross-site"}, b'{"x": 1, "y": 1}', 403),
            ({**good, "Content-Type": "text/plain"}, b'{"x": 1, "y": 1}', 415),
            (good, b"x" * 20000, 413),
            (good, b"{not json", 400),
            (good, b'{"x": "1", "y": 1}', 422),
            (good, b'{"x": 1, "y": 1, "z": 1}', 422),
            (good, b'{"x": 9999, "y": 1}', 422),  # outside the box
        ]
        for headers, data, status in cases:
            reply = http.post(prefix + "/click", content=data, headers=headers)
            assert reply.status_code == status, (door, headers, data[:40], reply.text)
            assert "detail" in reply.json()
            assert "Traceback" not in reply.text
        # Every door speaks the page's language: what the check asks, and a refused point.
        zh = http.get(prefix + "/state?lang=zh-Hans", headers=auth).json()["instruction"]
        assert zh["text"].startswith("请按顺序点击"), door
        assert zh["english"].startswith("Click "), door  # for API clients, as before
        outside = http.post(prefix + "/click", content=b'{"x": 9999, "y": 1}',
                            headers={**good, "Accept-Language": "zh-CN"})  # fmt: skip
        assert outside.json()["detail"][0]["msg"] == "该位置不在安全校验内", door
    # A token is no ambient credential: an API client sends no Origin, and is not refused.
    token_call = api.post(f"/api/runs/{run['id']}/check/click", json={"x": 9999, "y": 1})
    assert token_call.status_code == 422
    # A door only resolves its own capability.
    for wrong in (url[:-4] + "abcd/check/state", check_url[:-4] + "abcd/state"):
        assert http.get(wrong).status_code == 404
    assert http.get(f"{own}/api/runs/{run['id']}/check/state").status_code == 401
    assert httpx.get(f"{own}/api/runs/nosuchrun/check/state",
                     headers=api.headers).status_code == 409  # fmt: skip
    assert site.submissions() == []
