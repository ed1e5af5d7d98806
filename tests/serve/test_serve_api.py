"""``icpbot serve``'s JSON API through a real process and the mock: a verify whose security
check is passed through the API itself (picture, a wrong click, the right clicks; the page at
serve's viewport, its memory given back while it waits), 401 and 422
without the value, one person's runs never overlapping, and SIGTERM."""

from __future__ import annotations

import itertools
import math
import struct
import time
from typing import Any

import pytest

from bot import defaults
from bot.mocksite import Filing, MockSite
from tests.serve.conftest import Serve

pytestmark = pytest.mark.browser

MOBILE, ID6, CODE = "13912345678", "30721X", "864209"


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _new_arrangement(site: MockSite, old: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while (fresh := site.captcha_answer())["uuid"] == old:
        assert time.monotonic() < deadline, "no new arrangement"
        time.sleep(0.05)
    return fresh


def _pass_check(serve: Serve, site: MockSite, run_id: str, old: str, size: tuple[int, int]) -> None:
    """As a person would: look at the new picture, click the characters; on a new picture
    (the site may still have been redrawing), look again and click again."""
    api = serve.client()
    for _ in range(3):
        fresh = _new_arrangement(site, old)
        assert site.submissions() == []
        assert _png_size(api.get(f"/api/runs/{run_id}/check/image").content) == size
        for point in fresh["points"]:
            done = api.post(f"/api/runs/{run_id}/check/click", json=point)
            if done.status_code == 409:  # passed: the check is gone
                return
            assert done.status_code == 200, done.text
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if api.get(f"/api/runs/{run_id}").json()["state"] != "needs_person":
                return
            if site.captcha_answer()["uuid"] not in (fresh["uuid"], None):  # None: passed
                break
            time.sleep(0.05)
        old = fresh["uuid"]
    raise AssertionError("the check was not passed")


def test_a_verify_whose_check_is_passed_through_the_api(serve: Serve, site: MockSite) -> None:
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    site.set_captcha("click")
    api = serve.client()
    made = api.post(
        "/api/runs",
        json={"action": "verify", "mobile": MOBILE, "code": CODE, "id_last6": ID6,
              "base_url": site.url},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    run_id = made.json()["id"]
    state = serve.wait_run(api, run_id, lambda r: r["state"] == "needs_person")
    assert state["check_url"].startswith(serve.url + "h/")
    assert state["outcome"] is None

    picture = api.get(f"/api/runs/{run_id}/check/image")
    assert picture.status_code == 200
    assert api.get(f"/api/runs/{run_id}/check.png").content == picture.content  # its first name
    state = api.get(f"/api/runs/{run_id}/check/state").json()
    assert (state["state"], state["instruction"]["form"]) == ("waiting", "click")
    assert api.get(f"/api/runs/{run_id}/check").json()["instruction"] == state["instruction"]
    assert picture.headers["content-type"] == "image/png"
    width, height = _png_size(picture.content)
    answer = site.captcha_answer()
    assert all(0 <= p["x"] <= width and 0 <= p["y"] <= height for p in answer["points"])

    # A point outside the box is refused; a wrong click gets a new arrangement.
    assert api.post(f"/api/runs/{run_id}/check/click", json={"x": -5, "y": 3}).status_code == 422
    first = answer["points"][0]
    wrong = next(
        (x, y) for x in range(40, width - 20, 30) for y in range(100, height - 20, 30)
        if math.dist((x, y), (first["x"], first["y"])) > 60
    )  # fmt: skip
    assert api.post(
        f"/api/runs/{run_id}/check/click", json={"x": wrong[0], "y": wrong[1]}
    ).is_success
    _pass_check(serve, site, run_id, answer["uuid"], (width, height))
    final = serve.wait_run(api, run_id, lambda r: r["state"] == "done")
    assert final["outcome"]["category"] == "success"
    assert final["outcome"]["submitted"] == "yes"
    assert set(final["outcome"]) == {"category", "status", "site_status", "message",
                                     "next_step", "submitted", "banner_zh"}  # fmt: skip
    assert "短信核验" in final["outcome"]["banner_zh"]  # the site's own words
    assert final["check_url"] is None
    assert len(site.submissions()) == 1
    files = api.get(f"/api/runs/{run_id}/evidence/").json()
    assert "result.json" in files
    # The run's page had serve's smaller viewport (memory), the check and the form within it.
    shot = api.get(f"/api/runs/{run_id}/evidence/captcha.png")
    assert _png_size(shot.content)[0] == defaults.SERVE_VIEWPORT[0]
    result = api.get(f"/api/runs/{run_id}/evidence/result.json").json()
    assert result["outcome"]["category"] == "success"
    assert api.get(f"/api/runs/{run_id}/evidence/..%2F..%2Fstate%2Fsalt").status_code == 404
    printed = serve.stop()
    assert serve.proc.returncode == 0, printed
    for value in (MOBILE, CODE, ID6):
        assert value not in printed


def test_no_token_or_a_wrong_one_is_401_and_bad_input_is_422_without_the_value(
    serve: Serve,
) -> None:
    body = {"action": "verify", "mobile": MOBILE, "code": CODE, "id_last6": ID6}
    assert serve.client(None).post("/api/runs", json=body).status_code == 401
    assert serve.client("wrong").post("/api/runs", json=body).status_code == 401
    assert serve.client("wrong").get("/api/runs/abc").status_code == 401
    api = serve.client()
    for field, value in [("mobile", "12345678901"), ("id_last6", "ABCDEFG"), ("code", "98765")]:
        answer = api.post("/api/runs", json=body | {field: value})
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["loc"][-1] == field
        assert value not in answer.text
    for bad in [{**body, "extra": "13700000000"}, {**body, "mobile": 13912345678},
                {**body, "action": "delete"}, {"action": "verify"}]:  # fmt: skip
        answer = api.post("/api/runs", json=bad)
        assert answer.status_code == 422, answer.text
        assert "13700000000" not in answer.text
        assert MOBILE not in answer.text
        assert "Traceback" not in answer.text
    raw = api.post(
        "/api/runs", content=b"{not json \xff", headers={"content-type": "application/json"}
    )
    assert raw.status_code in (400, 422)
    assert "Traceback" not in raw.text
    huge = api.post("/api/runs", content=b"x" * (2 * 1024 * 1024),
                    headers={"content-type": "application/json"})  # fmt: skip
    assert huge.status_code == 413
    odd = api.post("/api/runs", json=body | {"mobile": "1391234\u202e5678\u0000"})
    assert odd.status_code == 422
    assert api.get("/api/runs").json() == []  # nothing was stored
    printed = serve.stop()
    for value in (MOBILE, CODE, ID6, "13700000000"):
        assert value not in printed


def test_one_persons_runs_queued_together_never_overlap(serve: Serve, site: MockSite) -> None:
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    api = serve.client()
    ids = [
        api.post("/api/runs", json={"action": "resend", "mobile": MOBILE, "id_last6": ID6,
                                    "base_url": site.url}).json()["id"]
        for _ in range(3)
    ]  # fmt: skip
    for run_id in ids:
        serve.wait_run(api, run_id, lambda r: r["state"] == "done", s=90)
    outcomes = [api.get(f"/api/runs/{i}").json()["outcome"] for i in ids]
    assert [o["category"] for o in outcomes] == ["success"] * 2 + ["failed"], outcomes
    # Each run's own record of when it ran: one after the other, never at once.
    spans = sorted(
        (r["started_at"], r["finished_at"])
        for r in (api.get(f"/api/runs/{i}/evidence/result.json").json() for i in ids)
    )
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), spans
    assert len(site.submissions()) == 3


def test_the_slider_is_dragged_through_the_api_with_the_readmes_body(
    serve: Serve, site: MockSite
) -> None:
    """``{"from": [x, y], "to": [x, y]}`` (JSON lists, as the README shows it) is a drag; a path
    of points too; a token's call needs no Origin; what the check refuses is 422 naming the
    field."""
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    site.set_captcha("slider")
    api = serve.client()
    made = api.post(
        "/api/runs",
        json={"action": "verify", "mobile": MOBILE, "code": CODE, "id_last6": ID6,
              "base_url": site.url},
    )  # fmt: skip
    run_id = made.json()["id"]
    serve.wait_run(api, run_id, lambda r: r["state"] == "needs_person")
    drag = f"/api/runs/{run_id}/check/drag"
    for body, field in (
        ({"from": [1, 1]}, "body"),
        ({"from": [1, 1], "to": [2]}, "from"),
        ({"points": [[1, 1]]}, "points"),
        ({"points": [[1, 1]] * 401}, "points"),
        ({"from": [-5, 1], "to": [40, 1]}, "from"),  # starts outside the box
    ):
        refused = api.post(drag, json=body)
        assert refused.status_code == 422, body
        assert refused.json()["detail"][0]["loc"] == ["body", field]
    not_json = api.post(drag, content=b"{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400
    answer = site.captcha_answer()
    (x0, y0), (x1, y1) = ((p["x"], p["y"]) for p in answer["points"])
    done = api.post(drag, json={"from": [x0, y0], "to": [x1, y1]})
    assert done.status_code == 200, done.text
    final = serve.wait_run(api, run_id, lambda r: r["state"] == "done")
    assert final["outcome"]["category"] == "success"
    assert len(site.submissions()) == 1
