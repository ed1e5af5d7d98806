"""Scenario runs written only against the plugin's fixtures, so that the same tests run on the
built-in mock (default) or, with ``--icpbot-site URL``, on a replay of a recorded page served by
``icpbot mock --replay DIR --test-mode`` (the CI recipe's second step)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.testing.plugin import IcpbotRun
from bot.types import Category

PERSON = {"mobile": "13800000001", "id_last6": "100011"}
FILING = {**PERSON, "code": "111111"}


def _scenario(action: str, **inputs: str) -> dict[str, Any]:
    return {"name": action, "action": action, "captcha": "none", "inputs": {**PERSON, **inputs}}


@pytest.mark.icpbot_mock(filings=[FILING])
def test_the_right_code_verifies(icpbot_mock: Any, icpbot_run: IcpbotRun) -> None:
    result = icpbot_run(_scenario("verify", code="111111"))
    assert result.outcome.category is Category.success
    assert result.outcome.site_status == 3
    assert [s["endpoint"] for s in icpbot_mock.submissions()] == ["verify"]


@pytest.mark.icpbot_mock(filings=[FILING])
def test_a_wrong_code_is_wrong_info(icpbot_run: IcpbotRun) -> None:
    result = icpbot_run(_scenario("verify", code="222222"))
    assert result.outcome.category is Category.wrong_info


@pytest.mark.icpbot_mock(filings=[FILING])
def test_a_resend_is_sent(icpbot_run: IcpbotRun) -> None:
    assert icpbot_run(_scenario("resend")).outcome.site_status == 101


@pytest.mark.icpbot_mock(filings=[FILING], faults=["verify=http500"])
def test_a_server_error_is_a_site_error_and_one_submission(
    icpbot_mock: Any, icpbot_run: IcpbotRun
) -> None:
    assert icpbot_run(_scenario("verify", code="111111")).outcome.category is Category.site_error
    assert len(icpbot_mock.submissions()) == 1
