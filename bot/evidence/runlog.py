"""``run.log``: a run's own log file, part of its evidence.

The sink redacts the *whole formatted line*, exception text included, on top of the message
masking that :data:`bot.privacy.logger` does for every sink.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from loguru import logger

from bot.privacy import CURRENT_RUN, REDACTOR

__all__ = ["redacting_sink", "run_log"]

_FILE_FORMAT = "{time:YYYY-MM-DDTHH:mm:ss.SSSZZ} {level: <7} {name}:{function}:{line} {message}"


def redacting_sink(stream: TextIO) -> Callable[[object], None]:
    """A loguru sink that writes each formatted line to ``stream`` through the redactor."""

    def sink(message: object) -> None:
        stream.write(REDACTOR(str(message)))
        stream.flush()

    return sink


@contextmanager
def run_log(path: Path, run_id: str) -> Iterator[None]:
    """Write DEBUG and above to ``path`` (mode 0600) for the duration of the block: the lines of
    run ``run_id`` (the code in the block, and the handlers it installs through
    :func:`bot.privacy.in_current_run`), and lines that belong to no run (Playwright's, asyncio's).
    Runs of a parallel batch never see each other's lines."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    stream = os.fdopen(fd, "w", encoding="utf-8")
    token = CURRENT_RUN.set(run_id)
    sink_id = logger.add(
        redacting_sink(stream),
        level="DEBUG",
        format=_FILE_FORMAT,
        filter=lambda record: record["extra"].get("run", CURRENT_RUN.get()) in (run_id, None),
        backtrace=False,
        diagnose=False,
        colorize=False,
    )
    try:
        yield
    finally:
        logger.remove(sink_id)
        CURRENT_RUN.reset(token)
        stream.close()
