"""classify_reply: validStatus first, banner text second, both kept when they disagree."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.selector_map import SelectorMap, load_selector_map
from bot.outcome import verdicts
from bot.outcome.classify import classify_reply
from bot.outcome.model import Outcome, most_severe
from bot.types import BATCH_PRECEDENCE, Action, Category

SHIPPED = Path(__file__).resolve().parent.parent / "selectors" / "miit.yaml"

# (action, validStatus, category, status name): every status of the reference.
EXPECTED = [
    (Action.verify, 3, Category.success, "verified_all"),
    (Action.verify, 31, Category.success, "verified_partial"),
    (Action.verify, 20, Category.success, "already_verified"),
    (Action.verify, 2, Category.wrong_info, "wrong_info"),
    (Action.verify, 4, Category.no_record, "no_record"),
    (Action.resend, 4, Category.no_record, "no_record"),
    (Action.verify, 21, Category.failed, "failed_ask_provider"),
    (Action.verify, 0, Category.failed, "failed_retry"),
    (Action.resend, 100, Category.no_record, "nothing_pending"),
    (Action.resend, 101, Category.success, "resent"),
    (Action.resend, 102, Category.failed, "resend_limit"),
]
WRONG_INFO = "您的短信核验失败,请输入正确的信息。"
VERIFIED = "您的短信核验已全部完成,该请求将提交管局审核。"


@pytest.fixture(scope="module")
def smap() -> SelectorMap:
    return load_selector_map(SHIPPED)


def banner_of(smap: SelectorMap, action: Action, status: int) -> str:
    entry = smap.status_entry(action, status)
    assert entry is not None
    return entry.banner


@pytest.mark.parametrize(("action", "status", "category", "name"), EXPECTED)
def test_every_status(
    smap: SelectorMap, action: Action, status: int, category: Category, name: str
) -> None:
    banner = banner_of(smap, action, status)
    out = classify_reply(smap, action, status, banner, valid_flag=category is Category.success)
    assert (out.category, out.status, out.site_status) == (category, name, status)
    assert out.banner_zh == banner
    assert out.expected_banner_zh == banner
    assert out.submitted == "yes"
    assert out.message
    assert out.next_step
    assert "banner_mismatch" not in out.details
    assert "valid_flag_mismatch" not in out.details
    assert out.details["classified_by"] == "status"


@pytest.mark.parametrize(("action", "status", "category", "name"), EXPECTED)
def test_every_banner_alone(
    smap: SelectorMap, action: Action, status: int, category: Category, name: str
) -> None:
    banner = "尊敬的ICP用户：" + banner_of(smap, action, status)
    out = classify_reply(smap, action, None, banner)
    assert (out.category, out.status, out.site_status) == (category, name, None)
    assert out.details["classified_by"] == "banner"
    assert out.details["inferred_status"] == status
    assert out.submitted == "yes"


def test_status_without_banner(smap: SelectorMap) -> None:
    out = classify_reply(smap, Action.verify, 2, None)
    assert out.category is Category.wrong_info
    assert out.banner_zh is None
    assert out.expected_banner_zh == WRONG_INFO
    assert out.exit_code == 10


def test_api_status_wins_over_a_disagreeing_banner(smap: SelectorMap) -> None:
    out = classify_reply(smap, Action.verify, 3, WRONG_INFO, valid_flag=True)
    assert out.category is Category.success
    assert out.status == "verified_all"
    assert out.banner_zh == WRONG_INFO
    assert out.expected_banner_zh == VERIFIED
    assert out.details["banner_mismatch"] is True
    assert out.details["banner_says"] == "wrong_info"
    assert out.details["valid_flag"] is True


def test_banner_mismatch_with_unknown_text(smap: SelectorMap) -> None:
    out = classify_reply(smap, Action.verify, 2, "系统繁忙")
    assert out.category is Category.wrong_info
    assert out.details["banner_mismatch"] is True
    assert out.details["banner_says"] is None


def test_whitespace_and_prefix_are_not_a_mismatch(smap: SelectorMap) -> None:
    out = classify_reply(smap, Action.verify, 3, f"尊敬的ICP用户：\n  {VERIFIED} ")
    assert "banner_mismatch" not in out.details


def test_unknown_status(smap: SelectorMap) -> None:
    shown = banner_of(smap, Action.verify, 0)  # the page shows status 0's text for it
    out = classify_reply(smap, Action.verify, 77, shown)
    assert out.category is Category.failed
    assert out.status == "unknown_status"
    assert out.site_status == 77
    assert "77" in out.message
    assert shown in out.message
    assert out.banner_zh == shown
    assert out.expected_banner_zh == shown
    assert out.details["banner_says"] == "failed_retry"
    assert out.submitted == "yes"


def test_status_of_the_other_form(smap: SelectorMap) -> None:
    out = classify_reply(smap, Action.resend, 0, None)
    assert out.status == "failed_retry"
    assert out.details["action_mismatch"] is True


def test_valid_flag_disagreeing_is_recorded(smap: SelectorMap) -> None:
    out = classify_reply(smap, Action.verify, 2, WRONG_INFO, valid_flag=True)
    assert out.category is Category.wrong_info
    assert out.details["valid_flag_mismatch"] is True


def test_unrecognised_banner_alone(smap: SelectorMap) -> None:
    out = classify_reply(smap, Action.verify, None, "系统繁忙，请稍后再试")
    assert out.category is Category.unknown
    assert out.status == "unrecognised_banner"
    assert out.banner_zh == "系统繁忙，请稍后再试"
    assert out.submitted == "yes"


@pytest.mark.parametrize("banner", [None, "", "  \n"])
def test_neither_status_nor_banner(smap: SelectorMap, banner: str | None) -> None:
    out = classify_reply(smap, Action.verify, None, banner)
    assert out.category is Category.unknown
    assert out.submitted == "yes"
    assert out.exit_code == 23
    assert out.banner_zh is None


def test_outcome_round_trips_as_json(smap: SelectorMap) -> None:
    out = classify_reply(smap, Action.verify, 3, WRONG_INFO, valid_flag=True)
    assert Outcome.model_validate_json(out.model_dump_json()) == out


def test_most_severe() -> None:
    assert most_severe([]) is Category.success
    # A failure that spent (or may have spent) the budget is never hidden by a milder one.
    assert most_severe([Category.success, Category.wrong_info, Category.no_record]) is (
        Category.wrong_info
    )
    assert most_severe([Category.unknown, Category.selector_error]) is Category.unknown
    assert most_severe([Category.failed, Category.unknown]) is Category.unknown
    assert most_severe([Category.wrong_info, Category.refused]) is Category.wrong_info
    assert most_severe([Category.no_record, Category.invalid_input]) is Category.no_record
    assert most_severe([Category.stopped, Category.success]) is Category.stopped
    assert most_severe([Category.stopped, Category.site_error]) is Category.site_error


def test_every_category_has_a_place_in_the_batch_order() -> None:
    assert sorted(BATCH_PRECEDENCE) == sorted(Category)
    assert len(set(BATCH_PRECEDENCE)) == len(BATCH_PRECEDENCE)
    assert len({c.exit_code for c in Category}) == len(Category)  # no two share a code


@pytest.mark.parametrize(
    ("sent", "category", "submitted", "said"),
    [
        (False, Category.stopped, "no", "Nothing was sent."),
        (True, Category.unknown, "maybe", "The submission may have been sent."),
    ],
)
def test_an_interruption_says_what_it_files(
    sent: bool, category: Category, submitted: str, said: str
) -> None:
    out = verdicts.interrupted("page_loaded", sent)
    assert (out.category, out.submitted) == (category, submitted)
    assert out.message == f"Interrupted by the operator (Ctrl-C) while filling the form. {said}"
    assert "page_loaded" not in out.message + out.next_step
