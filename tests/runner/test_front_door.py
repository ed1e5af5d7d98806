"""The site's front door, through whole runs on the mock: the JavaScript challenge, firewall block
pages and rate limits (on the page load and on the submission), and the security check in both of
its forms, also when it opens before 提交 can be clicked."""

from __future__ import annotations

import pytest

from bot.mocksite import MockSite
from bot.types import Category

from .conftest import Run, WriteScenario


@pytest.mark.parametrize(
    "challenge", ["frontdoor", "frontdoor:503", "frontdoor:200", "frontdoor:521,index"]
)
def test_a_challenge_is_passed_like_a_browser_and_the_route_reopened(
    site: MockSite, run: Run, write_scenario: WriteScenario, challenge: str
) -> None:
    kind, _, arg = challenge.partition(":")
    site.set_fault("page", kind, arg or None)
    result = run(write_scenario())
    assert (result.outcome.category, result.outcome.site_status) == (Category.success, 3)
    assert len(site.submissions()) == 1


@pytest.mark.parametrize(
    ("fault", "arg", "status"),
    [
        ("waf403", None, "blocked"),
        ("waf403", "200", "blocked"),
        ("ratelimit", None, "rate_limited"),
        ("ratelimit", "200", "rate_limited"),
    ],
)
def test_a_firewall_page_on_load_ends_before_anything_is_filled(
    site: MockSite,
    run: Run,
    write_scenario: WriteScenario,
    fault: str,
    arg: str | None,
    status: str,
) -> None:
    site.set_fault("page", fault, arg)
    result = run(write_scenario())
    outcome = result.outcome
    assert (outcome.category, outcome.status, outcome.submitted) == (
        Category.site_error,
        status,
        "no",
    )
    assert "Nothing was filled or sent" in outcome.message
    assert "minutes" in outcome.next_step
    assert site.submissions() == []
    assert result.progress == "browser_started"


@pytest.mark.parametrize(
    ("fault", "arg", "status"),
    [
        ("waf403", None, "blocked"),
        ("waf403", "200", "blocked"),
        ("ratelimit", None, "rate_limited"),
    ],
)
def test_a_firewall_answer_to_the_submission_says_it_may_have_reached_the_site(
    site: MockSite,
    run: Run,
    write_scenario: WriteScenario,
    fault: str,
    arg: str | None,
    status: str,
) -> None:
    site.set_fault("verify", fault, arg)
    result = run(write_scenario())
    outcome = result.outcome
    assert (outcome.category, outcome.status, outcome.submitted) == (
        Category.site_error,
        status,
        "maybe",
    )
    assert "cannot be sure" in outcome.message
    assert len(site.submissions()) == 1


def test_a_page_without_the_block_and_without_firewall_texts_is_a_changed_page(
    site: MockSite, run: Run, write_scenario: WriteScenario
) -> None:
    site.set_fault("page", "empty")
    result = run(write_scenario(), timeout_s=3.0)
    assert result.outcome.category is Category.selector_error
    assert site.submissions() == []


@pytest.mark.parametrize("form", ["click", "slider"])
@pytest.mark.parametrize("first", [False, True])
def test_a_headless_run_hands_off_either_check_and_sends_nothing(
    site: MockSite, run: Run, write_scenario: WriteScenario, form: str, first: bool
) -> None:
    site.set_captcha(form, first=first)
    result = run(write_scenario(extra="captcha: manual\n"))
    assert result.outcome.category is Category.captcha_required
    assert result.outcome.submitted == "no"
    assert "captcha.png" in result.evidence
    assert site.submissions() == []


@pytest.mark.parametrize("form", ["click", "slider"])
def test_a_check_open_before_the_click_waits_for_a_person_then_submits_once(
    site: MockSite, run: Run, write_scenario: WriteScenario, form: str
) -> None:
    site.set_captcha(form, first=True)
    site.pass_captcha()  # the person (the mock's test hook) passes the check once it shows
    lines: list[str] = []
    result = run(
        write_scenario(extra="captcha: manual\n"), captcha_timeout_s=20.0, notify=lines.append
    )
    assert (result.outcome.category, result.outcome.site_status) == (Category.success, 3)
    assert any("SECURITY CHECK" in line for line in lines)
    assert len(site.submissions()) == 1
