"""The webhooks' outbox on both back ends (SQLite and a throw-away PostgreSQL); two stores on one
database stand for two processes: claims released together never hand one attempt to two
processes, an attempt's end is written only under its lease, an event is written once, a
finished run is reported once and only to hooks that existed then, and a failing receiver is
tried with back-off until the last attempt."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from bot.serve.seal import Sealer
from bot.serve.store import ServeStore
from bot.serve.webhooks import MAX_ATTEMPTS, RETRY_AFTER_S, Outbox, new_secret, signature

from .conftest import Backend

URL = "http://127.0.0.1:9/hook"  # loopback: accepted without an allowance


@pytest.fixture
def two(backend: Backend) -> Iterator[tuple[Outbox, Outbox]]:
    a, b = ServeStore(backend.open()), ServeStore(backend.open())
    try:
        yield Outbox(a, Sealer(a)), Outbox(b, Sealer(b))
    finally:
        a.close()
        b.close()


def _deliveries(outbox: Outbox) -> list[tuple[str, str, int]]:
    rows = outbox.store.execute(
        "SELECT event_id, state, attempts FROM serve_webhook_deliveries ORDER BY event_id"
    ).fetchall()
    return [(str(e), str(s), int(a)) for e, s, a in rows]


def test_the_signature_is_the_standard_one() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 24
    body = b'{"type":"run.done","data":{"person":"139****5678"}}'
    stamp = int(time.time())
    headers = {
        "webhook-id": "msg_done_abc",
        "webhook-timestamp": str(stamp),
        "webhook-signature": signature(secret, "msg_done_abc", stamp, body),
    }
    assert Webhook(secret).verify(body, headers)["data"]["person"] == "139****5678"
    assert headers["webhook-signature"] == Webhook(secret).sign(
        "msg_done_abc", datetime.fromtimestamp(stamp, UTC), body
    )


def test_claims_released_together_hand_each_attempt_to_one_process(
    two: tuple[Outbox, Outbox],
) -> None:
    a, b = two
    a.add(URL, ["link.used"], "test")
    for n in range(40):
        assert a.emit("link.used", f"msg_{n:02d}", {"n": n}) == 1
    claimed: list[tuple[str, str]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def claimer(outbox: Outbox, owner: str) -> None:
        barrier.wait()
        while got := outbox.claim(owner, limit=3):
            with lock:
                claimed.extend((d.event_id, owner) for d in got)

    threads = [
        threading.Thread(target=claimer, args=(outbox, f"{name}{n}"))
        for name, outbox in (("a", a), ("b", b))
        for n in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ids = [event for event, _ in claimed]
    assert sorted(ids) == [f"msg_{n:02d}" for n in range(40)]  # each once, none lost
    assert all(attempts == 1 for _, _, attempts in _deliveries(a))


def test_an_attempts_end_is_written_only_under_its_lease(two: tuple[Outbox, Outbox]) -> None:
    a, b = two
    a.add(URL, ["run.needs_person"], "test")
    a.emit("run.needs_person", "msg_1", {"run_id": "r"})
    [first] = a.claim("owner-a")
    assert b.claim("owner-b") == []  # leased: nobody else's
    # The lease runs out (the process hung or died): another process tries again.
    a.store.execute("UPDATE serve_webhook_deliveries SET lease_until = 0")
    [second] = b.claim("owner-b")
    assert (first.event_id, first.attempt, second.attempt) == ("msg_1", 1, 2)
    assert not a.delivered(first, "owner-a", 200)  # too late: changes nothing
    assert not a.failed(first, "owner-a", 500, "HTTP 500")
    assert b.delivered(second, "owner-b", 204)
    assert _deliveries(a) == [("msg_1", "delivered", 2)]


def test_an_event_is_written_once_per_hook(two: tuple[Outbox, Outbox]) -> None:
    a, b = two
    a.add(URL, ["link.used", "run.done"], "test")
    a.add(URL + "2", ["run.done"], "test")
    assert a.emit("link.used", "msg_link_x", {}) == 1
    assert b.emit("link.used", "msg_link_x", {}) == 0  # another process, the same event
    assert a.emit("run.needs_person", "msg_check_x", {}) == 0  # nobody asked for it
    with pytest.raises(ValueError, match="unknown event"):
        a.emit("run.deleted", "msg_y", {})


def _finished_run(store: ServeStore) -> str:
    run_id = store.add_run(
        action="resend", site="miit", base_url="https://beian.miit.gov.cn/", person="p",
        mobile_masked="139****5678", sealed="s", created_by="token:ci",
    )  # fmt: skip
    taken = store.take()  # the only queued run: taken, then finished under its lease
    assert taken is not None
    assert taken.id == run_id
    outcome = {"category": "success", "status": "resent", "message": "Resent."}
    assert store.finish(taken.lease, outcome, None)
    return run_id


def test_a_finished_run_is_reported_once_to_the_hooks_that_existed(
    two: tuple[Outbox, Outbox],
) -> None:
    a, b = two
    before = _finished_run(a.store)
    a.store.execute("UPDATE serve_runs SET updated_at = updated_at - 60")  # done a minute ago
    a.add(URL, ["run.done"], "test")
    after = _finished_run(b.store)
    assert a.scan_done() == 1
    assert b.scan_done() == 0  # any process may look: written once
    assert a.scan_done() == 0
    rows = a.store.execute(
        "SELECT event_id, payload FROM serve_webhook_deliveries"
    ).fetchall()  # fmt: skip
    assert [r[0] for r in rows] == [f"msg_done_{after}"]
    assert before not in rows[0][1]
    assert '"category":"success"' in rows[0][1]
    assert '"person":"139****5678"' in rows[0][1]


def test_a_failing_receiver_is_tried_with_back_off_until_the_last_attempt(
    two: tuple[Outbox, Outbox],
) -> None:
    a, _ = two
    a.add(URL, ["link.used"], "test")
    a.emit("link.used", "msg_1", {})
    for attempt in range(1, MAX_ATTEMPTS + 1):
        [d] = a.claim("owner")
        assert d.attempt == attempt
        now = a.store.db_now()
        assert a.failed(d, "owner", 503, "HTTP 503")
        (next_at,) = a.store.execute("SELECT next_at FROM serve_webhook_deliveries").fetchone()
        if attempt < MAX_ATTEMPTS:
            assert next_at - now == pytest.approx(RETRY_AFTER_S[attempt - 1], abs=2)
            assert a.claim("owner") == []  # not yet due
            a.store.execute("UPDATE serve_webhook_deliveries SET next_at = 0")
    assert _deliveries(a) == [("msg_1", "failed", MAX_ATTEMPTS)]
    assert a.claim("owner") == []
    [shown] = a.deliveries()
    assert (shown["state"], shown["last_status"]) == ("failed", 503)
    assert shown["last_error"] == "HTTP 503"
    assert "payload" not in shown


def test_a_removed_hook_cancels_what_it_had_pending(two: tuple[Outbox, Outbox]) -> None:
    a, b = two
    hook, _ = a.add(URL, ["link.used"], "test")
    a.emit("link.used", "msg_1", {})
    assert b.remove(hook)
    assert not b.remove(hook)
    assert a.claim("owner") == []
    assert _deliveries(a) == [("msg_1", "cancelled", 0)]
    assert a.hooks() == []
