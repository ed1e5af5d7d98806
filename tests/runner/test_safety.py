"""At most one submission per run, the failure-budget guard, and Ctrl-C leaving a result."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.async_api import Page

from bot.errors import ReleaseRefused
from bot.mocksite import Filing, MockSite
from bot.safety.gate import SubmissionGate
from bot.types import Category

from .conftest import Run, WriteScenario

VERIFY = "/icpproject_query/api/smsValidate/validateByCondition"


def test_gate_lets_one_request_through_when_the_page_posts_twice(
    on_page: Callable[..., Any], site: MockSite
) -> None:
    """A page that retries (or a double click the page does not guard) reaches the site once."""
    gate = SubmissionGate([VERIFY], timeout_s=10)

    async def body(page: Page) -> Any:
        await gate.install(page.context)
        gate.arm()
        await page.goto(site.url)
        return await page.evaluate(
            """async (url) => {
            const post = () => fetch(url, {method: 'POST', body: '{}',
                headers: {'Content-Type': 'application/json'}})
                .then(r => 'reply ' + r.status, e => 'failed');
            return [await post(), await post(), await post()];
        }""",
            site.api_url.rstrip("/") + VERIFY,
        )

    results = on_page(body)
    assert results == ["reply 401", "failed", "failed"]
    assert gate.blocked == 2
    assert len(site.submissions()) == 1


def test_a_request_held_at_its_release_blocks_every_other_one(
    on_page: Callable[..., Any], site: MockSite
) -> None:
    """While the first request waits at the gate for its release (the site's pacing, the
    ledger's mark), a second one is a second one: blocked at once, never queued behind it."""
    gate = SubmissionGate([VERIFY], timeout_s=10)
    go = asyncio.Event()

    async def release() -> None:
        await go.wait()

    async def body(page: Page) -> Any:
        await gate.install(page.context)
        gate.arm(release=release)
        await page.goto(site.url)
        await page.evaluate(
            """(url) => {
            window.post = () => fetch(url, {method: 'POST', body: '{}',
                headers: {'Content-Type': 'application/json'}})
                .then(r => 'reply ' + r.status, e => 'failed');
            window.first = window.post();
        }""",
            site.api_url.rstrip("/") + VERIFY,
        )
        await gate.held_event.wait()
        second = await page.evaluate("window.post()")  # answered while the first is held
        held = (gate.blocked, gate.sent)
        go.set()
        return second, held, await page.evaluate("window.first")

    second, held, first = on_page(body)
    assert (second, held) == ("failed", (1, False))
    assert first == "reply 401"
    assert len(site.submissions()) == 1


def test_a_refused_release_leaves_nothing_at_the_site(
    on_page: Callable[..., Any], site: MockSite
) -> None:
    gate = SubmissionGate([VERIFY], timeout_s=10)

    async def release() -> None:
        raise ReleaseRefused("not this run's any more")

    async def body(page: Page) -> Any:
        await gate.install(page.context)
        gate.arm(release=release)
        await page.goto(site.url)
        return await page.evaluate(
            """(url) => fetch(url, {method: 'POST', body: '{}',
                headers: {'Content-Type': 'application/json'}})
                .then(r => 'reply ' + r.status, e => 'failed')""",
            site.api_url.rstrip("/") + VERIFY,
        )

    assert on_page(body) == "failed"
    assert (gate.held, gate.sent, gate.released_event.is_set()) == (True, False, True)
    assert isinstance(gate.refusal, ReleaseRefused)
    assert site.submissions() == []


def test_failure_budget_sequence(site: MockSite, run: Run, write_scenario: WriteScenario) -> None:
    site.load_filings([Filing("13800000001", "100011", "111111")])

    # A new wrong code each time: a code the site rejected once is refused before the budget.
    def wrong(n: int) -> Path:
        return write_scenario(code=f"00000{n}")

    for expected_submissions in (1, 2, 3):
        assert run(wrong(expected_submissions)).outcome.category is Category.wrong_info
        assert len(site.submissions()) == expected_submissions
    refused = run(wrong(4))
    assert refused.outcome.category is Category.refused
    assert refused.exit_code == 24
    assert refused.outcome.details["failures_recorded"] == 3
    assert len(site.submissions()) == 3  # no browser, nothing sent
    risky = run(wrong(4), allow_risky=True)
    assert risky.outcome.category is Category.wrong_info
    assert any("RISKY" in w for w in risky.warnings)
    assert len(site.submissions()) == 4
    assert run(wrong(5), allow_risky=True).outcome.category is Category.refused  # 4: always
    assert len(site.submissions()) == 4


def test_success_clears_the_budget(site: MockSite, run: Run, write_scenario: WriteScenario) -> None:
    site.load_filings([Filing("13800000001", "100011", "111111")])
    for n in range(2):
        run(write_scenario(code=f"00000{n}"))
    assert run(write_scenario()).outcome.category is Category.success
    site.load_filings([Filing("13800000001", "100011", "111111")])
    for n in range(3):
        assert run(write_scenario(code=f"00001{n}")).outcome.category is Category.wrong_info


def test_expired_sms_is_refused(site: MockSite, run: Run, write_scenario: WriteScenario) -> None:
    path = write_scenario(extra="sms_received_at: 2020-01-01T09:00:00+08:00\n")
    result = run(path)
    assert result.outcome.category is Category.refused
    assert "24" in result.outcome.message
    assert site.submissions() == []


def test_ctrl_c_after_the_submission_leaves_a_result(
    site: MockSite, write_scenario: WriteScenario, tmp_path: Path, state_dir: Path
) -> None:
    site.load_filings([Filing("13800000001", "100011", "111111")])
    site.set_fault("verify", "slow", 30)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "-v",
            "run",
            str(write_scenario()),
            "--base-url",
            site.url,
            "--out",
            str(out),
            "--headless",
            "--no-report",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ},
    )
    assert proc.stderr is not None
    for line in proc.stderr:  # wait for the event itself: the runner logs the send
        if "submission sent to" in line:
            break
    assert site.wait_for_submissions(1)  # it reached the site: the dangerous moment to stop
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err
    [saved] = [json.loads(p.read_text()) for p in out.glob("*/result.json")]
    assert saved["outcome"]["status"] == "interrupted"
    assert saved["outcome"]["submitted"] == "maybe"
    assert saved["progress"] in {"submit_clicked", "request_sent"}
    assert len(site.submissions()) == 1


def test_the_page_never_addresses_the_real_endpoint_itself(
    site: MockSite, run: Run, write_scenario: WriteScenario
) -> None:
    """The browser's own submission request goes to a name that never resolves; only the gate
    reaches the site. A request Chromium releases when the driver dies can reach nobody."""
    site.load_filings([Filing("13800000001", "100011", "111111")])
    result = run(write_scenario(), har=True)
    har = json.loads((result.run_dir / "network.har").read_text(encoding="utf-8"))
    posts = [e["request"]["url"] for e in har["log"]["entries"] if e["request"]["method"] == "POST"]
    submits = [u for u in posts if "validateByCondition" in u]
    assert len(submits) == 1
    assert submits[0].startswith("http://icpbot-gate.invalid/")
    [sub] = site.submissions()
    assert sub["headers"]["origin"] == site.url.rstrip("/")
    assert result.outcome.site_status == 3
