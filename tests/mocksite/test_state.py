"""The mock's rules without HTTP: statuses, the 24 h window, the failure budget, resends, YAML."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.mocksite import DEMO_FILINGS, STATUS_TEXT, Filing, ManualClock, banner_text, load_filings
from bot.mocksite.state import SiteState, filing_from_dict

MOBILE, ID6, CODE = "13800000009", "12345X", "864209"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def make_state(clock: ManualClock, **kw: object) -> SiteState:
    state = SiteState(clock)
    state.load([Filing(MOBILE, ID6, CODE, **kw)])  # type: ignore[arg-type]
    return state


def test_banner_texts_are_the_sites_own_with_mixed_commas() -> None:
    assert STATUS_TEXT[3] == "您的短信核验已全部完成,该请求将提交管局审核。"
    assert STATUS_TEXT[20] == "您的短信核验已完成，无需重复提交。"
    assert STATUS_TEXT[102] == "重发次数已到上限，若不能及时完成短信核验，您的备案申请将会被退回。"


@pytest.mark.parametrize("status", [1, 5, 99, -1, 103])
def test_unknown_status_shows_status_0_text(status: int) -> None:
    assert banner_text(status) == "您的短信核验失败,请您重新验证。"


def test_correct_code_completes_then_repeats_answer_20(clock: ManualClock) -> None:
    state = make_state(clock)
    assert state.verify(MOBILE, ID6, CODE) == 3
    assert state.verify(MOBILE, ID6, CODE) == 20


def test_others_pending_answers_31(clock: ManualClock) -> None:
    assert make_state(clock, others_pending=True).verify(MOBILE, ID6, CODE) == 31


def test_unknown_mobile_answers_4_and_counts_nothing(clock: ManualClock) -> None:
    state = make_state(clock)
    assert state.verify("13800000000", ID6, CODE) == 4
    assert state.snapshot()[0].failures == 0


def test_id_check_character_x_matches_either_case(clock: ManualClock) -> None:
    assert make_state(clock).verify(MOBILE, ID6.lower(), CODE) == 3


@pytest.mark.parametrize(("id6", "code"), [(ID6, "000000"), ("999999", CODE)])
def test_wrong_code_or_id_answers_2_and_counts(clock: ManualClock, id6: str, code: str) -> None:
    state = make_state(clock)
    assert state.verify(MOBILE, id6, code) == 2
    assert state.snapshot()[0].failures == 1


def test_fifth_failure_returns_the_filing(clock: ManualClock) -> None:
    state = make_state(clock)
    assert [state.verify(MOBILE, ID6, "000000") for _ in range(5)] == [2] * 5
    assert state.snapshot()[0].returned
    assert state.verify(MOBILE, ID6, CODE) == 4
    assert state.resend(MOBILE, ID6) == 100


def test_four_failures_still_allow_the_right_code(clock: ManualClock) -> None:
    state = make_state(clock)
    for _ in range(4):
        state.verify(MOBILE, ID6, "000000")
    assert state.verify(MOBILE, ID6, CODE) == 3


def test_code_is_valid_for_24_hours(clock: ManualClock) -> None:
    state = make_state(clock)
    clock.advance(hours=24)
    assert state.verify(MOBILE, ID6, CODE) == 3


def test_after_24_hours_the_filing_is_returned(clock: ManualClock) -> None:
    state = make_state(clock)
    clock.advance(timedelta(hours=24, seconds=1))
    assert state.verify(MOBILE, ID6, CODE) == 4
    assert state.snapshot()[0].returned


def test_resend_twice_then_limit(clock: ManualClock) -> None:
    state = make_state(clock)
    assert [state.resend(MOBILE, ID6) for _ in range(3)] == [101, 101, 102]
    assert state.snapshot()[0].resends == 2


def test_resend_needs_mobile_and_id(clock: ManualClock) -> None:
    state = make_state(clock)
    assert state.resend(MOBILE, "000000") == 4
    assert state.resend("13800000000", ID6) == 4


def test_resend_after_verification_answers_100(clock: ManualClock) -> None:
    assert make_state(clock, verified=True).resend(MOBILE, ID6) == 100


def test_resend_keeps_code_and_does_not_extend_the_window(clock: ManualClock) -> None:
    state = make_state(clock)
    clock.advance(hours=23)
    assert state.resend(MOBILE, ID6) == 101
    clock.advance(hours=2)
    assert state.verify(MOBILE, ID6, CODE) == 4


def test_resend_after_expiry_answers_100(clock: ManualClock) -> None:
    state = make_state(clock)
    clock.advance(hours=25)
    assert state.resend(MOBILE, ID6) == 100


def test_load_sets_sent_at_to_now(clock: ManualClock) -> None:
    assert make_state(clock).snapshot()[0].sent_at == clock.now()


def test_yaml_keeps_codes_as_typed(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("- {mobile: 13800000001, id_last6: 012345, code: 012345}\n", encoding="utf-8")
    (filing,) = load_filings(path)
    assert (filing.mobile, filing.id_last6, filing.code) == ("13800000001", "012345", "012345")


def test_yaml_unknown_key_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text('- {mobile: "1", id_last6: "2", code: "3", pending: true}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"f\.yaml:1 .*unknown key\(s\) pending"):
        load_filings(path)


def test_dict_missing_key_is_an_error() -> None:
    with pytest.raises(ValueError, match="missing key"):
        filing_from_dict({"mobile": "13800000001", "code": "111111"})


def test_demo_filings_cover_the_demos() -> None:
    filings = load_filings(DEMO_FILINGS)
    assert len(filings) >= 4
    assert any(f.others_pending for f in filings)
    assert any(not f.others_pending and not f.verified for f in filings)
    assert all(f.mobile.startswith("138000000") for f in filings)
