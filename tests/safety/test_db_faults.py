"""The team ledger under database faults, injected for real into a throw-away PostgreSQL: a run's
lock connection ended mid-run (kept, or lost to another run and then never sent), the store's
connections ended, a process cut off long enough to be buried, a finish the database cannot take,
and ``pg_ctl restart`` while threads work (released together by a barrier)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.errors import GuardRefused
from bot.safety.guard import Claim, claim
from bot.safety.later import LATER
from bot.safety.ledger import LEDGER_URL_ENV
from bot.safety.pgledger import PgLedger
from bot.safety.retry import CommitUnknown
from bot.safety.store import LedgerStore
from bot.serve.store import ServeStore
from bot.types import Category

from .conftest import Backend
from .pgfaults import Admin
from .pgserver import PgServer

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)

MOBILE, ID6 = "13912345678", "30721X"


@pytest.fixture
def admin(backend: Backend, pg_server: PgServer) -> Iterator[Admin]:
    made = Admin(backend.env[LEDGER_URL_ENV], pg_server.url())
    try:
        yield made
    finally:
        made.close()


def take(store: LedgerStore, run_id: str, code: str = "111111", mobile: str = MOBILE) -> Claim:
    return claim(
        store,
        store.person_key(mobile, ID6),
        "verify",
        scenario="faults",
        run_id=run_id,
        mobile_masked="139****5678",
        code=code,
        allow_risky=True,
    )


def until(check: Any, s: float = 10.0) -> None:
    """Wait for a condition that a background thread (the lock watcher) makes true."""
    deadline = time.monotonic() + s
    while not check():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.01)


# -- a run's lock connection ---------------------------------------------------------------------


def test_a_claim_keeps_its_person_when_its_lock_connection_is_ended(
    backend: Backend, store: LedgerStore, admin: Admin
) -> None:
    got = take(store, "run-1")
    assert got.granted
    person = store.person_key(MOBILE, ID6)
    first = admin.holder(person)
    assert first is not None
    admin.terminate(first)
    # The watcher notices at once and takes the lock again on a new connection, unasked.
    again = admin.wait_holder(person, other_than=first)
    assert again in admin.pids("icpbot-locks")
    assert got.check() is None
    with backend.open() as other:  # another process: still refused, the person is held
        refused = take(other, "run-2", code="222222")
        assert not refused.granted
        assert refused.refusal is not None
        assert refused.refusal.status == "in_flight"
    got.mark_sending()
    got.finish(Category.success, 3)
    [entry] = store.entries()
    assert (entry.outcome, entry.sent, entry.run_id) == ("success", True, "run-1")
    assert admin.holder(person) is None


def test_a_claim_whose_person_was_taken_while_its_connection_was_down_never_sends(
    store: LedgerStore, admin: Admin
) -> None:
    got = take(store, "run-1")
    assert got.granted
    person = store.person_key(MOBILE, ID6)
    with admin.no_new_connections():  # the run cannot reconnect until another has the person
        admin.terminate(admin.holder(person) or 0)
        admin.take(person)
    try:
        assert got.check() == "lost"
        with pytest.raises(GuardRefused) as refused:
            got.mark_sending()
        assert refused.value.status == "claim_lost"
        assert "Nothing was sent" in refused.value.reason
        assert admin.holder(person) == admin.conn.info.backend_pid  # never taken back
        got.finish(Category.refused)
        [entry] = store.entries()
        assert (entry.outcome, entry.sent, entry.counted) == ("refused", False, False)
    finally:
        admin.give(person)


def test_a_claim_whose_person_another_run_used_meanwhile_never_sends(
    backend: Backend, store: LedgerStore, admin: Admin
) -> None:
    """The lock was free for a moment, another run came and went, then the first run's lock was
    taken again: held, but the person is not as the claim left it."""
    got = take(store, "run-1")
    assert got.granted
    person = store.person_key(MOBILE, ID6)
    with backend.open() as other, admin.no_new_connections():
        first = admin.holder(person)
        assert first is not None
        admin.terminate(first)
        meanwhile = take(other, "run-2", code="222222")
        assert meanwhile.granted
        meanwhile.mark_sending()
        meanwhile.finish(Category.wrong_info, 2)
    admin.wait_holder(person, other_than=None)  # taken again: nobody had it any more
    assert got.check() == "superseded"
    with pytest.raises(GuardRefused):
        got.mark_sending()
    got.finish(Category.refused)
    sent = [e.run_id for e in store.entries() if e.sent]
    assert sent == ["run-2"]


# -- the store's connections, a process's life ---------------------------------------------------


def test_the_stores_connections_ended_mid_run(backend: Backend, admin: Admin) -> None:
    a, b = ServeStore(backend.open()), ServeStore(backend.open())
    run_ledger = backend.open()
    try:
        a.hold_life()
        b.hold_life()
        got = take(run_ledger, "run-1")
        assert got.granted
        a.execute("INSERT INTO serve_meta (key, value) VALUES ('before', 'x')")
        # Every connection of this "host": the pooled ones, the stores' and the run's locks.
        admin.terminate(*admin.pids("icpbot"), *admin.pids("icpbot-locks"))
        assert a.execute("SELECT value FROM serve_meta WHERE key = 'before'").fetchone() == ("x",)
        assert a.still_alive()
        assert b.owner_alive(a.owner)
        assert got.check() is None
        got.mark_sending()
        got.finish(Category.success, 3)
        assert not a.life_lost
    finally:
        run_ledger.close()
        a.close()
        b.close()


def test_a_process_cut_off_long_enough_to_be_buried_learns_it(
    backend: Backend, admin: Admin
) -> None:
    a, b = ServeStore(backend.open()), ServeStore(backend.open())
    try:
        a.hold_life()
        b.hold_life()
        b.lives.grace_s = 0.0  # the throw-away server may have started a moment ago
        assert not b.bury(a.owner)  # alive
        life = ServeStore.lock_key(f"process-{a.owner}")
        with admin.no_new_connections():
            admin.terminate(admin.holder(life) or 0)
            assert b.bury(a.owner)  # dead as far as the database can tell: b keeps its lock
        until(lambda: a.life_lost)
        assert not a.still_alive()
        assert not b.owner_alive(a.owner)
        assert b.bury(a.owner)
    finally:
        a.close()
        b.close()


def test_no_process_is_buried_right_after_the_server_started(backend: Backend) -> None:
    """Every live process is taking its locks again then: a free lock proves nothing yet."""
    store = ServeStore(backend.open())
    try:
        store.lives.grace_s = 3600.0  # as if the server had just started
        assert not store.bury("someone-whose-lock-is-free")
        store.lives.grace_s = 0.0
        assert store.bury("someone-whose-lock-is-free")
        assert not store.owner_alive("someone-whose-lock-is-free")
    finally:
        store.close()


# -- a finish the database cannot take ----------------------------------------------------------


class _FailsOnce(PgLedger):
    """The seam: a ledger whose next finish fails as a dropped connection would make it."""

    def finish(
        self, attempt_id: int, outcome: str, site_status: int | None = None, **kw: Any
    ) -> None:
        if not getattr(self, "failed", False):
            self.failed = True
            raise CommitUnknown("finishing an attempt")
        super().finish(attempt_id, outcome, site_status, **kw)


def test_a_finish_that_fails_once_frees_the_person_and_is_written_later(
    backend: Backend, admin: Admin
) -> None:
    ledger = _FailsOnce(backend.env[LEDGER_URL_ENV])
    got = take(ledger, "run-1")
    assert got.granted
    got.mark_sending()
    person = ledger.person_key(MOBILE, ID6)
    got.finish(Category.wrong_info, 2)  # does not raise
    assert got.unsettled is not None
    assert "recorded when the database is back" in got.unsettled
    assert admin.holder(person) is None  # freed at once
    assert LATER.wait(30)
    with backend.open() as other:
        [entry] = other.entries()
        assert (entry.outcome, entry.site_status, entry.counted) == ("wrong_info", 2, True)
        nxt = take(other, "run-2", code="222222")
        assert nxt.granted
        nxt.release()
    ledger.close()


def test_a_finish_while_the_database_is_away_is_written_when_it_is_back(
    backend: Backend, admin: Admin
) -> None:
    ledger = backend.open()
    got = take(ledger, "run-1")
    assert got.granted
    got.mark_sending()
    person = ledger.person_key(MOBILE, ID6)
    ledger.retry_s = 0.5  # gives up quickly, so that the finish is owed
    started = time.monotonic()
    with admin.no_new_connections():
        admin.terminate(*admin.pids("icpbot"), *admin.pids("icpbot-locks"))
        got.finish(Category.success, 3)
        assert time.monotonic() - started < 15  # nothing hangs
        assert got.unsettled is not None
        assert admin.holder(person) is None  # its connection is gone: so is the lock
        [row] = admin.conn.execute("SELECT outcome FROM attempts").fetchall()
        assert row == ("pending",)  # as a crash would leave it, meanwhile: counts
    assert LATER.wait(30)
    [entry] = ledger.entries()
    assert (entry.outcome, entry.state) == ("success", "success")
    ledger.close()


# -- the server restarted under load ------------------------------------------------------------


def _mobile(i: int) -> str:
    return f"1391234{i:04d}"


def test_a_restart_under_load_resumes_doubles_nothing_and_loses_no_lock_unnoticed(
    backend: Backend, pg_server: PgServer
) -> None:
    """Runs hold their persons; workers write and read in threads; another process churns
    through claims of its own and grabs any held person it can. ``pg_ctl restart`` (fast: every
    session ended) lands in the middle. Afterwards every worker's work went through, no claim
    was recorded twice, and each held person is either still its run's (the lock taken again)
    or, if the other process took it first, the run knows it lost it."""
    n = 3
    ledgers = [backend.open() for _ in range(n)]
    stores = [ServeStore(backend.open()) for _ in range(n)]
    other = backend.open()
    held = [take(ledgers[i], f"held-{i}", code=f"10000{i}", mobile=_mobile(i)) for i in range(n)]
    assert all(c.granted for c in held)
    for store in stores:
        store.hold_life()
    go = threading.Barrier(n + 2)  # the workers, the other process, the restart
    restarted = threading.Event()
    written: list[list[str]] = [[] for _ in range(n)]
    stolen: dict[int, Claim] = {}
    churned: list[str] = []
    failed: list[BaseException] = []

    def work(i: int) -> None:
        try:
            go.wait()
            k, after = 0, 0
            while not restarted.is_set() or after < 5:  # then a few more, on the new server
                after += restarted.is_set()
                key = f"w{i}-{k}"
                # Idempotent: the key is chosen before the first try.
                stores[i].execute(
                    "INSERT INTO serve_meta (key, value) VALUES (?, 'x')"
                    " ON CONFLICT (key) DO NOTHING",
                    (key,),
                    idempotent=True,
                )
                ledgers[i].failures_since_success(held[i].person)
                written[i].append(key)
                k += 1
        except BaseException as exc:
            failed.append(exc)

    def intrude() -> None:
        try:
            go.wait()
            k = 0
            while not restarted.is_set() or k < 10:
                for i in range(n):
                    if i not in stolen:
                        got = take(other, f"x{i}-{k}", code=f"2{i}{k:04d}", mobile=_mobile(i))
                        if got.granted:
                            stolen[i] = got  # held to the end
                run_id = f"churn-{k}"
                got = take(other, run_id, code=f"3{k:05d}", mobile=_mobile(100 + k % 3))
                if got.granted:
                    got.mark_sending()
                    got.finish(Category.site_error, 3)
                    churned.append(run_id)
                k += 1
        except BaseException as exc:
            failed.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    threads.append(threading.Thread(target=intrude))
    for thread in threads:
        thread.start()
    go.wait()
    pg_server.restart()
    restarted.set()
    for thread in threads:
        thread.join(120)
    try:
        assert not failed, failed
        assert not any(t.is_alive() for t in threads)
        # Every write went through once: the work resumed after the restart.
        keys = {str(r[0]) for r in stores[0].execute("SELECT key FROM serve_meta").fetchall()}
        for i in range(n):
            assert set(written[i]) <= keys
            assert len(written[i]) > 5
        # No lost lock unnoticed: a person is its run's, or the run knows it lost it.
        for i, claimed in enumerate(held):
            assert claimed.check() == ("lost" if i in stolen else None), (i, sorted(stolen))
            if i in stolen:
                with pytest.raises(GuardRefused):
                    claimed.mark_sending()
                claimed.finish(Category.refused)
            else:
                claimed.mark_sending()
                claimed.finish(Category.success, 3)
        for store in stores:
            assert store.still_alive()
        # No claim recorded twice, whatever the restart cut.
        rows = other.execute("SELECT run_id, COUNT(*) FROM attempts GROUP BY run_id").fetchall()
        assert all(count == 1 for _, count in rows), rows
        recorded = {str(run_id) for run_id, _ in rows}
        assert set(churned) <= recorded
        assert {f"held-{i}" for i in range(n)} <= recorded
    finally:
        for got in stolen.values():
            got.finish(Category.refused)
        for ledger in (*ledgers, other):
            ledger.close()
        for store in stores:
            store.close()
