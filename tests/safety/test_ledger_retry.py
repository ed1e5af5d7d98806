"""What is tried again after a transient database error, and what is not: the retry rules
(:mod:`bot.safety.retry`) on plain work, and SQLite's busy file waited out by a claim while
another connection holds the write lock (real threads, a real file lock)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from loguru import logger

from bot.safety.guard import Claim, claim
from bot.safety.ledger import Ledger
from bot.safety.retry import CommitUnknown, retrying
from bot.types import Category


class Dropped(Exception):
    """Stands for a lost connection: the only error these tests call transient."""


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, Dropped)


def _flaky(
    failures: list[BaseException], result: str = "done"
) -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def work() -> str:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return result

    return calls, work


def test_transient_failures_are_tried_again_until_the_work_goes_through() -> None:
    calls, work = _flaky([Dropped(), Dropped()])
    assert retrying(work, transient=_transient, what="t", bound_s=5) == "done"
    assert len(calls) == 3


def test_other_errors_are_raised_at_once() -> None:
    calls, work = _flaky([ValueError("a bug")])
    with pytest.raises(ValueError, match="a bug"):
        retrying(work, transient=_transient, what="t", bound_s=5)
    assert len(calls) == 1


def test_a_database_that_stays_away_is_raised_after_the_bound() -> None:
    calls, work = _flaky([Dropped() for _ in range(1000)])
    with pytest.raises(Dropped):
        retrying(work, transient=_transient, what="t", bound_s=0.3)
    assert 2 <= len(calls) < 1000


def test_a_lost_commit_is_not_run_again_unless_that_is_safe() -> None:
    calls, work = _flaky([CommitUnknown("x")])
    with pytest.raises(CommitUnknown):
        retrying(work, transient=_transient, what="t", bound_s=5)
    assert len(calls) == 1
    calls, work = _flaky([CommitUnknown("x")])
    assert retrying(work, transient=_transient, what="t", idempotent=True, bound_s=5) == "done"
    assert len(calls) == 2


def test_a_lost_commit_that_landed_is_found_and_not_run_again() -> None:
    calls, work = _flaky([CommitUnknown("x")])
    got = retrying(
        work,
        transient=_transient,
        what="t",
        settled=lambda: "it landed",
        bound_s=5,
    )
    assert (got, len(calls)) == ("it landed", 1)
    calls, work = _flaky([CommitUnknown("x")])
    got = retrying(work, transient=_transient, what="t", settled=lambda: None, bound_s=5)
    assert (got, len(calls)) == ("done", 2)  # it had not: run again


def test_a_claim_waits_out_a_busy_sqlite_file(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "state", busy_timeout_s=0.1)
    blocker = sqlite3.connect(ledger.path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another process writing, for longer than the timeout
    met_busy = threading.Event()
    sink = logger.add(
        lambda line: met_busy.set() if "failed (OperationalError)" in line else None,
        level="WARNING",
    )
    got: list[Claim] = []
    person = ledger.person_key("13912345678", "30721X")
    claiming = threading.Thread(
        target=lambda: got.append(
            claim(ledger, person, "verify", scenario="s", run_id="r1", mobile_masked="139****5678",
                  code="111111")
        )
    )  # fmt: skip
    try:
        claiming.start()
        assert met_busy.wait(15)  # the claim found the file locked, and waits to try again
        assert not got
        blocker.execute("ROLLBACK")
        claiming.join(30)
        assert got
        assert got[0].granted
        got[0].finish(Category.site_error)
        [entry] = ledger.entries()
        assert (entry.run_id, entry.outcome) == ("r1", "site_error")
    finally:
        logger.remove(sink)
        blocker.close()
        ledger.close()
