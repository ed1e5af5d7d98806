"""Shared fixtures: pytest-playwright launches the browser icpbot itself would pick."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.mocksite import MockSite
from bot.page.browser import find_browser, launch_args


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    choice = find_browser()
    args = {**browser_type_launch_args, "args": launch_args()}
    if choice.executable:
        args["executable_path"] = choice.executable
    return args


# -- the mock MIIT site --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def mock_site() -> Iterator[MockSite]:
    """One mock (demo filings, control API on) for the whole session; prefer ``site``."""
    with MockSite(test_mode=True) as started:
        yield started


@pytest.fixture
def site(mock_site: MockSite) -> MockSite:
    """The session's mock, reset: initial filings, no faults, empty log, default variant."""
    mock_site.reset()
    return mock_site
