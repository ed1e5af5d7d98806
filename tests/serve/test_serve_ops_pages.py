"""The operators' webhooks and audit pages in a real Chromium on a real ``icpbot serve``: add a
webhook (its secret shown once), watch its delivery of a finished run arrive, remove it after
confirming; read the audit log of what was just done. Same session and CSRF rules as the other
pages. Screenshots go to the test's folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, Page, expect
from standardwebhooks import Webhook

from bot.mocksite import Filing, MockSite
from tests.serve.conftest import Serve
from tests.serve.receiver import receiving
from tests.serve.test_serve_ui import add_operator, log_in

pytestmark = pytest.mark.browser

MOBILE, ID6, CODE = "13912345678", "30721X", "864209"


def test_webhooks_and_the_audit_log_on_their_pages(
    serve: Serve, site: MockSite, page: Page, tmp_path: Path
) -> None:
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    anon = serve.client(None)
    assert anon.get("/webhooks").status_code == 303  # no session: to the login page
    assert anon.get("/audit").headers["location"] == "/login"
    add_operator(serve, "alice")
    assert log_in(page, serve, "alice") == 303
    with receiving() as rx:
        page.get_by_role("link", name="Webhooks").click()
        expect(page.locator("#no-hooks")).to_be_visible()
        page.get_by_label("Receiver URL").fill(rx.url)
        page.get_by_label("link.used").check()
        with page.expect_response(lambda r: r.url.endswith("/api/webhooks")
                                  and r.request.method == "POST") as made:  # fmt: skip
            page.get_by_role("button", name="Add webhook").click()
        assert made.value.status == 201
        shown = page.get_by_label(re.compile("^Signing secret"))
        expect(shown).to_have_value(re.compile("^whsec_"))
        secret = shown.input_value()
        row = page.locator("#hooks tbody tr")
        expect(row).to_have_count(1)
        expect(row).to_contain_text(rx.url)
        expect(row).to_contain_text("run.needs_person, run.done, link.used")
        expect(row).to_contain_text("operator:alice")
        # A finished run is told to the receiver, and the page shows the delivery.
        body = {"action": "verify", "mobile": MOBILE, "code": CODE, "id_last6": ID6,
                "base_url": site.url}  # fmt: skip
        run_id = serve.client().post("/api/runs", json=body).json()["id"]
        [got] = rx.wait(lambda g: len(g) == 1)
        assert Webhook(secret).verify(got.body, got.headers)["data"]["run_id"] == run_id
        delivery = page.locator("#deliveries tbody tr.delivery-delivered")
        expect(delivery).to_contain_text("run.done", timeout=15_000)  # the page looks every 5 s
        expect(delivery).to_contain_text("HTTP 204")
        page.screenshot(path=str(tmp_path / "webhooks.png"), full_page=True)
        assert MOBILE not in page.content()
        # Removing asks first; dismissed, nothing happens.
        answers = iter([False, True])

        def decide(dialog: Dialog) -> None:
            (dialog.accept if next(answers) else dialog.dismiss)()

        page.on("dialog", decide)
        page.get_by_role("button", name="Remove").click()
        expect(row).to_have_count(1)
        page.get_by_role("button", name="Remove").click()
        expect(page.locator("#no-hooks")).to_be_visible()
        assert serve.client().get("/api/webhooks").json() == []

    page.get_by_role("link", name=re.compile("^Audit")).click()
    entries = page.locator("#audit tbody tr")
    expect(entries.first).to_contain_text("removed a webhook")
    expect(page.locator("#audit")).to_contain_text("added a webhook")
    expect(page.locator("#audit")).to_contain_text("queued a run")
    expect(page.locator("#audit")).to_contain_text("logged in")
    expect(entries.last).to_contain_text("operator:alice")
    expect(entries.first.locator("td").first).to_have_text(
        re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
    )
    assert MOBILE not in page.content()
    page.screenshot(path=str(tmp_path / "audit.png"), full_page=True)

    # The same pages in Chinese (the switch): the headings, the script's words and the labels of
    # what the server sends (audit actions, delivery states) all from the catalogs.
    page.get_by_role("link", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(page.get_by_role("heading", level=1)).to_have_text("审计日志")
    expect(entries.first).to_contain_text("删除了 Webhook")
    expect(page.locator("#audit")).to_contain_text("排队了一次运行")
    expect(page.locator("#audit")).not_to_contain_text("queued a run")
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", name="新建 Webhook")).to_be_visible()
    expect(page.locator("#no-hooks")).to_have_text("还没有 Webhook。")
    expect(page.locator("#deliveries tbody tr").first).to_contain_text("已送达")
