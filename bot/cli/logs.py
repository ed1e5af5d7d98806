"""The console's log sink: the CLI alone configures where log lines go."""

from __future__ import annotations

import logging
import sys

from loguru import logger

from bot.evidence.runlog import redacting_sink

__all__ = ["configure_console"]


class _ToLoguru(logging.Handler):
    """Playwright's and asyncio's own Python logs (e.g. a reply that arrives for a call Ctrl-C
    abandoned) go to icpbot's log at DEBUG, masked like every line, not raw to the terminal."""

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f": {type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        logger.opt(depth=6).debug("{}: {}", record.name, text)


_CONSOLE_FORMAT = "<level>{level: <7}</level> {message}"


def configure_console(level: str = "INFO") -> None:
    """Replace loguru's default stderr sink with a redacting one and enable icpbot's lines,
    which the library leaves disabled (idempotent). No sink icpbot adds prints a traceback's
    local variables (``diagnose=False``) or the frames above the catch (``backtrace=False``)."""
    logger.remove()
    logger.add(
        redacting_sink(sys.stderr),
        level=level,
        format=_CONSOLE_FORMAT,
        colorize=sys.stderr.isatty(),
        backtrace=False,
        diagnose=False,
    )
    for name in ("playwright", "asyncio"):
        stdlib_log = logging.getLogger(name)
        stdlib_log.handlers[:] = [_ToLoguru()]
        stdlib_log.propagate = False
    logger.enable("bot")
