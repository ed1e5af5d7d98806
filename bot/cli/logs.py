"""The console's log sink: the CLI alone configures where log lines go."""

from __future__ import annotations

import sys

from loguru import logger

from bot.evidence.runlog import redacting_sink

__all__ = ["configure_console"]

_CONSOLE_FORMAT = "<level>{level: <7}</level> {message}"


def configure_console(level: str = "INFO") -> None:
    """Replace loguru's default stderr sink with a redacting one (idempotent)."""
    logger.remove()
    logger.add(
        redacting_sink(sys.stderr),
        level=level,
        format=_CONSOLE_FORMAT,
        colorize=sys.stderr.isatty(),
        backtrace=False,
        diagnose=False,
    )
