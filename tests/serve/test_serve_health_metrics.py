"""Health and metrics of a real ``icpbot serve``: ``/healthz`` and ``/readyz`` (the database
answers and a browser can start; 503 with the reason when either cannot), ``/metrics`` in
Prometheus' format behind the API's token, with a run's figures after its check was passed,
and the shared counts the same from a second process on the same database."""

from __future__ import annotations

import asyncio
import contextlib
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.mocksite import Filing, MockSite
from bot.page.browser import LazyBrowser
from bot.safety.pgledger import PgLedger
from bot.serve.health import Readiness, Verdict
from bot.serve.metrics import ProcessMetrics
from bot.serve.store import ServeStore
from tests.answers import shown_answer
from tests.safety.pgserver import PgServer, skip_reason
from tests.serve.checks import pass_check
from tests.serve.conftest import TOKEN, Serve, start_serve
from tests.serve.test_serve_api import _png_size

MOBILE, ID6, CODE = "13912345678", "30721X", "864209"


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(serve: Serve) -> Samples:
    """Every sample of ``/metrics``, by name and labels (the process label left out)."""
    answer = serve.client().get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    out = {}
    for family in text_string_to_metric_families(answer.text):
        assert family.name.startswith("icpbot_"), family.name
        for s in family.samples:
            labels = frozenset((k, v) for k, v in s.labels.items() if k != "process")
            out[(s.name, labels)] = s.value
    return out


def one(found: Samples, name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


def test_healthz_readyz_and_metrics_need_what_they_say(serve: Serve) -> None:
    anyone = serve.client(None)
    assert anyone.get("/healthz").json() == {"status": "ok"}
    ready = anyone.get("/readyz")
    assert ready.status_code == 200
    checks = {"service": "ok", "database": "ok", "browser": "ok"}
    assert ready.json() == {"status": "ready", "checks": checks}
    assert anyone.get("/metrics").status_code == 401
    assert anyone.get("/metrics").headers["www-authenticate"] == "Bearer"
    assert serve.client("wrong").get("/metrics").status_code == 401
    found = samples(serve)
    assert one(found, "icpbot_database_up") == 1
    assert one(found, "icpbot_queue_depth") == 0
    assert {one(found, "icpbot_runs", state=s) for s in
            ("queued", "running", "needs_person", "done")} == {0}  # fmt: skip
    assert one(found, "icpbot_process_resident_memory_bytes") > 10_000_000


def test_readyz_says_no_when_no_browser_can_start(tmp_path: Path) -> None:
    serve = start_serve(tmp_path, env={"ICPBOT_BROWSER": str(tmp_path / "no-chromium")})
    try:
        answer = serve.client(None).get("/readyz")
        assert answer.status_code == 503
        checks = answer.json()["checks"]
        assert checks["database"] == "ok"
        assert "names no executable" in checks["browser"]
    finally:
        serve.stop()


@pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason()))
def test_readiness_says_no_when_the_database_is_gone() -> None:
    """In-process on a real PostgreSQL whose server is stopped under the open pool."""
    pg = PgServer()
    stopped = False
    try:
        store = ServeStore(PgLedger(pg.url()))

        def look() -> Verdict:
            """On a loop of its own, in a thread (the browser tests' loop may run here)."""

            async def verdict() -> Verdict:
                return await Readiness(store, LazyBrowser(), asyncio.Event()).verdict()

            with ThreadPoolExecutor(1) as pool:
                return pool.submit(asyncio.run, verdict()).result()

        assert look().ready
        pg.stop()  # the server goes away under the open connection
        stopped = True
        verdict = look()
        assert not verdict.ready
        # Refused at once, or still retried (bot/safety/retry.py) when the probe's time is up.
        assert verdict.checks["database"].startswith(("unavailable", "no answer within"))
        assert verdict.checks["browser"] == "ok"
        assert verdict.as_json()["status"] == "not ready"
        with contextlib.suppress(Exception):
            store.close()
    finally:
        if not stopped:
            pg.stop()


