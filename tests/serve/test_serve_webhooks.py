"""Webhooks through a real ``icpbot serve``, the mock site, a real Chromium and a real receiver on
127.0.0.1: a customer's verify through their link is told as ``link.used``,
``run.needs_person`` and ``run.done``, each signed the Standard Webhooks way (checked with the
``standardwebhooks`` package) and retried after the receiver failed; deliveries survive a
``kill -9`` of serve; a private receiver needs the operator's allowance."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from bot.mocksite import Filing, MockSite
from tests.serve.checks import pass_check
from tests.serve.conftest import Serve, start_serve
from tests.serve.receiver import Got, receiving

pytestmark = pytest.mark.browser

MOBILE, ID6, CODE = "13912345678", "30721X", "864209"
EVENTS = ["run.needs_person", "run.done", "link.used"]


def poll(until: Callable[[], bool], s: float = 30) -> None:
    """Until ``until()`` holds, asked every 0.1 s (the service's own state, over its API)."""
    deadline = time.monotonic() + s
    while not until():
        assert time.monotonic() < deadline, "never got there"
        time.sleep(0.1)


def _ok(got: list[Got]) -> dict[str, Got]:
    return {g.headers["webhook-id"]: g for g in got if g.answered < 300}


def _events(got: list[Got], secret: str) -> dict[str, dict[str, Any]]:
    """Each delivered event, verified as a receiver would, by its type."""
    out = {}
    for g in _ok(got).values():
        payload = Webhook(secret).verify(g.body, g.headers)
        out[payload["type"]] = payload
    return out


def test_a_customers_verify_is_told_signed_and_retried(serve: Serve, site: MockSite) -> None:
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    site.set_captcha("click")
    api = serve.client()
    with receiving() as rx:
        rx.fail_next = 1  # the first delivery is answered 500: tried again
        made = api.post("/api/webhooks", json={"url": rx.url, "events": EVENTS})
        assert made.status_code == 201, made.text
        hook, secret = made.json()["id"], made.json()["secret"]
        assert secret.startswith("whsec_")
        listed = api.get("/api/webhooks")
        assert [h["id"] for h in listed.json()] == [hook]
        assert listed.json()[0]["events"] == EVENTS
        assert secret not in listed.text

        link = api.post(
            "/api/links",
            json={"mobile": MOBILE, "id_last6": ID6, "base_url": site.url, "expires_in_s": 3600},
        )
        assert link.status_code == 201, link.text
        with httpx.Client(timeout=30) as customer:
            sent = customer.post(link.json()["url"] + "/verify", json={"sms": CODE},
                                 headers={"origin": serve.url.rstrip("/")})  # fmt: skip
        assert sent.status_code == 202, sent.text
        [run_id] = [x["run_id"] for x in api.get("/api/links").json()]
        serve.wait_run(api, run_id, lambda r: r["state"] == "needs_person")
        pass_check(api, site, run_id)
        serve.wait_run(api, run_id, lambda r: r["state"] == "done")
        got = rx.wait(lambda g: len(_ok(g)) >= 3)

    events = _events(got, secret)
    assert set(events) == set(EVENTS)
    assert events["link.used"]["data"] == {"link_id": link.json()["id"], "run_id": run_id,
                                           "person": "139****5678"}  # fmt: skip
    assert events["run.needs_person"]["data"]["run_id"] == run_id
    assert events["run.needs_person"]["data"]["link_id"] == link.json()["id"]
    done = events["run.done"]["data"]
    assert done["run_id"] == run_id
    assert done["outcome"]["category"] == "success"
    assert done["outcome"]["submitted"] == "yes"
    assert done["person"] == "139****5678"
    # The failed first delivery came again, with the same id (a receiver drops repeats).
    failed = [g for g in got if g.answered == 500]
    assert len(failed) == 1
    assert failed[0].headers["webhook-id"] in _ok(got)
    retried = [d for d in api.get("/api/webhooks/deliveries").json()
               if d["event_id"] == failed[0].headers["webhook-id"]]  # fmt: skip
    assert [(d["state"], d["attempts"], d["last_error"]) for d in retried] == [
        ("delivered", 2, None)
    ]
    # Another secret does not verify; no payload holds a value unmasked.
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(got[-1].body, got[-1].headers)
    for g in got:
        assert g.headers["content-type"] == "application/json"
        for value in (MOBILE, ID6, CODE):
            assert value.encode() not in g.body
    assert api.delete(f"/api/webhooks/{hook}").status_code == 204
    assert api.get("/api/webhooks").json() == []
    assert api.delete(f"/api/webhooks/{hook}").status_code == 404


def test_a_delivery_is_not_lost_when_serve_is_killed(site: MockSite, tmp_path: Path) -> None:
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    with receiving() as rx:
        rx.status = 503  # the receiver is down while the run ends
        first = start_serve(tmp_path)
        api = first.client()
        made = api.post("/api/webhooks", json={"url": rx.url, "events": ["run.done"]}).json()
        body = {"action": "verify", "mobile": MOBILE, "code": CODE, "id_last6": ID6,
                "base_url": site.url}  # fmt: skip
        run_id = api.post("/api/runs", json=body).json()["id"]
        first.wait_run(api, run_id, lambda r: r["state"] == "done")
        rx.wait(lambda g: len(g) >= 1)

        # The failed attempt's end is written (then the kill; a kill mid-attempt would leave
        # a lease that another process waits out), its next attempt due in a few seconds.
        def shown() -> list[tuple[str, int, int]]:
            rows = api.get("/api/webhooks/deliveries").json()
            return [(d["state"], d["attempts"], d["last_status"]) for d in rows]

        poll(lambda: shown() == [("pending", 1, 503)])
        first.stop(signal.SIGKILL)

        rx.status = 204
        second = start_serve(tmp_path)
        try:
            got = rx.wait(lambda g: len(_ok(g)) == 1)
            api = second.client()
            [row] = api.get("/api/webhooks/deliveries").json()
            assert (row["state"], row["attempts"]) == ("delivered", 2)
        finally:
            second.stop()
    events = _events(got, made["secret"])
    assert events["run.done"]["data"]["run_id"] == run_id
    assert {g.headers["webhook-id"] for g in got} == {f"msg_done_{run_id}"}


def test_a_private_receiver_needs_the_operators_allowance(tmp_path: Path) -> None:
    plain = start_serve(tmp_path / "plain")
    allowed = start_serve(tmp_path / "allowed", "--allow-webhook-url", "http://10.0.0.7:8080/")
    try:
        for url in ("http://10.0.0.7:8080/hook", "http://169.254.169.254/latest",
                    "http://192.168.1.1/x"):  # fmt: skip
            refused = plain.client().post("/api/webhooks", json={"url": url, "events": EVENTS})
            assert refused.status_code == 422, refused.text
            [problem] = refused.json()["detail"]
            assert problem["loc"] == ["body", "url"]
            assert "--allow-webhook-url" in problem["msg"]
        api = allowed.client()
        ok = api.post("/api/webhooks", json={"url": "http://10.0.0.7:8080/hook", "events": EVENTS})
        assert ok.status_code == 201, ok.text
        other = api.post("/api/webhooks", json={"url": "http://10.0.0.8:8080/", "events": EVENTS})
        assert other.status_code == 422
        bad = api.post("/api/webhooks", json={"url": "http://127.0.0.1:9/", "events": ["x"]})
        assert bad.status_code == 422
        assert bad.json()["detail"][0]["loc"] == ["body", "events"]
        assert api.post("/api/webhooks", json={"url": "http://127.0.0.1:9/", "events": []}
                        ).status_code == 422  # fmt: skip
        assert allowed.client(None).get("/api/webhooks").status_code == 401
    finally:
        plain.stop()
        allowed.stop()
