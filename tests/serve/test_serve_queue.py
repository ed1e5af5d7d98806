"""The queue of a real ``icpbot serve``: a run waiting for a person holds no working slot;
runs that cannot start end with an outcome saying why, and the service goes on (also after a
restart); ``Idempotency-Key`` answers a repeated create with the first answer."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.mocksite import Filing, MockSite
from bot.safety.ledger import LEDGER_URL_ENV
from bot.serve.server import open_service
from tests.serve.conftest import Serve
from tests.serve.people import pass_check, queue

pytestmark = pytest.mark.browser

ANN = ("13912345671", "30721X", "864201")
BOB = ("13912345672", "307222", "864202")
SELECTORS = Path(__file__).resolve().parents[2] / "selectors"


def test_a_run_waiting_at_its_check_holds_up_no_other_persons_run(
    site: MockSite, serves: Callable[..., Serve]
) -> None:
    site.load_filings([Filing(*ANN), Filing(*BOB)])
    site.set_captcha("click")
    serve = serves("--parallel", "1")
    try:
        api = serve.client()
        waiting = queue(api, site, *ANN)
        serve.wait_run(api, waiting, lambda r: r["state"] == "needs_person")
        going = queue(api, site, *BOB)
        pass_check(serve, api, site, going)  # its check opens although ann's still waits
        done = serve.wait_run(api, going, lambda r: r["state"] == "done", s=90)
        assert done["outcome"]["category"] == "success"
        assert api.get(f"/api/runs/{waiting}").json()["state"] == "needs_person"
        assert [s["body"]["mobileNum"] for s in site.submissions()] == [BOB[0]]
    finally:
        printed = serve.stop()
    assert serve.proc.returncode == 0, printed


def test_runs_that_cannot_start_end_clearly_and_the_service_goes_on(
    site: MockSite,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    serves: Callable[..., Serve],
) -> None:
    """A selector map broken after the run was queued; sealed values that no longer open; an
    --out folder that cannot be made. Each run ends done, saying why and that nothing was
    sent; the same process takes the next run; a restart ends nothing again (no crash
    loop)."""
    site.load_filings([Filing(*ANN), Filing(*BOB)])
    maps = tmp_path / "selectors"
    maps.mkdir()
    shutil.copy(SELECTORS / "miit.yaml", maps / "custom.yaml")
    env = {"ICPBOT_SELECTORS_DIR": str(maps)}
    monkeypatch.delenv(LEDGER_URL_ENV, raising=False)
    monkeypatch.setenv("ICPBOT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("ICPBOT_SELECTORS_DIR", str(maps))
    # Queued while no service ran (another process, or before the map was edited).
    service = open_service(allowed=[site.url])
    try:
        common: dict[str, Any] = {
            "action": "resend",
            "code": None,
            "created_by": "test",
            "base_url": site.url,
        }
        bad_map = service.queue_run(mobile=ANN[0], id_last6=ANN[1], site="custom", **common)
        unreadable = service.queue_run(mobile=BOB[0], id_last6=BOB[1], **common)
        service.store.execute(
            "UPDATE serve_runs SET sealed = 'gAAAAAB-not-sealed-here' WHERE id = ?", (unreadable,)
        )
    finally:
        service.store.close()
    (maps / "custom.yaml").write_text("site: custom\npacing: [not, a, map\n", encoding="utf-8")

    serve = serves("--parallel", "1", env=env)
    try:
        api = serve.client()
        ended = {r: serve.wait_run(api, r, lambda s: s["state"] == "done")["outcome"]
                 for r in (bad_map, unreadable)}  # fmt: skip
        assert (ended[bad_map]["category"], ended[bad_map]["status"]) == (
            "selector_error", "bad_selector_map"
        )  # fmt: skip
        assert "custom.yaml" in ended[bad_map]["message"]
        assert (ended[unreadable]["category"], ended[unreadable]["status"]) == (
            "failed", "unreadable"
        )  # fmt: skip
        for outcome in ended.values():
            assert outcome["submitted"] == "no"
            assert "Nothing was sent" in outcome["message"]
        good = queue(api, site, *ANN)
        done = serve.wait_run(api, good, lambda r: r["state"] == "done", s=90)
        assert done["outcome"]["category"] == "success"
    finally:
        printed = serve.stop()
    assert serve.proc.returncode == 0, printed
    assert len(site.submissions()) == 1

    again = serves("--parallel", "1", env=env)
    try:
        api = again.client()
        assert {r["id"]: r["state"] for r in api.get("/api/runs").json()} == {
            bad_map: "done", unreadable: "done", good: "done"
        }  # fmt: skip
        assert api.get("/healthz").status_code == 200
    finally:
        printed = again.stop()
    assert again.proc.returncode == 0, printed
    for value in (*ANN, *BOB):
        assert value not in printed


def test_an_out_folder_that_cannot_be_made_ends_each_run_clearly(
    site: MockSite, tmp_path: Path, serves: Callable[..., Serve]
) -> None:
    site.load_filings([Filing(*ANN), Filing(*BOB)])
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n", encoding="utf-8")
    serve = serves("--out", str(blocker / "out"))  # the last --out counts
    try:
        api = serve.client()
        runs = [queue(api, site, *ANN), queue(api, site, *BOB)]
        for run_id in runs:
            outcome = serve.wait_run(api, run_id, lambda r: r["state"] == "done")["outcome"]
            assert (outcome["category"], outcome["status"]) == ("failed", "no_run_folder")
            assert "--out" in outcome["next_step"]
            assert outcome["submitted"] == "no"
        assert api.get("/healthz").status_code == 200
    finally:
        printed = serve.stop()
    assert serve.proc.returncode == 0, printed
    assert site.submissions() == []


def test_an_idempotency_key_answers_a_repeat_with_the_first_answer(
    serve: Serve, site: MockSite
) -> None:
    site.load_filings([Filing(*ANN)])
    body = {"action": "resend", "mobile": ANN[0], "id_last6": ANN[1], "base_url": site.url}
    barrier = threading.Barrier(10)
    answers: list[httpx.Response] = []

    def post() -> None:
        client = serve.client()
        barrier.wait()
        answers.append(client.post("/api/runs", json=body, headers={"Idempotency-Key": "k-1"}))

    threads = [threading.Thread(target=post) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [a.status_code for a in answers] == [201] * 10
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 9
    api = serve.client()
    assert len(api.get("/api/runs").json()) == 1
    other = api.post("/api/runs", json=body | {"action": "verify", "code": ANN[2]},
                     headers={"Idempotency-Key": "k-1"})  # fmt: skip
    assert other.status_code == 422
    assert "another request" in other.json()["detail"]
    assert ANN[0] not in other.text
    bad = api.post("/api/runs", json=body, headers={"Idempotency-Key": "a key with spaces"})
    assert bad.status_code == 422
    # A refused body is not remembered: the key stays free.
    wrong = api.post("/api/runs", json=body | {"mobile": "123"}, headers={"Idempotency-Key": "k-2"})
    assert wrong.status_code == 422
    assert api.post("/api/runs", json=body, headers={"Idempotency-Key": "k-2"}).status_code == 201

    link = {"mobile": ANN[0], "id_last6": ANN[1], "base_url": site.url, "expires_in_s": 3600}
    made = [api.post("/api/links", json=link, headers={"Idempotency-Key": "l-1"}) for _ in "ab"]
    assert [m.status_code for m in made] == [201, 201]
    assert made[0].json() == made[1].json()
    assert len(api.get("/api/links").json()) == 1
