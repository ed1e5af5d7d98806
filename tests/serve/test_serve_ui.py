"""The operators' web UI through a real ``icpbot serve`` process, the mock site and a real
Chromium: the login (refused, then backed off), the dashboard (queue a verify, watch it live
over Server-Sent Events, pass its security check inline, read the outcome with the site's own
Chinese words, open the evidence), the ledger and the links (create, revoke after confirming).

Screenshots of each page go to the test's folder (``tmp_path``), to be looked at."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page, Request, expect

from bot.mocksite import Filing, MockSite
from tests.serve.conftest import Serve

pytestmark = pytest.mark.browser

MOBILE, ID6, CODE = "13912345678", "30721X", "864209"
PASSWORD = "correct horse battery"


def add_operator(serve: Serve, name: str, password: str = PASSWORD) -> None:
    subprocess.run(
        [sys.executable, "-m", "bot", "serve", "add-operator", name],
        env=serve.env | {"ICPBOT_OPERATOR_PASSWORD": password},
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip


def log_in(page: Page, serve: Serve, name: str, password: str = PASSWORD) -> int:
    """Fill the login form as a person would; the status of the form's POST."""
    page.goto(serve.url + "login")
    page.get_by_label("Operator name").fill(name)
    page.get_by_label("Password").fill(password)
    with page.expect_response(
        lambda r: r.url.endswith("/login") and r.request.method == "POST"
    ) as answer:
        page.get_by_role("button", name="Log in").click()
    return answer.value.status


def _shown_values_masked(page: Page) -> None:
    content = page.content()
    for value in (MOBILE, ID6, CODE):
        assert value not in content


def test_a_wrong_password_is_refused_then_backed_off(
    serve: Serve, page: Page, tmp_path: Path
) -> None:
    add_operator(serve, "alice")
    add_operator(serve, "carol")
    # No session: the dashboard sends the browser to the login page.
    page.goto(serve.url)
    expect(page).to_have_url(serve.url + "login")
    expect(page.get_by_role("heading", level=1)).to_contain_text("icpbot serve")
    page.screenshot(path=str(tmp_path / "login.png"), full_page=True)
    for _ in range(4):
        assert log_in(page, serve, "alice", "wrong password") == 401
        expect(page.get_by_role("alert")).to_have_text("Wrong name or password.")
    # The fifth failure starts the back-off: even the right password waits now.
    assert log_in(page, serve, "alice", "wrong password") == 429
    expect(page.get_by_role("alert")).to_contain_text("Too many failed logins")
    page.screenshot(path=str(tmp_path / "login-backoff.png"), full_page=True)
    assert log_in(page, serve, "alice") == 429
    # Another operator from the same address is not locked out by alice's failures.
    assert log_in(page, serve, "carol") == 303
    expect(page).to_have_url(serve.url)
    expect(page.locator(".who")).to_have_text("carol")
    [cookie] = [c for c in page.context.cookies() if c["name"] == "icpbot_session"]
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"
    assert not cookie["secure"]  # plain HTTP here; behind TLS it is Secure (next test)
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(serve.url + "login")
    page.goto(serve.url)
    expect(page).to_have_url(serve.url + "login")
    printed = serve.stop()
    assert "wrong password" not in printed
    assert PASSWORD not in printed


def _form_login(serve: Serve, name: str, headers: dict[str, str] | None = None) -> list[str]:
    """Log in with a plain HTTP client: the session cookie's ``name=value`` then its
    attributes (lower case)."""
    http = serve.client(None)
    form = http.get("/login", headers=headers)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    done = http.post(
        "/login",
        data={"name": name, "password": PASSWORD, "csrf": csrf.group(1)},
        headers={"Cookie": f"icpbot_login={csrf.group(1)}", **(headers or {})},
    )
    assert done.status_code == 303, done.text
    [session] = [c for c in done.headers.get_list("set-cookie") if c.startswith("icpbot_session=")]
    first, *attributes = (part.strip() for part in session.split(";"))
    return [first, *(a.lower() for a in attributes)]


