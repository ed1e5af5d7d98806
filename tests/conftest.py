"""Shared fixtures: pytest-playwright launches the browser icpbot itself would pick."""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from loguru import logger
from playwright.async_api import Page

from bot.mocksite import MockSite
from bot.page.browser import find_browser, launch_args
from bot.run.runner import SharedBrowser

# The library leaves its log lines disabled (loguru's advice for libraries); this suite checks
# what they say (run.log, the privacy scan), so it turns them on, as a library user may. That
# they stay off otherwise is tested in a fresh process (tests/test_privacy_callers.py).
logger.enable("bot")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    # pytest-playwright's --headed sets headless False: the full Chromium, not a headless shell
    choice = find_browser(headless=browser_type_launch_args.get("headless", True))
    args = {**browser_type_launch_args, "args": launch_args()}
    if choice.executable:
        args["executable_path"] = choice.executable
    return args


# -- the mock MIIT site: icpbot's own pytest plugin (bot/testing/plugin.py) ----------------------


@pytest.fixture(scope="session")
def mock_site(icpbot_mock_site: MockSite) -> MockSite:
    """One mock (demo filings, control API on) for the whole session; prefer ``site``."""
    return icpbot_mock_site


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C as in a terminal, also when the suite was started in the background: a
    non-interactive shell starts a background job with SIGINT ignored, every process the tests
    start inherits that, and a Python program started so never sees Ctrl-C (the tests that send
    it to ``icpbot mock`` or a run would wait forever)."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def site(icpbot_mock: MockSite) -> MockSite:
    """The session's mock, reset: initial filings, no faults, empty log, default variant (the
    plugin's ``icpbot_mock``, so an ``@pytest.mark.icpbot_mock(...)`` marker sets it up)."""
    return icpbot_mock


@pytest.fixture(autouse=True)
def _serve_may_use_the_mock(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test that uses the mock may send an ``icpbot serve`` it starts there: such a process
    allows the mock's origin (``--allow-base-url``, through its variable), as the mock's recipe
    in the README does."""
    if {"site", "mock_site"} & set(request.fixturenames):
        url = request.getfixturevalue("mock_site").url
        monkeypatch.setenv("ICPBOT_SERVE_ALLOW_BASE_URL", url)


# -- icpbot's async page objects in ordinary (sync) tests ------------------------------------------

OnPage = Callable[..., Any]


@pytest.fixture
def on_page(icpbot_browser: SharedBrowser) -> OnPage:
    """``on_page(body)``: run ``await body(page)`` on a fresh page of the session's browser (in a
    context of its own, closed afterwards) on icpbot's engine loop; its result. For tests of
    icpbot's async page objects (Resolver, SubmissionGate) against the mock."""

    def go(body: Callable[[Page], Awaitable[Any]], **context_options: Any) -> Any:
        async def main() -> Any:
            browser = await icpbot_browser.launcher.get()
            context = await browser.new_context(**context_options)
            try:
                return await body(await context.new_page())
            finally:
                await context.close()

        return icpbot_browser.engine.call(main)

    return go
