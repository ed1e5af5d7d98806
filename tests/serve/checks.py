"""Passing the mock's click check through the API as a person would, for the operations tests:
click the characters of the picture shown now; after a miss (a new picture), again. A check
that is over (409: passed meanwhile) ends it; the run's state is asked first every time."""

from __future__ import annotations

import time
from typing import Any

import httpx

from bot.mocksite import MockSite


def _state(api: httpx.Client, run_id: str) -> str:
    return str(api.get(f"/api/runs/{run_id}").json()["state"])


def pass_check(api: httpx.Client, site: MockSite, run_id: str, tries: int = 8) -> None:
    for _ in range(tries):
        if _state(api, run_id) != "needs_person":
            return
        answer: dict[str, Any] = site.captcha_answer()
        for point in answer["points"]:
            if api.post(f"/api/runs/{run_id}/check/click", json=point).status_code == 409:
                return  # over: passed with the clicks before
        deadline = time.monotonic() + 30  # a loaded machine redraws slowly
        while time.monotonic() < deadline:  # the run moves on, or a new picture comes
            if _state(api, run_id) != "needs_person":
                return
            if site.captcha_answer()["uuid"] != answer["uuid"]:
                break
            time.sleep(0.05)
    raise AssertionError("the check was not passed")
