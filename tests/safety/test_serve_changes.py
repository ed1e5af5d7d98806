"""The runs' changes, read by any process (the dashboard's live feed): numbered by the database,
stamped by its clock, and none lost when a transaction that took a lower number commits after
one that took a higher number (two processes writing at once, on PostgreSQL)."""

from __future__ import annotations

import threading

from bot.serve.changes import ChangeCursor
from bot.serve.store import ServeStore

from .conftest import Backend


def _add(store: ServeStore, person: str) -> str:
    return store.add_run(
        action="resend", site="miit", base_url="https://beian.miit.gov.cn/", person=person,
        mobile_masked="139****5678", sealed="sealed", created_by="test",
    )  # fmt: skip


def test_a_change_committed_late_is_still_read(backend: Backend) -> None:
    a, b = ServeStore(backend.open()), ServeStore(backend.open())
    try:
        cursor = ChangeCursor(b)
        cursor.start()
        assert cursor.read() == []
        if backend.name == "postgresql":
            # a takes a lower number in a transaction that stays open while b commits a higher
            # one: the reader sees b's first, then a's once it commits.
            holding, go_on = threading.Event(), threading.Event()
            late: list[str] = []

            def slow() -> None:
                with a.transaction(queue=False):
                    late.append(_add(a, "ann"))
                    holding.set()
                    assert go_on.wait(30)

            writer = threading.Thread(target=slow)
            writer.start()
            assert holding.wait(30)
            early = _add(b, "bob")
            assert [r.id for r in cursor.read()] == [early]
            go_on.set()
            writer.join(30)
            assert [r.id for r in cursor.read()] == late
        else:  # one writer at a time: numbers commit in order
            first, second = _add(a, "ann"), _add(b, "bob")
            assert [r.id for r in cursor.read()] == [first, second]
        assert cursor.read() == []
        # Every change of a run, by either process, is read again in its latest form, stamped
        # by the database's clock.
        run_id = _add(a, "cat")
        [row] = cursor.read()
        assert row.id == run_id
        assert abs(row.updated_at - b.db_now()) < 5
        taken = b.take()
        assert taken is not None
        [changed] = cursor.read()
        assert (changed.id, changed.state, changed.owner) == (taken.id, "running", b.owner)
        assert changed.change_seq > row.change_seq  # the latest change, by either process
    finally:
        a.close()
        b.close()
