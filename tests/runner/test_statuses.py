"""Every status of both tabs, end to end: scenario file -> real Chromium -> mock -> outcome."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from bot.mocksite import Filing, MockSite
from bot.types import Category

from .conftest import Run, WriteScenario

VERIFY_CASES = [
    # (filing, code typed, id typed, status, category)
    (Filing("13800000001", "100011", "111111"), "111111", "100011", 3, Category.success),
    (
        Filing("13800000001", "100011", "111111", others_pending=True),
        "111111",
        "100011",
        31,
        Category.success,
    ),
    (
        Filing("13800000001", "100011", "111111", verified=True),
        "111111",
        "100011",
        20,
        Category.success,
    ),
    (Filing("13800000001", "100011", "111111"), "111112", "100011", 2, Category.wrong_info),
    (Filing("13800000009", "100011", "111111"), "111111", "100011", 4, Category.no_record),
]


@pytest.mark.parametrize(
    ("filing", "code", "id6", "status", "category"),
    VERIFY_CASES,
    ids=[str(c[3]) for c in VERIFY_CASES],
)
def test_verify_status(
    site: MockSite,
    run: Run,
    write_scenario: WriteScenario,
    filing: Filing,
    code: str,
    id6: str,
    status: int,
    category: Category,
) -> None:
    site.load_filings([filing])
    result = run(write_scenario(code=code, id_last6=id6))
    assert result.outcome.site_status == status
    assert result.outcome.category is category
    assert result.exit_code == category.exit_code
    assert result.outcome.banner_zh == result.outcome.expected_banner_zh
    [sub] = site.submissions()
    assert sub["endpoint"] == "verify"
    assert sub["body"] == {"smsValidCode": code, "mobileNum": "13800000001", "certNum": id6}


@pytest.mark.parametrize(
    ("resends", "verified", "status", "category"),
    [
        (0, False, 101, Category.success),
        (2, False, 102, Category.failed),
        (0, True, 100, Category.no_record),
    ],
)
def test_resend_status(
    site: MockSite,
    run: Run,
    write_scenario: WriteScenario,
    resends: int,
    verified: bool,
    status: int,
    category: Category,
) -> None:
    site.load_filings(
        [Filing("13800000004", "400044", "444444", resends=resends, verified=verified)]
    )
    result = run(write_scenario("resend", mobile="13800000004", code=None, id_last6="400044"))
    assert (result.outcome.site_status, result.outcome.category) == (status, category)
    assert [s["endpoint"] for s in site.submissions()] == ["resend"]


def test_resend_no_record(site: MockSite, run: Run, write_scenario: WriteScenario) -> None:
    site.load_filings([])
    result = run(write_scenario("resend", code=None))
    assert (result.outcome.site_status, result.outcome.category) == (4, Category.no_record)


@pytest.mark.parametrize(
    ("forced", "category", "status_name"),
    [
        (21, Category.failed, "failed_ask_provider"),
        (0, Category.failed, "failed_retry"),
        (77, Category.failed, "unknown_status"),
    ],
)
def test_statuses_the_rules_never_produce(
    site: MockSite,
    run: Run,
    write_scenario: WriteScenario,
    forced: int,
    category: Category,
    status_name: str,
) -> None:
    site.load_filings([Filing("13800000001", "100011", "111111", answer=forced)])
    result = run(write_scenario())
    assert result.outcome.site_status == forced
    assert result.outcome.category is category
    assert result.outcome.status == status_name
    # The page shows status 0's text for a status it does not know; icpbot trusts the API.
    assert result.outcome.banner_zh == "您的短信核验失败,请您重新验证。" or forced == 21


def _snapshots(trace: Path) -> int:
    with zipfile.ZipFile(trace) as zf:
        text = zf.read("trace.trace").decode("utf-8")
    return text.count('"type":"frame-snapshot"')


def test_trace_on_keeps_dom_snapshots(
    site: MockSite, run: Run, write_scenario: WriteScenario
) -> None:
    result = run(write_scenario(), trace="on")
    trace = result.run_dir / "trace.zip"
    assert "trace.zip" in result.evidence
    assert _snapshots(trace) > 0


def test_result_json_masks_inputs_and_lists_evidence(
    site: MockSite, run: Run, write_scenario: WriteScenario
) -> None:
    result = run(write_scenario(code="111112"))
    data = json.loads((result.run_dir / "result.json").read_text(encoding="utf-8"))
    assert data["inputs"] == {"mobile": "138****0001", "code": "******", "id_last6": "****11"}
    assert data["submissions"] == 1
    assert data["progress"] == "reply_received"
    for name in data["evidence"]:
        assert (result.run_dir / name).is_file(), name
    assert {"before-submit.png", "final.png", "run.log", "result.json", "trace.zip"} <= set(
        data["evidence"]
    )  # a failure keeps its trace by default
    # ... a light one: the actions and the network, no DOM snapshot at each step (--trace on).
    assert _snapshots(result.run_dir / "trace.zip") == 0
    text = (result.run_dir / "result.json").read_text(encoding="utf-8")
    assert "13800000001" not in text
    assert "111112" not in text
