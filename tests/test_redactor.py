"""The redactor: every form a value is written in is masked, its memory is what the work under way
holds (scopes of runs and requests, forgotten when they end), and a run's ``run.log`` holds that
run's lines only. Its speed is measured by ``bench/bench_redactor.py``, not here."""

from __future__ import annotations

import asyncio
import contextvars
import re
import threading
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from bot.evidence.runlog import run_log
from bot.privacy import REDACTOR, Redactor, logger, mask_links

MOBILE, CODE, ID6 = "13912345678", "864209", "30721X"
#: values no other test registers with the process-wide redactor (an in-process service there
#: registers what it checks, for the rest of the process)
FRESH_MOBILE, FRESH_CODE = "13712340987", "597314"

T = TypeVar("T")


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on a thread of its own: pytest-playwright's sync fixtures, used by other
    tests of the session, keep an event loop running on the main thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main).result()


def _redactor() -> Redactor:
    red = Redactor()
    red.add_many([("mobile", MOBILE), ("code", CODE), ("id_last6", ID6)])
    return red


def test_every_form_of_a_value_is_masked() -> None:
    red = _redactor()
    for text, expected in [
        (f"mobileNum={MOBILE}&certNum={ID6}", "mobileNum=139****5678&certNum=****1X"),
        ('{"mobile": "139 1234 5678"}', '{"mobile": "139****5678"}'),
        ("call 139-1234-5678 now", "call 139****5678 now"),
        ("+8613912345678", "+86139****5678"),
        ("0086 139 1234 5678", "0086 139****5678"),
        ("id 30721x.", "id ****1X."),
        (f"code:{CODE};", "code:******;"),
        (f"ts=1700{CODE}123", "ts=1700******123"),  # inside a longer number: still masked
    ]:
        assert red(text) == expected, text
    for untouched in ("1391234567", "12345", "86420", "864  209", ""):
        assert red(untouched) == untouched
    assert red.bytes(b"\xff" + MOBILE.encode()) == b"\xff139****5678"


def test_a_value_not_made_of_digits_is_masked_as_typed() -> None:
    red = Redactor()
    red.add("code", "abcdef")  # a wrong code typed by a person: still theirs
    red.add("mobile", "+86 139 1234 567")  # too short to be valid, typed as is
    masked = red("got abcdef and +86 139 1234 567")
    assert masked == "got ****** and +86**** 567", masked
    assert red.bytes(b"\xffabcdef") == b"\xff******"


def test_adding_many_values_keeps_every_one_masked() -> None:
    red = Redactor()
    numbers = [f"13{n:09d}" for n in range(0, 10_000_000, 1000)]  # 10 000 values
    for number in numbers:
        red.add("mobile", number)
    text = " ".join(numbers[::97])
    assert not any(n in red(text) for n in numbers[::97])
    assert len(red) == 10_000


def test_a_scope_holds_its_values_while_it_lasts() -> None:
    own = REDACTOR.own
    with REDACTOR.scope():
        REDACTOR.add("mobile", FRESH_MOBILE)
        assert REDACTOR(FRESH_MOBILE) == "137****0987"
        seen_elsewhere = []
        thread = threading.Thread(target=lambda: seen_elsewhere.append(REDACTOR(FRESH_MOBILE)))
        thread.start()
        thread.join()
        assert seen_elsewhere == [FRESH_MOBILE]  # a request's scope is its own
        copied = contextvars.copy_context().run(REDACTOR, FRESH_MOBILE)
        assert copied == "137****0987"  # work the request hands on sees it
    assert REDACTOR(FRESH_MOBILE) == FRESH_MOBILE  # forgotten
    assert REDACTOR.own == own


def test_a_runs_scope_masks_every_text_while_the_run_goes_on() -> None:
    with REDACTOR.scope(shared=True):
        REDACTOR.add("code", FRESH_CODE)
        seen = []
        thread = threading.Thread(target=lambda: seen.append(REDACTOR(f"fill {FRESH_CODE}")))
        thread.start()
        thread.join()
        assert seen == ["fill ******"]  # e.g. a Playwright line written by another task
    assert REDACTOR(FRESH_CODE) == FRESH_CODE


def test_a_tasks_scope_does_not_leak_into_its_caller() -> None:
    async def request() -> str:
        REDACTOR.enter_scope()
        REDACTOR.add("mobile", FRESH_MOBILE)
        return REDACTOR(FRESH_MOBILE)

    async def main() -> tuple[str, str]:
        inside = await asyncio.create_task(request())
        return inside, REDACTOR(FRESH_MOBILE)

    assert run_async(main()) == ("137****0987", FRESH_MOBILE)


def test_links_are_masked() -> None:
    text = "open http://x:1/h/AbCdEfGhIjKlMnOpQrStUvWxYz012345/state or https://y/l/abc_DEF-123456"
    assert mask_links(text) == "open http://x:1/h/***/state or https://y/l/***"
    assert mask_links("/l/short and /help/me") == "/l/short and /help/me"


def test_a_run_log_holds_its_own_runs_lines_only(tmp_path: Path) -> None:
    async def main() -> None:
        started = [asyncio.Event(), asyncio.Event()]
        go_on = asyncio.Event()

        async def run(n: int) -> None:
            with run_log(tmp_path / f"{n}.log", f"run{n}"):
                logger.info("run{} starts", n)
                started[n].set()
                await go_on.wait()
                await asyncio.to_thread(lambda: logger.info("run{} in a thread", n))
                logger.info("run{} ends", n)

        tasks = [asyncio.create_task(run(n)) for n in (0, 1)]
        for event in started:
            await event.wait()
        logger.info("GET /api/runs 200 3ms")  # the access log: no run's
        logger.warning("run {} was cut short before its click: queued again", "run1")
        go_on.set()
        await asyncio.gather(*tasks)

    run_async(main())
    for n in (0, 1):
        text = (tmp_path / f"{n}.log").read_text()
        said = [re.sub(r"^\S+ \S+ +\S+:\S+:\d+ ", "", line) for line in text.splitlines()]
        assert said == [
            f"run{n} starts",
            f"run{n} in a thread",
            f"run{n} ends",
        ]
