"""Failed logins back off: free tries, then a lock that doubles, per key; a success clears
the name; an hour without a failure forgets it."""

from __future__ import annotations

from bot.serve.throttle import LoginThrottle


def test_failures_past_the_free_ones_lock_the_key_for_a_doubling_time() -> None:
    now = [1000.0]
    throttle = LoginThrottle(free={"name": 3, "ip": 10}, base_s=30, clock=lambda: now[0])
    keys = ["name:alice", "ip:127.0.0.1"]
    for _ in range(2):
        throttle.failed(keys)
        assert throttle.wait_s(keys) == 0
    throttle.failed(keys)
    assert throttle.wait_s(keys) == 30
    assert throttle.wait_s(["name:carol", "ip:127.0.0.1"]) == 0  # the address is not locked
    now[0] += 30
    assert throttle.wait_s(keys) == 0
    throttle.failed(keys)
    assert throttle.wait_s(keys) == 60
    now[0] += 60
    throttle.succeeded("name:alice")
    throttle.failed(keys)
    assert throttle.wait_s(["name:alice"]) == 0  # counted from 0 again


def test_an_hour_without_failures_forgets_them() -> None:
    now = [0.0]
    throttle = LoginThrottle(free={"name": 2}, clock=lambda: now[0])
    throttle.failed(["name:bob"])
    now[0] += 3601
    throttle.failed(["name:bob"])
    assert throttle.wait_s(["name:bob"]) == 0
    throttle.failed(["name:bob"])
    assert throttle.wait_s(["name:bob"]) == 30
