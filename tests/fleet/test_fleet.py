"""Two ``icpbot serve`` processes on one PostgreSQL behind nginx (round-robin), all real: any
process answers for any run. A customer passes a link's check in a real browser through nginx,
an API run's check is passed through nginx, the runs' files are served by either process, and
once their process is gone the answer is a 404 that says where they are. One process is
``kill -9``ed while its runs wait at their checks: the other takes them over (nothing sent,
nothing counted) and the people pass their checks again through nginx. Nobody is submitted
twice."""

from __future__ import annotations

import json
import re
import signal
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from bot.mocksite import Filing, MockSite
from tests.fleet.conftest import Fleet, free_port
from tests.serve.conftest import TOKEN
from tests.serve.people import pass_check, queue
from tests.serve.test_serve_ui import PASSWORD, add_operator

pytestmark = pytest.mark.browser

ANN = ("13912345671", "30721X", "864201")  # an API run
BOB = ("13912345672", "307222", "864202")  # a customer's link
SMS = "【工信部ICP备案】您的短信核验验证码为{code}，请于24小时内登录完成短信核验。"


#: nginx's answers while a process it still sends to has just died (it marks the upstream
#: failed after a try, and may have none left for a moment): a client asks again
_GATEWAY = (502, 503, 504)


def _wait(
    api: httpx.Client, run_id: str, until: Any, s: float = 90, *, after_kill: bool = False
) -> dict[str, Any]:
    deadline = time.monotonic() + s
    got: dict[str, Any] = {}
    while time.monotonic() < deadline:
        answer = api.get(f"/api/runs/{run_id}")
        if after_kill and answer.status_code in _GATEWAY:
            time.sleep(0.1)
            continue
        assert answer.status_code == 200, answer.text  # whichever process nginx chose
        got = answer.json()
        if until(got):
            return got
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} never got there: {got}")


def _link(api: httpx.Client, fleet: Fleet, site: MockSite) -> tuple[str, str]:
    made = api.post("/api/links", json={"mobile": BOB[0], "id_last6": BOB[1],
                                        "base_url": site.url, "expires_in_s": 3600})  # fmt: skip
    assert made.status_code == 201, made.text
    url = str(made.json()["url"])
    assert url.startswith(fleet.url + "l/")  # made on the public address: nginx
    return str(made.json()["id"]), url


def _customer_passes(page: Page, site: MockSite) -> None:
    """As a person on the link's page: paste the SMS, Verify, click the characters (a new
    picture after a miss: look and click again), until the page says it is done."""
    page.get_by_label(re.compile("SMS")).fill(SMS.format(code=BOB[2]))
    page.get_by_role("button", name="Verify").click()
    shot = page.get_by_role("img", name=re.compile("^Security check"))
    with page.expect_response(lambda r: "/image" in r.url and r.status == 200, timeout=90_000):
        pass
    expect(shot).to_be_visible()
    for _ in range(4):
        answer = site.captcha_answer()
        with page.expect_response(lambda r: "/image" in r.url and r.status == 200):
            pass
        for point in answer["points"]:
            with page.expect_response(lambda r: r.url.endswith("/click")) as clicked:
                shot.click(position={"x": point["x"], "y": point["y"]})
            assert clicked.value.status in (200, 409), clicked.value.status
        try:
            expect(page.locator("#done")).to_be_visible(timeout=8000)
            return
        except AssertionError:
            continue
    raise AssertionError("the customer did not pass the check")


def _submitted_once_each(site: MockSite, people: list[str]) -> None:
    counts = Counter(s["body"]["mobileNum"] for s in site.submissions())
    assert counts == Counter(people), counts  # nobody twice, nobody missing


