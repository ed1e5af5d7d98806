"""Each fault the mock can inject ends in exactly one outcome (category, status and whether the
submission may have reached the site), with evidence and the right count of submissions (the
mock's log is the proof of at-most-once)."""

from __future__ import annotations

import threading
import time

import pytest

from bot.mocksite import Filing, MockSite
from bot.run.options import RunResult
from bot.types import Category, Submitted

from .conftest import Run, WriteScenario

# The page's own texts for a failed call (bot/mocksite/static/app.js, server.py).
NETWORK_TOAST = "网络异常，请稍后再试"
BUSY = "系统繁忙，请稍后再试"


def pinned(result: RunResult) -> tuple[Category, str, Submitted]:
    """The three facts a fault decides: category, status and whether anything was sent."""
    return result.outcome.category, result.outcome.status, result.outcome.submitted


@pytest.fixture(autouse=True)
def _one_filing(site: MockSite) -> None:
    site.load_filings([Filing("13800000001", "100011", "111111")])


def test_slow_reply_gives_the_real_outcome(
    site: MockSite, run: Run, write_scenario: WriteScenario
) -> None:
    site.set_fault("verify", "slow", 2)
    result = run(write_scenario())
    assert pinned(result) == (Category.success, "verified_all", "yes")
    assert result.outcome.site_status == 3
    assert result.outcome.details["reply_seconds"] >= 2
    assert len(site.submissions()) == 1


def test_http_500_is_a_site_error(site: MockSite, run: Run, write_scenario: WriteScenario) -> None:
    site.set_fault("verify", "http500")
    result = run(write_scenario())
    assert pinned(result) == (Category.site_error, "http_error", "maybe")
    assert result.outcome.details["http_status"] == 500
    assert len(site.submissions()) == 1


def test_envelope_error_keeps_the_sites_message(
    site: MockSite, run: Run, write_scenario: WriteScenario
) -> None:
    site.set_fault("verify", "envelope", "系统繁忙，请稍后再试")
    result = run(write_scenario())
    assert pinned(result) == (Category.site_error, "envelope_error", "yes")
    assert result.outcome.site_message == "系统繁忙，请稍后再试"
    assert result.outcome.details["toast"] == "系统繁忙，请稍后再试"
    assert len(site.submissions()) == 1


def test_401_is_a_site_error_session_expired(
    site: MockSite, run: Run, write_scenario: WriteScenario
) -> None:
    site.set_fault("verify", "http401")
    result = run(write_scenario())
    assert pinned(result) == (Category.site_error, "session_expired", "yes")
    assert len(site.submissions()) == 1


def test_dropped_connection_is_unknown_with_exactly_one_submission(
    site: MockSite, run: Run, write_scenario: WriteScenario
) -> None:
    # Chromium re-sends a POST by itself when a kept-alive connection closes without a reply;
    # the mock drops every attempt, so a second one would show in its log.
    site.set_fault("verify", "drop")
    result = run(write_scenario())
    assert pinned(result) == (Category.unknown, "no_reply", "maybe")
    assert "check" in result.outcome.next_step.lower()
    assert len(site.submissions()) == 1
    assert result.submissions == 1


def test_firewall_page_sends_nothing(
    site: MockSite, run: Run, write_scenario: WriteScenario
) -> None:
    site.set_fault("page", "waf403")
    result = run(write_scenario())
    assert pinned(result) == (Category.site_error, "blocked", "no")
    assert site.submissions() == []
    assert (result.run_dir / "final.png").is_file()


def test_slow_assets_still_work(site: MockSite, run: Run, write_scenario: WriteScenario) -> None:
    site.set_fault("assets", "slow", 1)
    result = run(write_scenario())
    assert pinned(result) == (Category.success, "verified_all", "yes")
    assert result.outcome.site_status == 3
    assert len(site.submissions()) == 1


def test_reply_slower_than_the_timeout_is_unknown_not_retried(
    site: MockSite, run: Run, write_scenario: WriteScenario
) -> None:
    site.set_fault("verify", "slow", 6)
    result = run(write_scenario(), timeout_s=3.0)
    assert pinned(result) == (Category.unknown, "no_reply", "maybe")
    assert len(site.submissions()) == 1


def test_captcha_in_a_headless_run_is_required_and_nothing_is_sent(
    site: MockSite, run: Run, write_scenario: WriteScenario
) -> None:
    site.set_captcha(True)
    result = run(write_scenario(extra="captcha: manual\n"))
    assert pinned(result) == (Category.captcha_required, "captcha_required", "no")
    assert result.exit_code == 21
    assert site.submissions() == []
    assert "captcha.png" in result.evidence


