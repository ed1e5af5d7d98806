"""The site's pacer of one process (:class:`bot.run.pacing.Pacer`): places in flight, the interval
between stamps, the deadline, and a place given back on every path. Real tasks on a real loop;
the waits are the pacer's own (fractions of a second; one deliberate pause stands for a
run's release work)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from bot.config.selector_models import Pacing
from bot.errors import PacingTimeout
from bot.run.pacing import Pacer, Pacers, Slot

T = TypeVar("T")


def _run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` in a fresh thread: the session's browser fixtures keep an event loop
    running in this one."""
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(asyncio.run, main).result()


def test_the_interval_counts_from_the_last_stamp_and_the_wait_says_how_long() -> None:
    told: list[float] = []

    async def main() -> float:
        pacer = Pacer(Pacing(max_parallel=None, min_interval_s=0.4))
        first = await pacer.acquire(5)
        await asyncio.sleep(0.2)  # the release work between the place and the request leaving
        await first.stamp()
        stamped = time.monotonic()
        await first.release()
        await pacer.acquire(5, told.append)
        return time.monotonic() - stamped

    waited = _run(main())
    assert waited >= 0.4  # from the stamp, not from when the first place was taken
    assert told
    assert 0.2 < told[0] <= 0.4


def test_waiting_for_the_site_has_a_deadline() -> None:
    async def main() -> None:
        pacer = Pacer(Pacing(max_parallel=1, min_interval_s=0))
        held = await pacer.acquire(5)
        told: list[float] = []
        with pytest.raises(PacingTimeout) as refused:
            await pacer.acquire(0.3, told.append)
        assert refused.value.status == "pacing_timeout"
        assert told
        assert told[0] <= 0.3
        await held.release()
        await asyncio.wait_for(pacer.acquire(5), 1)  # free again at once

    _run(main())


def test_places_in_flight_are_limited_and_given_back_once() -> None:
    async def main() -> None:
        pacer = Pacer(Pacing(max_parallel=2, min_interval_s=0))
        a, b = await pacer.acquire(5), await pacer.acquire(5)
        waits = asyncio.Event()
        third = asyncio.ensure_future(pacer.acquire(5, lambda _: waits.set()))
        await waits.wait()  # two in flight: the third waits
        await a.release()
        await a.release()  # a second release of the same place frees nothing more
        c = await asyncio.wait_for(third, 1)
        with pytest.raises(PacingTimeout):
            await pacer.acquire(0.2)  # b and c hold both places
        await b.release()
        await c.release()

    _run(main())


def test_a_cancelled_wait_holds_nothing() -> None:
    async def main() -> None:
        pacer = Pacer(Pacing(max_parallel=1, min_interval_s=0))
        held = await pacer.acquire(5)
        waits = asyncio.Event()
        waiting = asyncio.ensure_future(pacer.acquire(5, lambda _: waits.set()))
        await waits.wait()
        waiting.cancel()  # Ctrl-C, or the run ended, while it waited
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await held.release()
        again: Slot = await asyncio.wait_for(pacer.acquire(5), 1)
        await again.release()

    _run(main())


def test_many_waiters_released_together_go_one_by_one_the_interval_apart() -> None:
    """Five runs whose checks were passed at the same moment: one place, 0.2 s apart."""

    async def main() -> list[float]:
        pacer = Pacer(Pacing(max_parallel=1, min_interval_s=0.2))
        stamps: list[float] = []

        async def submission() -> None:
            slot = await pacer.acquire(10)
            await slot.stamp()
            stamps.append(time.monotonic())
            await slot.release()  # the reply is in

        await asyncio.gather(*(submission() for _ in range(5)))
        return stamps

    stamps = _run(main())
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert len(stamps) == 5
    assert min(gaps) >= 0.2, gaps


def test_pacing_applies_to_loopback_only_when_asked() -> None:
    pacing = Pacing(max_parallel=1, min_interval_s=10)
    assert Pacers().for_site("miit", "http://127.0.0.1:8000/", pacing) is None
    assert Pacers(loopback=True).for_site("miit", "http://127.0.0.1:8000/", pacing) is not None
    assert (
        Pacers(ignore=True, loopback=True).for_site("miit", "http://127.0.0.1:8000/", pacing)
        is None
    )
