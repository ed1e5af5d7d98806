"""``icpbot serve``'s doors to the security check on a phone, through a real process, the mock
and Chromium's device emulation (an iPhone, a small Android): the customer's link passes the
click check by taps alone and the slider by a finger's drag; a customer who closes the site's
check with its × sees the run end at once and can press Verify again; an operator passes a
check on the dashboard by taps. The page never scrolls sideways; the check is scrolled into
view when it appears."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect

from bot.mocksite import Filing, MockSite
from tests.phone import (
    pass_by_taps,
    phone,
    shown,
    sideways,
    slide_by_touch,
    tap_character,
)
from tests.serve.conftest import Serve
from tests.serve.test_serve_links import SMS, _link
from tests.serve.test_serve_ui import add_operator

pytestmark = pytest.mark.browser

MOBILE, ID6, CODE = "13912345678", "30721X", "864209"
PASSWORD = "correct horse battery"


def _customer_verifies(page: Page, url: str) -> None:
    page.goto(url)
    assert sideways(page) == 0
    page.get_by_label(re.compile("SMS")).fill(SMS)
    page.get_by_role("button", name="Verify").tap()
    with page.expect_response(lambda r: "/check/image" in r.url and r.status == 200,
                              timeout=60_000):  # fmt: skip
        pass
    shown(page)  # scrolled into view, the page no wider than the screen


def test_a_customer_on_an_iphone_passes_the_click_check_by_taps(
    serve: Serve, site: MockSite, playwright: Playwright, browser: Browser, tmp_path: Path
) -> None:
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    site.set_captcha("click")
    page = phone(playwright, browser, "iPhone 13").new_page()
    _customer_verifies(page, _link(serve, site))
    expect(page.locator(".ck-ask")).to_contain_text("in this order")
    expect(page.locator(".ck-left")).to_have_text(re.compile(r"^\d+:\d\d$"))
    expect(page.locator(".ck-meta")).to_be_hidden()  # no run name for the customer
    page.screenshot(path=str(tmp_path / "customer-phone-check.png"))
    pass_by_taps(page, site, page.locator("#done"))
    expect(page.locator("#message")).to_contain_text("verif")
    assert sideways(page) == 0
    page.screenshot(path=str(tmp_path / "customer-phone-done.png"), full_page=True)
    assert len(site.submissions()) == 1


def test_a_customer_on_an_android_drags_the_slider_by_touch(
    serve: Serve, site: MockSite, playwright: Playwright, browser: Browser
) -> None:
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    site.set_captcha("slider")
    page = phone(playwright, browser, "Galaxy S8").new_page()
    _customer_verifies(page, _link(serve, site))
    expect(page.locator(".ck-ask")).to_have_text("Drag the piece into the gap.")
    reply = slide_by_touch(page, site)
    assert reply.status == 200
    assert len(json.loads(reply.request.post_data or "{}")["points"]) > 5
    expect(page.locator("#done")).to_be_visible(timeout=30_000)
    expect(page.locator("#message")).to_contain_text("verif")
    assert len(site.submissions()) == 1


def test_a_customer_who_closes_the_check_can_verify_again(
    serve: Serve, site: MockSite, playwright: Playwright, browser: Browser, tmp_path: Path
) -> None:
    """The site's × on the picture: the run ends within seconds as "closed, nothing sent" (not
    after the check's ten minutes), the person's lock goes with it, no page says "passed", and
    the customer presses Verify again and passes."""
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    site.set_captcha("click")
    api = serve.client()
    page = phone(playwright, browser, "iPhone 13").new_page()
    _customer_verifies(page, _link(serve, site))
    [run] = api.get("/api/runs").json()
    assert tap_character(page, site.captcha_answer()["controls"]["close"]).status == 200
    ended = serve.wait_run(api, run["id"], lambda r: r["state"] == "done", s=30)
    assert (ended["outcome"]["status"], ended["outcome"]["submitted"]) == ("check_closed", "no")
    expect(page.locator("#form")).to_be_visible()
    expect(page.locator("#message")).to_contain_text("closed")
    expect(page.locator(".ck-passed")).to_be_hidden()
    assert site.submissions() == []
    page.screenshot(path=str(tmp_path / "customer-phone-closed.png"), full_page=True)
    # Verify again: a new run (the lock was released) reaches the check, and is passed.
    page.get_by_label(re.compile("SMS")).fill(SMS)
    page.get_by_role("button", name="Verify").tap()
    with page.expect_response(lambda r: "/check/image" in r.url and r.status == 200,
                              timeout=60_000):  # fmt: skip
        pass
    pass_by_taps(page, site, page.locator("#done"))
    expect(page.locator("#message")).to_contain_text("verif")
    assert len(site.submissions()) == 1
    assert len(api.get("/api/runs").json()) == 2


@pytest.mark.parametrize(("device", "form"), [("iPhone 13", "click"), ("Galaxy S8", "slider")])
def test_an_operator_on_a_phone_passes_a_check_on_the_dashboard(
    serve: Serve,
    site: MockSite,
    playwright: Playwright,
    browser: Browser,
    tmp_path: Path,
    device: str,
    form: str,
) -> None:
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    site.set_captcha(form)
    add_operator(serve, "alice")
    page = phone(playwright, browser, device).new_page()
    page.goto(serve.url + "login")
    page.get_by_label("Operator name").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").tap()
    expect(page.locator("#live")).to_have_text("(live)")
    assert sideways(page) == 0
    page.get_by_label("Mobile number").fill(MOBILE)
    page.get_by_label("Last 6 characters of the ID").fill(ID6)
    page.get_by_label("SMS code").fill(CODE)
    page.get_by_text("Site address (optional)").tap()
    page.get_by_label("Base URL", exact=True).fill(site.url)
    page.get_by_role("button", name="Queue").tap()
    with page.expect_response(lambda r: "/check/image" in r.url and r.status == 200,
                              timeout=60_000):  # fmt: skip
        pass
    shown(page)
    page.screenshot(path=str(tmp_path / "dashboard-phone-check.png"))
    if form == "click":
        pass_by_taps(page, site, page.locator("#outcome"))
    else:
        assert slide_by_touch(page, site).status == 200
    expect(page.locator("#category")).to_have_text("success", timeout=30_000)
    assert sideways(page) == 0
    page.screenshot(path=str(tmp_path / "dashboard-phone-outcome.png"), full_page=True)
    assert len(site.submissions()) == 1