def test_captcha_passed_by_a_person_while_the_runner_waits(
    site: MockSite, run: Run, write_scenario: WriteScenario
) -> None:
    site.set_captcha(True)
    site.pass_captcha()  # the person (the mock's test hook) clicks the characters once shown
    lines: list[str] = []
    result = run(
        write_scenario(extra="captcha: manual\n"), captcha_timeout_s=20.0, notify=lines.append
    )
    assert pinned(result) == (Category.success, "verified_all", "yes")
    assert result.outcome.site_status == 3
    [sub] = site.submissions()
    assert sub["headers"].get("sign")
    assert any("SECURITY CHECK" in line for line in lines)


def test_captcha_none_mode_never_waits(
    site: MockSite, run: Run, write_scenario: WriteScenario
) -> None:
    site.set_captcha(True)
    site.pass_captcha()
    result = run(write_scenario(), captcha_timeout_s=20.0)  # scenario says captcha: none
    assert pinned(result) == (Category.captcha_required, "captcha_required", "no")
    assert site.submissions() == []


def test_session_refused_on_load_is_a_site_error_not_a_selector_error(
    site: MockSite, run: Run, write_scenario: WriteScenario
) -> None:
    site.set_fault("auth", "http401")  # the page goes to its login route before any form shows
    result = run(write_scenario(), timeout_s=3.0)
    assert pinned(result) == (Category.site_error, "session_expired", "no")
    assert site.submissions() == []


# Every other endpoint fault, and the one outcome it must end in. A failed session call (auth)
# leaves the page without a token: its submission is sent and refused with HTTP 401, as on the
# real site. A failed security-check call shows the page's error toast and nothing is sent.
OTHER_FAULTS = [
    # (endpoint, kind, category, status, submitted, the site's message)
    ("auth", "http500", Category.site_error, "session_expired", "yes", None),
    ("auth", "envelope", Category.site_error, "session_expired", "yes", None),
    ("auth", "drop", Category.site_error, "session_expired", "yes", None),
    ("auth", "waf403", Category.site_error, "session_expired", "yes", None),
    ("captcha", "http500", Category.site_error, "site_message", "no", NETWORK_TOAST),
    ("captcha", "envelope", Category.site_error, "site_message", "no", BUSY),
    ("captcha", "drop", Category.site_error, "site_message", "no", NETWORK_TOAST),
    ("resend", "drop", Category.unknown, "no_reply", "maybe", None),
    ("resend", "envelope", Category.site_error, "envelope_error", "yes", BUSY),
]


@pytest.mark.parametrize(
    ("endpoint", "kind", "category", "status", "submitted", "site_message"),
    OTHER_FAULTS,
    ids=[f"{f[0]}-{f[1]}" for f in OTHER_FAULTS],
)
def test_every_other_fault_ends_in_its_one_outcome(
    site: MockSite,
    run: Run,
    write_scenario: WriteScenario,
    endpoint: str,
    kind: str,
    category: Category,
    status: str,
    submitted: Submitted,
    site_message: str | None,
) -> None:
    if endpoint == "captcha":
        site.set_captcha(True)
        site.pass_captcha()
    site.set_fault(endpoint, kind)
    action = "resend" if endpoint == "resend" else "verify"
    extra = "captcha: manual\n" if endpoint == "captcha" else ""
    path = write_scenario(action, code=None if action == "resend" else "111111", extra=extra)
    result = run(path, timeout_s=5.0, captcha_timeout_s=5.0)
    assert pinned(result) == (category, status, submitted)
    assert result.outcome.site_message == site_message
    received = len(site.submissions())
    assert received == (0 if submitted == "no" else 1)  # never two
    assert result.submissions == received  # what icpbot reports is what the site saw
    assert (result.run_dir / "result.json").is_file()


def test_a_toast_that_fades_within_the_grace_is_still_the_sites_word(
    site: MockSite, run: Run, write_scenario: WriteScenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A check that was open (the watch saw it) closes with the site's toast, which fades after
    about 3 s, while the watch gives a passed check's request its grace before it looks at the
    page. Under load the toast was gone by then and the run said "closed" without the site's
    words; with a grace longer than the toast's life, that happens every time."""
    monkeypatch.setattr("bot.page.watch.CHECK_CLOSED_GRACE_S", 5.0)
    site.set_captcha(True)
    path = write_scenario("verify", code="111111", extra="captcha: manual\n")
    results: list[RunResult] = []
    running = threading.Thread(
        target=lambda: results.append(run(path, timeout_s=20.0, captcha_timeout_s=20.0))
    )
    running.start()
    try:
        deadline = time.monotonic() + 30
        while not site.captcha_answer()["shown"]:  # the check is open on the run's page
            assert time.monotonic() < deadline, "the check never showed"
            time.sleep(0.05)
        site.set_fault("captcha", "envelope")  # its answer and its next picture: 系统繁忙
        site.pass_captcha()
    finally:
        running.join(60)
    [result] = results
    assert pinned(result) == (Category.site_error, "site_message", "no")
    assert result.outcome.site_message == BUSY
    assert site.submissions() == []
