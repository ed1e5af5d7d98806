"""The attempt ledger and the submission guard, against a ledger in a temporary folder."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.errors import ConfigError
from bot.privacy import mask_mobile
from bot.safety.budget import GuardDecision, check_submission
from bot.safety.ledger import SCHEMA_VERSION, Ledger, default_state_dir
from bot.types import Category

MOBILE = "13912345678"
ID6 = "30721X"  # the X is not a hex digit, so it cannot appear in a hash by chance
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def ledger(state: Path) -> Iterator[Ledger]:
    with Ledger(state) as led:
        yield led


@pytest.fixture
def person(ledger: Ledger) -> str:
    return ledger.person_key(MOBILE, ID6)


def attempt(ledger: Ledger, person: str, outcome: str | None, action: str = "verify") -> int:
    """One attempt; ``outcome=None`` leaves it pending, as a crash would."""
    attempt_id = ledger.begin(
        person, action, scenario="demo", run_id="run-1", mobile_masked=mask_mobile(MOBILE)
    )
    if outcome is not None:
        ledger.finish(attempt_id, outcome, site_status=2)
    return attempt_id


def verify(
    ledger: Ledger,
    person: str,
    *,
    allow_risky: bool = False,
    sms_received_at: datetime | None = None,
) -> GuardDecision:
    return check_submission(
        ledger, person, "verify", allow_risky=allow_risky, sms_received_at=sms_received_at, now=NOW
    )


# -- storage, keys, privacy -----------------------------------------------------------------


def test_state_dir_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ICPBOT_STATE_DIR", str(tmp_path / "a"))
    assert default_state_dir() == tmp_path / "a"
    monkeypatch.delenv("ICPBOT_STATE_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_state_dir() == tmp_path / "xdg" / "icpbot"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_state_dir() == tmp_path / "home" / ".local" / "state" / "icpbot"


def test_file_modes(ledger: Ledger, state: Path) -> None:
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "salt").stat().st_mode) == 0o600
    assert stat.S_IMODE(ledger.path.stat().st_mode) == 0o600
    assert ledger.path.parent == state.resolve()


def test_key_is_salted_per_state_dir(tmp_path: Path) -> None:
    with Ledger(tmp_path / "one") as a, Ledger(tmp_path / "two") as b:
        key = a.person_key(MOBILE, ID6)
        assert key != b.person_key(MOBILE, ID6)
        assert key == a.person_key(f" {MOBILE} ", ID6.lower())  # x and X share one budget
        assert key != a.person_key(MOBILE, "307210")
        assert MOBILE not in key
        assert ID6 not in key
        assert len(key) == 64


def test_no_personal_value_on_disk(ledger: Ledger, person: str, state: Path) -> None:
    attempt(ledger, person, Category.wrong_info)
    attempt(ledger, person, None)
    ledger.reset(person, reason="new SMS")
    ledger.close()
    files = [p for p in state.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"salt", "ledger.sqlite3"}
    needles = [MOBILE, ID6, ID6.lower(), MOBILE[3:]]
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            assert needle.encode() not in data, f"{needle} found in {path.name}"
    with Ledger(state) as again:
        assert again.entries()[0].mobile_masked == "139****5678"


def test_schema_version_and_newer_schema_refused(ledger: Ledger) -> None:
    ledger.close()
    with sqlite3.connect(ledger.path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(ConfigError, match="newer"):
        Ledger(ledger.state_dir)


def test_damaged_salt_is_an_error(state: Path) -> None:
    Ledger(state).close()
    (state / "salt").write_bytes(b"short")
    with pytest.raises(ConfigError, match="salt"):
        Ledger(state)


def test_bad_action_and_outcome_rejected(ledger: Ledger, person: str) -> None:
    with pytest.raises(ValueError, match="action"):
        ledger.begin(person, "submit", scenario="s", run_id="r", mobile_masked="")
    attempt_id = attempt(ledger, person, None)
    with pytest.raises(ValueError, match="outcome"):
        ledger.finish(attempt_id, "pending")
    with pytest.raises(ValueError, match="no attempt"):
        ledger.finish(attempt_id + 1, "success")


# -- failure budget -------------------------------------------------------------------------


def test_budget_sequence(ledger: Ledger, person: str) -> None:
    decision = verify(ledger, person)
    assert (decision.allowed, decision.failures, decision.warnings) == (True, 0, ())

    for expected in (1, 2):
        attempt(ledger, person, Category.wrong_info)
        decision = verify(ledger, person)
        assert decision.allowed
        assert decision.failures == expected
        assert f"{expected} failed" in decision.warnings[0]
        assert "about 5" in decision.warnings[0]

    attempt(ledger, person, Category.unknown)  # may have failed: counts like one
    decision = verify(ledger, person)
    assert not decision.allowed
    assert decision.failures == 3
    assert "--allow-risky-attempt" in decision.next_step

    decision = verify(ledger, person, allow_risky=True)
    assert decision.allowed
    assert decision.failures == 3
    assert decision.warnings[0].startswith("RISKY")

    attempt(ledger, person, Category.unknown)
    for risky in (False, True):
        decision = verify(ledger, person, allow_risky=risky)
        assert not decision.allowed
        assert decision.failures == 4
        assert "could return the whole filing" in decision.reason
        assert "icpbot ledger reset" in decision.next_step


def test_budget_is_per_person(ledger: Ledger, person: str) -> None:
    for _ in range(4):
        attempt(ledger, person, Category.wrong_info)
    other = ledger.person_key("13800000000", "123456")
    assert verify(ledger, other).allowed


def test_success_resets_count(ledger: Ledger, person: str) -> None:
    for _ in range(3):
        attempt(ledger, person, Category.wrong_info)
    attempt(ledger, person, Category.success)
    assert ledger.failures_since_success(person) == 0
    attempt(ledger, person, Category.wrong_info)
    assert ledger.failures_since_success(person) == 1
    # A resend success is not a verification: the count stands.
    attempt(ledger, person, Category.success, action="resend")
    assert ledger.failures_since_success(person) == 1


def test_reset_marker_keeps_history(ledger: Ledger, person: str) -> None:
    for _ in range(4):
        attempt(ledger, person, Category.wrong_info)
    other = ledger.person_key("13800000000", "123456")
    attempt(ledger, other, Category.wrong_info)

    assert ledger.reset(person, reason="new SMS") == 1
    assert ledger.failures_since_success(person) == 0
    assert ledger.failures_since_success(other) == 1
    assert len(ledger.entries(person)) == 4
    assert not any(e.counted for e in ledger.entries(person))
    assert ledger.resets(person)[0].reason == "new SMS"

    attempt(ledger, person, Category.wrong_info)
    assert ledger.failures_since_success(person) == 1

    assert ledger.reset(reason="all") == 2
    assert ledger.failures_since_success(person) == ledger.failures_since_success(other) == 0
    assert len(ledger.entries()) == 6
    assert ledger.reset(ledger.person_key("13700000000", "000000")) == 0


def test_pending_counts_also_after_crash(ledger: Ledger, person: str, state: Path) -> None:
    attempt(ledger, person, None)
    assert ledger.failures_since_success(person) == 1
    attempt(ledger, person, Category.wrong_info)
    attempt(ledger, person, None)
    ledger.close()  # the process died with two submissions unfinished

    with Ledger(state) as reopened:
        assert reopened.failures_since_success(person) == 3
        decision = verify(reopened, person)
        assert not decision.allowed
        assert "2 of them unfinished" in decision.reason
        assert reopened.entries(person)[0].outcome == "pending"
        assert reopened.entries(person)[0].finished_at is None


@pytest.mark.parametrize(
    "outcome",
    [
        Category.site_error,
        Category.captcha_required,
        Category.refused,
        Category.selector_error,
        Category.invalid_input,
        Category.no_record,  # nothing was pending, so there was no budget to spend
        Category.failed,  # statuses 21 and 0: not in the definition of a failure
    ],
)
def test_outcomes_the_site_did_not_judge_do_not_count(
    ledger: Ledger, person: str, outcome: Category
) -> None:
    for _ in range(5):
        attempt(ledger, person, outcome)
    assert ledger.failures_since_success(person) == 0
    assert verify(ledger, person).allowed


def test_entries_newest_first_and_masked(ledger: Ledger, person: str) -> None:
    first = attempt(ledger, person, Category.wrong_info)
    second = attempt(ledger, person, Category.site_error)
    entries = ledger.entries()
    assert [e.id for e in entries] == [second, first]
    assert entries[0].site_status == 2
    assert entries[0].started_at.tzinfo is not None
    assert [e.counted for e in entries] == [False, True]
    assert {e.mobile_masked for e in entries} == {"139****5678"}


# -- resend ---------------------------------------------------------------------------------


def test_resend_warnings(ledger: Ledger, person: str) -> None:
    def resend() -> GuardDecision:
        return check_submission(ledger, person, "resend", now=NOW)

    assert resend().warnings == ()
    attempt(ledger, person, Category.success, action="resend")
    attempt(ledger, person, Category.site_error, action="resend")  # not sent: does not count
    assert resend().warnings == ()
    attempt(ledger, person, Category.success, action="resend")
    decision = resend()
    assert decision.allowed
    assert "102" in decision.warnings[0]
    ledger.reset(person)
    assert resend().warnings == ()


def test_resend_not_refused_by_failure_budget(ledger: Ledger, person: str) -> None:
    for _ in range(5):
        attempt(ledger, person, Category.wrong_info)
    decision = check_submission(ledger, person, "resend", now=NOW)
    assert decision.allowed
    assert decision.failures == 5


# -- code age -------------------------------------------------------------------------------


def test_code_expired_refuses_verify(ledger: Ledger, person: str) -> None:
    decision = verify(ledger, person, sms_received_at=NOW - timedelta(hours=24, minutes=1))
    assert not decision.allowed
    assert "expired 24 h after the SMS" in decision.reason
    assert "hosting provider" in decision.next_step


def test_code_expired_only_warns_for_resend(ledger: Ledger, person: str) -> None:
    decision = check_submission(
        ledger, person, "resend", sms_received_at=NOW - timedelta(hours=30), now=NOW
    )
    assert decision.allowed
    assert "more than 24 h" in decision.warnings[0]


def test_code_about_to_expire_warns(ledger: Ledger, person: str) -> None:
    decision = verify(ledger, person, sms_received_at=NOW - timedelta(hours=21, minutes=30))
    assert decision.allowed
    assert "2 h 30 min left" in decision.warnings[0]
    assert verify(ledger, person, sms_received_at=NOW - timedelta(hours=19)).warnings == ()


def test_sms_time_in_future_warns(ledger: Ledger, person: str) -> None:
    decision = verify(ledger, person, sms_received_at=NOW + timedelta(hours=2))
    assert decision.allowed
    assert "future" in decision.warnings[0]
    assert verify(ledger, person, sms_received_at=NOW + timedelta(minutes=4)).warnings == ()


def test_sms_time_in_other_zone(ledger: Ledger, person: str) -> None:
    beijing = NOW.astimezone(ZoneInfo("Asia/Shanghai"))
    assert verify(ledger, person, sms_received_at=beijing - timedelta(hours=1)).warnings == ()


def test_naive_sms_time_warns_without_refusing(ledger: Ledger, person: str) -> None:
    decision = verify(ledger, person, sms_received_at=datetime(2024, 4, 1))
    assert decision.allowed
    assert "no time zone" in decision.warnings[0]


def test_unknown_action_refused_without_raising(ledger: Ledger, person: str) -> None:
    assert not check_submission(ledger, person, "submit", now=NOW).allowed


# -- concurrency ----------------------------------------------------------------------------


def test_second_ledger_on_same_dir(ledger: Ledger, person: str, state: Path) -> None:
    with Ledger(state) as second:
        assert second.person_key(MOBILE, ID6) == person  # the salt is shared
        running = attempt(ledger, person, None)  # one process is mid-run...
        assert second.failures_since_success(person) == 1  # ...the other sees it at once
        attempt(second, person, Category.wrong_info)
        ledger.finish(running, Category.wrong_info)
        assert ledger.failures_since_success(person) == 2
        assert second.failures_since_success(person) == 2
