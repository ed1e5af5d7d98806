"""A real ``icpbot serve`` stopped mid-run, then started again on the same state folder.

The ledger's "sent" mark is written when the gate releases the request, after the security check:
a run stopped while its person is at the check (``kill -9`` or SIGTERM) sent nothing, counts
nothing and is resumed at the next start; a run killed after its request left ends as
interrupted, outcome unknown, and is never submitted again."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from bot.mocksite import Filing, MockSite
from bot.safety.ledger import open_ledger
from bot.serve.store import ServeStore
from tests.serve.conftest import Serve, start_serve

pytestmark = pytest.mark.browser

PEOPLE = [("13912345671", "30721X", "864201"), ("13912345672", "307222", "864202")]


def _queue(serve: Serve, site: MockSite) -> list[str]:
    api = serve.client()
    return [
        api.post("/api/runs", json={"action": "verify", "mobile": m, "code": c, "id_last6": i,
                                    "base_url": site.url}).json()["id"]
        for m, i, c in PEOPLE
    ]  # fmt: skip


def _no_values(printed: str) -> None:
    for mobile, id6, code in PEOPLE:
        for value in (mobile, id6, code):
            assert value not in printed


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "SIGTERM"])
def test_stopped_while_a_person_is_at_the_check_the_run_is_resumed(
    site: MockSite, tmp_path: Path, sig: signal.Signals
) -> None:
    site.load_filings([Filing(*p) for p in PEOPLE])
    site.set_captcha("click")  # the first run waits at the check, after its click
    first = start_serve(tmp_path, "--parallel", "1")
    ids = _queue(first, site)
    api = first.client()
    first.wait_run(api, ids[0], lambda r: r["state"] == "needs_person")
    printed = first.stop(sig)
    assert first.proc.returncode == (-signal.SIGKILL if sig is signal.SIGKILL else 0), printed
    assert site.submissions() == []
    with open_ledger(tmp_path / "state") as ledger:
        [attempt] = ledger.entries()
        assert (attempt.sent, attempt.counted) == (False, False)
        if sig is signal.SIGTERM:  # stopped cleanly: queued again at once, nothing counted
            store = ServeStore(ledger)
            assert store.run(ids[0]).state == "queued"  # type: ignore[union-attr]

    site.set_captcha("off")
    second = start_serve(tmp_path, "--parallel", "1")
    api = second.client()
    resumed = second.wait_run(api, ids[0], lambda r: r["state"] == "done", s=90)
    assert resumed["outcome"]["category"] == "success", resumed
    other = second.wait_run(api, ids[1], lambda r: r["state"] == "done", s=90)
    assert other["outcome"]["category"] == "success"
    assert len(site.submissions()) == 2  # each person once
    printed += second.stop()
    _no_values(printed)
    with open_ledger(tmp_path / "state") as ledger:
        person = ledger.person_key(*PEOPLE[0][:2])
        assert ledger.failures_since_success(person) == 0


def test_kill_9_after_the_request_left_ends_unknown_and_never_again(
    site: MockSite, tmp_path: Path
) -> None:
    site.load_filings([Filing(*p) for p in PEOPLE])
    site.set_fault("verify", "slow", 20, times=1)  # the first reply is still out at the kill
    first = start_serve(tmp_path, "--parallel", "1")
    ids = _queue(first, site)
    assert site.wait_for_submissions(1, timeout=60)  # it left: its mark was written before
    printed = first.stop(signal.SIGKILL)
    assert first.proc.returncode == -signal.SIGKILL

    second = start_serve(tmp_path, "--parallel", "1")
    api = second.client()
    cut = second.wait_run(api, ids[0], lambda r: r["state"] == "done")
    assert cut["outcome"]["category"] == "unknown"
    assert cut["outcome"]["status"] == "interrupted"
    assert "Check the filing's status" in cut["outcome"]["next_step"]
    resumed = second.wait_run(api, ids[1], lambda r: r["state"] == "done", s=90)
    assert resumed["outcome"]["category"] == "success"
    assert len(site.submissions()) == 2  # the cut one once, never again; the other once
    printed += second.stop()
    _no_values(printed)
