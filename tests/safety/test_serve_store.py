"""``icpbot serve``'s queue and the site's pacing lock, on both ledger back ends (SQLite and a
throw-away PostgreSQL): two stores on one database stand for two processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.config.selector_models import Pacing
from bot.mocksite import Filing, MockSite
from bot.run.pacing import Slot
from bot.serve.pacing import DbPacer
from bot.serve.store import ServeStore
from tests.serve.conftest import start_serve

from .conftest import Backend

T = TypeVar("T")


def _run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` in a fresh thread: the session's browser fixtures keep an event loop
    running in this one."""
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(asyncio.run, main).result()


KEY = "miit|https://beian.miit.gov.cn"


@pytest.fixture
def two(backend: Backend) -> Iterator[tuple[ServeStore, ServeStore]]:
    a, b = ServeStore(backend.open()), ServeStore(backend.open())
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def _add(store: ServeStore, person: str) -> str:
    return store.add_run(
        action="resend", site="miit", base_url="https://beian.miit.gov.cn/", person=person,
        mobile_masked="139****5678", sealed="sealed", created_by="test",
    )  # fmt: skip


def _released(slot: object) -> None:
    assert isinstance(slot, Slot), slot
    _run(slot.release())


def test_the_sites_pacing_lock_holds_across_stores(two: tuple[ServeStore, ServeStore]) -> None:
    a, b = two
    pacing = Pacing(max_parallel=1, min_interval_s=10)
    first, second = DbPacer(pacing, a, KEY), DbPacer(pacing, b, KEY)
    held = first.try_acquire()
    assert isinstance(held, Slot)
    # stamped with the database's clock
    assert b.last_submission(KEY) == pytest.approx(b.db_now(), abs=2)
    assert second.try_acquire() is None  # the place is held by the other "process"
    _released(held)
    left = second.try_acquire()  # free, but the last submission was just now
    assert isinstance(left, float)
    assert 9 < left <= 10
    a.mark_submission(KEY, a.db_now() - 11)  # ... as if 11 s had passed
    _released(second.try_acquire())
    assert isinstance(first.try_acquire(), float)  # the interval counts from second's stamp


_HOLDER = """
import sys
from bot.config.selector_models import Pacing
from bot.mocksite import Filing, MockSite
from bot.safety.ledger import open_ledger
from bot.serve.store import ServeStore
from bot.serve.pacing import DbPacer


pacer = DbPacer(Pacing(max_parallel=1, min_interval_s=0), ServeStore(open_ledger()), sys.argv[1])
print("held" if pacer.try_acquire() is not None else "refused", flush=True)
sys.stdin.read()  # until killed
"""


def test_the_sites_lock_is_released_when_its_process_dies(backend: Backend) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, KEY], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True, env=os.environ | backend.env,
    )  # fmt: skip
    b: ServeStore | None = None
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        b = ServeStore(backend.open())
        pacer = DbPacer(Pacing(max_parallel=1, min_interval_s=0), b, KEY)
        assert pacer.try_acquire() is None
        holder.kill()  # SIGKILL: no clean-up of its own; the system drops its lock
        holder.communicate(timeout=30)
        # PostgreSQL ends the dead client's session (and frees its lock) a moment after the
        # process is gone: asked again until then, within a deadline.
        deadline = time.monotonic() + 15
        while not isinstance(pacer.try_acquire(), Slot):
            assert time.monotonic() < deadline, "the dead process's lock was never released"
            time.sleep(0.05)
    finally:
        if b is not None:
            b.close()
        if holder.poll() is None:
            holder.kill()
        holder.communicate(timeout=30)


def test_the_queue_never_runs_one_person_twice_at_once_across_stores(
    two: tuple[ServeStore, ServeStore],
) -> None:
    a, b = two
    ann_1, bob, ann_2 = _add(a, "ann"), _add(b, "bob"), _add(a, "ann")
    taken_a = a.take()
    assert taken_a is not None
    assert taken_a.id == ann_1
    assert taken_a.owner == a.owner
    taken_b = b.take()
    assert taken_b is not None
    assert taken_b.id == bob  # ann's second run waits for her first
    assert b.take() is None
    assert a.take() is None
    assert a.finish(taken_a.lease, {"category": "success"}, None)
    again = b.take()
    assert again is not None
    assert again.id == ann_2
    done = a.run(ann_1)
    assert done is not None
    assert done.state == "done"
    assert done.sealed is None  # the values are erased when the run ends
    assert a.counts() == {"done": 1, "running": 2}


def test_runs_of_a_store_that_died_are_recovered_by_the_others(backend: Backend) -> None:
    a, b = ServeStore(backend.open()), ServeStore(backend.open())
    b.lives.grace_s = 0.0  # the throw-away server may have started a moment ago
    try:
        a.hold_life()
        b.hold_life()
        run_id = _add(a, "ann")
        taken = a.take()
        assert taken is not None
        assert b.recover(lambda row, sent: None) == []  # a lives
        a.close()
        [(orphan, what)] = b.recover(lambda row, sent: None)
        assert (orphan.id, what) == (run_id, "queued")
        assert not b.may_have_left(run_id)
        again = b.take()
        assert again is not None
        assert again.owner == b.owner
        assert again.generation == taken.generation + 2  # recovered, then taken: two new ones
    finally:
        b.close()


@pytest.mark.browser
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_icpbot_serve_runs_its_queue_on_postgresql(
    backend: Backend, site: MockSite, tmp_path: Path
) -> None:
    site.load_filings([Filing("13912345678", "30721X", "864209")])
    serve = start_serve(tmp_path, env=backend.env)
    try:
        api = serve.client()
        made = api.post("/api/runs", json={"action": "resend", "mobile": "13912345678",
                                           "id_last6": "30721X", "base_url": site.url})  # fmt: skip
        assert made.status_code == 201, made.text
        done = serve.wait_run(api, made.json()["id"], lambda r: r["state"] == "done", s=90)
        assert done["outcome"]["category"] == "success", done
        assert len(site.submissions()) == 1
    finally:
        printed = serve.stop()
    assert serve.proc.returncode == 0, printed
    # The queue and the ledger are in PostgreSQL, not in the state folder's SQLite file.
    assert not (tmp_path / "state" / "ledger.sqlite3").exists()
    with backend.open() as ledger:
        assert ledger.execute("SELECT COUNT(*) FROM serve_runs").fetchone()[0] == 1


def test_a_runs_progress_never_undoes_the_check_waiting_for_a_person(
    two: tuple[ServeStore, ServeStore],
) -> None:
    """The run's phases and its security check are written by different tasks: a phase that
    lands after the check opened must leave needs_person (the customer's page shows the check
    only then)."""
    a, _ = two
    _add(a, "p1")
    taken = a.take()
    assert taken is not None
    lease, run_id = taken.lease, taken.id
    assert a.set_phase(lease, "browser_started")
    assert (a.run(run_id).state, a.run(run_id).phase) == ("running", "browser_started")  # type: ignore[union-attr]
    assert a.check_opened(lease)
    assert a.set_phase(lease, "submit_clicked")
    assert (a.run(run_id).state, a.run(run_id).phase) == ("needs_person", "submit_clicked")  # type: ignore[union-attr]
    assert a.finish(lease, {"category": "success"}, None)
    assert not a.set_phase(lease, "late")
    assert (a.run(run_id).state, a.run(run_id).phase) == ("done", "done")  # type: ignore[union-attr]
