"""Fencing of ``icpbot serve``'s runs, on both back ends: stores on one database stand for
processes. A "zombie" takes a run and never holds its life lock (to the others it is dead, as a
process whose database session dropped is, while it still runs); recovering processes race it
and each other, driven step by step through :meth:`ServeStore.recover`'s ``between`` hook.

"Submitted" is counted where the engine's gate asks before the one request leaves
(:meth:`ServeStore.release`, the worker's ``release_check``): across every interleaving, one
run is let go at most once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.errors import ReleaseRefused
from bot.page.browser import LazyBrowser
from bot.run.options import RunOptions
from bot.run.signals import run_blocking
from bot.serve.seal import Sealer
from bot.serve.service import Service
from bot.serve.store import Ending, RunRow, ServeStore
from bot.serve.worker import TakenRun, Worker

from .conftest import Backend

UNKNOWN = {"category": "unknown", "status": "interrupted", "submitted": "maybe"}


def _requeue_unsent(row: RunRow, sent: bool) -> Ending | None:
    """The worker's rule for an API run: queued again unless its request may have left."""
    return Ending(UNKNOWN) if sent else None


@pytest.fixture
def stores(backend: Backend) -> Iterator[Callable[[], ServeStore]]:
    made: list[ServeStore] = []

    def make() -> ServeStore:
        store = ServeStore(backend.open())
        store.lives.grace_s = 0.0  # the throw-away server may have started a moment ago
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


def _queue(store: ServeStore, person: str = "ann") -> str:
    return store.add_run(
        action="resend", site="miit", base_url="https://beian.miit.gov.cn/", person=person,
        mobile_masked="139****5678", sealed="sealed", created_by="test",
    )  # fmt: skip


def _in_thread(work: Callable[[], Any], out: list[Any]) -> threading.Thread:
    thread = threading.Thread(target=lambda: out.append(work()), daemon=True)
    thread.start()
    return thread


def test_a_process_that_lost_its_run_can_change_nothing_about_it(
    stores: Callable[[], ServeStore],
) -> None:
    zombie, live = stores(), stores()
    live.hold_life()
    run_id = _queue(zombie)
    taken = zombie.take()
    assert taken is not None
    lease = taken.lease
    assert [what for _, what in live.recover(_requeue_unsent)] == ["queued"]
    before = live.run(run_id)
    assert before is not None
    assert (before.state, before.owner, before.generation) == ("queued", None, lease.generation + 1)
    assert not zombie.set_phase(lease, "filled")
    assert not zombie.check_opened(lease)
    assert not zombie.check_passed(lease)
    assert not zombie.release(lease)
    assert not zombie.finish(lease, {"category": "success"}, "/somewhere")
    assert not zombie.requeue(lease)
    assert live.run(run_id) == before  # not one column changed
    again = live.take()
    assert again is not None
    assert live.release(again.lease)  # the one submission
    assert not zombie.release(lease)


def test_two_recovering_processes_take_turns_and_queue_the_run_once(
    stores: Callable[[], ServeStore],
) -> None:
    zombie, b, d = stores(), stores(), stores()
    b.hold_life()
    d.hold_life()
    run_id = _queue(zombie)
    taken = zombie.take()
    assert taken is not None
    d_found: list[Any] = []
    threads: list[threading.Thread] = []

    def between(row: RunRow) -> None:
        # b has looked (the run is an orphan) and not written yet: d recovers now. It waits
        # for the queue's lock that b's transaction holds, and finds nothing once b is done.
        threads.append(_in_thread(lambda: d.recover(_requeue_unsent), d_found))
        threads[0].join(timeout=1.0)
        assert threads[0].is_alive(), "d recovered while b held the queue's lock"

    found = b.recover(_requeue_unsent, between=between)
    threads[0].join(timeout=30)
    assert [(r.id, what) for r, what in found] == [(run_id, "queued")]
    assert d_found == [[]]
    row = b.run(run_id)
    assert row is not None
    assert row.generation == taken.generation + 1  # bumped once
    takers = [s for s in (b, d) if (t := s.take()) is not None and s.release(t.lease)]
    assert len(takers) == 1
    assert not zombie.release(taken.lease)


def test_the_zombies_release_racing_a_recovery_lets_the_run_go_once(
    stores: Callable[[], ServeStore],
) -> None:
    """The zombie's gate asks to let the request go while a recovery has looked and not yet
    written. SQLite: the zombie waits for the recovery's transaction, then finds the run
    gone. PostgreSQL: the zombie's write lands first, and the recovery then finds the run
    released: it is never queued again, and ends as unknown."""
    zombie, live = stores(), stores()
    live.hold_life()
    run_id = _queue(zombie)
    taken = zombie.take()
    assert taken is not None
    released: list[bool] = []
    threads: list[threading.Thread] = []

    def between(row: RunRow) -> None:
        threads.append(_in_thread(lambda: zombie.release(taken.lease), released))
        threads[0].join(timeout=1.0)

    first = live.recover(_requeue_unsent, between=between)
    threads[0].join(timeout=30)
    assert len(first) == 1
    if released == [True]:  # the zombie's write came first: ended now, or at the next look
        assert first[0][1] in ("ended", "changed")
        live.recover(_requeue_unsent)
        row = live.run(run_id)
        assert row is not None
        assert (row.state, row.outcome) == ("done", UNKNOWN)
        assert live.take() is None
    else:  # the recovery's came first
        assert released == [False]
        assert first[0][1] == "queued"
        again = live.take()
        assert again is not None
        assert live.release(again.lease)
        released.append(True)
    assert released.count(True) == 1