def test_any_process_answers_for_any_run_behind_nginx(
    fleet: Fleet, site: MockSite, page: Page
) -> None:
    site.load_filings([Filing(*ANN), Filing(*BOB)])
    site.set_captcha("click")
    a, b = fleet.start("a"), fleet.start("b")
    ports = [int(s.url.rstrip("/").rsplit(":", 1)[1]) for s in (a, b)]
    fleet.front(ports)
    api = fleet.api()

    # A customer's link, in a real browser, through nginx.
    _, link_url = _link(api, fleet, site)
    page.goto(link_url)
    expect(page.locator("#person")).to_have_text("139****5672")
    _customer_passes(page, site)
    expect(page.locator("#message")).to_contain_text("verif")

    # An API run: its picture answers from either process, then its check is passed.
    ann = queue(api, site, *ANN)
    _wait(api, ann, lambda r: r["state"] == "needs_person" and r["check_url"], after_kill=True)
    pictures = [api.get(f"/api/runs/{ann}/check.png") for _ in range(6)]
    assert [p.status_code for p in pictures] == [200] * 6
    assert all(p.content.startswith(b"\x89PNG") for p in pictures)
    check_url = str(_wait(api, ann, lambda r: True)["check_url"])
    assert check_url.startswith(fleet.url + "h/")  # the hand-off page, also through nginx
    states = [httpx.get(check_url + "/state", timeout=30) for _ in range(4)]
    assert [s.status_code for s in states] == [200] * 4, [s.text for s in states]
    pass_check(a, api, site, ann)
    done = _wait(api, ann, lambda r: r["state"] == "done")
    assert done["outcome"]["category"] == "success"

    # Both processes answered requests about runs the other held.
    printed = a.lines + b.lines
    assert any("forward" in line or "/check" in line for line in a.lines), "".join(printed)
    assert any("/check" in line for line in b.lines), "".join(printed)

    # Evidence from anywhere: every request answers the same listing, whichever process.
    listings = [api.get(f"/api/runs/{ann}/evidence/") for _ in range(4)]
    assert [r.status_code for r in listings] == [200] * 4, [r.text for r in listings]
    assert len({tuple(r.json()) for r in listings}) == 1
    assert "result.json" in listings[0].json()
    files = [api.get(f"/api/runs/{ann}/evidence/result.json") for _ in range(2)]
    assert [f.status_code for f in files] == [200, 200]

    # A forwarded request must carry the service's signature.
    hop = {"Authorization": f"Bearer {TOKEN}", "x-icpbot-hop": "x.y"}
    forged = httpx.get(a.url + f"api/runs/{ann}/check.png", headers=hop)
    assert forged.status_code == 403

    # The owner of the run's files stops, and its disk is not here (another machine's, as a
    # rename shows): the other says where they are (404, never 500).
    owner = fleet.owner_url(ann)
    assert owner is not None
    gone, left = (a, b) if owner.rstrip("/") == a.url.rstrip("/") else (b, a)
    gone.stop()
    gone.out.rename(gone.out.with_name("not-mounted-here"))
    away = left.client().get(f"/api/runs/{ann}/evidence/")
    assert away.status_code == 404, away.text
    assert str(gone.out) in away.json()["detail"]
    assert away.json()["folder"].startswith(str(gone.out))

    _submitted_once_each(site, [BOB[0], ANN[0]])
    for value in (*ANN, *BOB):
        assert value not in "".join(a.lines + b.lines)


def test_a_process_killed_while_people_wait_at_their_checks_is_taken_over(
    fleet: Fleet, site: MockSite, page: Page
) -> None:
    site.load_filings([Filing(*ANN), Filing(*BOB)])
    site.set_captcha("click")
    # Process a takes both runs (b is not started yet: nginx sends everything to a).
    b_port = free_port()
    a = fleet.start("a")
    fleet.front([int(a.url.rstrip("/").rsplit(":", 1)[1]), b_port])
    api = fleet.api()
    ann = queue(api, site, *ANN)
    link_id, link_url = _link(api, fleet, site)
    page.goto(link_url)
    page.get_by_label(re.compile("SMS")).fill(SMS.format(code=BOB[2]))
    page.get_by_role("button", name="Verify").click()
    shot = page.get_by_role("img", name=re.compile("^Security check"))
    expect(shot).to_be_visible(timeout=90_000)
    [link] = [x for x in api.get("/api/links").json() if x["id"] == link_id]
    bob = str(link["run_id"])
    for run_id in (ann, bob):
        _wait(api, run_id, lambda r: r["state"] == "needs_person")
        assert fleet.owner_url(run_id) == a.url.rstrip("/")

    # Now b serves too, and a is killed while both people are at their checks.
    b = fleet.start("b", port=b_port)
    pictures = [api.get(f"/api/runs/{ann}/check.png").status_code for _ in range(4)]
    assert pictures == [200] * 4  # b forwards to a
    a.stop(signal.SIGKILL)
    assert site.submissions() == []

    # b takes them over: nothing was sent, nothing counted.
    ended = _wait(api, bob, lambda r: r["state"] == "done", after_kill=True)["outcome"]
    assert (ended["status"], ended["submitted"]) == ("restarted", "no")
    assert "nothing was sent" in ended["message"]
    assert fleet.sent_attempts() == 0
    _wait(api, ann, lambda r: r["state"] == "needs_person" and r["check_url"], after_kill=True)
    assert fleet.owner_url(ann) == b.url.rstrip("/")
    assert site.submissions() == []

    # The people pass their checks again through nginx (one at a time: the mock site answers
    # for its latest picture): the API run's, then the customer's, whose page says to press
    # Verify again.
    pass_check(b, api, site, ann)
    assert _wait(api, ann, lambda r: r["state"] == "done")["outcome"]["category"] == "success"
    expect(page.locator("#form")).to_be_visible(timeout=30_000)
    _customer_passes(page, site)
    _submitted_once_each(site, [ANN[0], BOB[0]])
    assert fleet.sent_attempts() == 2


