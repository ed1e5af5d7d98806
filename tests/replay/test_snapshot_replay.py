"""icpbot snapshot records the page as a run opens it and submits nothing; icpbot mock --replay
serves the recording offline with the mock's API behind it, wherever the page sends its calls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.app import app
from bot.config.recording import load_recording
from bot.mocksite import Filing, MockSite
from bot.run.check import check_selectors
from bot.run.runner import SharedBrowser
from bot.run.snapshot import take_snapshot
from bot.testing.plugin import IcpbotRun
from bot.types import Category

from .tiny_site import TINY_PAGE, serve_folder

cli = CliRunner()
SCENARIO = {
    "name": "replayed",
    "action": "verify",
    "captcha": "none",
    "inputs": {"mobile": "13800000001", "code": "111111", "id_last6": "100011"},
}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, icpbot_browser: SharedBrowser) -> Path:
    """A snapshot of a mock behind the front door's challenge, taken once; the mock is gone."""
    folder = tmp_path_factory.mktemp("snap") / "miit"
    with MockSite(test_mode=True) as live:
        live.set_fault("page", "frontdoor", times=1)
        result = icpbot_browser.call(
            lambda b: take_snapshot(live.url, folder, lent=b, timeout_s=10)
        )
        assert live.submissions() == []  # the gate stayed unarmed
    assert result.exit_code == 0, result.detail
    assert result.submissions == 0
    return folder


def test_snapshot_saves_page_assets_dom_screenshot_and_matches(recorded: Path) -> None:
    recording = load_recording(recorded)
    paths = {e.url.split("/", 3)[-1] for e in recording.entries}
    assert "" in paths  # the page itself (the 200 after the challenge, not the 521)
    assert any(p.endswith("app.js") for p in paths)
    assert recording.api_origin is not None
    assert recording.api_origin != recording.page_url.split("#")[0].rstrip("/")
    assert "短信核验" in (recorded / "dom.html").read_text(encoding="utf-8")
    assert (recorded / "screenshot.png").stat().st_size > 1000
    matches = {r["element"]: r for r in json.loads((recorded / "selectors.json").read_text())}
    assert matches["verify_code"]["matched"] == 'placeholder="请输短信验证码"'
    for entry in recording.entries:  # no cookie or token text in anything saved
        body = (recorded / entry.file).read_bytes()
        assert b"__jsl_clearance_s=" not in body or entry.url.endswith(".js")


@pytest.mark.icpbot_mock(
    filings=[{"mobile": "13800000001", "id_last6": "100011", "code": "111111"}]
)
def test_a_verify_on_the_replay_gets_the_mocks_answer(
    recorded: Path, icpbot_run: IcpbotRun
) -> None:
    with MockSite(test_mode=True, replay=recorded) as replay:
        replay.load_filings([Filing("13800000001", "100011", "111111")])
        result = icpbot_run(SCENARIO, base_url=replay.url)
        [sent] = replay.submissions()
    assert result.outcome.category is Category.success, result.outcome
    assert result.outcome.site_status == 3
    assert sent["endpoint"] == "verify"


def test_the_replay_answers_wrong_info_and_faults_like_the_mock(
    recorded: Path, icpbot_run: IcpbotRun
) -> None:
    with MockSite(test_mode=True, replay=recorded) as replay:
        replay.load_filings([Filing("13800000001", "100011", "222222")])
        result = icpbot_run(SCENARIO, base_url=replay.url)
        assert result.outcome.category is Category.wrong_info
        replay.set_fault("verify", "http500")
        # Another code: the ledger refuses the one the site just rejected, before any browser.
        again = {**SCENARIO, "name": "again", "inputs": {**SCENARIO["inputs"], "code": "654321"}}
        result = icpbot_run(again, base_url=replay.url)
        assert result.outcome.category is Category.site_error


def test_check_selectors_on_a_replay_renders_the_answers(
    recorded: Path, icpbot_browser: SharedBrowser
) -> None:
    with MockSite(test_mode=True, replay=recorded) as replay:
        report = icpbot_browser.call(lambda b: check_selectors(replay.url, lent=b, timeout_s=5))
        assert replay.submissions() == []
    assert report.target == "replay"
    assert report.exit_code == 0, [r for r in report.rows if r.status != "first"]
    assert {r.element for r in report.rows if r.status == "first"} >= {
        "result_banner",
        "error_toast",
        "validation_error",
    }
    # The mock was recorded without its security check: the replay's page has none.
    assert {r.element: r.status for r in report.rows}["captcha_box"] == "not_checked"


def test_snapshot_and_mock_replay_on_the_command_line(
    site: MockSite, icpbot_browser: SharedBrowser, tmp_path: Path
) -> None:
    out = tmp_path / "snap"
    result = cli.invoke(
        app,
        ["snapshot", "--base-url", site.url, "--out", str(out), "--timeout", "10"],
        obj=icpbot_browser,
    )
    assert result.exit_code == 0, result.stderr
    assert "replay it: icpbot mock --replay" in result.stdout
    assert site.submissions() == []
    bad = cli.invoke(app, ["mock", "--replay", str(tmp_path), "--port", "0"])
    assert bad.exit_code == 20
    assert "not an icpbot snapshot" in bad.stderr


def test_an_independent_page_with_a_cross_origin_api_is_replayed(
    tmp_path: Path, icpbot_browser: SharedBrowser, icpbot_run: IcpbotRun
) -> None:
    """A tiny page of our own whose API lives on another origin: the replay finds its calls by
    suffix and answers them with the mock's rules, the recorded API host being gone."""
    api = MockSite(test_mode=False).start()  # only its API listener is used, as the "API host"
    api_origin = api.api_url.rstrip("/")
    try:
        page_dir = tmp_path / "site"
        page_dir.mkdir()
        (page_dir / "index.html").write_text(_tiny_page(api.api_url), encoding="utf-8")
        folder = tmp_path / "snap"
        with serve_folder(page_dir) as page_url:
            result = icpbot_browser.call(
                lambda b: take_snapshot(page_url, folder, lent=b, timeout_s=10)
            )
        assert result.exit_code == 0, result.detail
    finally:
        api.stop()  # the recorded API host is gone too
    recording = load_recording(folder)
    assert recording.api_origin == api_origin
    with MockSite(test_mode=True, replay=folder) as replay:
        replay.load_filings([Filing("13800000001", "100011", "111111")])
        outcome = icpbot_run(SCENARIO, base_url=replay.url).outcome
        assert [s["endpoint"] for s in replay.submissions()] == ["verify"]
    assert outcome.site_status == 3, outcome


def _tiny_page(api_url: str) -> str:
    return TINY_PAGE.replace("__API__", api_url.rstrip("/") + "/icpproject_query/api")
