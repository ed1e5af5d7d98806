"""The front door (domain.md): a JavaScript challenge on the first visit, block pages, 429.

Browser tests use a fresh context per test (pytest-playwright's ``page``), as every icpbot run
does, so the first request never carries a clearance cookie.
"""

from __future__ import annotations

import http.client
import json
import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, Response, expect

from bot.mocksite import MockSite, parse_fault
from bot.mocksite.faults import Fault

pytestmark = pytest.mark.browser

HOME = "#/Integrated/index"
PH_CODE = "请输短信验证码"


def get(url: str, cookie: str | None = None) -> tuple[int, dict[str, str], str]:
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname or "", u.port, timeout=10)
    try:
        conn.request("GET", u.path or "/", headers={"Cookie": cookie} if cookie else {})
        resp = conn.getresponse()
        headers = {k.lower(): v for k, v in resp.getheaders()}
        return resp.status, headers, resp.read().decode("utf-8")
    finally:
        conn.close()


def through_the_door(page: Page, site: MockSite) -> Response:
    """Load the page with its route, as the bot does; return the first (challenge) response."""
    with page.expect_response(lambda r: r.url == site.url and r.status == 200) as real:
        first = page.goto(site.url + HOME)
    assert first is not None
    assert real.value.ok
    return first


def sms_block_shown(page: Page) -> None:
    expect(page.locator(".tab-card").first).to_be_visible()
    expect(page.get_by_placeholder(PH_CODE, exact=True)).to_be_visible()


# -- the challenge -------------------------------------------------------------------------------


def test_fresh_context_gets_521_then_the_page_sans_route(page: Page, site: MockSite) -> None:
    site.set_fault("page", "frontdoor")
    first = through_the_door(page, site)
    assert first.status == 521
    assert (first.header_value("set-cookie") or "").startswith("__jsluid_s=")
    # the script navigated to pathname + search: the hash route is gone, the landing shows
    expect(page).to_have_url(site.url)
    expect(page.get_by_text("欢迎访问ICP/IP地址/域名信息备案管理系统")).to_be_visible()
    expect(page.locator(".tab-card")).to_have_count(0)
    names = {c["name"] for c in page.context.cookies()}
    assert {"__jsluid_s", "__jsl_clearance_s"} <= names
    # the bot must go back to the home route itself; the cookie now lets it in
    page.goto(site.url + HOME)
    sms_block_shown(page)


def test_index_option_redirects_the_empty_route_home(page: Page, site: MockSite) -> None:
    site.set_fault("page", "frontdoor", "index")
    through_the_door(page, site)
    expect(page).to_have_url(re.compile(re.escape(HOME) + "$"))
    sms_block_shown(page)


@pytest.mark.parametrize("status", [200, 503])
def test_challenge_with_another_status(page: Page, site: MockSite, status: int) -> None:
    site.set_fault("page", "frontdoor", str(status))
    first = through_the_door(page, site)
    assert first.status == status
    expect(page.get_by_text("欢迎访问ICP/IP地址/域名信息备案管理系统")).to_be_visible()


def test_cookie_is_reused_and_not_counted(context: BrowserContext, site: MockSite) -> None:
    site.set_fault("page", "frontdoor", times=1)
    page = context.new_page()
    assert through_the_door(page, site).status == 521
    # the same context passes without a challenge; a passed request does not use up @1
    again = context.new_page()
    response = again.goto(site.url + HOME)
    assert response is not None
    assert response.status == 200
    sms_block_shown(again)
    assert [f["kind"] for f in site_faults(site)] == []  # @1: one challenge, then gone


def site_faults(site: MockSite) -> list[dict[str, object]]:
    """The active faults, as the control API reports them."""
    faults: list[dict[str, object]] = json.loads(get(site.api_url + "__mock__/state")[2])["faults"]
    return faults


def test_challenge_stays_without_times(context: BrowserContext, site: MockSite) -> None:
    site.set_fault("page", "frontdoor")
    page = context.new_page()
    through_the_door(page, site)
    assert site_faults(site)[0]["left"] is None
    # a client without the script's cookie is challenged every time
    status, headers, body = get(site.url)
    assert status == 521
    assert "document.cookie" in body
    assert "location.pathname+location.search" in body
    assert headers["set-cookie"].startswith("__jsluid_s=")


def test_clearance_without_its_uid_fails(context: BrowserContext, site: MockSite) -> None:
    site.set_fault("page", "frontdoor")
    through_the_door(context.new_page(), site)
    jar = {c["name"]: c["value"] for c in context.cookies()}
    good = f"__jsluid_s={jar['__jsluid_s']}; __jsl_clearance_s={jar['__jsl_clearance_s']}"
    assert get(site.url, good)[0] == 200
    assert get(site.url, f"__jsl_clearance_s={jar['__jsl_clearance_s']}")[0] == 521
    assert get(site.url, f"__jsluid_s=x; __jsl_clearance_s={jar['__jsl_clearance_s']}")[0] == 521


def test_reset_forgets_clearances(context: BrowserContext, site: MockSite) -> None:
    site.set_fault("page", "frontdoor")
    through_the_door(context.new_page(), site)
    site.reset()
    site.set_fault("page", "frontdoor")
    jar = {c["name"]: c["value"] for c in context.cookies()}
    cookie = f"__jsluid_s={jar['__jsluid_s']}; __jsl_clearance_s={jar['__jsl_clearance_s']}"
    assert get(site.url, cookie)[0] == 521


@pytest.mark.parametrize(
    ("spec", "fault"),
    [
        ("page=frontdoor", Fault("page", "frontdoor", "521,landing")),
        ("page=frontdoor:503", Fault("page", "frontdoor", "503,landing")),
        ("page=frontdoor:200,index@2", Fault("page", "frontdoor", "200,index", 2)),
        ("page=frontdoor:index", Fault("page", "frontdoor", "521,index")),
    ],
)
def test_parse_frontdoor(spec: str, fault: Fault) -> None:
    assert parse_fault(spec) == fault


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("verify=frontdoor", "page only"),
        ("page=frontdoor:999", "between 200 and 599"),
        ("page=frontdoor:hash", "between 200 and 599"),
    ],
)
def test_parse_frontdoor_rejects(spec: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_fault(spec)
