"""Links an operator can manage, through a real ``icpbot serve``, the mock site and Chromium: a
label set when the link is made (checked, never a personal value) and shown in the list; each
link's state with its last outcome; Reset and Extend; Revoke only after the page asked; the
dashboard's site address is the service's own default; a customer's run is marked as the
customer's on the dashboard, and the operator can still take its check over."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from bot.mocksite import Filing, MockSite
from bot.serve.links import LinkRow
from tests.serve.conftest import Serve
from tests.serve.test_serve_a11y import _pass_click_check, violations
from tests.serve.test_serve_links import CODE, ID6, MOBILE, SMS
from tests.serve.test_serve_ui import add_operator, log_in

pytestmark = pytest.mark.browser


def _row(**values: Any) -> LinkRow:
    fields: dict[str, Any] = {
        "id": "l1", "mobile_masked": "139****5678", "base_url": None, "created_at": 0.0,
        "expires_at": time.time() + 3600, "revoked": False, "attempts": 0, "last_attempt": 0.0,
        "run_id": None, "created_by": "operator:alice", "sealed": "x", "state": "open",
        "busy": False, "label": "",
    }  # fmt: skip
    return LinkRow(**(fields | values))


@pytest.mark.parametrize(
    ("values", "status"),
    [
        ({}, "waiting"),
        ({"busy": True, "attempts": 1}, "in_progress"),
        ({"state": "done", "attempts": 1}, "verified"),
        ({"attempts": 1, "last_outcome": {"category": "wrong_info"}}, "failed"),
        ({"attempts": 0, "last_outcome": {"category": "wrong_info"}}, "waiting"),  # reset
        ({"attempts": 5, "last_outcome": {"category": "wrong_info"}}, "used_up"),
        ({"state": "held", "attempts": 1}, "held"),
        ({"expires_at": time.time() - 1, "state": "held"}, "expired"),
        ({"revoked": True, "state": "done"}, "revoked"),
    ],
)
def test_each_link_state_has_one_word(values: dict[str, Any], status: str) -> None:
    assert _row(**values).status() == status


def _db(serve: Serve) -> sqlite3.Connection:
    return sqlite3.connect(Path(serve.env["ICPBOT_STATE_DIR"]) / "ledger.sqlite3")


def _made(serve: Serve, site: MockSite, **more: Any) -> Any:
    return serve.client().post(
        "/api/links",
        json={"mobile": MOBILE, "id_last6": ID6, "base_url": site.url, "expires_in_s": 3600,
              **more},
    )  # fmt: skip


def test_a_label_is_checked_and_the_list_says_each_links_state_and_last_outcome(
    serve: Serve, site: MockSite
) -> None:
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    site.set_captcha(None)
    api = serve.client()
    made = _made(serve, site, label="  ACME order 42  ")
    assert made.status_code == 201, made.text
    [link] = api.get("/api/links").json()
    assert link["label"] == "ACME order 42"
    assert (link["status"], link["tries_left"], link["last_outcome"]) == ("waiting", 5, None)
    # Refused labels are named, never echoed; nothing is made.
    for label in ("x" * 81, "ref 139 1234 5678", f"id {ID6.lower()}", "bell\x07", 42):
        refused = _made(serve, site, label=label)
        assert refused.status_code == 422, label
        assert refused.json()["detail"][0]["loc"] == ["body", "label"]
        assert MOBILE not in refused.text
        assert "1234 5678" not in refused.text
    assert len(api.get("/api/links").json()) == 1
    # A wrong code: the run ends with the site's verdict, the link says failed and why.
    url = made.json()["url"]
    own = {"Origin": serve.url.rstrip("/")}
    assert api.post(url + "/verify", json={"sms": "111111"}, headers=own).status_code == 202
    deadline = time.monotonic() + 60
    while (link := api.get("/api/links").json()[0])["status"] != "failed":
        assert time.monotonic() < deadline, link
        time.sleep(0.1)
    assert link["last_outcome"] == "wrong_info"
    assert link["tries_left"] == 4
    # Reset: every try back, waiting for the customer again.
    assert api.post(f"/api/links/{link['id']}/reset").status_code == 200
    link = api.get("/api/links").json()[0]
    assert (link["status"], link["tries_left"]) == ("waiting", 5)
    printed = serve.stop()
    for value in (MOBILE, ID6, CODE):
        assert value not in printed


def test_an_operator_labels_resets_extends_and_revokes_a_link_after_confirming(
    serves: Callable[..., Serve], site: MockSite, page: Page, tmp_path: Path
) -> None:
    serve = serves("--base-url", site.url)
    add_operator(serve, "alice")
    assert log_in(page, serve, "alice") == 303
    # The dashboard's site address is this service's default (--base-url), not the MIIT one.
    page.get_by_text("Site address (optional)").click()
    expect(page.get_by_label("Base URL", exact=True)).to_have_attribute("placeholder", site.url)
    expect(page.locator("#base-help")).to_contain_text(site.url)
    page.get_by_role("link", name=re.compile("^Links")).click()
    page.get_by_label("Mobile number").fill(MOBILE)
    page.get_by_label("Last 6 of the ID").fill(ID6)
    page.get_by_label("Label (optional)").fill("ACME order 42")
    page.get_by_label("Valid for").select_option("3600")
    page.get_by_text("Site address (optional)").click()
    expect(page.get_by_label("Base URL", exact=True)).to_have_attribute("placeholder", site.url)
    page.get_by_role("button", name="Create link").click()
    url = page.locator("#made-url")
    expect(url).to_have_value(re.compile(r"/l/[A-Za-z0-9_-]{32}$"))
    row = page.locator("#links tbody tr").first
    expect(row.locator("td.label")).to_have_text("ACME order 42")
    expect(row.locator(".status")).to_have_text("waiting for the customer")
    expect(page.get_by_label("Label (optional)")).to_have_value("")
    # Used up (five tries, as five verifies would): Reset gives them back.
    with closing(_db(serve)) as db, db:
        db.execute("UPDATE serve_links SET attempts = 5")
    page.get_by_role("button", name="Refresh").click()
    expect(row.locator(".status")).to_have_text("used up: no tries left")
    expect(row.locator("td").nth(3)).to_have_text("0")
    row.get_by_role("button", name="Reset").click()
    expect(page.locator("#list-status")).to_contain_text("every try")
    expect(row.locator(".status")).to_have_text("waiting for the customer")
    expect(row.locator("td").nth(3)).to_have_text("5")
    expect(row.get_by_role("button", name="Reset")).to_have_count(0)
    # Extend: for the time chosen beside it, from now (it was one hour; 24 hours unless chosen).
    before = serve.client().get("/api/links").json()[0]["expires_at"]
    length = row.get_by_label("Extend: valid for, from now")
    expect(length).to_have_value("86400")
    length.select_option(label="3 days")
    with page.expect_response(lambda r: r.url.endswith("/extend")) as extended:
        row.get_by_role("button", name="Extend", exact=True).click()
    assert extended.value.request.post_data_json == {"expires_in_s": 3 * 24 * 3600}
    expect(page.locator("#list-status")).to_contain_text("Extended: valid until")
    after = serve.client().get("/api/links").json()[0]["expires_at"]
    assert after - before == pytest.approx(3 * 24 * 3600 - 3600, abs=120)
    expect(row.locator("td").nth(5)).to_have_text(
        page.evaluate("t => { const d = new Date(t * 1000), p = n => String(n).padStart(2, '0');"
                      " return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate())"
                      " + ' ' + p(d.getHours()) + ':' + p(d.getMinutes()) + ':'"
                      " + p(d.getSeconds()); }", after)
    )  # fmt: skip
    # The row was drawn again: the choice is back at 24 hours; one hour is one hour.
    expect(length).to_have_value("86400")
    length.select_option("3600")
    with page.expect_response(lambda r: r.url.endswith("/extend")) as extended:
        row.get_by_role("button", name="Extend", exact=True).click()
    assert extended.value.json()["expires_at"] == pytest.approx(time.time() + 3600, abs=120)
    last = serve.client().get("/api/links").json()[0]["expires_at"]
    assert last == pytest.approx(after - 3 * 24 * 3600 + 3600, abs=120)
    # Revoke asks first; Cancel (focused: Enter on it changes nothing) keeps the link.
    row.get_by_role("button", name="Revoke").click()
    question = row.get_by_role("group", name=re.compile("^Revoke this link?"))
    expect(question).to_be_visible()
    expect(question.get_by_role("button", name="Cancel")).to_be_focused()
    assert violations(page) == []
    page.screenshot(path=str(tmp_path / "links-confirm.png"), full_page=True)
    page.keyboard.press("Enter")
    expect(question).to_have_count(0)
    expect(row.get_by_role("button", name="Revoke")).to_be_focused()
    assert page.request.get(url.input_value()).status == 200
    assert serve.client().get("/api/links").json()[0]["revoked"] is False
    row.get_by_role("button", name="Revoke").click()
    question.get_by_role("button", name="Yes, revoke").click()
    expect(page.locator("#list-status")).to_have_text("Revoked.")
    expect(row.locator(".status")).to_have_text("revoked")
    expect(row.get_by_role("button")).to_have_count(0)
    assert page.request.get(url.input_value()).status == 410
    assert MOBILE not in page.content()


def test_the_dashboard_marks_a_customers_run_and_the_operator_can_take_it_over(
    serve: Serve, site: MockSite, page: Page, browser: Browser
) -> None:
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    site.set_captcha("click")
    add_operator(serve, "alice")
    made = _made(serve, site, label="ACME order 42")
    customer = browser.new_page()
    customer.goto(made.json()["url"])
    customer.get_by_label(re.compile("SMS")).fill(SMS)
    customer.get_by_role("button", name="Verify").click()
    expect(customer.locator(".ck-shot")).to_be_visible(timeout=60_000)
    assert log_in(page, serve, "alice") == 303
    row = page.locator("#runs tbody tr").first
    expect(row.locator(".state")).to_have_text("the customer is at the check")
    expect(row).to_contain_text("customer's link")
    row.get_by_role("button", name="Pass the check").click()
    expect(page.locator("#check-customer")).to_be_visible()
    expect(page.locator("#check-you")).to_be_hidden()
    expect(page.locator("#run-state")).to_have_text("the customer is at the check")
    # The operator takes over: the check passed on the dashboard ends the customer's run too.
    _pass_click_check(page, site, "#outcome")
    expect(page.locator("#category")).to_have_text("success")
    expect(customer.locator("#done")).to_be_visible(timeout=30_000)
    assert len(site.submissions()) == 1
    # The links page says it: verified, the last outcome with it.
    page.get_by_role("link", name=re.compile("^Links")).click()
    link_row = page.locator("#links tbody tr").first
    expect(link_row.locator(".status")).to_have_text("verified")
    expect(link_row.locator(".last")).to_have_text("last: success")
    customer.close()
