"""Firewall block pages and rate limits on the page and on the API (domain.md "The front door").

A submission answered by the firewall is logged (it reached the server) but never processed: the
filing's state and failure budget do not move.
"""

from __future__ import annotations

import http.client
import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from bot.mocksite import Filing, MockSite, parse_fault
from bot.mocksite.faults import Fault

VERIFY = "/icpproject_query/api/smsValidate/validateByCondition"
MOBILE, ID6, CODE = "13800000009", "12345X", "864209"
BLOCK_TEXTS = ("当前访问疑似黑客攻击", "访问被拒绝")
RATE_TEXT = "您目前访问频次过高"


def call(url: str, method: str, path: str, body: Any = None, token: str = "") -> tuple[int, str]:
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname or "", u.port, timeout=10)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"token": token} if token else {})
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8")
    finally:
        conn.close()


def verify(site: MockSite) -> tuple[int, str]:
    _, auth = call(site.api_url, "POST", "/icpproject_query/api/auth")
    token = json.loads(auth)["params"]["bussiness"]
    body = {"smsValidCode": CODE, "mobileNum": MOBILE, "certNum": ID6}
    return call(site.api_url, "POST", VERIFY, body, token)


@pytest.fixture
def one(site: MockSite) -> MockSite:
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    return site


BLOCKS = [
    ("waf403", None, 403, BLOCK_TEXTS),
    ("waf403", "200", 200, BLOCK_TEXTS),
    ("ratelimit", None, 429, (RATE_TEXT,)),
    ("empty", None, 200, ()),
    ("empty", "403", 403, ()),
]


@pytest.mark.parametrize(("kind", "arg", "status", "texts"), BLOCKS)
def test_block_on_verify_is_logged_not_processed(
    one: MockSite, kind: str, arg: str | None, status: int, texts: tuple[str, ...]
) -> None:
    one.set_fault("verify", kind, arg, times=1)
    got, body = verify(one)
    assert got == status
    assert all(t in body for t in texts)
    if kind == "empty":
        assert body == ""
    [entry] = one.submissions()
    assert entry["reply"] == {"http": status, "valid_status": None}
    snapshot = one.state.snapshot()[0]
    assert (snapshot.verified, snapshot.failures) == (False, 0)
    assert json.loads(verify(one)[1])["params"]["validStatus"] == 3  # @1: then the site answers


@pytest.mark.parametrize(("kind", "arg", "status", "texts"), BLOCKS)
def test_block_on_the_page(
    site: MockSite, kind: str, arg: str | None, status: int, texts: tuple[str, ...]
) -> None:
    site.set_fault("page", kind, arg, times=1)
    got, body = call(site.url, "GET", "/")
    assert got == status
    assert "__MOCK__" not in body
    assert all(t in body for t in texts)
    assert call(site.url, "GET", "/")[0] == 200


@pytest.mark.parametrize("endpoint", ["auth", "resend", "captcha"])
def test_rate_limit_on_other_api_calls(site: MockSite, endpoint: str) -> None:
    site.set_fault(endpoint, "ratelimit")
    path = {
        "auth": "auth",
        "resend": "smsValidate/resendSMSByCondition",
        "captcha": "image/getCheckImagePoint",
    }[endpoint]
    got, body = call(site.api_url, "POST", "/icpproject_query/api/" + path, {})
    assert (got, RATE_TEXT in body) == (429, True)


@pytest.mark.parametrize(
    ("spec", "fault"),
    [
        ("verify=waf403:200", Fault("verify", "waf403", "200")),
        ("page=ratelimit", Fault("page", "ratelimit")),
        ("auth=ratelimit:503@2", Fault("auth", "ratelimit", "503", 2)),
        ("resend=empty", Fault("resend", "empty")),
    ],
)
def test_parse_firewall_faults(spec: str, fault: Fault) -> None:
    assert parse_fault(spec) == fault


def test_firewall_status_is_checked() -> None:
    with pytest.raises(ValueError, match="between 200 and 599"):
        parse_fault("verify=waf403:abc")


# -- in a browser --------------------------------------------------------------------------------


@pytest.mark.browser
def test_rate_limited_page_in_a_browser(page: Page, site: MockSite) -> None:
    site.set_fault("page", "ratelimit", times=1)
    response = page.goto(site.url + "#/Integrated/index")
    assert response is not None
    assert response.status == 429
    expect(page.get_by_text(RATE_TEXT).first).to_be_visible()
    expect(page.locator(".tab-card")).to_have_count(0)


@pytest.mark.browser
@pytest.mark.parametrize(("kind", "arg"), [("waf403", None), ("waf403", "200"), ("empty", None)])
def test_block_on_verify_in_a_browser(
    page: Page, one: MockSite, kind: str, arg: str | None
) -> None:
    one.set_fault("verify", kind, arg)
    page.goto(one.url + "#/Integrated/index")
    form = page.locator(".tab-card").first
    form.get_by_placeholder("请输短信验证码", exact=True).fill(CODE)
    form.get_by_placeholder("请输入手机号", exact=True).fill(MOBILE)
    form.get_by_placeholder("请输入证件号码后6位", exact=True).fill(ID6)
    with page.expect_response(re.compile(re.escape(VERIFY) + "$")) as info:
        form.locator("button.Submission").click()
    assert info.value.status == (403 if arg is None and kind == "waf403" else 200)
    expect(page.locator(".el-message")).to_contain_text("网络异常，请稍后再试")
    expect(page.locator(".tips")).to_be_hidden()
    assert one.state.snapshot()[0].verified is False
