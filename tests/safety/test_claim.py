"""The claim, on both back ends (SQLite and PostgreSQL): one run per person at a time, budget
check and attempt record in one step, code memory, interrupted attempts. Races use real
processes (``racer.py``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.safety.guard import Claim, claim
from bot.safety.store import LedgerStore
from bot.types import Category

from .conftest import Backend

MOBILE, ID6 = "13912345678", "30721X"  # the racer's person
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
RACER = Path(__file__).with_name("racer.py")


def take(
    store: LedgerStore,
    code: str | None = "111111",
    *,
    action: str = "verify",
    risky: bool = False,
    confirm: bool = False,
) -> Claim:
    return claim(
        store,
        store.person_key(MOBILE, ID6),
        action,
        scenario="s",
        run_id=f"run-{len(store.entries()) + 1}",
        mobile_masked="139****5678",
        code=code,
        allow_risky=risky,
        confirm_resubmit=confirm,
        now=NOW,
    )


def spend(store: LedgerStore, code: str, category: Category = Category.wrong_info) -> None:
    got = take(store, code)
    assert got.granted, got.refusal
    got.mark_sending()
    got.finish(category, 2 if category is Category.wrong_info else 3)


# -- one run per person ---------------------------------------------------------------------


def test_second_claim_refused_while_the_first_runs(backend: Backend, store: LedgerStore) -> None:
    first = take(store, "111111")
    assert first.granted
    with backend.open() as other:  # another process's connection
        second = take(other, "222222")
        assert not second.granted
        assert second.refusal is not None
        assert second.refusal.category is Category.refused
        assert second.refusal.exit_code == 24
        assert second.refusal.status == "in_flight"
        assert "run-1," in second.refusal.message
        assert "139****5678" in second.refusal.message
        assert "since" in second.refusal.message
        assert MOBILE not in second.refusal.message
        [entry] = other.entries()
        assert (entry.state, entry.counted) == ("in_flight", False)
        # Another person is not held up.
        other_person = claim(
            other,
            other.person_key("13800000000", "123456"),
            "verify",
            scenario="s",
            run_id="r",
            mobile_masked="138****0000",
            code="333333",
        )
        assert other_person.granted
        other_person.finish(Category.site_error)
    first.finish(Category.site_error)
    again = take(store, "444444")
    assert again.granted
    again.finish(Category.site_error)


def test_a_claim_that_never_clicked_does_not_count(store: LedgerStore) -> None:
    for code in ("111111", "222222", "333333", "444444", "555555"):
        got = take(store, code)
        assert got.granted
        got.finish(Category.captcha_required if code < "3" else Category.wrong_info)
    person = store.person_key(MOBILE, ID6)
    assert store.failures_since_success(person) == 0
    assert all(not e.sent and not e.counted for e in store.entries())
    # Not sent, so the site never judged these codes either.
    assert take(store, "333333").granted


def test_sending_counts_until_finished(store: LedgerStore) -> None:
    person = store.person_key(MOBILE, ID6)
    got = take(store)
    assert store.failures_since_success(person) == 0
    got.mark_sending()
    assert store.failures_since_success(person) == 1
    assert store.pending_since_success(person) == 1
    got.finish(Category.success, 3)
    assert store.failures_since_success(person) == 0


def test_budget_refusal_and_risky(store: LedgerStore) -> None:
    for code in ("100001", "100002", "100003"):
        spend(store, code)
    refused = take(store, "100004")
    assert refused.refusal is not None
    assert (refused.refusal.status, refused.refusal.details) == (
        "refused",
        {"failures_recorded": 3},
    )
    risky = take(store, "100004", risky=True)
    assert risky.granted
    assert risky.warnings[0].startswith("RISKY")
    risky.mark_sending()
    risky.finish(Category.wrong_info, 2)
    assert take(store, "100005", risky=True).refusal is not None
    # A refused claim recorded nothing and holds no lock.
    assert len(store.entries()) == 4
    assert not store.person_locked(store.person_key(MOBILE, ID6))


# -- code memory ----------------------------------------------------------------------------


def test_rejected_code_is_refused_before_anything(store: LedgerStore) -> None:
    spend(store, "123456")
    again = take(store, "123456", risky=True)
    assert again.refusal is not None
    assert (again.refusal.category, again.refusal.status) == (Category.refused, "code_rejected")
    assert "right code from the customer" in again.refusal.next_step
    assert "resend" in again.refusal.next_step
    assert "123456" not in again.refusal.message
    # A reset (after a new SMS) does not make the old wrong code right.
    store.reset(store.person_key(MOBILE, ID6), reason="new SMS")
    assert take(store, "123456").refusal is not None
    # Another code is judged by the budget as usual; another person may use the same digits.
    assert take(store, "654321").granted


def test_accepted_code_says_done(store: LedgerStore) -> None:
    spend(store, "222222", Category.success)
    again = take(store, "222222")
    assert again.refusal is not None
    assert (again.refusal.category, again.refusal.status) == (Category.success, "already_verified")
    assert again.refusal.submitted == "no"
    assert again.refusal.exit_code == 0
    assert len(store.entries()) == 1


def test_a_code_sent_without_a_verdict_goes_again_only_when_the_operator_confirms(
    store: LedgerStore,
) -> None:
    spend(store, "333333", Category.unknown)  # sent; the reply never came
    again = take(store, "333333", risky=True)
    assert again.refusal is not None
    assert (again.refusal.category, again.refusal.status) == (Category.refused, "code_unanswered")
    assert "may have reached the site" in again.refusal.message
    assert "outcome unknown" in again.refusal.message
    assert "Check the filing's status" in again.refusal.next_step
    assert "--confirm-resubmit" in again.refusal.next_step
    assert "333333" not in again.refusal.message + again.refusal.next_step
    assert again.refusal.details["unanswered_before"]["run_id"] == "run-1"
    other = take(store, "444444")  # another code: the budget decides as usual
    assert other.granted
    other.finish(Category.stopped)
    confirmed = take(store, "333333", confirm=True)
    assert confirmed.granted
    assert "the operator confirmed it" in confirmed.warnings[0]
    confirmed.mark_sending()
    confirmed.finish(Category.wrong_info, 2)
    # The verdict is known now: the code is refused as rejected, confirmation or not.
    refused = take(store, "333333", confirm=True)
    assert refused.refusal is not None
    assert refused.refusal.status == "code_rejected"


def test_a_code_whose_run_died_after_its_release_needs_confirmation(store: LedgerStore) -> None:
    first = take(store, "555555")
    first.mark_sending()
    first.release()  # the process died: the attempt stays pending
    again = take(store, "555555")
    assert again.refusal is not None
    assert again.refusal.status == "code_unanswered"
    assert "cut short after the submission left" in again.refusal.message


def test_a_mark_for_a_request_held_back_is_taken_back(store: LedgerStore) -> None:
    """The gate released the request, then the run ended before it left (its close came in
    between): the run knows it never left, and says so at its finish."""
    person = store.person_key(MOBILE, ID6)
    got = take(store, "666666")
    got.mark_sending()
    assert store.failures_since_success(person) == 1
    got.finish(Category.stopped, sent=False)
    [entry] = store.entries()
    assert (entry.outcome, entry.sent, entry.counted) == ("stopped", False, False)
    assert store.failures_since_success(person) == 0
    assert take(store, "666666").granted  # never sent: no memory of the code


def test_code_hashes_hold_no_code(backend: Backend, store: LedgerStore) -> None:
    spend(store, "987650")
    person = store.person_key(MOBILE, ID6)
    assert store.code_hash(person, "987650") != store.code_hash(
        store.person_key("13800000000", "123456"), "987650"
    )
    rows, _ = store.dump()
    assert "987650" not in repr(rows)
    assert MOBILE not in repr(rows)


# -- processes ------------------------------------------------------------------------------


def _racer(backend: Backend, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(RACER), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **backend.env},
        cwd=Path(__file__).parents[2],
    )


def _line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    return proc.stdout.readline().strip()


def _go(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        assert _line(proc) == "ready"
    for proc in procs:  # all set up: release them together
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()


def test_processes_racing_for_one_person_exactly_one_wins(backend: Backend) -> None:
    procs = [_racer(backend, "hold", f"{n}00000", str(n)) for n in range(1, 6)]
    _go(procs)
    results = [json.loads(_line(p)) for p in procs]
    winners = [n for n, r in enumerate(results) if r["granted"]]
    assert len(winners) == 1, results
    assert {r["status"] for r in results if not r["granted"]} == {"in_flight"}
    for proc in procs:
        proc.communicate("finish wrong_info\n", timeout=60)
        assert proc.returncode == 0
    with backend.open() as store:
        [entry] = store.entries()
        assert (entry.outcome, entry.counted, entry.run_id) == (
            "wrong_info",
            True,
            f"run-{winners[0] + 1}",
        )


def test_processes_racing_never_exceed_the_budget(backend: Backend) -> None:
    """Every process spends as long as the guard lets it, with --allow-risky-attempt: the
    ledger ends with exactly 4 sent failures (3, then one risky), whoever won each round."""
    procs = [_racer(backend, "spend", f"{n}{n}{n}") for n in range(1, 5)]
    _go(procs)
    reports = [json.loads(_line(p)) for p in procs]
    for proc in procs:
        proc.communicate(timeout=120)
        assert proc.returncode == 0
    assert sum(r["wins"] for r in reports) == 4, reports
    assert {r["last"] for r in reports} == {"refused"}
    with backend.open() as store:
        person = store.person_key(MOBILE, ID6)
        assert store.failures_since_success(person) == 4
        assert sum(e.sent for e in store.entries()) == 4


def _wait_unlocked(store: LedgerStore, person: str) -> None:
    """The lock goes when the server or the kernel notices the death: wait for that event."""
    deadline = time.monotonic() + 30
    while store.person_locked(person):
        assert time.monotonic() < deadline, "the dead run's lock was never freed"
        time.sleep(0.05)


def test_a_killed_run_counts_and_frees_the_person(backend: Backend) -> None:
    proc = _racer(backend, "send", "765432")
    assert _line(proc) == "sending"
    with backend.open() as store:
        person = store.person_key(MOBILE, ID6)
        assert store.person_locked(person)
        [entry] = store.entries()
        assert entry.state == "in_flight"
        os.kill(proc.pid, signal.SIGKILL)  # power loss, kill -9: no cleanup runs
        proc.communicate(timeout=30)
        _wait_unlocked(store, person)
        [entry] = store.entries()
        assert (entry.state, entry.outcome, entry.counted) == ("interrupted", "pending", True)
        assert store.failures_since_success(person) == 1
        nxt = take(store, "111111")
        assert nxt.granted, nxt.refusal
        assert "1 of them unfinished" in nxt.warnings[0]
        nxt.release()
        states = sorted(e.state for e in store.entries())
        assert states == ["abandoned", "interrupted"]  # released before its click: not counted
        assert store.failures_since_success(person) == 1
