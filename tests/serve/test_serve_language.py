"""The pages' language through a real ``icpbot serve`` process and a real Chromium: chosen from
the browser's ``Accept-Language``, changed by the switch on the page and remembered (only when
the switch was used on this site), and the customer's page in Chinese from the form to the
outcome, with the operator's dashboard labels in Chinese too."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from bot.mocksite import Filing, MockSite
from tests.serve.conftest import Serve
from tests.serve.test_serve_links import CODE, ID6, MOBILE, SMS
from tests.serve.test_serve_links import _link as make_link
from tests.serve.test_serve_ui import add_operator

pytestmark = pytest.mark.browser


@pytest.fixture
def chinese(browser: Browser) -> Iterator[BrowserContext]:
    """A browser whose language is Chinese (``Accept-Language: zh-CN``)."""
    context = browser.new_context(locale="zh-CN")
    yield context
    context.close()


def _lang_cookie(page: Page) -> str | None:
    found = [c for c in page.context.cookies() if c["name"] == "icpbot_lang"]
    return found[0]["value"] if found else None


def test_the_browsers_language_picks_the_pages(
    serve: Serve, page: Page, chinese: BrowserContext
) -> None:
    page.goto(serve.url + "login")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    zh = chinese.new_page()
    zh.goto(serve.url + "login")
    expect(zh.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(zh.get_by_role("button", name="登录")).to_be_visible()
    expect(zh.get_by_label("用户名")).to_be_visible()
    assert _lang_cookie(zh) is None  # nothing chosen: nothing remembered


def test_the_switch_is_remembered_only_when_used_on_this_site(serve: Serve, page: Page) -> None:
    page.goto(serve.url + "login")
    page.get_by_role("link", name="简体中文").click()
    expect(page.get_by_role("button", name="登录")).to_be_visible()
    [cookie] = [c for c in page.context.cookies() if c["name"] == "icpbot_lang"]
    assert (cookie["value"], cookie["httpOnly"], cookie["sameSite"]) == ("zh-Hans", True, "Lax")
    page.goto(serve.url + "login")  # no query: the cookie keeps the choice
    expect(page.get_by_role("button", name="登录")).to_be_visible()
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert _lang_cookie(page) == "en"

    # A link on another site may open a page in a language, but not change the remembered one.
    page.context.route(
        "http://elsewhere.test/",
        lambda route: route.fulfill(
            content_type="text/html",
            body=f'<a href="{serve.url}login?lang=zh-Hans">icpbot</a>',
        ),
    )
    page.goto("http://elsewhere.test/")
    with page.expect_navigation():
        page.get_by_role("link", name="icpbot").click()
    expect(page.get_by_role("button", name="登录")).to_be_visible()
    assert _lang_cookie(page) == "en"
    page.goto(serve.url + "login")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


def test_a_customer_verifies_in_chinese(
    serve: Serve, site: MockSite, chinese: BrowserContext
) -> None:
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    site.set_captcha(None)
    url = make_link(serve, site)
    page = chinese.new_page()
    page.goto(url)
    expect(page.get_by_role("heading", level=1)).to_have_text("ICP 备案：短信核验")
    expect(page.locator("#tries")).to_have_text("此链接剩余次数：5")
    page.get_by_label(re.compile("12381")).fill(SMS)
    page.get_by_role("button", name="核验").click()
    # The outcome in the customer's voice, from the selector map through the catalog.
    done = page.locator("#done")
    expect(done).to_be_visible(timeout=60_000)
    expect(page.locator("#label")).to_have_text("已完成")
    expect(page.locator("#message")).to_have_text(
        "您的核验已完成：备案中的所有核验人都已完成核验，备案将提交省通信管理局审核。"
    )
    expect(page.locator("#next")).to_have_text("您无需再做任何操作。审核结果将由您的接入商告知。")
    expect(page.locator("#banner")).to_have_text("您的短信核验已全部完成,该请求将提交管局审核。")
    assert len(site.submissions()) == 1
    # The service's refusals are in the page's language too (here: the link is done).
    again = page.request.post(
        url + "/verify",
        data={"sms": SMS},
        headers={"Origin": serve.url.rstrip("/"), "Accept-Language": "zh-Hans"},
    )
    assert again.status == 409
    assert again.json()["error"] == "此次核验已完成，无需再发送。"

    # The operator's dashboard in Chinese labels the same run in its words.
    add_operator(serve, "li")
    desk = chinese.new_page()
    desk.goto(serve.url + "login")
    desk.get_by_label("用户名").fill("li")
    desk.get_by_label("密码").fill("correct horse battery")
    desk.get_by_role("button", name="登录").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("工作台")
    row = desk.locator("#runs tbody tr").first
    expect(row).to_contain_text("成功")
    expect(row).to_contain_text("短信核验")

    # The customer's page switches to English where it is: the same outcome in English.
    page.get_by_role("link", name="English").click()
    expect(page.locator("#message")).to_contain_text("Your verification is complete")
    expect(page.locator("#label")).to_have_text("Done")
