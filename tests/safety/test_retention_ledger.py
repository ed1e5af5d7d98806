"""Retention of the ledger on both back ends: attempts older than the cut go, except those that
still count against a person's failure budget, which stay at least 30 days; reset markers go
once no attempt they order is left; a dry run deletes nothing and says the same."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.safety.store import LedgerStore
from bot.serve.retention import prune, prune_due
from bot.serve.store import ServeStore
from bot.types import Category

from .conftest import Backend

DAY = 86400.0
#: persons as the ledger keys them (hex, as PostgreSQL's advisory locks need)
P = {f"p{n}": hashlib.sha256(f"p{n}".encode()).hexdigest() for n in range(1, 11)}


@pytest.fixture
def serve_store(backend: Backend) -> Iterator[ServeStore]:
    store = ServeStore(backend.open())
    try:
        yield store
    finally:
        store.close()


def _stamp(ledger: LedgerStore, days_ago: float) -> object:
    moment = datetime.now(UTC) - timedelta(days=days_ago)
    return moment.isoformat(timespec="microseconds") if ledger.dialect == "sqlite" else moment


def attempt(ledger: LedgerStore, person: str, outcome: str, days_ago: float,
            action: str = "verify") -> int:  # fmt: skip
    attempt_id = ledger.begin(person, action, scenario="t", run_id="r", mobile_masked="1**")
    if outcome == "claimed":
        ledger.execute("UPDATE attempts SET outcome = 'claimed', sent = 0 WHERE id = ?",
                       (attempt_id,))  # fmt: skip
    elif outcome != "pending":
        ledger.finish(attempt_id, outcome)
    ledger.execute("UPDATE attempts SET started_at = ? WHERE id = ?",
                   (_stamp(ledger, days_ago), attempt_id))  # fmt: skip
    return attempt_id


def reset(ledger: LedgerStore, person: str, days_ago: float) -> None:
    assert ledger.reset(person, "new SMS") == 1
    ledger.execute("UPDATE resets SET at = ? WHERE person = ?", (_stamp(ledger, days_ago), person))


def _ids(ledger: LedgerStore, person: str) -> list[int]:
    rows = ledger.execute("SELECT id FROM attempts WHERE person = ? ORDER BY id", (person,))
    return [int(r[0]) for r in rows.fetchall()]


WRONG, OK = Category.wrong_info.value, Category.success.value


def test_a_90_day_cut(serve_store: ServeStore) -> None:
    ledger = serve_store.ledger
    for outcome, age in [(WRONG, 100), (WRONG, 99), (OK, 95)]:
        attempt(ledger, P["p1"], outcome, age)
    attempt(ledger, P["p2"], WRONG, 100)  # still counts, but a filing cannot wait 100 days
    recent = attempt(ledger, P["p3"], WRONG, 10)
    attempt(ledger, P["p5"], WRONG, 100)
    reset(ledger, P["p5"], 99)
    new = attempt(ledger, P["p5"], WRONG, 10)
    attempt(ledger, P["p5"], "pending", 5, action="resend")
    names = ("p1", "p2", "p3", "p5")
    before = {p: ledger.failures_since_success(P[p]) for p in names}
    assert before == {"p1": 0, "p2": 1, "p3": 1, "p5": 1}

    dry = prune(serve_store, 90 * DAY, dry_run=True)
    assert dry.counts["ledger_attempts"] == 5
    assert dry.counts["ledger_resets"] == 1
    assert len(ledger.execute("SELECT id FROM attempts").fetchall()) == 8  # nothing gone

    done = prune(serve_store, 90 * DAY)
    assert (done.counts["ledger_attempts"], done.counts["ledger_resets"]) == (5, 1)
    assert _ids(ledger, P["p1"]) == _ids(ledger, P["p2"]) == []
    assert _ids(ledger, P["p3"]) == [recent]
    assert _ids(ledger, P["p5"])[0] == new
    assert ledger.resets(P["p5"]) == []
    after = {p: ledger.failures_since_success(P[p]) for p in names}
    assert after == {"p1": 0, "p2": 0, "p3": 1, "p5": 1}  # only p2's 100-day-old one went


def test_a_short_cut_keeps_what_still_counts_for_30_days(serve_store: ServeStore) -> None:
    ledger = serve_store.ledger
    counting = attempt(ledger, P["p6"], WRONG, 20)
    attempt(ledger, P["p7"], WRONG, 25)  # before p7's success: counts no more
    attempt(ledger, P["p7"], OK, 20)
    attempt(ledger, P["p8"], "claimed", 20)  # never sent: never counted
    attempt(ledger, P["p9"], WRONG, 40)  # counts, but older than 30 days
    resend = attempt(ledger, P["p10"], OK, 20, action="resend")  # counts against the 2 resends
    report = prune(serve_store, 7 * DAY)
    assert report.counts["ledger_attempts"] == 4
    assert report.kept_counting == 2
    assert _ids(ledger, P["p6"]) == [counting]
    assert _ids(ledger, P["p10"]) == [resend]
    assert _ids(ledger, P["p7"]) == _ids(ledger, P["p8"]) == _ids(ledger, P["p9"]) == []
    assert ledger.failures_since_success(P["p6"]) == 1
    assert ledger.resends_since_reset(P["p10"]) == 1
    assert any("still count" in line for line in report.lines())


def test_the_days_prune_is_taken_by_one_process(backend: Backend) -> None:
    stores = [ServeStore(backend.open()) for _ in range(2)]
    barrier = threading.Barrier(8)
    won: list[bool] = []

    def ask(store: ServeStore) -> None:
        barrier.wait()
        won.append(prune_due(store))

    try:
        threads = [threading.Thread(target=ask, args=(stores[n % 2],)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(won) == [False] * 7 + [True]
        assert not prune_due(stores[0])  # the day's prune is done
        stores[0].execute("UPDATE serve_meta SET value = ? WHERE key = 'prune_last_at'",
                          (repr(stores[0].db_now() - 86401),))  # fmt: skip
        assert prune_due(stores[1])  # a day later
    finally:
        for store in stores:
            store.close()
