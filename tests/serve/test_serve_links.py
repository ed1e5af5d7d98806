"""Self-service links through a real ``icpbot serve`` and a real browser: the customer pastes the
whole SMS, passes the security check on the same page, reads the outcome in English; the link
then refuses another code. An expired link and a revoked one answer 410."""

from __future__ import annotations

import re
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from bot.mocksite import Filing, MockSite
from tests.serve.conftest import Serve
from tests.serve.people import database

pytestmark = pytest.mark.browser

MOBILE, ID6, CODE = "13912345678", "30721X", "864209"
SMS = (
    f"【工信部ICP备案】您的短信核验验证码为{CODE}，请于24小时内登录"
    "https://beian.miit.gov.cn/#/Integrated/index?id=123456 完成短信核验。"
)


def _link(serve: Serve, site: MockSite, expires_in_s: int = 3600) -> str:
    made = serve.client().post(
        "/api/links",
        json={"mobile": MOBILE, "id_last6": ID6, "base_url": site.url,
              "expires_in_s": expires_in_s},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    url = made.json()["url"]
    assert re.fullmatch(re.escape(serve.url) + r"l/[A-Za-z0-9_-]{32}", url)
    return str(url)


def test_a_customer_pastes_the_sms_and_passes_the_check(
    serve: Serve, site: MockSite, page: Page, tmp_path: Path
) -> None:
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    site.set_captcha("click")
    url = _link(serve, site)
    page.goto(url)
    expect(page.get_by_role("heading", level=1)).to_contain_text("SMS verification")
    expect(page.locator("#person")).to_have_text("139****5678")
    assert MOBILE not in page.content()
    page.get_by_label(re.compile("SMS")).fill(SMS)
    page.get_by_role("button", name="Verify").click()
    shot = page.get_by_role("img", name=re.compile("^Security check"))
    with page.expect_response(lambda r: "/image" in r.url and r.status == 200, timeout=60_000):
        pass
    expect(shot).to_be_visible()
    expect(page.locator(".ck-ask")).to_contain_text("in this order")
    page.screenshot(path=str(tmp_path / "customer-check.png"))
    for _ in range(3):  # as a person: a new picture after a miss, look and click again
        answer = site.captcha_answer()
        with page.expect_response(lambda r: "/image" in r.url and r.status == 200):
            pass
        for point in answer["points"]:
            with page.expect_response(lambda r: r.url.endswith("/click")):
                shot.click(position={"x": point["x"], "y": point["y"]})
        try:
            expect(page.locator("#done")).to_be_visible(timeout=8000)
            break
        except AssertionError:
            continue
    expect(page.locator("#message")).to_contain_text("verif")
    expect(page.locator("#banner")).to_contain_text("短信核验")
    page.screenshot(path=str(tmp_path / "customer-done.png"))
    assert len(site.submissions()) == 1
    expect(page.locator("#form")).to_be_hidden()
    # Done: the link refuses another code.
    again = page.request.post(url + "/verify", data={"sms": "111111"},
                              headers={"Origin": serve.url.rstrip("/")})  # fmt: skip
    assert again.status == 409
    assert len(site.submissions()) == 1
    # Ended with a success: the link's sealed values are erased.
    with closing(database(serve)) as db:
        assert db.execute("SELECT sealed FROM serve_links").fetchone()[0] == ""
    printed = serve.stop()
    for value in (MOBILE, ID6, CODE):
        assert value not in printed


def test_an_expired_link_and_a_revoked_one_answer_410(
    serve: Serve, site: MockSite, page: Page
) -> None:
    url = _link(serve, site, expires_in_s=60)
    api = serve.client()
    [link] = api.get("/api/links").json()
    assert link["person"] == "139****5678"
    assert "token" not in link
    assert page.goto(url).status == 200
    assert api.post(f"/api/links/{link['id']}/revoke").status_code == 200
    assert page.goto(url).status == 410
    # The page says what happened and what to do, in the customer's words.
    expect(page.get_by_role("heading", level=1)).to_have_text("This link was withdrawn")
    expect(page.locator("body")).to_contain_text("Contact your hosting provider")
    assert page.goto(url[:-4] + "abcd").status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Link not found")


def test_a_link_past_its_time_answers_410(serve: Serve, site: MockSite, page: Page) -> None:
    url = _link(serve, site, expires_in_s=60)
    # The service's clock is its own: the link's expiry is moved into the past in its database.
    db = sqlite3.connect(Path(serve.env["ICPBOT_STATE_DIR"]) / "ledger.sqlite3")
    with db:
        db.execute("UPDATE serve_links SET expires_at = ?", (time.time() - 1,))
    db.close()
    assert page.goto(url).status == 410
    expect(page.get_by_role("heading", level=1)).to_have_text("This link has expired")
    expect(page.locator("body")).to_contain_text("Contact your hosting provider for a new link.")
    assert page.request.get(url + "/state").status == 410
