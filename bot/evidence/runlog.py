"""Logging set-up: loguru sinks that pass every formatted line through the redactor.

Library modules only do ``from loguru import logger``. Sinks are added here: the CLI's console sink
(:func:`configure_console`) and the per-run ``run.log`` that is part of a run's evidence
(:func:`run_log`). Each sink is a function that redacts the *whole formatted line*, exception text
included, so a Playwright error quoting a ``fill`` value is masked too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from loguru import logger

from bot.privacy import REDACTOR

__all__ = ["configure_console", "install_patcher", "run_log"]

_CONSOLE_FORMAT = "<level>{level: <7}</level> {message}"
_FILE_FORMAT = "{time:YYYY-MM-DDTHH:mm:ss.SSSZZ} {level: <7} {name}:{function}:{line} {message}"
_console_id: int | None = None


def _redacting(stream: TextIO):  # type: ignore[no-untyped-def]
    def sink(message: object) -> None:
        stream.write(REDACTOR(str(message)))
        stream.flush()

    return sink


def configure_console(level: str = "INFO") -> None:
    """Replace loguru's default stderr sink with a redacting one (idempotent)."""
    global _console_id
    logger.remove()
    _console_id = logger.add(
        _redacting(sys.stderr),
        level=level,
        format=_CONSOLE_FORMAT,
        colorize=sys.stderr.isatty(),
        backtrace=False,
        diagnose=False,
    )


@contextmanager
def run_log(path: Path) -> Iterator[None]:
    """Write DEBUG and above to ``path`` (mode 0600) for the duration of the block."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    stream = os.fdopen(fd, "w", encoding="utf-8")
    sink_id = logger.add(
        _redacting(stream),
        level="DEBUG",
        format=_FILE_FORMAT,
        backtrace=False,
        diagnose=False,
        colorize=False,
    )
    try:
        yield
    finally:
        logger.remove(sink_id)
        stream.close()


def _redact_record(record: dict) -> None:  # type: ignore[type-arg]
    record["message"] = REDACTOR(record["message"])


def install_patcher() -> None:
    """Redact the message of every record for every sink, loguru's default one included."""
    logger.configure(patcher=_redact_record)  # type: ignore[arg-type]
