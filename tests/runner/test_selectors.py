"""Selector fallbacks on mock layout variants; a variant that defeats every candidate stops the
run before anything is sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.selector_map import find_selector_map
from bot.mocksite import Filing, MockSite
from bot.types import Category

from .conftest import Run, WriteScenario


@pytest.mark.parametrize("variant", ["placeholder-fixed", "renamed-classes"])
@pytest.mark.parametrize("action", ["verify", "resend"])
def test_redesigns_are_absorbed_by_the_fallbacks(
    site: MockSite, run: Run, write_scenario: WriteScenario, variant: str, action: str
) -> None:
    site.set_variant(variant)
    site.load_filings([Filing("13800000001", "100011", "111111")])
    result = run(write_scenario(action, code="111111" if action == "verify" else None))
    assert result.outcome.category is Category.success
    assert result.outcome.site_status == (3 if action == "verify" else 101)
    assert len(site.submissions()) == 1
    if variant == "placeholder-fixed" and action == "verify":
        assert result.selectors_matched["verify_code"] == 'placeholder="请输入短信验证码"'
    if variant == "renamed-classes":
        assert "div.tips" not in result.selectors_matched["result_banner"]


def test_a_page_that_defeats_every_candidate_is_a_selector_error(
    site: MockSite, run: Run, write_scenario: WriteScenario
) -> None:
    site.set_variant("hostile")
    result = run(write_scenario(), timeout_s=3.0)
    assert result.outcome.category is Category.selector_error
    assert result.exit_code == 25
    assert result.outcome.details["element"] == "verify_tab"
    tried = result.outcome.details["tried"]
    assert len(tried) >= 3
    assert all(t["result"] == "0 visible" for t in tried)
    assert site.submissions() == []
    assert (result.run_dir / "final.png").is_file()


def test_selector_map_file_option(
    site: MockSite, run: Run, write_scenario: WriteScenario, tmp_path: Path
) -> None:
    text = find_selector_map("miit").read_text(encoding="utf-8")
    # The map edited for the hostile redesign: the one-file fix the README describes.
    for old, new in [
        ("has_text: 短信核验", "has_text: 短信验证"),
        ("has_text: 短信重发", "has_text: 重新发送"),
        ('placeholder*=\\"验证码\\"', 'placeholder*=\\"SMS\\"'),
        ('placeholder*="验证码"', 'placeholder*="SMS"'),
        ('placeholder*="手机"', 'placeholder*="Mobile"'),
        ("- placeholder: 请输短信验证码", "- placeholder: SMS code"),
        ("- placeholder: 请输入手机号 ", "- placeholder: Mobile "),
        ("- placeholder: 请输入证件号码后6位", "- placeholder: ID last 6"),
        ("name: 提交", "name: 确定"),
    ]:
        text = text.replace(old, new)
    edited = tmp_path / "edited.yaml"
    edited.write_text(text, encoding="utf-8")
    site.set_variant("hostile")
    site.load_filings([Filing("13800000001", "100011", "111111")])
    result = run(write_scenario(), selectors=edited)
    assert result.outcome.site_status == 3, result.outcome
