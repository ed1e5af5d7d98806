"""Links' tries and ``Idempotency-Key`` on both back ends, with real concurrency: each thread
has its own connection (as each process has), and all are released together by a barrier.
The through-HTTP versions are in ``tests/serve``; these show the database's part holds on
PostgreSQL too (a conditional UPDATE, a primary key), not only under SQLite's one writer."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.serve.links import LinkRefused
from bot.serve.service import Service
from bot.serve.store import ServeStore

from .conftest import Backend

MOBILE, ID6, CODE = "13912345678", "30721X", "864209"
N = 16


@pytest.fixture
def services(backend: Backend) -> Iterator[list[Service]]:
    made = [Service(ServeStore(backend.open())) for _ in range(N)]
    yield made
    for service in made:
        service.store.close()


def _together(services: list[Service], work: Callable[[Service], Any]) -> list[Any]:
    """``work(service)`` in one thread per service, released at once: each result or error."""
    barrier = threading.Barrier(len(services))
    out: list[Any] = [None] * len(services)

    def go(i: int) -> None:
        barrier.wait()
        try:
            out[i] = work(services[i])
        except Exception as exc:
            out[i] = exc

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(services))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return out


def test_tries_on_one_link_at_once_make_one_run(services: list[Service]) -> None:
    link_id, token = services[0].add_link(
        mobile=MOBILE, id_last6=ID6, base_url=None, expires_in_s=3600, by="test"
    )

    def attempt(service: Service) -> str:
        link = service.link_by_token(token)
        assert link is not None
        return service.link_attempt(link, CODE, min_gap_s=3, most=5)

    results = _together(services, attempt)
    made = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if isinstance(r, LinkRefused)]
    assert len(made) == 1, results
    assert len(refused) == N - 1, results
    assert {r.status for r in refused} <= {409, 429}
    link = services[0].links.get(link_id)
    assert link is not None
    assert (link.attempts, link.busy, link.run_id) == (1, True, made[0])
    rows = (
        services[0]
        .store.execute("SELECT id FROM serve_runs WHERE link_id = ?", (link_id,))
        .fetchall()
    )
    assert [r[0] for r in rows] == made


def test_one_idempotency_key_at_once_makes_one_run(services: list[Service]) -> None:
    def create(service: Service) -> tuple[int, dict[str, Any], bool]:
        def work() -> tuple[int, dict[str, Any]]:
            run_id = service.queue_run(
                action="verify", mobile=MOBILE, id_last6=ID6, code=CODE, created_by="token:t"
            )
            return 201, {"id": run_id}

        mark = service.keys.fingerprint("POST /api/runs", {"mobile": MOBILE, "code": CODE})
        return service.keys.once("token:t", "key-1", mark, work)

    results = _together(services, create)
    assert all(isinstance(r, tuple) for r in results), results
    assert len({r[1]["id"] for r in results}) == 1
    assert sorted(r[2] for r in results) == [False] + [True] * (N - 1)
    assert services[0].store.counts() == {"queued": 1}
