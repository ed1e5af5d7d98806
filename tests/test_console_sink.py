"""The console's sink writes to whatever ``sys.stderr`` is when a line is written: after an
in-process CLI call whose stderr was captured and closed (a test runner's), the next warning
goes to the real stderr, not into a closed stream (a loguru "Logging error")."""

from __future__ import annotations

import io
import sys

import pytest

from bot.cli.logs import configure_console
from bot.privacy import logger


def test_a_warning_after_the_captured_stderr_closed_reaches_the_current_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    captured = io.StringIO()
    monkeypatch.setattr(sys, "stderr", captured)
    configure_console("INFO")  # as an in-process `icpbot …` call does
    monkeypatch.undo()
    captured.close()  # the runner's stream is gone; the sink stays
    logger.warning("the state folder is readable by other users")
    assert "the state folder is readable by other users" in capsys.readouterr().err