def test_every_post_needs_the_csrf_token_and_pages_need_a_session(serve: Serve) -> None:
    add_operator(serve, "alice")
    anon = serve.client(None)
    first = anon.get("/")
    assert first.status_code == 303
    assert first.headers["location"] == "/login"
    assert anon.get("/ledger").status_code == 303
    assert anon.get("/events").status_code == 401
    page = anon.get("/login")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    # The login form without its token (or with another one) is refused.
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    no_token = anon.post("/login", data={"name": "alice", "password": PASSWORD})
    assert no_token.status_code == 403
    other = anon.post(
        "/login",
        data={"name": "alice", "password": PASSWORD, "csrf": "x" * 32},
        headers={"Cookie": f"icpbot_login={token.group(1)}"},
    )
    assert other.status_code == 403
    # Behind TLS (the proxy says so, from loopback) the session cookie is Secure.
    tls = _form_login(serve, "alice", {"X-Forwarded-Proto": "https"})
    assert {"secure", "httponly", "samesite=strict"} <= set(tls)
    session, *plain = _form_login(serve, "alice")
    assert {"httponly", "samesite=strict"} <= set(plain)
    assert "secure" not in plain
    dashboard = anon.get("/", headers={"Cookie": session})
    assert dashboard.status_code == 200
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', dashboard.text)
    assert csrf is not None
    body = {"action": "verify", "mobile": "1", "code": CODE, "id_last6": ID6}
    with_session = {"Cookie": session, "Origin": serve.url.rstrip("/")}
    # A state-changing API call with the session but without its token: 403, nothing queued.
    assert anon.post("/api/runs", json=body, headers=with_session).status_code == 403
    wrong = with_session | {"X-CSRF-Token": "x" * 32}
    assert anon.post("/api/runs", json=body, headers=wrong).status_code == 403
    other_site = with_session | {"X-CSRF-Token": csrf.group(1), "Origin": "http://evil.example"}
    assert anon.post("/api/runs", json=body, headers=other_site).status_code == 403
    assert anon.post("/api/links/abc/revoke", headers=with_session).status_code == 403
    assert anon.post("/logout", headers=with_session).status_code == 403
    # With its token the call goes through (and is checked: a bad mobile is 422).
    right = with_session | {"X-CSRF-Token": csrf.group(1)}
    assert anon.post("/api/runs", json=body, headers=right).status_code == 422
    assert anon.get("/api/runs", headers={"Cookie": session}).json() == []
    printed = serve.stop()
    assert PASSWORD not in printed


def _pass_check_inline(page: Page, site: MockSite) -> None:
    """As a person: look at the picture, click the characters; after a miss, again."""
    shot = page.get_by_role("img", name=re.compile("^Security check"))
    for _ in range(3):
        answer = site.captcha_answer()
        with page.expect_response(lambda r: "/check/image" in r.url and r.status == 200):
            pass  # a picture of this arrangement (refreshed at least every 2 s)
        for point in answer["points"]:
            with page.expect_response(lambda r: r.url.endswith("/check/click")):
                shot.click(position={"x": point["x"], "y": point["y"]})
        try:
            expect(page.locator("#outcome")).to_be_visible(timeout=8000)
            return
        except AssertionError:
            continue
    raise AssertionError("the check was not passed")


