"""What a person and an operator do in the service's tests: pass a run's security check
through the API, post a code on a customer's link, read the service's database."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx

from bot.mocksite import MockSite
from tests.serve.conftest import Serve

__all__ = ["database", "pass_check", "post_code", "queue"]


def queue(api: httpx.Client, site: MockSite, mobile: str, id6: str, code: str | None) -> str:
    """A run queued through the API (a verify with ``code``, else a resend); its id."""
    body: dict[str, Any] = {"mobile": mobile, "id_last6": id6, "base_url": site.url}
    body |= {"action": "verify", "code": code} if code else {"action": "resend"}
    made = api.post("/api/runs", json=body)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def pass_check(serve: Serve, api: httpx.Client, site: MockSite, run_id: str) -> None:
    """As a person would, through the API: click the latest picture's characters; after a new
    picture (the site may still have been drawing), look and click again."""
    serve.wait_run(api, run_id, lambda r: r["state"] == "needs_person")
    for _ in range(4):
        answer = site.captcha_answer()
        for point in answer["points"]:
            done = api.post(f"/api/runs/{run_id}/check/click", json=point)
            if done.status_code == 409:  # passed: the check is gone
                return
            assert done.status_code == 200, done.text
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if api.get(f"/api/runs/{run_id}").json()["state"] != "needs_person":
                return
            if site.captcha_answer()["uuid"] not in (answer["uuid"], None):  # None: passed
                break  # a new picture: look again
            time.sleep(0.05)
    raise AssertionError("the check was not passed")


def post_code(client: httpx.Client, url: str, sms: str) -> httpx.Response:
    """The customer's page posting a code (same origin, as its script does)."""
    origin = url.split("/l/")[0]
    return client.post(url + "/verify", json={"sms": sms}, headers={"Origin": origin})


def database(serve: Serve) -> sqlite3.Connection:
    """The service's SQLite database (its state folder's ledger)."""
    return sqlite3.connect(Path(serve.env["ICPBOT_STATE_DIR"]) / "ledger.sqlite3")
