"""``kill -9`` of a real ``icpbot serve`` mid-run, then a restart on the same state folder: the
run that had reached the click ends as interrupted, outcome unknown, never submitted again; the
queued one is resumed and reaches done."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from bot.mocksite import Filing, MockSite
from tests.serve.conftest import start_serve

pytestmark = pytest.mark.browser

PEOPLE = [("13912345671", "30721X", "864201"), ("13912345672", "307222", "864202")]


def test_kill_9_mid_run_then_a_restart(site: MockSite, tmp_path: Path) -> None:
    site.load_filings([Filing(*p) for p in PEOPLE])
    site.set_captcha("click")  # the first run waits at the check, past its click
    first = start_serve(tmp_path, "--parallel", "1")
    api = first.client()
    ids = [
        api.post("/api/runs", json={"action": "verify", "mobile": m, "code": c, "id_last6": i,
                                    "base_url": site.url}).json()["id"]
        for m, i, c in PEOPLE
    ]  # fmt: skip
    first.wait_run(api, ids[0], lambda r: r["state"] == "needs_person")
    assert api.get(f"/api/runs/{ids[1]}").json()["state"] == "queued"
    printed = first.stop(signal.SIGKILL)
    assert first.proc.returncode == -signal.SIGKILL

    site.set_captcha("off")
    second = start_serve(tmp_path, "--parallel", "1")
    api = second.client()
    cut = second.wait_run(api, ids[0], lambda r: r["state"] == "done")
    assert cut["outcome"]["category"] == "unknown"
    assert cut["outcome"]["status"] == "interrupted"
    assert "Check the filing's status" in cut["outcome"]["next_step"]
    resumed = second.wait_run(api, ids[1], lambda r: r["state"] == "done", s=90)
    assert resumed["outcome"]["category"] == "success"
    assert len(site.submissions()) == 1  # the resumed run only; the cut one never again
    printed += second.stop()
    for mobile, id6, code in PEOPLE:
        for value in (mobile, id6, code):
            assert value not in printed