@pytest.mark.browser
def test_a_runs_figures_after_its_check(serve: Serve, site: MockSite, tmp_path: Path) -> None:
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    site.set_captcha("click")
    api = serve.client()
    body = {"action": "verify", "mobile": MOBILE, "code": CODE, "id_last6": ID6,
            "base_url": site.url}  # fmt: skip
    run_id = api.post("/api/runs", json=body).json()["id"]
    state = serve.wait_run(api, run_id, lambda r: r["state"] == "needs_person")
    waiting = samples(serve)
    assert one(waiting, "icpbot_runs", state="needs_person") == 1
    assert one(waiting, "icpbot_check_wait_seconds_count", result="passed") == 0
    size = _png_size(api.get(f"/api/runs/{run_id}/check.png").content)
    # A wrong click through the run's hand-off page (a new picture follows), then the API.
    answer = site.captcha_answer()
    first = answer["points"][0]
    wrong = next(
        (x, y) for x in range(40, size[0] - 20, 30) for y in range(100, size[1] - 20, 30)
        if math.dist((x, y), (first["x"], first["y"])) > 60
    )  # fmt: skip
    handoff = serve.client(None).post(
        state["check_url"] + "/click", json={"x": wrong[0], "y": wrong[1]},
        headers={"origin": serve.url.rstrip("/")},
    )  # fmt: skip
    assert handoff.status_code == 200, handoff.text
    # The miss is judged by the page's own request, after the click: wait for the new picture,
    # so that the first answer read is not the used-up one's (clicks on it would miss again).
    shown_answer(
        site, other_than=answer["uuid"], timeout_s=60, what="no new picture after the miss"
    )
    pass_check(api, site, run_id)
    serve.wait_run(api, run_id, lambda r: r["state"] == "done")
    found = samples(serve)
    assert one(found, "icpbot_runs", state="done") == 1
    assert one(found, "icpbot_runs", state="needs_person") == 0
    assert one(found, "icpbot_run_outcomes", category="success") == 1
    assert one(found, "icpbot_submissions_total") == 1 == len(site.submissions())
    clicks = one(found, "icpbot_relayed_actions_total", kind="click", door="api")
    assert clicks >= len(site.captcha_answer()["points"])
    assert one(found, "icpbot_relayed_actions_total", kind="click", door="handoff") == 1
    assert one(found, "icpbot_check_wait_seconds_count", result="passed") == 1
    assert one(found, "icpbot_check_wait_seconds_sum", result="passed") > 0
    # A second process on the same database answers the same shared counts.
    shared = {"ICPBOT_STATE_DIR": serve.env["ICPBOT_STATE_DIR"]}
    other = start_serve(tmp_path / "second", env=shared)
    try:
        theirs = samples(other)
        for name, labels in [("icpbot_runs", {"state": "done"}),
                             ("icpbot_run_outcomes", {"category": "success"})]:  # fmt: skip
            assert one(theirs, name, **labels) == one(found, name, **labels)
        assert one(theirs, "icpbot_submissions_total") == 0  # that one is per process
    finally:
        other.stop()


def test_the_pacing_wait_and_the_submissions_per_process() -> None:
    """The engine's stages as the service reports them (the mock is never paced)."""
    m = ProcessMetrics()
    m.run_stage("a", "form_filled")
    m.run_stage("a", "pacing")
    m.run_stage("b", "pacing")
    m.run_stage("a", "submit_clicked")
    m.run_stage("a", "request_sent")
    m.run_stage("b", "finished")  # ended while waiting: no wait counted
    text = m.render().decode()
    found = {(s.name, tuple(sorted(s.labels.items()))): s.value
             for f in text_string_to_metric_families(text) for s in f.samples}  # fmt: skip
    process = (("process", m.process),)
    assert found[("icpbot_pacing_wait_seconds_count", process)] == 1
    assert found[("icpbot_submissions_total", process)] == 1
    assert TOKEN not in text
