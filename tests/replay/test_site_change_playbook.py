"""The site-change playbook of docs/ci-replay.md, end to end, on a redesign the mock serves
(variant ``el-tabs``: Element's el-tabs for the tab strip, panes and classes renamed):
the canary fails; a snapshot is taken; it is replayed; the selector map is edited (YAML only);
check-selectors on the replay passes; the replay tests pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.app import app
from bot.config.selector_map import find_selector_map
from bot.mocksite import Filing, MockSite
from bot.run.check_rows import EXIT_FALLBACKS, EXIT_OK
from bot.run.runner import SharedBrowser
from bot.testing.plugin import IcpbotRun
from bot.types import Category

cli = CliRunner()

#: the edit a maintainer makes: the new layout's selectors first, the old ones kept as fallbacks
EDITS = [
    (
        "      - css: div.tit h5\n        has_text: 短信核验\n"
        "      - role: tab                  # a redesign with Element's el-tabs\n"
        "        name: 短信核验\n",
        "      - role: tab\n        name: 短信核验\n"
        "      - css: div.tit h5\n        has_text: 短信核验\n",
    ),
    (
        "      - css: div.tit h5\n        has_text: 短信重发\n"
        "      - role: tab                  # a redesign with Element's el-tabs\n"
        "        name: 短信重发\n",
        "      - role: tab\n        name: 短信重发\n"
        "      - css: div.tit h5\n        has_text: 短信重发\n",
    ),
    (
        """      - css: 'div.tab-card:visible:has(input[placeholder*="验证码"])'\n""",
        """      - css: 'div.el-tab-pane:visible:has(input[placeholder*="验证码"])'\n"""
        """      - css: 'div.tab-card:visible:has(input[placeholder*="验证码"])'\n""",
    ),
    (
        """      - css: 'div.tab-card:visible:has(input[placeholder*="手机"])""",
        """      - css: 'div.el-tab-pane:visible:has(input[placeholder*="手机"]):not(:has(input"""
        """[placeholder*="验证码"]))'\n"""
        """      - css: 'div.tab-card:visible:has(input[placeholder*="手机"])""",
    ),
    ("      - css: div.tips\n", "      - css: div.result-tips\n      - css: div.tips\n"),
]


def _check(browser: SharedBrowser, url: str, *extra: str) -> tuple[int, dict[str, object]]:
    result = cli.invoke(
        app, ["check-selectors", "--base-url", url, "--timeout", "5", "--json", *extra], obj=browser
    )
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.icpbot_mock(variant="el-tabs")
def test_the_playbook_on_a_redesigned_page(
    icpbot_mock: MockSite, icpbot_browser: SharedBrowser, tmp_path: Path, icpbot_run: IcpbotRun
) -> None:
    # 1. The scheduled canary fails: the page changed (fallbacks carried it this time).
    code, report = _check(icpbot_browser, icpbot_mock.url)
    assert code == EXIT_FALLBACKS, report
    # 2. Take a snapshot of the changed page (nothing submitted).
    snap = tmp_path / "snapshot"
    taken = cli.invoke(
        app, ["snapshot", "--base-url", icpbot_mock.url, "--out", str(snap)], obj=icpbot_browser
    )
    assert taken.exit_code == 0, taken.stderr
    assert icpbot_mock.submissions() == []
    # 3. Replay it offline: the shipped map fails there exactly as on the site.
    with MockSite(test_mode=True, replay=snap) as replay:
        code, _ = _check(icpbot_browser, replay.url)
        assert code == EXIT_FALLBACKS
        # 4. Edit the selector map (YAML only): a copy here, selectors/miit.yaml in real life.
        text = find_selector_map("miit").read_text(encoding="utf-8")
        for old, new in EDITS:
            assert old in text, old
            text = text.replace(old, new, 1)
        edited = tmp_path / "miit.yaml"
        edited.write_text(text, encoding="utf-8")
        assert cli.invoke(app, ["validate", str(edited)]).exit_code == 0
        # 5. check-selectors on the replay passes with the edited map.
        code, report = _check(icpbot_browser, replay.url, "--selectors", str(edited))
        assert code == EXIT_OK, [e for e in report["elements"] if e["status"] != "first"]
        # 6. The replay tests pass with it: a verify and a resend get the mock's answers.
        replay.load_filings([Filing("13800000001", "100011", "111111")])
        inputs = {"mobile": "13800000001", "code": "111111", "id_last6": "100011"}
        verify = icpbot_run(
            {"name": "v", "action": "verify", "captcha": "none", "inputs": inputs},
            base_url=replay.url,
            selectors=edited,
        )
        assert verify.outcome.category is Category.success
        assert "el-tab-pane" in verify.selectors_matched["verify_card"]
        del inputs["code"]
        resend = icpbot_run(
            {"name": "r", "action": "resend", "captcha": "none", "inputs": inputs},
            base_url=replay.url,
            selectors=edited,
        )
        assert resend.outcome.site_status in (100, 101)
        assert [s["endpoint"] for s in replay.submissions()] == ["verify", "resend"]
