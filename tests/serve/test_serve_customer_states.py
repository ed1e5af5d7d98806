"""Every state of the customer's page has its words: the tries the link has left and the time left
at the check, a used-up link, and a service that can no longer be reached (the customer's page
and the hand-off page both say so and stop showing a check nobody relays). Through a real
``icpbot serve``, the mock site and Chromium; in English and in Chinese."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from bot.mocksite import Filing, MockSite
from tests.serve.conftest import Serve
from tests.serve.test_serve_links import CODE, ID6, MOBILE, SMS
from tests.serve.test_serve_links import _link as make_link

pytestmark = pytest.mark.browser


def test_the_check_shows_tries_and_time_left_and_an_unreachable_service_is_said(
    serve: Serve, site: MockSite, page: Page, browser: Browser, tmp_path: Path
) -> None:
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    site.set_captcha("click")
    url = make_link(serve, site)
    page.goto(url)
    expect(page.locator("#tries")).to_have_text("Tries left with this link: 5")
    page.get_by_label(re.compile("SMS")).fill(SMS)
    page.get_by_role("button", name="Verify").click()
    check = page.locator("#check")
    expect(check).to_be_visible(timeout=60_000)
    expect(page.locator("#tries")).to_have_text("Tries left with this link: 4")
    expect(check.locator(".ck-time")).to_have_text(re.compile(r"^Time left: \d+:\d\d$"))
    # The same check on its hand-off page, in Chinese.
    [run] = [r for r in serve.client().get("/api/runs").json() if r["state"] == "needs_person"]
    zh = browser.new_context(locale="zh-CN")
    handoff = zh.new_page()
    handoff.goto(run["check_url"])
    expect(handoff.locator(".ck-ask")).to_contain_text("请按顺序点击")
    expect(handoff.locator(".ck-time")).to_contain_text("剩余时间")
    page.screenshot(path=str(tmp_path / "customer-check.png"), full_page=True)

    serve.stop()  # the service goes away while both pages show the check
    expect(page.locator("#offline")).to_be_visible()
    expect(page.locator("#offline")).to_contain_text("cannot be reached")
    expect(check).to_be_hidden()
    expect(handoff.locator(".ck-offline")).to_contain_text("无法连接服务")
    expect(handoff.locator(".ck-shot")).to_be_hidden()
    page.screenshot(path=str(tmp_path / "customer-offline.png"), full_page=True)
    zh.close()
    assert site.submissions() == []


@pytest.mark.parametrize(
    ("locale", "title", "words"),
    [
        ("en-US", "This link has no tries left", "Contact your hosting provider"),
        ("zh-CN", "此链接已无剩余次数", "请联系您的接入商"),
    ],
)
def test_a_used_up_link_says_so_and_what_to_do(
    serve: Serve, site: MockSite, browser: Browser, locale: str, title: str, words: str
) -> None:
    url = make_link(serve, site)
    # Five tries spent (as five verifies would): moved in the service's database.
    db = sqlite3.connect(Path(serve.env["ICPBOT_STATE_DIR"]) / "ledger.sqlite3")
    with db:
        db.execute("UPDATE serve_links SET attempts = 5")
    db.close()
    context = browser.new_context(locale=locale)
    page = context.new_page()
    page.goto(url)
    used = page.locator("#used")
    expect(used.get_by_role("heading")).to_have_text(title)
    expect(used).to_contain_text(words)
    expect(page.locator("#form")).to_be_hidden()
    expect(page.locator("#tries")).to_be_hidden()
    context.close()


def test_after_a_try_that_may_have_reached_the_site_the_page_offers_no_other(
    serve: Serve, site: MockSite, page: Page
) -> None:
    """The site answered HTTP 500 to the submission: it may have taken it. The customer reads
    what happened and to contact the provider, and gets no Verify button that says otherwise;
    the service refuses another code too (the operator decides)."""
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    site.set_captcha(None)
    site.set_fault("verify", "http500")
    url = make_link(serve, site)
    page.goto(url)
    page.get_by_label(re.compile("SMS")).fill(SMS)
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#contact")).to_be_visible(timeout=60_000)
    expect(page.locator("#contact-text")).to_contain_text("may have reached the site")
    expect(page.locator("#contact-text")).to_contain_text("contact your provider")
    expect(page.locator("#form")).to_be_hidden()
    expect(page.locator("#tries")).to_be_hidden()
    again = page.request.post(
        url + "/verify", data={"sms": SMS}, headers={"Origin": serve.url.rstrip("/")}
    )
    assert again.status == 409
    assert "contact your hosting provider" in again.json()["error"]
    assert len(site.submissions()) == 1
