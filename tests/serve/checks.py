"""Passing the mock's click check through the API as a person would, for the operations tests:
once the picture is shown, click its characters; after a miss (a new picture), again. A check
that is over (409: passed meanwhile) ends it; the run's state is asked first every time.

"Shown": the mock's page has painted the picture and takes clicks (it ignores them while the
new picture loads, as a person would not click a picture not seen yet). Clicking as soon as the
mock had made a new challenge lost clicks on a loaded machine, and every try then missed."""

from __future__ import annotations

import time

import httpx

from bot.mocksite import MockSite
from tests.answers import shown_answer


def _state(api: httpx.Client, run_id: str) -> str:
    return str(api.get(f"/api/runs/{run_id}").json()["state"])


def pass_check(api: httpx.Client, site: MockSite, run_id: str, tries: int = 8) -> None:
    for _ in range(tries):
        if _state(api, run_id) != "needs_person":
            return
        answer = shown_answer(
            site,
            unless=lambda: _state(api, run_id) != "needs_person",
            what="the check's picture was never shown",
        )
        if answer is None:
            return
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
