"""Shared fixtures: pytest-playwright launches the browser icpbot itself would pick."""

from __future__ import annotations

from typing import Any

import pytest

from bot.browser import find_browser, launch_args


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    choice = find_browser()
    args = {**browser_type_launch_args, "args": launch_args()}
    if choice.executable:
        args["executable_path"] = choice.executable
    return args
