"""Fixtures for end-to-end runs: a scenario writer and a runner bound to the session's browser
(icpbot's own: the plugin's ``icpbot_browser``, started once for the session)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.config.scenario import load_scenario
from bot.mocksite import MockSite
from bot.privacy import REDACTOR
from bot.run.runner import RunOptions, RunResult, SharedBrowser

WriteScenario = Callable[..., Path]
Run = Callable[..., RunResult]


@pytest.fixture(autouse=True)
def _fresh_redactor() -> None:
    REDACTOR.clear()


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private ledger per test: never the operator's real one."""
    path = tmp_path / "state"
    monkeypatch.setenv("ICPBOT_STATE_DIR", str(path))
    return path


@pytest.fixture
def write_scenario(tmp_path: Path) -> WriteScenario:
    def write(
        action: str = "verify",
        *,
        name: str = "t",
        mobile: str = "13800000001",
        code: str | None = "111111",
        id_last6: str = "100011",
        extra: str = "",
    ) -> Path:
        lines = [
            f"name: {name}",
            f"action: {action}",
            "captcha: none" if "captcha" not in extra else "",
            "inputs:",
            f"  mobile: '{mobile}'",
        ]
        if code is not None:
            lines.append(f"  code: '{code}'")
        lines.append(f"  id_last6: '{id_last6}'")
        path = tmp_path / f"{name}.yaml"
        path.write_text("\n".join(line for line in lines if line) + "\n" + extra, encoding="utf-8")
        return path

    return write


@pytest.fixture
def run(icpbot_browser: SharedBrowser, site: MockSite, tmp_path: Path, state_dir: Path) -> Run:
    """Run one scenario file against the mock with the session's Chromium."""

    def go(path: Path, **options: Any) -> RunResult:
        opts = RunOptions(
            base_url=site.url,
            out_dir=tmp_path / "out",
            headed=False,
            state_dir=state_dir,
            timeout_s=options.pop("timeout_s", 10.0),
            **options,
        )
        [result] = icpbot_browser.run([load_scenario(path)], opts)
        saved = json.loads((result.run_dir / "result.json").read_text(encoding="utf-8"))
        assert saved["outcome"]["category"] == result.outcome.category.value
        assert "final.png" in saved["evidence"] or result.outcome.category == "refused"
        return result

    return go


@pytest.fixture
def lend_browser(icpbot_browser: SharedBrowser) -> SharedBrowser:
    """The session's browser, for in-process CLI calls (passed as the click context's obj): the
    command runs on its engine's loop and the browser starts once for the session."""
    return icpbot_browser