def _events(stream: httpx.Response, deadline: float) -> Iterator[list[dict[str, Any]]]:
    """The ``runs`` events of a dashboard's stream as they arrive (each a list of runs), until
    ``deadline``; a stream that says nothing for the client's read timeout fails the test."""
    kind = ""
    for line in stream.iter_lines():
        if time.monotonic() > deadline:
            return
        if line.startswith("event: "):
            kind = line[len("event: ") :]
        elif line.startswith("data: ") and kind == "runs":
            yield json.loads(line[len("data: ") :])


def test_the_dashboards_live_events_come_through_nginx_from_the_other_process(
    fleet: Fleet, site: MockSite
) -> None:
    """An operator logs in through nginx (the login form and its CSRF token), opens the
    dashboard's event stream through nginx, and a run queued through the other process (its
    own address, not nginx) shows on that stream, up to its check, as it happens (a change
    another process made is read from the database within a second, so a stream may first see
    the run already running):
    nginx passes each event on at once (``proxy_buffering off``; serve also says
    ``X-Accel-Buffering: no``)."""
    site.load_filings([Filing(*ANN)])
    site.set_captcha("click")
    a, b = fleet.start("a"), fleet.start("b")
    fleet.front([int(s.url.rstrip("/").rsplit(":", 1)[1]) for s in (a, b)])
    assert fleet.nginx is not None
    assert "proxy_buffering off;" in (fleet.nginx.folder / "nginx.conf").read_text()
    add_operator(a, "alice")

    # The login form through nginx: its CSRF token in the form and its cookie, from whichever
    # process; the POST reaches the next one (the secret and the sessions are shared).
    operator = httpx.Client(base_url=fleet.url, timeout=httpx.Timeout(30, read=20))
    fleet.clients.append(operator)
    form = operator.get("/login")
    assert form.status_code == 200
    found = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert found is not None
    logged = operator.post("/login", headers={"Origin": fleet.url.rstrip("/")},
                           data={"csrf": found.group(1), "name": "alice",
                                 "password": PASSWORD})  # fmt: skip
    assert logged.status_code == 303, logged.text
    assert operator.get("/").status_code == 200  # a session either process knows

    # Two dashboards' streams through nginx: round-robin gives one to each process (their
    # access logs say so at the end). A run queued through process a, on its own address,
    # shows on both: one of them is held by b.
    deadline = time.monotonic() + 120
    with operator.stream("GET", "/events") as one, operator.stream("GET", "/events") as two:
        streams = [_events(one, deadline), _events(two, deadline)]
        for stream in (one, two):
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
        assert [next(events) for events in streams] == [[], []]  # every run once: none yet
        run_id = queue(a.client(), site, *ANN)
        for events in streams:
            seen: list[str] = []
            for runs in events:
                seen += [r["state"] for r in runs if r["id"] == run_id]
                if "needs_person" in seen:
                    break
            else:
                raise AssertionError(f"the run never showed at its check on a stream: {seen}")
    assert site.submissions() == []
    printed = {name: fleet.processes[name].stop() for name in ("a", "b")}
    held = {name: len(re.findall(r"GET /events 200", text)) for name, text in printed.items()}
    assert held == {"a": 1, "b": 1}, held
    for value in ANN:
        assert value not in "".join(printed.values())
