"""A customer's link under concurrency, through a real ``icpbot serve``: 20 posts of a valid
code released together make one run; typos cost no try; the link's page shows its one run;
the operator resets and extends a link; a link's values are erased when it ends."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import closing

import httpx
import pytest

from bot.mocksite import Filing, MockSite
from tests.serve.conftest import Serve
from tests.serve.people import database, post_code

pytestmark = pytest.mark.browser

MOBILE, ID6, CODE = "13912345678", "30721X", "864209"


def _link(serve: Serve, site: MockSite, expires_in_s: int = 3600) -> tuple[str, str]:
    made = serve.client().post(
        "/api/links",
        json={"mobile": MOBILE, "id_last6": ID6, "base_url": site.url,
              "expires_in_s": expires_in_s},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    return str(made.json()["id"]), str(made.json()["url"])


def _sealed(serve: Serve, link_id: str) -> str:
    with closing(database(serve)) as db:
        return str(
            db.execute("SELECT sealed FROM serve_links WHERE id = ?", (link_id,)).fetchone()[0]
        )


def test_twenty_posts_at_once_on_one_link_make_one_run(serve: Serve, site: MockSite) -> None:
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    site.set_captcha("click")  # the one run waits at its check: it stays in flight
    link_id, url = _link(serve, site)
    barrier = threading.Barrier(20)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def post() -> None:
        with httpx.Client(timeout=60) as client:
            barrier.wait()
            got = post_code(client, url, CODE)
        with lock:
            answers.append(got)

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    codes = sorted(a.status_code for a in answers)
    assert codes.count(202) == 1, codes
    assert set(codes) <= {202, 409, 429}, codes
    for refused in (a for a in answers if a.status_code != 202):
        assert refused.json()["error"] in (
            "A verification is already under way: wait for its result.",
            "Please wait a few seconds before you try again.",
        )
    api = serve.client()
    [link] = api.get("/api/links").json()
    assert (link["attempts"], link["busy"]) == (1, True)
    runs = [r for r in api.get("/api/runs").json() if r["created_by"] == f"link:{link_id}"]
    assert [r["id"] for r in runs] == [link["run_id"]]
    # The link's page shows that run, at its check.
    serve.wait_run(api, link["run_id"], lambda r: r["state"] == "needs_person")
    state = serve.client(None).get(url + "/state").json()
    assert state["state"] == "needs_person"
    assert "check" in state


def test_typos_cost_no_try(serve: Serve, site: MockSite) -> None:
    _, url = _link(serve, site)
    customer = serve.client(None)
    sms_without_code = "【工信部ICP备案】请于24小时内登录 https://beian.miit.gov.cn/ 完成短信核验。"
    for typo in ("12345", "abcdef", sms_without_code, "1234567"):
        answer = post_code(customer, url, typo)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"].startswith("That is not an SMS code")
    state = customer.get(url + "/state").json()
    assert (state["state"], state["attempts_left"]) == ("form", 5)
    [link] = serve.client().get("/api/links").json()
    assert (link["attempts"], link["run_id"]) == (0, None)


def test_the_operator_resets_and_extends_a_link(serve: Serve, site: MockSite) -> None:
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    link_id, url = _link(serve, site)
    api, customer = serve.client(), serve.client(None)
    assert post_code(customer, url, "111111").status_code == 202  # wrong: a verdict
    [link] = api.get("/api/links").json()
    done = serve.wait_run(api, link["run_id"], lambda r: r["state"] == "done", s=90)
    assert done["outcome"]["category"] == "wrong_info"
    [link] = api.get("/api/links").json()
    assert (link["state"], link["attempts"], link["busy"]) == ("open", 1, False)
    assert customer.get(url + "/state").json()["state"] == "retry"

    assert api.post(f"/api/links/{link_id}/reset").status_code == 200
    assert api.get("/api/links").json()[0]["attempts"] == 0
    before = api.get("/api/links").json()[0]["expires_at"]
    extended = api.post(f"/api/links/{link_id}/extend", json={"expires_in_s": 7200})
    assert extended.status_code == 200, extended.text
    assert extended.json()["expires_at"] == pytest.approx(before + 3600, abs=60)
    assert api.post(f"/api/links/{link_id}/extend", json={"expires_in_s": 5}).status_code == 422
    assert api.post("/api/links/nosuchlink/reset").status_code == 404

    assert _sealed(serve, link_id) != ""
    assert api.post(f"/api/links/{link_id}/revoke").status_code == 200
    assert _sealed(serve, link_id) == ""  # revoked: the values are erased
    for action in ("reset", "extend"):
        body = {"expires_in_s": 3600} if action == "extend" else None
        refused = api.post(f"/api/links/{link_id}/{action}", json=body)
        assert refused.status_code == 410
        assert refused.json()["detail"] == "the link was revoked"


def test_an_expired_links_values_are_erased_at_the_next_sweep(
    site: MockSite, serves: Callable[..., Serve]
) -> None:
    one = serves()
    link_id, url = _link(one, site)
    other_id, _ = _link(one, site)
    one.stop()
    with closing(database(one)) as db, db:
        db.execute("UPDATE serve_links SET expires_at = ?", (time.time() - 1,))
    two = serves()
    try:
        deadline = time.monotonic() + 30  # the first sweep runs as the workers start
        while _sealed(two, other_id) != "" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _sealed(two, other_id) == ""  # never touched: the sweep erased it
        assert _sealed(two, link_id) == ""
        assert two.client(None).get(url.replace(one.url, two.url)).status_code == 410
    finally:
        two.stop()
