"""The console's log sink: the CLI alone configures where log lines go."""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Any

from loguru import logger

from bot.evidence.runlog import redacting_sink
from bot.privacy import CURRENT_RUN

__all__ = ["configure_console"]


class _ToLoguru(logging.Handler):
    """Playwright's, asyncio's and psycopg's own Python logs (e.g. a reply that arrives for a
    call Ctrl-C abandoned, the ledger's pool replacing a dropped connection) go to icpbot's log
    at DEBUG, masked like every line, not raw to the terminal."""

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f": {type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        logger.opt(depth=6).debug("{}: {}", record.name, text)


_CONSOLE_FORMAT = "<level>{level: <7}</level> {message}"
_IN_RUN_FORMAT = "<level>{level: <7}</level> run {extra[icpbot_run]}: {message}"


def _console_format(record: Any) -> str:
    """A warning or error logged by a run names that run (its id holds the scenario's name): in a
    parallel batch the lines of several runs interleave."""
    run = CURRENT_RUN.get()
    if run is None or record["level"].no < _WARNING_NO:
        return _CONSOLE_FORMAT + "\n{exception}"
    record["extra"]["icpbot_run"] = run
    return _IN_RUN_FORMAT + "\n{exception}"


_WARNING_NO = logger.level("WARNING").no


_CONSOLE: list[int] = [0]  # loguru's default stderr sink, then the one made here


class _Stderr:
    """Whatever ``sys.stderr`` is when a line is written: a sink that kept the stream of its
    configuration would write to a closed one after an in-process CLI call that captured
    stderr (a test runner's) returned."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_console(level: str = "INFO") -> None:
    """Replace loguru's default stderr sink with a redacting one and enable icpbot's lines,
    which the library leaves disabled (idempotent). No sink icpbot adds prints a traceback's
    local variables (``diagnose=False``) or the frames above the catch (``backtrace=False``).
    Other sinks stay (``run.log``'s, added once per process, or one of a library user's)."""
    for sink in _CONSOLE:
        with contextlib.suppress(ValueError):  # removed already
            logger.remove(sink)
    _CONSOLE[:] = []
    _CONSOLE.append(
        logger.add(
            redacting_sink(_Stderr()),  # type: ignore[arg-type]  # write and flush suffice
            level=level,
            format=_console_format,
            colorize=sys.stderr.isatty(),
            backtrace=False,
            diagnose=False,
        )
    )
    for name in ("playwright", "asyncio", "psycopg"):
        stdlib_log = logging.getLogger(name)
        stdlib_log.handlers[:] = [_ToLoguru()]
        stdlib_log.propagate = False
    logger.enable("bot")
