"""``run.log``: a run's own log file, part of its evidence.

It holds that run's lines only: a line goes to the ``run.log`` of the run it was written for
(:data:`bot.privacy.CURRENT_RUN`, a context variable that follows the run's task, the threads it
hands work to and the Playwright handlers it installs), and a line written for no run (a web
service's access log, another request, another run's recovery, a shared browser's driver) goes
to none: evidence of one run must not show what others did.

The sink redacts the *whole formatted line*, exception text and capability links included, on top
of the message masking that :data:`bot.privacy.logger` does for every sink.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from loguru import logger

from bot.privacy import CURRENT_RUN, REDACTOR, mask_links

__all__ = ["redacting_sink", "run_log"]

_FILE_FORMAT = "{time:YYYY-MM-DDTHH:mm:ss.SSSZZ} {level: <7} {name}:{function}:{line} {message}"


def redacting_sink(stream: TextIO) -> Callable[[object], None]:
    """A loguru sink that writes each formatted line to ``stream`` through the redactor."""

    def sink(message: object) -> None:
        stream.write(mask_links(REDACTOR(str(message))))
        stream.flush()

    return sink


class _RunLogs:
    """ONE loguru sink for every open run.log, added on first use and kept: a line goes to its
    run's file, a line of no run to none. (A sink per run would cost several milliseconds per
    run: loguru inspects the installation on each add.)"""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.streams: dict[str, TextIO] = {}
        self.sink_id: int | None = None

    def open(self, run_id: str, stream: TextIO) -> None:
        with self.lock:
            self.streams[run_id] = stream
            if self.sink_id is None:
                self.sink_id = logger.add(
                    self.write,
                    level="DEBUG",
                    format=_FILE_FORMAT,
                    backtrace=False,
                    diagnose=False,
                    colorize=False,
                )

    def close(self, run_id: str) -> None:
        with self.lock:
            stream = self.streams.pop(run_id, None)
        if stream is not None:
            stream.close()

    def write(self, message: Any) -> None:
        if not self.streams:
            return
        run = message.record["extra"].get("run", CURRENT_RUN.get())
        if run is None or run not in self.streams:
            return
        line = mask_links(REDACTOR(str(message)))
        with self.lock:
            stream = self.streams.get(run)
            if stream is not None:
                stream.write(line)
                stream.flush()


_RUN_LOGS = _RunLogs()


@contextmanager
def run_log(path: Path, run_id: str) -> Iterator[None]:
    """Write DEBUG and above to ``path`` (mode 0600) for the duration of the block: the lines of
    run ``run_id`` (the code in the block, and the handlers it installs through
    :func:`bot.privacy.in_current_run`), and no other. Runs of a parallel batch never see each
    other's lines."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    stream = os.fdopen(fd, "w", encoding="utf-8")
    token = CURRENT_RUN.set(run_id)
    _RUN_LOGS.open(run_id, stream)
    try:
        yield
    finally:
        _RUN_LOGS.close(run_id)
        CURRENT_RUN.reset(token)
