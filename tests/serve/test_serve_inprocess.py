"""The service's application in-process (httpx's ASGI transport, each request in a task of its
own as uvicorn runs them), for what a test must watch from inside: an uploaded people list is
parsed in memory (no temporary file is ever made); an error no handler caught is logged once,
through the redactor, with the request's values and its links masked, and the request's values
are forgotten afterwards (the process's own redactor stays empty); uvicorn's, asyncio's and
threads' own error reports go through the redactor too."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi.routing import APIRoute
from loguru import logger

from bot.config.scenario_input import register
from bot.handoff import HandoffServer, Relay
from bot.privacy import REDACTOR
from bot.serve.app import LastResort, create_app
from bot.serve.context import Context
from bot.serve.server import open_service, redacted_errors

TOKEN = "in-process-token-" + "z" * 24
# a mobile number no other test registers with the process-wide redactor (an in-process service
# registers what it checks, for the rest of the process): "forgotten" is seen only with it
MOBILE, ID6, CODE = "13712340987", "30721X", "864209"
LINK = "/h/" + "Q" * 32
MOCKLIKE = "http://127.0.0.1:9/"

T = TypeVar("T")


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on a thread of its own: pytest-playwright's sync fixtures, used by other
    tests of the session, keep an event loop running on the main thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main).result()


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("ICPBOT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("ICPBOT_LEDGER_URL", raising=False)
    monkeypatch.delenv("ICPBOT_SERVE_SECRET", raising=False)
    monkeypatch.setenv("ICPBOT_API_TOKEN", TOKEN)
    service = open_service(MOCKLIKE)
    handoffs = HandoffServer()
    handoffs.serve_at("http://testserver")
    ctx = Context(service, Relay(handoffs))
    made = create_app(ctx, handoffs)
    yield made
    ctx.hashing.close()
    service.store.close()


@pytest.fixture
def lines() -> Iterator[list[str]]:
    found: list[str] = []
    sink = logger.add(lambda m: found.append(str(m)), level="DEBUG", format="{message}")
    yield found
    logger.remove(sink)


def call(app: Any, method: str, path: str, **options: Any) -> httpx.Response:
    """One request, in a task of its own (as uvicorn runs each request)."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=LastResort(app))
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=headers
        ) as client:
            return await asyncio.create_task(client.request(method, path, **options))

    return run_async(go())


def test_an_uploaded_people_list_never_touches_a_disk(
    app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_file(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a temporary file was made")

    for name in ("mkstemp", "mkdtemp", "NamedTemporaryFile", "TemporaryFile"):
        monkeypatch.setattr(tempfile, name, no_file)
    own = REDACTOR.own
    csv = "mobile,id_last6\n13912345671,30721X\n13912345672,307222\n"
    done = call(
        app, "POST", "/api/batches",
        files={"people": ("people.csv", csv.encode(), "text/csv")},
        data={"action": "resend", "base_url": MOCKLIKE},
    )  # fmt: skip
    assert done.status_code == 201, done.text
    assert len(done.json()["runs"]) == 2
    bad = call(
        app, "POST", "/api/batches",
        files={"people": ("people.csv", b"mobile,id_last6\n\xff\xfe,1\n", "text/csv")},
        data={"action": "resend"},
    )  # fmt: skip
    assert bad.status_code == 422
    assert "not UTF-8" in bad.text
    assert REDACTOR.own == own  # the rows' values went with the request


def test_an_uncaught_error_is_logged_once_masked_and_its_values_forgotten(
    app: Any, lines: list[str]
) -> None:
    async def boom() -> None:
        register("mobile", MOBILE)  # as a handler does with what it was given
        raise RuntimeError(f"could not use {MOBILE} for {LINK}")

    app.router.routes.insert(0, APIRoute("/boom", boom))
    own = REDACTOR.own
    answer = call(app, "GET", "/boom")
    assert answer.status_code == 500
    assert answer.json() == {"detail": "internal error"}
    text = "\n".join(lines)
    assert text.count("request failed: RuntimeError") == 1
    assert "Traceback" in text
    assert "could not use 137****0987 for /h/***" in text
    assert MOBILE not in text
    assert "Q" * 32 not in text
    # The request's values went with it: nothing was kept by the process.
    assert REDACTOR.own == own
    assert REDACTOR(MOBILE) == MOBILE


def test_uvicorn_asyncio_and_threads_report_errors_through_the_redactor(
    lines: list[str],
) -> None:
    with REDACTOR.scope(shared=True):  # a run's values, as the service's worker holds them
        REDACTOR.add("mobile", MOBILE)
        with redacted_errors():
            try:
                raise ValueError(f"bad value {MOBILE} at {LINK}")
            except ValueError as exc:
                logging.getLogger("uvicorn.error").error("Exception in ASGI app", exc_info=exc)

            async def fail() -> None:
                loop = asyncio.get_running_loop()
                loop.call_exception_handler(
                    {"message": f"Task failed for {MOBILE}", "exception": KeyError(MOBILE)}
                )

            run_async(fail())

            def crash() -> None:
                raise OSError(f"thread saw {MOBILE}")

            thread = threading.Thread(target=crash)
            thread.start()
            thread.join()
    text = "\n".join(lines)
    assert "uvicorn.error: Exception in ASGI app" in text
    assert "ValueError: bad value 137****0987 at /h/***" in text
    assert "asyncio: Task failed for 137****0987" in text
    assert "a thread failed: OSError" in text
    assert "thread saw 137****0987" in text
    assert MOBILE not in text
    assert "Q" * 32 not in text
