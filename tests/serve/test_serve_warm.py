"""Warm pages through a real ``icpbot serve``, a real Chromium and the mock: a customer who opens
their link has the site's page loaded before Verify (the mock serves its page once, before the
code is posted), and Verify uses it: one page load, one submission. An unused warm page closes
after its time; no more than ``--warm-pages`` are open; a ``kill -9`` with a warm page open sends
nothing and counts nothing."""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from bot.mocksite import Filing, MockSite
from bot.serve.customer import HOLD_S
from tests.serve.conftest import Serve
from tests.serve.people import database, pass_check, post_code
from tests.serve.test_serve_health_metrics import one as sample
from tests.serve.test_serve_health_metrics import samples

pytestmark = pytest.mark.browser

ANN = ("13912345678", "30721X", "864209")
BOB = ("13987654321", "112233", "246810")
CAT = ("13811112222", "445566", "135791")


def _link(serve: Serve, site: MockSite, person: tuple[str, str, str]) -> tuple[str, str]:
    made = serve.client().post(
        "/api/links",
        json={"mobile": person[0], "id_last6": person[1], "base_url": site.url,
              "expires_in_s": 3600},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    return str(made.json()["id"]), str(made.json()["url"])


def _printed(serve: Serve, pattern: str, s: float = 60) -> None:
    """Until the service printed a line matching ``pattern`` (its log, read as it comes)."""
    deadline = time.monotonic() + s
    while time.monotonic() < deadline:
        if any(re.search(pattern, line) for line in list(serve.lines)):
            return
        time.sleep(0.05)
    raise AssertionError(f"never printed {pattern!r}: {''.join(serve.lines)[-3000:]}")


def _run_of(serve: Serve, link_id: str) -> str:
    for row in serve.client().get("/api/links").json():
        if row["id"] == link_id and row["run_id"]:
            return str(row["run_id"])
    raise AssertionError("the link has no run")


def _run_dir(serve: Serve, run_id: str) -> Path:
    (found,) = serve.out.glob(f"*-serve-{run_id}-*")
    return found


def _run_log(serve: Serve, api: httpx.Client, run_id: str) -> str:
    del api
    return (_run_dir(serve, run_id) / "run.log").read_text(encoding="utf-8")


def test_a_customer_who_opens_the_link_has_the_page_loaded_before_verify(
    serve: Serve, site: MockSite, page: Page
) -> None:
    site.load_filings([Filing(*ANN)])
    site.set_captcha("click")
    link_id, url = _link(serve, site, ANN)
    page.goto(url)
    assert site.wait_for_page_loads(1, timeout=60)  # the site's page, before any code
    assert site.submissions() == []
    page.get_by_label(re.compile("SMS")).fill(ANN[2])
    page.get_by_role("button", name="Verify").click()
    shot = page.get_by_role("img", name=re.compile("^Security check"))
    expect(shot).to_be_visible(timeout=60_000)
    api = serve.client()
    run_id = _run_of(serve, link_id)
    pass_check(serve, api, site, run_id)
    expect(page.locator("#done")).to_be_visible(timeout=60_000)
    expect(page.locator("#message")).to_contain_text("verif")
    assert len(site.submissions()) == 1
    assert len(site.page_loads()) == 1  # Verify used the page loaded when the link was opened
    run = api.get(f"/api/runs/{run_id}").json()
    assert run["outcome"]["category"] == "success"
    log = _run_log(serve, api, run_id)
    assert "opened ahead of the run (a warm page)" in log
    run_dir = _run_dir(serve, run_id)
    evidence = json.loads((run_dir / "result.json").read_text(encoding="utf-8"))["evidence"]
    assert {"result.json", "run.log", "before-submit.png"} <= set(evidence)
    with closing(database(serve)) as db:
        sent = db.execute("SELECT COUNT(*) FROM attempts WHERE sent = 1").fetchone()[0]
    assert sent == 1  # the ledger's claim and "sent" mark, as for any run
    printed = serve.stop()
    for value in ANN:
        assert value not in printed
        assert value not in log
        assert value not in (run_dir / "result.json").read_text(encoding="utf-8")


def test_an_unused_warm_page_is_closed_after_its_time(
    serves: Callable[..., Serve], site: MockSite
) -> None:
    site.load_filings([Filing(*BOB)])
    site.set_captcha("click")
    one = serves("--warm-idle", "1")
    link_id, url = _link(one, site, BOB)
    customer = one.client(None)
    assert customer.get(url).status_code == 200  # the customer opens the link (no script)
    assert site.wait_for_page_loads(1, timeout=60)
    _printed(one, r"a warm page was not used in time: closed")
    assert sample(samples(one), "icpbot_warm_pages") == 0
    # Its page is gone: Verify opens the site's page again, and sends once.
    assert post_code(customer, url, BOB[2]).status_code == 202
    api = one.client()
    run_id = _run_of(one, link_id)
    pass_check(one, api, site, run_id)
    one.wait_run(api, run_id, lambda r: r["state"] == "done")
    assert len(site.page_loads()) == 2
    assert len(site.submissions()) == 1
    assert "a warm page" not in _run_log(one, api, run_id)


def test_no_more_warm_pages_than_the_setting(serves: Callable[..., Serve], site: MockSite) -> None:
    site.load_filings([Filing(*ANN), Filing(*BOB), Filing(*CAT)])
    site.set_captcha("click")
    one = serves("--warm-pages", "2", "--parallel", "1")
    links = [_link(one, site, who) for who in (ANN, BOB, CAT)]
    customer = one.client(None)
    for _, url in links:  # three customers open their links; two pages may open
        assert customer.get(url).status_code == 200
    assert site.wait_for_page_loads(2, timeout=60)
    assert sample(samples(one), "icpbot_warm_pages") == 2  # the third one was refused
    api = one.client()
    # The third link was refused a warm page when it was opened: its Verify loads the page.
    third_id, third_url = links[2]
    assert post_code(customer, third_url, CAT[2]).status_code == 202
    third = _run_of(one, third_id)
    pass_check(one, api, site, third)
    one.wait_run(api, third, lambda r: r["state"] == "done")
    assert "a warm page" not in _run_log(one, api, third)
    assert len(site.page_loads()) == 3
    # The first one's Verify uses its warm page: no other load.
    first_id, first_url = links[0]
    assert post_code(customer, first_url, ANN[2]).status_code == 202
    first = _run_of(one, first_id)
    pass_check(one, api, site, first)
    one.wait_run(api, first, lambda r: r["state"] == "done")
    assert "opened ahead of the run (a warm page)" in _run_log(one, api, first)
    assert len(site.page_loads()) == 3
    assert len(site.submissions()) == 2


def test_a_kill_with_a_warm_page_open_sends_and_counts_nothing(
    serves: Callable[..., Serve], site: MockSite
) -> None:
    site.load_filings([Filing(*ANN)])
    site.set_captcha("click")
    one = serves()
    link_id, url = _link(one, site, ANN)
    assert one.client(None).get(url + "/state").status_code == 200  # its first poll warms too
    assert site.wait_for_page_loads(1, timeout=60)
    printed = one.stop(signal.SIGKILL)
    assert one.proc.returncode == -signal.SIGKILL, printed
    assert site.submissions() == []
    with closing(database(one)) as db:
        assert db.execute("SELECT COUNT(*) FROM serve_runs").fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 0
        row = db.execute(
            "SELECT attempts, busy, state FROM serve_links WHERE id = ?", (link_id,)
        ).fetchone()
    assert tuple(row) == (0, 0, "open")
    # The next process serves the link as new: Verify, one submission.
    two = serves()
    customer = two.client(None)
    url = url.replace(one.url, two.url)  # the same link on the new process's port
    assert post_code(customer, url, ANN[2]).status_code == 202
    api = two.client()
    run_id = _run_of(two, link_id)
    pass_check(two, api, site, run_id)
    assert two.wait_run(api, run_id, lambda r: r["state"] == "done")["outcome"]["category"] == (
        "success"
    )
    assert len(site.submissions()) == 1


def test_a_waiting_pages_state_is_held_until_the_check_opens(serve: Serve, site: MockSite) -> None:
    """The customer's page asks for its state with the state it shows (``?wait=``): the answer
    is held until the page would show something else (queued and running are one "working…"
    to it), and it says the check is open (with its instruction) as soon as this process holds
    the check, whatever its run's row says yet. After Verify the page asks with "queued" at
    once."""
    site.load_filings([Filing(*BOB)])
    site.set_captcha("click")
    link_id, url = _link(serve, site, BOB)
    with httpx.Client(timeout=HOLD_S + 30) as client:
        assert post_code(client, url, BOB[2]).status_code == 202
        shown = {"state": "queued"}  # what the page shows after Verify
        answers = [shown]
        while shown["state"] in ("queued", "running") and len(answers) < 20:
            began = time.monotonic()
            shown = client.get(url + "/state", params={"wait": shown["state"]}).json()
            if shown["state"] in ("queued", "running"):  # still working: held the whole time
                assert time.monotonic() - began >= HOLD_S - 0.5, shown
            answers.append(shown)
        assert shown["state"] == "needs_person", answers
        assert "text" in shown["check"], shown  # the check's instruction came with it
        # Asked with the state it has now, it is not held: the check is already shown.
        assert client.get(url + "/state", params={"wait": "needs_person"}).json()["check"]
    api = serve.client()
    run_id = _run_of(serve, link_id)
    pass_check(serve, api, site, run_id)
    serve.wait_run(api, run_id, lambda r: r["state"] == "done")
    assert len(site.submissions()) == 1
