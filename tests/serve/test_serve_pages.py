"""What a real ``icpbot serve`` process answers around its pages: an English 404 page for an
unknown address (JSON under ``/api/``), an icon that its own CSP lets a real browser load, the
warning that links carry a random port, and ``--captcha-timeout`` reaching the runs."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from bot.mocksite import Filing, MockSite
from tests.serve.conftest import Serve, start_serve

MOBILE, ID6, CODE = "13912345678", "30721X", "864209"


@pytest.mark.parametrize("path", ["nope", "dashboard/old-bookmark", "l", "static/x/y"])
def test_an_unknown_address_gets_the_english_not_found_page(serve: Serve, path: str) -> None:
    got = httpx.get(serve.url + path)
    assert got.status_code == 404
    assert got.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>Page not found" in got.text
    assert 'href="/"' in got.text  # the way back
    assert "content-security-policy" in got.headers


def test_an_unknown_api_address_answers_json(serve: Serve) -> None:
    got = serve.client().get("/api/no-such-thing")
    assert got.status_code == 404
    assert got.json() == {"detail": "not found"}
    # A route's own 404 still names what is missing.
    assert serve.client().get("/api/runs/none").json() == {"detail": "no such run"}


def test_the_icon_is_served_from_the_same_origin(serve: Serve) -> None:
    icon = httpx.get(serve.url + "favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    svg = httpx.get(serve.url + "assets/icon.svg")
    assert svg.status_code == 200
    assert svg.headers["content-type"] == "image/svg+xml"
    login = httpx.get(serve.url + "login")
    assert '<link rel="icon" href="/favicon.ico"' in login.text
    assert "img-src 'self'" in login.headers["content-security-policy"]


@pytest.mark.browser
def test_a_browser_shows_the_404_page_and_loads_the_icon_under_the_csp(
    serve: Serve, page: Page, tmp_path: Path
) -> None:
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    answer = page.goto(serve.url + "no/such/page")
    assert answer is not None
    assert answer.status == 404
    expect(page).to_have_title("Page not found: icpbot serve")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Page not found")
    expect(page.get_by_role("link", name="go to the dashboard")).to_have_attribute("href", "/")
    page.screenshot(path=str(tmp_path / "not-found.png"))
    # Each icon the page names, loaded as the browser loads an image under the page's CSP.
    for href in page.locator("link[rel=icon]").evaluate_all("ls => ls.map(l => l.href)"):
        width = page.evaluate(
            """src => new Promise(done => {
                const img = new Image();
                img.onload = () => done(img.naturalWidth);
                img.onerror = () => done(-1);
                img.src = src;
            })""",
            href,
        )
        assert width > 0, href
    assert refused == []


def test_a_random_port_without_public_url_is_warned_about(serve: Serve) -> None:
    printed = serve.stop()
    assert "warning: --port 0 picked a random port" in printed
    assert serve.url in printed.split("warning:", 1)[1]


def test_no_warning_with_a_public_url(tmp_path: Path) -> None:
    started = start_serve(tmp_path, "--public-url", "https://check.example.com")
    printed = started.stop()
    assert "random port" not in printed


@pytest.mark.browser
def test_captcha_timeout_is_how_long_a_run_waits_at_the_check(
    tmp_path: Path, site: MockSite
) -> None:
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    site.set_captcha("click")
    started = start_serve(tmp_path, "--captcha-timeout", "2", "--base-url", site.url)
    try:
        api = started.client()
        made = api.post(
            "/api/runs",
            json={"action": "verify", "mobile": MOBILE, "code": CODE, "id_last6": ID6},
        )
        assert made.status_code == 201, made.text
        run_id = made.json()["id"]
        started.wait_run(api, run_id, lambda r: r["state"] == "needs_person")
        done = started.wait_run(api, run_id, lambda r: r["state"] == "done", s=30)
        assert done["outcome"]["category"] == "captcha_required"
        assert "within 2 s" in done["outcome"]["message"]
        assert done["outcome"]["submitted"] == "no"
        assert site.submissions() == []
    finally:
        started.stop()
