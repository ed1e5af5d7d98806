"""The login back-off in the database, on SQLite and PostgreSQL: free tries, then a lock that
doubles, per key; a try is counted before it is verified, so concurrent tries from separate
connections (separate processes) released together cannot all pass; a success gives the tries
back; an hour without a try forgets them; the table holds no name or address."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from bot.serve.throttle import LoginThrottle
from tests.serve.stores import Db, pg, serve_db

__all__ = ["pg", "serve_db"]

KEY = b"k" * 32


def test_tries_past_the_free_ones_lock_the_key_for_a_doubling_time(serve_db: Db) -> None:
    now = [1000.0]
    throttle = LoginThrottle(
        serve_db.store(), KEY, free={"name": 3, "ip": 10}, base_s=30, clock=lambda: now[0]
    )
    keys = ["name:alice", "ip:127.0.0.1"]
    assert [throttle.attempt(keys) for _ in range(3)] == [0, 0, 0]  # the third locks
    assert throttle.wait_s(keys) == 30
    assert throttle.attempt(keys) == 30  # refused, not counted
    assert throttle.attempt(["name:carol", "ip:127.0.0.1"]) == 0  # the address is not locked
    now[0] += 30
    assert throttle.attempt(keys) == 0
    assert throttle.wait_s(keys) == 60
    now[0] += 60
    assert throttle.attempt(keys) == 0
    assert throttle.wait_s(keys) == 120
    now[0] += 120
    throttle.succeeded(keys)
    assert throttle.wait_s(["name:alice"]) == 0  # counted from 0 again
    assert [throttle.attempt(keys) for _ in range(2)] == [0, 0]
    assert throttle.wait_s(["name:alice"]) == 0


def test_the_lock_stops_at_its_longest(serve_db: Db) -> None:
    now = [0.0]
    throttle = LoginThrottle(
        serve_db.store(), KEY, free={"name": 1}, base_s=30, most_s=100, clock=lambda: now[0]
    )
    waits = []
    for _ in range(5):
        assert throttle.attempt(["name:bob"]) == 0
        waits.append(throttle.wait_s(["name:bob"]))
        now[0] += waits[-1]
    assert waits == [30, 60, 100, 100, 100]


def test_an_hour_without_a_try_forgets_them(serve_db: Db) -> None:
    now = [0.0]
    throttle = LoginThrottle(serve_db.store(), KEY, free={"name": 2}, clock=lambda: now[0])
    throttle.attempt(["name:bob"])
    now[0] += 3601
    throttle.attempt(["name:bob"])
    assert throttle.wait_s(["name:bob"]) == 0
    throttle.attempt(["name:bob"])
    assert throttle.wait_s(["name:bob"]) == 30


def test_a_success_gives_the_address_its_try_back(serve_db: Db) -> None:
    throttle = LoginThrottle(serve_db.store(), KEY, free={"name": 5, "ip": 3})
    for name in ("a", "b", "c", "d", "e"):  # five operators behind one address, all right
        assert throttle.attempt([f"name:{name}", "ip:10.0.0.1"]) == 0
        throttle.succeeded([f"name:{name}", "ip:10.0.0.1"])
    assert throttle.wait_s(["ip:10.0.0.1"]) == 0


def test_concurrent_tries_from_separate_connections_do_not_all_pass(serve_db: Db) -> None:
    """20 tries on 20 connections (as 20 processes would), released together: exactly the free
    ones are counted; every other one is refused before any password is checked."""
    tries = 20
    throttles = [LoginThrottle(serve_db.store(), KEY) for _ in range(tries)]
    barrier = threading.Barrier(tries)

    def one(throttle: LoginThrottle) -> float:
        barrier.wait()
        return throttle.attempt(["name:alice", "ip:198.51.100.7"])

    with ThreadPoolExecutor(tries) as pool:
        waits = list(pool.map(one, throttles))
    assert sum(1 for w in waits if w == 0) == 5, waits
    assert all(w >= 1 for w in waits if w != 0)


def test_the_table_holds_no_name_or_address(serve_db: Db) -> None:
    store = serve_db.store()
    LoginThrottle(store, KEY).attempt(["name:alice", "ip:198.51.100.7"])
    rows = store.execute("SELECT key FROM serve_logins").fetchall()
    text = " ".join(str(r[0]) for r in rows)
    assert len(rows) == 2
    assert "alice" not in text
    assert "198.51" not in text