def test_an_operator_queues_a_verify_watches_it_live_and_passes_its_check(
    serve: Serve, site: MockSite, page: Page, tmp_path: Path
) -> None:
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    site.set_captcha("click")
    add_operator(serve, "alice")
    assert log_in(page, serve, "alice") == 303
    expect(page.locator("#live")).to_have_text("(live)")
    asked: list[str] = []

    def seen(request: Request) -> None:
        asked.append(f"{request.method} {request.url.removeprefix(serve.url.rstrip('/'))}")

    page.on("request", seen)
    page.get_by_label("Mobile number").fill(MOBILE)
    page.get_by_label("Last 6 characters of the ID").fill(ID6)
    page.get_by_label("SMS code").fill(CODE)
    page.get_by_text("Site address (optional)").click()
    page.get_by_label("Base URL", exact=True).fill(site.url)
    page.get_by_role("button", name="Queue").click()
    # The run's row changes by itself: the page never asks again, the events bring it.
    row = page.locator("#runs tbody tr").first
    expect(row).to_contain_text("139****5678")
    expect(row.locator(".state")).to_contain_text("waits for you", timeout=60_000)
    expect(page.locator("#check")).to_be_visible()
    expect(page.locator(".ck-ask")).to_contain_text("in this order")
    expect(page.locator(".ck-chinese")).to_contain_text("依次")
    shot = page.get_by_role("img", name=re.compile("^Security check"))
    expect(shot).to_be_visible()
    _shown_values_masked(page)
    page.screenshot(path=str(tmp_path / "dashboard-check.png"), full_page=True)
    _pass_check_inline(page, site)
    expect(row.locator(".state")).to_contain_text("done")
    expect(page.locator("#category")).to_have_text("success")
    expect(page.locator("#message")).to_contain_text("verif")
    expect(page.locator("#banner")).to_contain_text("短信核验")
    assert len(site.submissions()) == 1
    assert not [a for a in asked if a.startswith("GET /api/runs") and "/check" not in a
                and "/evidence" not in a]  # fmt: skip
    assert "GET /events" not in asked  # one stream, opened before the run was queued
    # The evidence: result.json and the report, in the same session.
    expect(page.get_by_role("link", name="result.json")).to_be_visible()
    _shown_values_masked(page)
    page.screenshot(path=str(tmp_path / "dashboard-outcome.png"), full_page=True)
    with page.expect_popup() as opened:
        page.get_by_role("link", name="result.json").click()
    result = opened.value
    expect(result.locator("body")).to_contain_text('"category": "success"')
    result.close()
    with page.expect_popup() as opened:
        page.get_by_role("link", name="report.html").click()
    report = opened.value
    expect(report.locator("body")).to_contain_text("success")
    # Its screenshots (data: URLs) are shown, not blocked by the policy.
    expect(report.locator("img").first).to_have_js_property("complete", True)
    assert report.locator("img").first.evaluate("i => i.naturalWidth") > 0
    _shown_values_masked(report)
    report.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    report.close()
    # The ledger: the attempt, masked, marked sent.
    page.get_by_role("link", name=re.compile("^Ledger")).click()
    ledger_row = page.locator("#ledger tbody tr").first
    expect(ledger_row).to_contain_text("139****5678")
    expect(ledger_row).to_contain_text("success")
    expect(ledger_row.locator("td").nth(3)).to_have_text(
        re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
    )
    expect(ledger_row.locator("td").last).to_have_text("yes")
    _shown_values_masked(page)
    page.screenshot(path=str(tmp_path / "ledger.png"), full_page=True)
    printed = serve.stop()
    for value in (MOBILE, ID6, CODE, PASSWORD):
        assert value not in printed


def test_an_operator_creates_a_link_and_revokes_it(
    serve: Serve, site: MockSite, page: Page, tmp_path: Path
) -> None:
    add_operator(serve, "alice")
    assert log_in(page, serve, "alice") == 303
    page.get_by_role("link", name=re.compile("^Links")).click()
    expect(page.locator("#empty")).to_be_visible()
    page.get_by_label("Mobile number").fill(MOBILE)
    page.get_by_label("Last 6 of the ID").fill(ID6)
    page.get_by_text("Site address (optional)").click()
    page.get_by_label("Base URL", exact=True).fill(site.url)
    page.get_by_role("button", name="Create link").click()
    made = page.locator("#made-url")
    expect(made).to_have_value(re.compile(re.escape(serve.url) + r"l/[A-Za-z0-9_-]{32}$"))
    url = made.input_value()
    row = page.locator("#links tbody tr").first
    expect(row).to_contain_text("139****5678")
    expect(row).to_contain_text("waiting for the customer")
    expect(row).to_contain_text("operator:alice")
    assert page.request.get(url).status == 200
    page.screenshot(path=str(tmp_path / "links.png"), full_page=True)
    row.get_by_role("button", name="Revoke").click()
    row.get_by_role("button", name="Yes, revoke").click()  # Revoke asks first
    expect(row).to_contain_text("revoked")
    expect(row.get_by_role("button", name="Revoke")).to_have_count(0)
    assert page.request.get(url).status == 410
    # A value the service refuses is named, never echoed.
    page.get_by_label("Mobile number").fill("12345678901")
    page.get_by_label("Last 6 of the ID").fill(ID6)
    page.get_by_role("button", name="Create link").click()
    expect(page.locator("#link-error")).to_contain_text("mobile")
    expect(page.locator("#link-error")).not_to_contain_text("12345678901")
    page.get_by_label("Mobile number").fill("")
    page.get_by_label("Last 6 of the ID").fill("")
    page.screenshot(path=str(tmp_path / "links-revoked.png"), full_page=True)