def test_a_run_released_before_its_process_died_is_ended_never_queued_again(
    stores: Callable[[], ServeStore],
) -> None:
    zombie, live = stores(), stores()
    live.hold_life()
    run_id = _queue(zombie)
    taken = zombie.take()
    assert taken is not None
    assert zombie.release(taken.lease)  # the request left; then the process died
    assert [what for _, what in live.recover(_requeue_unsent)] == ["ended"]
    assert live.take() is None
    row = live.run(run_id)
    assert row is not None
    assert row.state == "done"
    assert row.sealed is None


def _worker(store: ServeStore) -> Worker:
    return Worker(store, Sealer(store), RunOptions(), LazyBrowser(), changed=lambda: None)


def test_the_workers_fence_refuses_the_release_of_a_run_it_lost(
    stores: Callable[[], ServeStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fence is what the engine's gate awaits right before the request leaves."""
    # Two processes on one database share one secret (a second one is refused at start).
    monkeypatch.setenv("ICPBOT_SERVE_SECRET", "a-shared-secret-for-the-fencing-test-0123456789")
    zombie, live = stores(), stores()
    Sealer(zombie)  # the service's first start records its key's fingerprint, before any run
    live.hold_life()
    _queue(zombie)
    taken = zombie.take()
    assert taken is not None

    async def released(worker: Worker, run: TakenRun) -> bool:
        try:
            await worker.fence(run)()
        except ReleaseRefused:
            return False
        return True

    async def go() -> list[bool]:
        lost, mine = _worker(zombie), _worker(live)
        await mine.recover()
        again = await asyncio.to_thread(live.take)
        assert again is not None
        ours = TakenRun(again)
        tries = [await released(lost, TakenRun(taken)), await released(mine, ours)]
        assert ours.released
        tries.append(await released(mine, ours))  # never twice, not even by its owner
        with pytest.raises(ReleaseRefused, match="nothing was sent"):
            await lost.fence(TakenRun(taken))()
        return tries

    assert run_blocking(go) == [False, True, False]


def _link_run(service: Service) -> tuple[str, str]:
    link_id, token = service.add_link(
        mobile="13912345678", id_last6="30721X", base_url=None, expires_in_s=3600, by="test"
    )
    link = service.link_by_token(token)
    assert link is not None
    return link_id, service.link_attempt(link, "864209", min_gap_s=0, most=5)


@pytest.mark.parametrize("sent", [False, True])
def test_a_links_run_cut_short_gives_its_try_back_or_holds_the_link(
    stores: Callable[[], ServeStore], sent: bool
) -> None:
    """Not sent: the run ends "nothing was sent; press Verify again" and the try comes back.
    Sent (maybe): the run ends unknown and the link takes no code until an operator decides."""
    zombie, live = stores(), stores()
    live.hold_life()
    service = Service(zombie)
    link_id, run_id = _link_run(service)
    assert service.links.get(link_id).attempts == 1  # type: ignore[union-attr]
    taken = zombie.take()
    assert taken is not None
    assert taken.id == run_id
    if sent:
        assert zombie.release(taken.lease)

    async def recover() -> None:
        await _worker(live).recover()

    run_blocking(recover)
    row, link = live.run(run_id), service.links.get(link_id)
    assert row is not None
    assert link is not None
    assert row.state == "done"
    assert row.outcome is not None
    assert not link.busy
    if sent:
        assert (row.outcome["category"], row.outcome["submitted"]) == ("unknown", "maybe")
        assert (link.state, link.attempts) == ("held", 1)
    else:
        assert (row.outcome["status"], row.outcome["submitted"]) == ("restarted", "no")
        assert "Press Verify again" in row.outcome["next_step"]
        assert (link.state, link.attempts) == ("open", 0)
    assert live.take() is None  # a link's run is never queued again by itself


def test_a_links_run_released_during_its_recovery_is_never_said_unsent(
    stores: Callable[[], ServeStore],
) -> None:
    """The recovery looked (not sent: the link's run would end "nothing was sent", its try
    given back) and the zombie's gate lets the request go before the recovery writes: the
    recovery's write must then fail, and the run end as unknown, its link held."""
    zombie, live = stores(), stores()
    live.hold_life()
    service = Service(zombie)
    link_id, run_id = _link_run(service)
    taken = zombie.take()
    assert taken is not None
    released: list[bool] = []
    threads: list[threading.Thread] = []

    def between(row: RunRow) -> None:
        threads.append(_in_thread(lambda: zombie.release(taken.lease), released))
        threads[0].join(timeout=1.0)

    async def recover() -> None:
        worker = _worker(live)
        await worker.recover(between=between)
        await worker.recover()  # a run that moved meanwhile is looked at again

    run_blocking(recover)
    threads[0].join(timeout=30)
    row, link = live.run(run_id), service.links.get(link_id)
    assert row is not None
    assert link is not None
    assert row.outcome is not None
    if released == [True]:  # the request left: never "nothing was sent"
        assert (row.outcome["category"], link.state, link.attempts) == ("unknown", "held", 1)
    else:
        assert released == [False]
        assert (row.outcome["status"], link.state, link.attempts) == ("restarted", "open", 0)
