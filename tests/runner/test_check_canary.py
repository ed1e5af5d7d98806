"""check-selectors as a canary: each element's own candidates, one report of a missing container,
progress on stderr, the answer elements rendered on the mock, --json and exit codes 0/26/25."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from bot.cli.app import app
from bot.mocksite import MockSite
from bot.run.check import check_selectors
from bot.run.check_rows import EXIT_FALLBACKS, EXIT_MISMATCH
from bot.run.runner import SharedBrowser

cli = CliRunner()


def _check(site_url: str, browser: SharedBrowser, *extra: str) -> tuple[int, str, str]:
    args = ["check-selectors", "--base-url", site_url, "--timeout", "5", *extra]
    result = cli.invoke(app, args, obj=browser)
    return result.exit_code, result.stdout, result.stderr


def test_the_default_page_matches_every_first_choice_answers_included(
    site: MockSite, lend_browser: SharedBrowser
) -> None:
    code, stdout, stderr = _check(site.url, lend_browser, "--json")
    report = json.loads(stdout)
    assert code == 0, stdout
    assert report["verdict"] == "ok"
    assert report["target"] == "mock"
    rows = {r["element"]: r for r in report["elements"]}
    for name in ("result_banner", "result_text", "error_toast", "captcha_box", "validation_error"):
        assert rows[name]["status"] == "first", rows[name]
    assert "waiting up to 5s for verify_tab" in stderr
    assert "rendering a banner" in stderr
    assert site.submissions() == []  # the stand-in answered inside the browser
    assert site._site.captcha_form is None  # the check switched the mock's check back off


def test_fallbacks_exit_26_and_are_marked(site: MockSite, lend_browser: SharedBrowser) -> None:
    site.set_variant("renamed-classes")
    code, stdout, _ = _check(site.url, lend_browser)
    assert code == EXIT_FALLBACKS == 26, stdout
    line = next(x for x in stdout.splitlines() if " verify_tab " in x)
    assert line.startswith("FB ")
    assert "FALLBACK" in line
    assert "(matched)" in line
    assert site.submissions() == []


def test_a_missing_container_is_reported_once_with_each_elements_own_candidates(
    site: MockSite, lend_browser: SharedBrowser
) -> None:
    site.set_variant("hostile")
    code, stdout, stderr = _check(site.url, lend_browser, "--timeout", "1")
    assert code == EXIT_MISMATCH == 25
    assert "no candidate matched" not in stderr  # the resolver's error lines stay out
    code_line = next(x for x in stdout.splitlines() if " verify_code " in x)
    assert "placeholder=" in code_line
    assert "tab-card" not in code_line
    assert "container verify_card" in code_line
    assert sum(x[4:].startswith("verify_card ") for x in stdout.splitlines()) == 1
    assert stdout.count("its container verify_card did not match") == 4  # 3 fields + 提交
    assert site.submissions() == []


def test_a_site_not_served_by_icpbot_reports_answers_as_not_checked(
    lend_browser: SharedBrowser,
) -> None:
    # A mock that does not answer the capability path looks like any other site.
    with MockSite(test_mode=True) as plain:
        plain._site.capability = lambda kind: {}  # type: ignore[method-assign]
        report = lend_browser.call(lambda b: check_selectors(plain.url, lent=b, timeout_s=5))
    assert report.target == "site"
    assert report.exit_code == 0
    rows = {r.element: r for r in report.rows}
    assert rows["result_banner"].status == "not_checked"
    assert "only on the mock or a replay" in rows["result_banner"].note


def test_a_site_that_does_not_load_is_not_a_changed_page(lend_browser: SharedBrowser) -> None:
    import socket

    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, stdout, _ = _check(f"http://127.0.0.1:{port}/", lend_browser)
    assert code == 22, stdout
    assert "did not load" in stdout
    assert "the page was not reached (exit 22)" in stdout
