"""A real ``icpbot serve`` stopped (``kill -9``, SIGTERM) mid-run, then a new one on the same
state folder.

While people are at their security checks nothing has been sent: the API's runs are queued
again and run by the next process (which masks their values in its own evidence, although
it never saw them queued: trace.zip is read member by member), a link's run ends "nothing was
sent; press Verify again" with its try given back, and the ledger counts nothing. After the
request left, a run ends unknown and is never sent again, and its link takes no code until an
operator decides."""

from __future__ import annotations

import signal
import zipfile
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from bot.mocksite import Filing, MockSite
from tests.serve.conftest import Serve
from tests.serve.people import database, post_code, queue

pytestmark = pytest.mark.browser

ANN = ("13912345671", "30721X", "864201")
BOB = ("13912345672", "307222", "864202")  # the link's person
CAT = ("13912345673", "307233", "864203")  # queued with a wrong code: the run fails
CAT_FILED = "864299"


def _link(api: httpx.Client, site: MockSite, person: tuple[str, str, str]) -> tuple[str, str]:
    made = api.post("/api/links", json={"mobile": person[0], "id_last6": person[1],
                                        "base_url": site.url, "expires_in_s": 3600})  # fmt: skip
    assert made.status_code == 201, made.text
    return str(made.json()["id"]), str(made.json()["url"])


def _link_row(api: httpx.Client, link_id: str) -> dict[str, object]:
    [row] = [link for link in api.get("/api/links").json() if link["id"] == link_id]
    return dict(row)


def _raw_values_in(folder: Path, values: list[str]) -> list[str]:
    """Every file under ``folder`` (each member of a zip on its own) that holds a value."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        parts = [(str(path), path.read_bytes())]
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                parts = [(f"{path}:{m}", archive.read(m)) for m in archive.namelist()]
        found += [f"{where} holds {v}" for where, data in parts for v in values
                  if v.encode() in data]  # fmt: skip
    return found


@pytest.mark.parametrize(
    ("stop", "before_click"),
    [
        (signal.SIGKILL, True),
        (signal.SIGTERM, True),
        (signal.SIGKILL, False),
    ],
    ids=["kill-9-check-first", "sigterm-check-first", "kill-9-check-after-click"],
)
def test_a_stop_while_people_are_at_their_checks_sends_nothing(
    site: MockSite, serves: Callable[..., Serve], stop: int, before_click: bool
) -> None:
    site.load_filings([Filing(*ANN), Filing(*BOB), Filing(CAT[0], CAT[1], CAT_FILED)])
    site.set_captcha("click", first=before_click)
    one = serves("--parallel", "1")
    api = one.client()
    ann, cat = queue(api, site, *ANN), queue(api, site, *CAT)
    link_id, link_url = _link(api, site, BOB)
    assert post_code(one.client(None), link_url, BOB[2]).status_code == 202
    bob = str(_link_row(api, link_id)["run_id"])
    for run_id in (ann, cat, bob):  # --parallel 1, and all three wait at their checks at once
        one.wait_run(api, run_id, lambda r: r["state"] == "needs_person", s=90)
    printed = one.stop(stop)
    assert one.proc.returncode == (-signal.SIGKILL if stop == signal.SIGKILL else 0), printed
    assert site.submissions() == []
    with closing(database(one)) as db:
        assert db.execute("SELECT COUNT(*) FROM attempts WHERE sent = 1").fetchone()[0] == 0

    site.set_captcha("off")
    two = serves("--parallel", "1")
    api = two.client()
    done = {r: two.wait_run(api, r, lambda s: s["state"] == "done", s=120) for r in (ann, cat)}
    assert done[ann]["outcome"]["category"] == "success"
    assert done[cat]["outcome"]["category"] == "wrong_info"
    ended = two.wait_run(api, bob, lambda s: s["state"] == "done")["outcome"]
    assert (ended["status"], ended["submitted"]) == ("restarted", "no")
    assert "nothing was sent" in ended["message"]
    assert "Press Verify again" in ended["next_step"]
    link = _link_row(api, link_id)
    assert (link["state"], link["attempts"], link["busy"]) == ("open", 0, False)
    link_url = link_url.replace(one.url, two.url)  # the new process listens elsewhere
    state = two.client(None).get(link_url + "/state").json()
    assert (state["state"], state["attempts_left"]) == ("retry", 5)
    assert sorted(s["body"]["mobileNum"] for s in site.submissions()) == [ANN[0], CAT[0]]

    # The resumed runs' evidence: the second process never queued them, and masks them all.
    files = api.get(f"/api/runs/{cat}/evidence/").json()
    assert "trace.zip" in files  # a failed run keeps its trace
    printed += two.stop()
    values = [v for person in (ANN, BOB, CAT) for v in person] + [CAT_FILED]
    assert _raw_values_in(two.out, values) == []
    for value in values:
        assert value not in printed


def test_a_kill_after_the_request_left_ends_unknown_and_holds_the_link(
    site: MockSite, serves: Callable[..., Serve], page: Page
) -> None:
    site.load_filings([Filing(*ANN), Filing(*BOB)])
    site.set_fault("verify", "slow", 120)  # the site has the requests; the replies never come
    one = serves()
    api = one.client()
    ann = queue(api, site, *ANN)
    link_id, link_url = _link(api, site, BOB)
    assert post_code(one.client(None), link_url, BOB[2]).status_code == 202
    assert site.wait_for_submissions(2, timeout=90)
    one.stop(signal.SIGKILL)

    site.clear_faults()
    two = serves()
    api = two.client()
    cut = two.wait_run(api, ann, lambda r: r["state"] == "done")["outcome"]
    assert (cut["category"], cut["status"], cut["submitted"]) == ("unknown", "interrupted", "maybe")
    assert "Check the filing's status" in cut["next_step"]
    bob = str(_link_row(api, link_id)["run_id"])
    assert two.wait_run(api, bob, lambda r: r["state"] == "done")["outcome"]["category"] == (
        "unknown"
    )
    assert _link_row(api, link_id)["state"] == "held"

    # The customer's page: no form, "contact your provider"; a code is refused.
    link_url = link_url.replace(one.url, two.url)  # the new process listens elsewhere
    page.goto(link_url)
    expect(page.locator("#contact")).to_be_visible()
    expect(page.locator("#contact-text")).to_contain_text("contact your provider")
    expect(page.locator("#form")).to_be_hidden()
    refused = post_code(two.client(None), link_url, BOB[2])
    assert refused.status_code == 409
    assert "contact your hosting provider" in refused.json()["error"]

    # The operator checked with the customer (not verified): the link takes a code again.
    assert api.post(f"/api/links/{link_id}/reset").status_code == 200
    assert _link_row(api, link_id)["attempts"] == 0
    expect(page.locator("#form")).to_be_visible()
    expect(page.locator("#contact")).to_be_hidden()
    assert len(site.submissions()) == 2  # nothing was sent again
    printed = two.stop()
    for value in (*ANN, *BOB):
        assert value not in printed
