"""icpbot's pytest plugin from a project that is not icpbot: the fixtures load by themselves
(the pytest11 entry point), and --icpbot-site points the same tests at another site."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot.mocksite import MockSite

CONFTEST = """
import pytest
from bot.page.browser import find_browser, launch_args

# Only needed where Playwright's own Chromium is not installed: use the one icpbot finds.
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    choice = find_browser()
    args = {**browser_type_launch_args, "args": launch_args()}
    if choice.executable:
        args["executable_path"] = choice.executable
    return args
"""

TESTS = """
import pytest

FILING = {"mobile": "13800000001", "id_last6": "100011", "code": "111111"}
SCENARIO = {"name": "outside", "action": "verify", "captcha": "none",
            "inputs": {"mobile": "13800000001", "code": "111111", "id_last6": "100011"}}


@pytest.mark.icpbot_mock(filings=[FILING])
def test_verify_succeeds(icpbot_mock, icpbot_run):
    result = icpbot_run(SCENARIO)
    assert result.outcome.site_status == 3
    assert [s["endpoint"] for s in icpbot_mock.submissions()] == ["verify"]


@pytest.mark.icpbot_mock(filings=[FILING], faults=["verify=http500"])
def test_a_server_error_is_a_site_error(icpbot_mock, icpbot_run):
    assert icpbot_run(SCENARIO).outcome.category == "site_error"
"""


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_project_outside_uses_the_fixtures_and_the_site_option(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (tmp_path / "test_outside.py").write_text(TESTS, encoding="utf-8")
    done = _pytest(tmp_path, f"--junitxml={tmp_path / 'junit.xml'}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
    assert (tmp_path / "junit.xml").is_file()
    # The same tests against a mock in "another process" (here: another thread, over HTTP).
    with MockSite(test_mode=True) as other:
        done = _pytest(tmp_path, "--icpbot-site", other.url)
        assert done.returncode == 0, done.stdout + done.stderr
        # each test began with a reset: the log holds the last test's one submission
        assert [s["endpoint"] for s in other.submissions()] == ["verify"]
