"""The site's pacing in the database (:mod:`bot.serve.pacing`), on both ledger back ends: stores
on their own connections stand for processes. Concurrency is real (threads released together by
a barrier); the database's clock stamps every submission."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from bot.config.selector_models import Pacing
from bot.errors import PacingTimeout
from bot.run.pacing import Slot
from bot.serve.pacing import DbPacer
from bot.serve.store import ServeStore

from .conftest import Backend

T = TypeVar("T")


def _run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` in a fresh thread: the session's browser fixtures keep an event loop
    running in this one."""
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(asyncio.run, main).result()


KEY = "miit@beian.miit.gov.cn"


@pytest.fixture
def stores(backend: Backend) -> Iterator[list[ServeStore]]:
    made = [ServeStore(backend.open()) for _ in range(5)]
    try:
        yield made
    finally:
        for store in made:
            store.close()


def test_the_interval_is_one_compare_and_set_for_processes_asking_at_once(
    stores: list[ServeStore],
) -> None:
    """Five processes, five free places (max_parallel 5), one 60 s interval: asked at the same
    moment, exactly one submission may go."""
    pacers = [DbPacer(Pacing(max_parallel=5, min_interval_s=60), s, KEY) for s in stores]
    barrier = threading.Barrier(len(pacers))

    def ask(pacer: DbPacer) -> Slot | float | None:
        barrier.wait()
        return pacer.try_acquire()

    with ThreadPoolExecutor(len(pacers)) as pool:
        got = list(pool.map(ask, pacers))
    slots = [g for g in got if isinstance(g, Slot)]
    assert len(slots) == 1, got
    assert all(isinstance(g, float) and 59 < g <= 60 for g in got if g is not slots[0])
    _run(slots[0].release())


def test_the_stamp_is_the_databases_clock_and_moves_forward_only(
    stores: list[ServeStore],
) -> None:
    a = stores[0]
    pacer = DbPacer(Pacing(max_parallel=1, min_interval_s=10), a, KEY)
    slot = pacer.try_acquire()
    assert isinstance(slot, Slot)
    taken = a.last_submission(KEY)
    _run(slot.stamp())  # the request leaves: a moment later on the database's clock
    left = a.last_submission(KEY)
    assert taken < left <= a.db_now()
    a.mark_submission(KEY, left + 100)  # a later stamp by another process stays
    pacer.stamp_now()
    assert a.last_submission(KEY) == left + 100
    _run(slot.release())


def test_waiting_for_a_site_held_by_another_process_has_a_deadline(
    stores: list[ServeStore],
) -> None:
    a, b = stores[0], stores[1]
    pacing = Pacing(max_parallel=1, min_interval_s=0)
    held = DbPacer(pacing, a, KEY).try_acquire()
    assert isinstance(held, Slot)
    told: list[float] = []

    async def wait() -> None:
        await DbPacer(pacing, b, KEY).acquire(1.0, told.append)

    with pytest.raises(PacingTimeout):
        _run(wait())
    assert told
    assert 0 < told[0] <= 1.0
    _run(held.release())
    got = DbPacer(pacing, b, KEY).try_acquire()  # the place is free again
    assert isinstance(got, Slot)
    _run(got.release())


def test_a_place_taken_while_the_wait_was_cancelled_is_given_back(
    stores: list[ServeStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database answered with a place just as the run was cancelled (Ctrl-C, the run
    ended): the place must not stay held by nobody."""
    a, b = stores[0], stores[1]
    pacing = Pacing(max_parallel=1, min_interval_s=0)
    pacer = DbPacer(pacing, a, KEY)
    asked, answer = threading.Event(), threading.Event()
    real = DbPacer.try_acquire

    def slow_try(self: DbPacer) -> Slot | float | None:
        asked.set()
        answer.wait(10)  # the database is slow to answer ...
        return real(self)

    monkeypatch.setattr(DbPacer, "try_acquire", slow_try)

    async def main() -> None:
        waiting = asyncio.ensure_future(pacer.acquire(30))
        await asyncio.to_thread(asked.wait, 10)
        waiting.cancel()  # ... and the run is cancelled meanwhile
        answer.set()
        with pytest.raises(asyncio.CancelledError):
            await waiting

    _run(main())
    monkeypatch.setattr(DbPacer, "try_acquire", real)
    got = DbPacer(pacing, b, KEY).try_acquire()
    assert isinstance(got, Slot)  # given back: another process takes it at once
    _run(got.release())
